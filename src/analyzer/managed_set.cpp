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
#include "catalog/pg_partitioned_table.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <boost/container/flat_map.hpp>
#include <cmath>
#include <string>
#include <vector>

namespace presplit::analyzer {
namespace {

// Sorted vectors: looked up for every relation of every statement (once
// something is managed), rebuilt rarely. A binary search over contiguous
// memory, no node per entry, and iteration in OID order for
// for_each_leaf_of.
boost::container::flat_map<Oid, ManagedLeaf> leaves;
boost::container::flat_map<Oid, ManagedParent> parents;
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

// PostgreSQL code (inside pg::call): a leaf's bound values (unbounded
// sides, and a default partition, have none).
struct BoundValues {
    bool has_lower, has_upper;
    Datum lower, upper;
};

BoundValues read_bound_values(Oid relid) {
    BoundValues bounds{};
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return bounds;
    bool isnull;
    Datum datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relpartbound, &isnull);
    if (!isnull) {
        auto* spec = castNode(PartitionBoundSpec, stringToNode(TextDatumGetCString(datum)));
        if (spec->strategy == PARTITION_STRATEGY_RANGE && !spec->is_default) {
            auto* lower = castNode(PartitionRangeDatum, linitial(spec->lowerdatums));
            auto* upper = castNode(PartitionRangeDatum, linitial(spec->upperdatums));
            if (lower->kind == PARTITION_RANGE_DATUM_VALUE) {
                bounds.has_lower = true;
                bounds.lower = castNode(Const, lower->value)->constvalue;
            }
            if (upper->kind == PARTITION_RANGE_DATUM_VALUE) {
                bounds.has_upper = true;
                bounds.upper = castNode(Const, upper->value)->constvalue;
            }
        }
    }
    ReleaseSysCache(tuple);
    return bounds;
}

std::string output_text(Oid type, Datum value) {
    return pg::call([&] {
        Oid output;
        bool varlena;
        getTypeOutputInfo(type, &output, &varlena);
        return static_cast<const char*>(OidOutputFunctionCall(output, value));
    });
}

// The leaf's axis narrowed to its bounds, and the bounds on it (unbounded
// sides, or bounds that cannot be placed: none).
void read_bounds(ManagedLeaf& leaf) {
    const BoundValues bounds = pg::call([&] { return read_bound_values(leaf.relid); });
    narrow_axis(leaf.axis, bounds.has_lower ? &bounds.lower : nullptr,
                bounds.has_upper ? &bounds.upper : nullptr);
    auto place = [&](bool has, Datum value, bool& has_position, double& position, core::KeyEnd& end,
                     std::string& text) {
        if (!has)
            return;
        std::optional<PlacedKey> placed = place_key(leaf.axis, value, leaf.key_type);
        if (!placed || !std::isfinite(placed->position))
            return;
        has_position = true;
        position = placed->position;
        if (placed->has_end) {
            end = placed->end;
            text = output_text(leaf.key_type, value);
        }
    };
    place(bounds.has_lower, bounds.lower, leaf.has_lower, leaf.lower, leaf.lower_end,
          leaf.lower_text);
    place(bounds.has_upper, bounds.upper, leaf.has_upper, leaf.upper, leaf.upper_end,
          leaf.upper_text);
}

// PostgreSQL code (inside pg::call): the partition key of a managed parent
// (its column, operator class and collation), from pg_partitioned_table.
struct PartitionKeyFacts {
    bool found;
    AttrNumber attnum;
    Oid opclass;
    Oid collation;
};

PartitionKeyFacts read_partition_key(Oid parent) {
    PartitionKeyFacts facts{};
    HeapTuple tuple = SearchSysCache1(PARTRELID, ObjectIdGetDatum(parent));
    if (!HeapTupleIsValid(tuple))
        return facts;
    auto* form = reinterpret_cast<Form_pg_partitioned_table>(GETSTRUCT(tuple));
    bool isnull_class, isnull_collation;
    Datum classes =
        SysCacheGetAttr(PARTRELID, tuple, Anum_pg_partitioned_table_partclass, &isnull_class);
    Datum collations = SysCacheGetAttr(PARTRELID, tuple, Anum_pg_partitioned_table_partcollation,
                                       &isnull_collation);
    if (form->partnatts == 1 && !isnull_class && !isnull_collation) {
        facts.found = true;
        facts.attnum = form->partattrs.values[0];
        facts.opclass = reinterpret_cast<oidvector*>(DatumGetPointer(classes))->values[0];
        facts.collation = reinterpret_cast<oidvector*>(DatumGetPointer(collations))->values[0];
    }
    ReleaseSysCache(tuple);
    return facts;
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
        const PartitionKeyFacts key = pg::call([&] { return read_partition_key(row.parent); });
        KeyAxis axis;
        if (key.found)
            axis = key_axis_for(row.key_type, key.opclass, key.collation);
        ManagedParent parent;
        parent.key_attnum = key.attnum;
        parent.key_type = row.key_type;
        parent.key_kind = axis.kind;
        parents.insert_or_assign(row.parent, parent);
        List* members = pg::call([&] { return find_all_inheritors(row.parent, NoLock, nullptr); });
        ListCell* member;
        foreach (member, members) {
            Oid relid = lfirst_oid(member);
            if (pg::call([&] { return get_rel_relkind(relid); }) != RELKIND_RELATION)
                continue;
            ManagedLeaf leaf;
            leaf.relid = relid;
            leaf.parent = row.parent;
            leaf.key_type = row.key_type;
            leaf.key_attnum = pg::call([&] { return get_attnum(relid, row.key_column.c_str()); });
            leaf.axis = axis;
            read_bounds(leaf);
            found.emplace_back(relid, std::move(leaf));
        }
    }
    // One sort rather than an insertion into the middle per leaf (a leaf
    // belongs to one managed table: its OID is found once).
    leaves.insert(std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
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

const ManagedParent* find_parent(Oid relid) {
    auto found = parents.find(relid);
    return found == parents.end() ? nullptr : &found->second;
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
