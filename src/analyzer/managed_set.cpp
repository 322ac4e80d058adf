#include "analyzer/managed_set.hpp"

#include "analyzer/key_axis.hpp"
#include "catalog/direct_scan.hpp"
#include "catalog/table_watch.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <boost/container/flat_map.hpp>
#include <boost/container/flat_set.hpp>

#include <vector>

namespace presplit::analyzer {
namespace {

// Sorted vectors: looked up for every relation of every statement (once
// something is managed), rebuilt rarely. A binary search over contiguous
// memory, no node per entry, and iteration in OID order for
// for_each_leaf_of.
boost::container::flat_map<Oid, ManagedLeaf> leaves;
boost::container::flat_set<Oid> parents;
catalog::TableWatch watch("managed_table");
uint64_t rebuilds = 0;

struct ManagedRow {
    Oid parent;
    std::string key_column;
    Oid key_type;
};

// The rows of presplit.managed_table (read directly: this runs inside
// executor hooks). Empty if the extension is not installed here.
std::vector<ManagedRow> read_managed_rows() {
    std::vector<ManagedRow> rows;
    catalog::DirectScan scan;
    if (!scan.open("managed_table"))
        return rows;
    const AttrNumber parent = scan.column("parent"), key_column = scan.column("key_column"),
                     key_type = scan.column("key_type");
    while (scan.next()) {
        auto parent_value = scan.get(parent), column_value = scan.get(key_column),
             type_value = scan.get(key_type);
        if (!parent_value || !column_value || !type_value)
            continue;
        rows.push_back({DatumGetObjectId(*parent_value), NameStr(*DatumGetName(*column_value)),
                        DatumGetObjectId(*type_value)});
    }
    scan.close();
    return rows;
}

// The leaf's bound as positions on the key axis (unbounded or unsupported
// types: no bound).
void read_bounds(ManagedLeaf& leaf) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(leaf.relid));
    if (!HeapTupleIsValid(tuple))
        return;
    bool isnull;
    Datum datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relpartbound, &isnull);
    if (!isnull) {
        auto* spec = castNode(PartitionBoundSpec, stringToNode(TextDatumGetCString(datum)));
        if (spec->strategy == PARTITION_STRATEGY_RANGE && !spec->is_default) {
            auto* lower = castNode(PartitionRangeDatum, linitial(spec->lowerdatums));
            auto* upper = castNode(PartitionRangeDatum, linitial(spec->upperdatums));
            if (lower->kind == PARTITION_RANGE_DATUM_VALUE) {
                auto position =
                    key_to_axis(castNode(Const, lower->value)->constvalue, leaf.key_type);
                leaf.has_lower = position.has_value();
                leaf.lower = position.value_or(0);
            }
            if (upper->kind == PARTITION_RANGE_DATUM_VALUE) {
                auto position =
                    key_to_axis(castNode(Const, upper->value)->constvalue, leaf.key_type);
                leaf.has_upper = position.has_value();
                leaf.upper = position.value_or(0);
            }
        }
    }
    ReleaseSysCache(tuple);
}

void rebuild() {
    rebuilds++;
    leaves.clear();
    parents.clear();
    std::vector<std::pair<Oid, ManagedLeaf>> found;
    for (const ManagedRow& row : read_managed_rows()) {
        bool exists =
            pg::call([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(row.parent)); });
        if (!exists)
            continue;
        parents.insert(row.parent);
        List* members = pg::call([&] { return find_all_inheritors(row.parent, NoLock, nullptr); });
        ListCell* member;
        foreach (member, members) {
            Oid relid = lfirst_oid(member);
            if (pg::call([&] { return get_rel_relkind(relid); }) != RELKIND_RELATION)
                continue;
            ManagedLeaf leaf{};
            leaf.relid = relid;
            leaf.parent = row.parent;
            leaf.key_type = row.key_type;
            leaf.key_attnum = pg::call([&] { return get_attnum(relid, row.key_column.c_str()); });
            pg::call([&] { read_bounds(leaf); });
            found.emplace_back(relid, leaf);
        }
    }
    // One sort rather than an insertion into the middle per leaf (a leaf
    // belongs to one managed table: its OID is found once).
    leaves.insert(found.begin(), found.end());
}

// presplit.managed_table changed (manage, unmanage, the extension created
// or dropped), or a watched relation (partitions created, attached,
// detached, dropped).
void on_relcache_invalidation(Datum, Oid relid) {
    pg::entry([&] {
        if (parents.count(relid) || leaves.count(relid))
            watch.mark_stale();
        else
            watch.on_relcache_invalidation(relid);
    });
}

} // namespace

void refresh_managed_set() {
    if (!watch.stale())
        return;
    try {
        watch.reading();
        rebuild();
    } catch (...) {
        watch.mark_stale();
        throw;
    }
}

bool watching_anything() {
    return !leaves.empty();
}

const ManagedLeaf* find_leaf(Oid relid) {
    auto found = leaves.find(relid);
    return found == leaves.end() ? nullptr : &found->second;
}

bool is_managed_parent(Oid relid) {
    return parents.count(relid) > 0;
}

uint64_t managed_set_generation() {
    return rebuilds;
}

void managed_tables_changed() {
    watch.changed();
}

const ManagedLeaf* detail::leaf_at(size_t i) {
    return i < leaves.size() ? &leaves.nth(i)->second : nullptr;
}

void install_managed_set_callbacks() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

} // namespace presplit::analyzer
