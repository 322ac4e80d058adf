#include "switchover/route_indexes.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_index.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
}

namespace presplit::switchover {
namespace {

// The index of each shadow that matches a source index column by column
// (same columns, operator classes, collations, options; no expressions, no
// predicate). Empty if some shadow has none.
bool plain_index(HeapTuple tuple) {
    return heap_attisnull(tuple, Anum_pg_index_indexprs, nullptr) &&
           heap_attisnull(tuple, Anum_pg_index_indpred, nullptr);
}

std::vector<Oid> find_matching_indexes(const RouteShape& shape, Oid source_index) {
    std::vector<Oid> matches;
    pg::call([&] {
        HeapTuple source_tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(source_index));
        if (!HeapTupleIsValid(source_tuple))
            return;
        auto* source = reinterpret_cast<Form_pg_index>(GETSTRUCT(source_tuple));
        bool source_plain = plain_index(source_tuple);
        bool isnull;
        auto* source_class = reinterpret_cast<oidvector*>(DatumGetPointer(
            SysCacheGetAttr(INDEXRELID, source_tuple, Anum_pg_index_indclass, &isnull)));
        auto* source_collation = reinterpret_cast<oidvector*>(DatumGetPointer(
            SysCacheGetAttr(INDEXRELID, source_tuple, Anum_pg_index_indcollation, &isnull)));
        auto* source_option = reinterpret_cast<int2vector*>(DatumGetPointer(
            SysCacheGetAttr(INDEXRELID, source_tuple, Anum_pg_index_indoption, &isnull)));
        for (const auto& shadow : shape.shadows) {
            if (shadow.remote) {
                matches.push_back(InvalidOid); // a foreign scan needs none
                continue;
            }
            Oid match = InvalidOid;
            Relation rel = relation_open(shadow.relid, AccessShareLock);
            List* indexes = RelationGetIndexList(rel);
            relation_close(rel, AccessShareLock);
            ListCell* cell;
            foreach (cell, indexes) {
                Oid candidate_oid = lfirst_oid(cell);
                HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(candidate_oid));
                if (!HeapTupleIsValid(tuple))
                    continue;
                auto* candidate = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
                // Usable as the planner would: built, valid, visible to all.
                bool same = candidate->indisvalid && candidate->indisready &&
                            !candidate->indcheckxmin && source_plain && plain_index(tuple) &&
                            candidate->indnatts == source->indnatts &&
                            candidate->indnkeyatts == source->indnkeyatts;
                auto* candidate_class = reinterpret_cast<oidvector*>(DatumGetPointer(
                    SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indclass, &isnull)));
                auto* candidate_collation = reinterpret_cast<oidvector*>(DatumGetPointer(
                    SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indcollation, &isnull)));
                auto* candidate_option = reinterpret_cast<int2vector*>(DatumGetPointer(
                    SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indoption, &isnull)));
                for (int i = 0; same && i < source->indnatts; ++i) {
                    AttrNumber column = source->indkey.values[i];
                    same = column > 0 && column < static_cast<int>(shadow.attno.size()) &&
                           shadow.attno[column] == candidate->indkey.values[i];
                    if (same && i < source->indnkeyatts)
                        same = source_class->values[i] == candidate_class->values[i] &&
                               source_collation->values[i] == candidate_collation->values[i] &&
                               source_option->values[i] == candidate_option->values[i];
                }
                ReleaseSysCache(tuple);
                if (same) {
                    match = candidate_oid;
                    break;
                }
            }
            if (!OidIsValid(match)) {
                ReleaseSysCache(source_tuple);
                matches.clear();
                return;
            }
            matches.push_back(match);
        }
        ReleaseSysCache(source_tuple);
    });
    return matches;
}
} // namespace

const std::vector<Oid>& shadow_indexes(RouteShape& shape, Oid source_index) {
    for (const auto& [index, found] : shape.indexes)
        if (index == source_index)
            return found;
    shape.indexes.emplace_back(source_index, find_matching_indexes(shape, source_index));
    return shape.indexes.back().second;
}
KeyOrder key_order(const RouteShape& shape, Oid source_index) {
    return pg::call([&] {
        HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(source_index));
        if (!HeapTupleIsValid(tuple))
            return KeyOrder::none;
        auto* index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        bool isnull;
        auto* classes = reinterpret_cast<oidvector*>(
            DatumGetPointer(SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indclass, &isnull)));
        auto* collations = reinterpret_cast<oidvector*>(DatumGetPointer(
            SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indcollation, &isnull)));
        auto* options = reinterpret_cast<int2vector*>(
            DatumGetPointer(SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indoption, &isnull)));
        KeyOrder order = KeyOrder::none;
        if (index->indnkeyatts >= 1 && index->indkey.values[0] == shape.key_attno &&
            get_opclass_family(classes->values[0]) == shape.key_opfamily &&
            collations->values[0] == shape.key_collation)
            order =
                (options->values[0] & INDOPTION_DESC) ? KeyOrder::descending : KeyOrder::ascending;
        ReleaseSysCache(tuple);
        return order;
    });
}

} // namespace presplit::switchover
