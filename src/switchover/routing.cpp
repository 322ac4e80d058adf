#include "switchover/routing.hpp"

#include "catalog/routes.hpp"
#include "config.hpp"
#include "pg/backend_random.hpp"
#include "pg/guard.hpp"
#include "switchover/channel_stats.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(presplit_route_new);
}

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace presplit::switchover {
namespace {

// --- what a switching plan's shadows look like to the planner ----------------

struct ShadowShape {
    Oid relid = InvalidOid;
    std::vector<AttrNumber> attno; // source attno -> shadow attno (index 0 unused)
    bool has_lower = false, has_upper = false;
    Datum lower = 0, upper = 0; // in shape_context
    List* column_names = NIL;   // for the range table entry (EXPLAIN)
    std::string name;
};

struct RouteShape {
    int64_t plan_id = 0;
    Oid source = InvalidOid;
    AttrNumber key_attno = InvalidAttrNumber; // in the source
    Oid key_type = InvalidOid;                // the column's type
    int32 key_typmod = -1;
    // The partition key's operator family, its input type and collation:
    // what the partition bounds mean, and so what refutation must use.
    Oid key_opfamily = InvalidOid, key_opcintype = InvalidOid, key_collation = InvalidOid;
    Oid key_ge = InvalidOid, key_lt = InvalidOid; // its >= and < operators
    std::vector<ShadowShape> shadows;             // in key order
    // source index -> the matching index of each shadow (empty: none)
    std::vector<std::pair<Oid, std::vector<Oid>>> indexes;
    bool usable = false;
};

std::vector<RouteShape> shapes;
MemoryContext shape_context = nullptr;
uint64_t shapes_routes_version = 0;
bool shapes_stale = false;

void on_relcache_invalidation(Datum, Oid relid) {
    pg::entry([&] {
        if (shapes.empty())
            return;
        if (!OidIsValid(relid) || catalog::find_route_for_relation(relid) != nullptr ||
            catalog::is_new_channel_relation(relid))
            shapes_stale = true;
    });
}

// Runs inside pg::call: its own frame owns nothing with a destructor (it
// fills the caller's shape in place).
void fill_shape(RouteShape& shape, const catalog::Route& route) {
    shape.plan_id = route.plan_id;
    shape.source = route.source;
    Relation source = relation_open(route.source, AccessShareLock);
    TupleDesc source_desc = RelationGetDescr(source);
    shape.key_attno = get_attnum(route.source, route.key_column.c_str());
    if (shape.key_attno <= 0) {
        relation_close(source, AccessShareLock);
        return;
    }
    Form_pg_attribute key = TupleDescAttr(source_desc, shape.key_attno - 1);
    shape.key_type = key->atttypid;
    shape.key_typmod = key->atttypmod;
    Relation parent = relation_open(route.parent, AccessShareLock);
    PartitionKey partition_key = RelationGetPartitionKey(parent);
    if (partition_key == nullptr || partition_key->partnatts != 1 ||
        partition_key->partattrs[0] == 0) {
        relation_close(parent, AccessShareLock);
        relation_close(source, AccessShareLock);
        return;
    }
    shape.key_opfamily = partition_key->partopfamily[0];
    shape.key_opcintype = partition_key->partopcintype[0];
    shape.key_collation = partition_key->partcollation[0];
    relation_close(parent, AccessShareLock);
    shape.key_ge = get_opfamily_member(shape.key_opfamily, shape.key_opcintype, shape.key_opcintype,
                                       BTGreaterEqualStrategyNumber);
    shape.key_lt = get_opfamily_member(shape.key_opfamily, shape.key_opcintype, shape.key_opcintype,
                                       BTLessStrategyNumber);
    Oid input_function, io_param;
    getTypeInputInfo(shape.key_type, &input_function, &io_param);
    bool usable = OidIsValid(shape.key_ge) && OidIsValid(shape.key_lt);
    for (const auto& route_shadow : route.shadows) {
        ShadowShape& shadow = shape.shadows.emplace_back();
        shadow.relid = route_shadow.relid;
        Relation rel = relation_open(shadow.relid, AccessShareLock);
        TupleDesc desc = RelationGetDescr(rel);
        shadow.attno.assign(source_desc->natts + 1, InvalidAttrNumber);
        for (int i = 0; i < source_desc->natts; ++i) {
            Form_pg_attribute column = TupleDescAttr(source_desc, i);
            if (column->attisdropped)
                continue;
            AttrNumber found = InvalidAttrNumber;
            for (int j = 0; j < desc->natts; ++j) {
                Form_pg_attribute candidate = TupleDescAttr(desc, j);
                if (!candidate->attisdropped &&
                    namestrcmp(&candidate->attname, NameStr(column->attname)) == 0 &&
                    candidate->atttypid == column->atttypid &&
                    candidate->atttypmod == column->atttypmod &&
                    candidate->attcollation == column->attcollation)
                    found = candidate->attnum;
            }
            if (found == InvalidAttrNumber)
                usable = false;
            shadow.attno[i + 1] = found;
        }
        for (int j = 0; j < desc->natts; ++j) {
            Form_pg_attribute column = TupleDescAttr(desc, j);
            shadow.column_names =
                lappend(shadow.column_names,
                        makeString(pstrdup(column->attisdropped ? "" : NameStr(column->attname))));
        }
        shadow.name = RelationGetRelationName(rel);
        relation_close(rel, AccessShareLock);
        if (route_shadow.lower) {
            shadow.has_lower = true;
            shadow.lower = datumCopy(
                OidInputFunctionCall(input_function, const_cast<char*>(route_shadow.lower->c_str()),
                                     io_param, shape.key_typmod),
                get_typbyval(shape.key_type), get_typlen(shape.key_type));
        }
        if (route_shadow.upper) {
            shadow.has_upper = true;
            shadow.upper = datumCopy(
                OidInputFunctionCall(input_function, const_cast<char*>(route_shadow.upper->c_str()),
                                     io_param, shape.key_typmod),
                get_typbyval(shape.key_type), get_typlen(shape.key_type));
        }
    }
    relation_close(source, AccessShareLock);
    shape.usable = usable && !shape.shadows.empty();
}

const RouteShape* shape_of(const catalog::Route& route) {
    if (shapes_stale || shapes_routes_version != catalog::routes_version()) {
        shapes.clear();
        if (shape_context != nullptr)
            pg::call([] { MemoryContextReset(shape_context); });
        shapes_routes_version = catalog::routes_version();
        shapes_stale = false;
    }
    for (const auto& shape : shapes)
        if (shape.plan_id == route.plan_id)
            return &shape;
    if (shape_context == nullptr)
        shape_context = pg::call([] {
            return AllocSetContextCreate(CacheMemoryContext, "pg_presplit route shapes",
                                         ALLOCSET_SMALL_SIZES);
        });
    RouteShape shape;
    pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(shape_context);
        fill_shape(shape, route);
        MemoryContextSwitchTo(old);
    });
    shapes.push_back(std::move(shape));
    return &shapes.back();
}

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

const std::vector<Oid>& shadow_indexes(RouteShape& shape, Oid source_index) {
    for (const auto& [index, found] : shape.indexes)
        if (index == source_index)
            return found;
    shape.indexes.emplace_back(source_index, find_matching_indexes(shape, source_index));
    return shape.indexes.back().second;
}

// How a source index orders the partition key, if its leading column is the
// key under the key's own btree operator family and collation: then its
// scans over the shadows, in key order (reversed for descending), return rows
// in index order.
enum class KeyOrder { none, ascending, descending };

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

// --- the new channel's plan tree ---------------------------------------------

// More shadows than this (split points + 1): not routed.
constexpr size_t kMaxShadows = 64;

// One switching plan's scans of its source, redirected to its shadows.
struct Rewrite {
    RouteShape* shape;
    std::vector<Index> source_rtis; // range table entries of the source
    std::vector<Index> shadow_rtis; // the shadows' entries, appended to the range table
    int next_plan_node_id;
    bool swapped = false; // some scan now reads the shadows
    bool failed = false;  // a scan of the source that cannot be redirected
};

bool reads_source(const Rewrite& rewrite, Index rti) {
    for (Index source : rewrite.source_rtis)
        if (source == rti)
            return true;
    return false;
}

struct VarMap {
    Index from, to;
    const std::vector<AttrNumber>* attno; // nullptr: keep attnos
};

Node* map_vars(Node* node, void* context);
auto var_mapper() {
    return reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(map_vars));
}
Node* map_vars(Node* node, void* context) {
    if (node == nullptr)
        return nullptr;
    if (IsA(node, Var)) {
        auto* map = static_cast<VarMap*>(context);
        auto* var = reinterpret_cast<Var*>(node);
        if (var->varlevelsup == 0 && var->varno == static_cast<int>(map->from)) {
            Var* copy = static_cast<Var*>(copyObjectImpl(var));
            copy->varno = static_cast<int>(map->to);
            copy->varnosyn = map->to;
            if (map->attno != nullptr && var->varattno > 0) {
                copy->varattno = (*map->attno)[var->varattno];
                copy->varattnosyn = copy->varattno;
            }
            return reinterpret_cast<Node*>(copy);
        }
        return node;
    }
    return expression_tree_mutator(node, var_mapper(), context);
}

template <typename T>
T* mapped(T* node, const VarMap& map) {
    return reinterpret_cast<T*>(map_vars(reinterpret_cast<Node*>(node), const_cast<VarMap*>(&map)));
}

// System columns and whole rows differ between the channels.
bool uses_system_columns_walker(Node* node, void* context);
auto system_column_walker() {
    return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(uses_system_columns_walker));
}
bool uses_system_columns_walker(Node* node, void* context) {
    if (node == nullptr)
        return false;
    if (IsA(node, Var)) {
        auto* var = reinterpret_cast<Var*>(node);
        return var->varlevelsup == 0 && var->varno == *static_cast<int*>(context) &&
               var->varattno <= 0;
    }
    return expression_tree_walker(node, system_column_walker(), context);
}
bool uses_system_columns(Node* node, Index rti) {
    int varno = static_cast<int>(rti);
    return uses_system_columns_walker(node, &varno);
}

// The shadow's range as a condition on the scan's key Var.
List* shadow_range(const RouteShape& shape, const ShadowShape& shadow, Index rti) {
    List* conditions = NIL;
    auto bound = [&](Oid op, Datum value) {
        Expr* key =
            reinterpret_cast<Expr*>(makeVar(static_cast<int>(rti), shape.key_attno, shape.key_type,
                                            shape.key_typmod, shape.key_collation, 0));
        if (shape.key_type != shape.key_opcintype) // e.g. varchar under text_ops
            key = reinterpret_cast<Expr*>(makeRelabelType(
                key, shape.key_opcintype, -1, shape.key_collation, COERCE_IMPLICIT_CAST));
        Const* constant =
            makeConst(shape.key_opcintype, -1, shape.key_collation, get_typlen(shape.key_opcintype),
                      value, false, get_typbyval(shape.key_opcintype));
        auto* clause = reinterpret_cast<OpExpr*>(make_opclause(op, BOOLOID, false, key,
                                                               reinterpret_cast<Expr*>(constant),
                                                               InvalidOid, shape.key_collation));
        set_opfuncid(clause);
        conditions = lappend(conditions, clause);
    };
    if (shadow.has_lower)
        bound(shape.key_ge, shadow.lower);
    if (shadow.has_upper)
        bound(shape.key_lt, shadow.upper);
    return conditions;
}

// INDEX_VAR Vars of an index-only scan, as the table columns they stand for.
Node* index_vars_to_table(Node* node, void* context);
auto index_var_mapper() {
    return reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(index_vars_to_table));
}
Node* index_vars_to_table(Node* node, void* context) {
    if (node == nullptr)
        return nullptr;
    if (IsA(node, Var) && reinterpret_cast<Var*>(node)->varno == INDEX_VAR) {
        auto* tlist = static_cast<List*>(context);
        int column = reinterpret_cast<Var*>(node)->varattno;
        if (column >= 1 && column <= list_length(tlist))
            return reinterpret_cast<Node*>(
                copyObjectImpl(list_nth_node(TargetEntry, tlist, column - 1)->expr));
        return node;
    }
    return expression_tree_mutator(node, index_var_mapper(), context);
}

// The scan's conditions on table columns, for refutation.
List* scan_conditions(Plan* scan) {
    switch (nodeTag(scan)) {
    case T_SeqScan:
        return scan->qual;
    case T_IndexScan:
        return list_concat_copy(reinterpret_cast<IndexScan*>(scan)->indexqualorig, scan->qual);
    case T_IndexOnlyScan: {
        auto* ios = reinterpret_cast<IndexOnlyScan*>(scan);
        return reinterpret_cast<List*>(
            index_vars_to_table(reinterpret_cast<Node*>(ios->recheckqual), ios->indextlist));
    }
    case T_BitmapHeapScan:
        return list_concat_copy(reinterpret_cast<BitmapHeapScan*>(scan)->bitmapqualorig,
                                scan->qual);
    default:
        return NIL;
    }
}

Plan* clone_for_shadow(Plan* node, Rewrite& rewrite, int shadow, Index rti);

// Replaces a source index by the shadow's matching one; false (and the
// rewrite fails) if it has none.
bool to_shadow_index(Oid& index, Rewrite& rewrite, int shadow) {
    const std::vector<Oid>& indexes = shadow_indexes(*rewrite.shape, index);
    if (indexes.empty()) {
        rewrite.failed = true;
        return false;
    }
    index = indexes[shadow];
    return true;
}

// A bitmap index tree (BitmapIndexScan, BitmapAnd, BitmapOr) for a shadow.
Plan* clone_bitmap_tree(Plan* node, Rewrite& rewrite, int shadow, Index rti) {
    if (IsA(node, BitmapIndexScan)) {
        auto* scan = reinterpret_cast<BitmapIndexScan*>(copyObjectImpl(node));
        if (!to_shadow_index(scan->indexid, rewrite, shadow))
            return node;
        VarMap map{rti, rewrite.shadow_rtis[shadow], &rewrite.shape->shadows[shadow].attno};
        scan->scan.scanrelid = rewrite.shadow_rtis[shadow];
        scan->indexqualorig = mapped(scan->indexqualorig, map);
        scan->scan.plan.plan_node_id = rewrite.next_plan_node_id++;
        return reinterpret_cast<Plan*>(scan);
    }
    List** children = IsA(node, BitmapAnd)  ? &reinterpret_cast<BitmapAnd*>(node)->bitmapplans
                      : IsA(node, BitmapOr) ? &reinterpret_cast<BitmapOr*>(node)->bitmapplans
                                            : nullptr;
    if (children == nullptr) {
        rewrite.failed = true;
        return node;
    }
    Plan* copy = static_cast<Plan*>(copyObjectImpl(node));
    List** copied = IsA(copy, BitmapAnd) ? &reinterpret_cast<BitmapAnd*>(copy)->bitmapplans
                                         : &reinterpret_cast<BitmapOr*>(copy)->bitmapplans;
    List* cloned = NIL;
    ListCell* cell;
    foreach (cell, *children)
        cloned = lappend(cloned,
                         clone_bitmap_tree(static_cast<Plan*>(lfirst(cell)), rewrite, shadow, rti));
    *copied = cloned;
    copy->plan_node_id = rewrite.next_plan_node_id++;
    return copy;
}

// The same scan, reading one shadow.
Plan* clone_for_shadow(Plan* node, Rewrite& rewrite, int shadow, Index rti) {
    VarMap map{rti, rewrite.shadow_rtis[shadow], &rewrite.shape->shadows[shadow].attno};
    auto* copy = static_cast<Plan*>(copyObjectImpl(node));
    reinterpret_cast<Scan*>(copy)->scanrelid = rewrite.shadow_rtis[shadow];
    copy->plan_node_id = rewrite.next_plan_node_id++;
    copy->targetlist = mapped(copy->targetlist, map);
    copy->qual = mapped(copy->qual, map);
    switch (nodeTag(copy)) {
    case T_SeqScan:
        break;
    case T_IndexScan: {
        auto* scan = reinterpret_cast<IndexScan*>(copy);
        if (!to_shadow_index(scan->indexid, rewrite, shadow))
            return node;
        scan->indexqualorig = mapped(scan->indexqualorig, map);
        scan->indexorderbyorig = mapped(scan->indexorderbyorig, map);
        break;
    }
    case T_IndexOnlyScan: {
        auto* scan = reinterpret_cast<IndexOnlyScan*>(copy);
        if (!to_shadow_index(scan->indexid, rewrite, shadow))
            return node;
        scan->indextlist = mapped(scan->indextlist, map);
        break;
    }
    case T_BitmapHeapScan: {
        auto* scan = reinterpret_cast<BitmapHeapScan*>(copy);
        scan->bitmapqualorig = mapped(scan->bitmapqualorig, map);
        copy->lefttree = clone_bitmap_tree(node->lefttree, rewrite, shadow, rti);
        break;
    }
    default:
        rewrite.failed = true;
        return node;
    }
    return copy;
}

// An Append of the scans, returning their rows in list order.
Plan* append_of(List* scans, Plan* like, Rewrite& rewrite) {
    Append* append = makeNode(Append);
    append->appendplans = scans;
    append->first_partial_plan = list_length(scans);
    Plan* plan = &append->plan;
    plan->startup_cost = like->startup_cost;
    plan->total_cost = like->total_cost;
    plan->plan_rows = like->plan_rows;
    plan->plan_width = like->plan_width;
    plan->plan_node_id = rewrite.next_plan_node_id++;
    // Rescans with changed parameters must reach the scans below.
    plan->extParam = bms_copy(like->extParam);
    plan->allParam = bms_copy(like->allParam);
    ListCell* cell;
    foreach (cell, like->targetlist) {
        auto* entry = lfirst_node(TargetEntry, cell);
        Var* var = makeVarFromTargetEntry(OUTER_VAR, entry);
        plan->targetlist =
            lappend(plan->targetlist, makeTargetEntry(reinterpret_cast<Expr*>(var), entry->resno,
                                                      entry->resname, entry->resjunk));
    }
    return plan;
}

// Parents that do not care in which order a child returns its rows. (Not
// Append: an ordered partition scan is a plain Append of ordered children.)
bool order_free_parent(Plan* parent) {
    if (parent == nullptr)
        return false;
    switch (nodeTag(parent)) {
    case T_Hash:
        return true;
    case T_Agg: {
        const AggStrategy strategy = reinterpret_cast<Agg*>(parent)->aggstrategy;
        return strategy == AGG_HASHED || strategy == AGG_PLAIN;
    }
    default:
        return false;
    }
}

Plan* redirect_scan(Plan* node, Plan* parent, Rewrite& rewrite) {
    const Index rti = reinterpret_cast<Scan*>(node)->scanrelid;
    List* expressions = list_make2(node->targetlist, node->qual);
    if (uses_system_columns(reinterpret_cast<Node*>(expressions), rti)) {
        rewrite.failed = true;
        return node;
    }
    // The shadows the scan's conditions leave (as partition pruning would).
    List* conditions = scan_conditions(node);
    // (Runs inside pg::call: no C++ object owns memory in this frame.)
    int needed[kMaxShadows];
    int count = 0;
    if (rewrite.shape->shadows.size() > kMaxShadows) {
        rewrite.failed = true;
        return node;
    }
    for (size_t i = 0; i < rewrite.shape->shadows.size(); ++i)
        if (!predicate_refuted_by(shadow_range(*rewrite.shape, rewrite.shape->shadows[i], rti),
                                  conditions, false))
            needed[count++] = static_cast<int>(i);
    if (count == 0)
        return node; // reads nothing of the source either
    if (count > 1 && parent != nullptr && IsA(parent, MergeJoin) && parent->righttree == node) {
        // A merge join's inner side marks and restores positions: an Append
        // cannot.
        rewrite.failed = true;
        return node;
    }
    if (count > 1 && (IsA(node, IndexScan) || IsA(node, IndexOnlyScan))) {
        // Rows in index order over several shadows: if the index leads with
        // the key, shadow after shadow in the scan's key order is index
        // order; otherwise only a parent that does not care may have them.
        Oid index = IsA(node, IndexScan) ? reinterpret_cast<IndexScan*>(node)->indexid
                                         : reinterpret_cast<IndexOnlyScan*>(node)->indexid;
        ScanDirection direction = IsA(node, IndexScan)
                                      ? reinterpret_cast<IndexScan*>(node)->indexorderdir
                                      : reinterpret_cast<IndexOnlyScan*>(node)->indexorderdir;
        const KeyOrder order = key_order(*rewrite.shape, index);
        if (order == KeyOrder::none && !order_free_parent(parent)) {
            rewrite.failed = true;
            return node;
        }
        if (order != KeyOrder::none &&
            ScanDirectionIsBackward(direction) != (order == KeyOrder::descending))
            std::reverse(needed, needed + count);
    }
    List* scans = NIL;
    for (int i = 0; i < count; ++i)
        scans = lappend(scans, clone_for_shadow(node, rewrite, needed[i], rti));
    if (rewrite.failed)
        return node;
    rewrite.swapped = true;
    return count == 1 ? static_cast<Plan*>(linitial(scans)) : append_of(scans, node, rewrite);
}

// Calls f(slot) for every child plan pointer of node (lists, subquery,
// outer and inner plan), so that f may replace the child.
template <typename F>
void for_each_child(Plan* node, F&& f) {
    auto each = [&](List* plans) {
        ListCell* cell;
        foreach (cell, plans)
            f(reinterpret_cast<Plan*&>(lfirst(cell)));
    };
    switch (nodeTag(node)) {
    case T_Append:
        each(reinterpret_cast<Append*>(node)->appendplans);
        break;
    case T_MergeAppend:
        each(reinterpret_cast<MergeAppend*>(node)->mergeplans);
        break;
    case T_BitmapAnd:
        each(reinterpret_cast<BitmapAnd*>(node)->bitmapplans);
        break;
    case T_BitmapOr:
        each(reinterpret_cast<BitmapOr*>(node)->bitmapplans);
        break;
    case T_SubqueryScan:
        f(reinterpret_cast<SubqueryScan*>(node)->subplan);
        break;
    case T_CustomScan:
        each(reinterpret_cast<CustomScan*>(node)->custom_plans);
        break;
    default:
        break;
    }
    if (node->lefttree != nullptr)
        f(node->lefttree);
    if (node->righttree != nullptr)
        f(node->righttree);
}

Plan* redirect(Plan* node, Plan* parent, Rewrite& rewrite) {
    if (node == nullptr || rewrite.failed)
        return node;
    switch (nodeTag(node)) {
    case T_SeqScan:
    case T_IndexScan:
    case T_IndexOnlyScan:
    case T_BitmapHeapScan:
        if (reads_source(rewrite, reinterpret_cast<Scan*>(node)->scanrelid))
            return redirect_scan(node, parent, rewrite);
        break;
    case T_TidScan:
    case T_TidRangeScan:
    case T_SampleScan:
    case T_BitmapIndexScan:
    case T_ForeignScan:
        // Other scans of the source (or a bitmap index scan outside a heap
        // scan) cannot be redirected.
        if (reads_source(rewrite, reinterpret_cast<Scan*>(node)->scanrelid))
            rewrite.failed = true;
        break;
    default:
        break;
    }
    for_each_child(node, [&](Plan*& child) { child = redirect(child, node, rewrite); });
    return node;
}

int max_plan_node_id(Plan* node) {
    int highest = node->plan_node_id;
    for_each_child(node,
                   [&](Plan*& child) { highest = std::max(highest, max_plan_node_id(child)); });
    return highest;
}

// --- the marker: both trees in one node ----------------------------------------
//
// A Result node never has an inner plan; this one holds the new channel's
// tree as its outer plan and the old channel's as its inner plan, with the
// plan id in its (never evaluated) one-time filter. The ExecutorStart hook
// replaces it by one of the two before the executor sees it.

Oid route_function() {
    return pg::call([] {
        Oid schema = get_namespace_oid("presplit", true);
        Oid argument = INT8OID;
        return OidIsValid(schema) ? GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
                                                    CStringGetDatum("_route_new"),
                                                    PointerGetDatum(buildoidvector(&argument, 1)),
                                                    ObjectIdGetDatum(schema))
                                  : InvalidOid;
    });
}

Plan* make_marker(Plan* new_tree, Plan* old_tree, Oid function, int64_t plan_id) {
    Result* marker = makeNode(Result);
    Const* plan = makeConst(INT8OID, -1, InvalidOid, sizeof(int64), Int64GetDatum(plan_id), false,
                            FLOAT8PASSBYVAL);
    marker->resconstantqual = reinterpret_cast<Node*>(list_make1(makeFuncExpr(
        function, BOOLOID, list_make1(plan), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL)));
    Plan* plan_node = &marker->plan;
    *plan_node = *old_tree; // costs, targetlist (never used: replaced before execution)
    plan_node->type = T_Result;
    plan_node->lefttree = new_tree;
    plan_node->righttree = old_tree;
    plan_node->initPlan = NIL;
    return plan_node;
}

bool is_marker(Plan* node) {
    return node != nullptr && IsA(node, Result) && node->righttree != nullptr;
}

int64_t marker_plan_id(Plan* node) {
    auto* qual = reinterpret_cast<List*>(reinterpret_cast<Result*>(node)->resconstantqual);
    auto* call = linitial_node(FuncExpr, qual);
    return DatumGetInt64(linitial_node(Const, call->args)->constvalue);
}

// --- executions: the channel each routed execution drew ------------------------

// A routed execution, from the end of ExecutorStart to the end of
// ExecutorEnd (or the death of its memory).
struct Execution {
    QueryDesc* query;
    MemoryContext memory; // the executor's es_query_cxt
    ChannelChoice choice;
    bool ended; // ExecutorEnd has counted it
};
std::vector<Execution> executions;

// The execution's memory is going away. An execution that did not reach
// ExecutorEnd failed (or was cancelled): counted as an error.
void execution_memory_gone(void* arg) {
    pg::entry([&] {
        auto memory = static_cast<MemoryContext>(arg);
        for (size_t i = executions.size(); i-- > 0;) {
            if (executions[i].memory != memory || executions[i].ended)
                continue;
            if (executions[i].choice.counted)
                record_channel_statement(executions[i].choice.plan_id, executions[i].choice.channel,
                                         0, /*failed=*/true);
            executions.erase(executions.begin() + static_cast<long>(i));
        }
    });
}

// Whether the snapshot the statement reads with sees xid committed (or it
// is ours).
bool snapshot_sees(TransactionId xid, Snapshot snapshot) {
    return pg::call([&] {
        if (snapshot == nullptr || !IsMVCCSnapshot(snapshot))
            return false;
        if (xid == FrozenTransactionId || TransactionIdIsCurrentTransactionId(xid))
            return true;
        return TransactionIdIsNormal(xid) && !XidInMVCCSnapshot(xid, snapshot);
    });
}

// Cursor options of cursors a user can name in WHERE CURRENT OF, which needs
// the table's own scan: DECLARE (ASENSITIVE by default, or the options
// given) and PL/pgSQL cursor variables (FAST_PLAN). NO_SCROLL alone is
// PL/pgSQL's PERFORM and FOR loops: routed.
constexpr int kCursorOptions = CURSOR_OPT_BINARY | CURSOR_OPT_SCROLL | CURSOR_OPT_INSENSITIVE |
                               CURSOR_OPT_ASENSITIVE | CURSOR_OPT_HOLD | CURSOR_OPT_FAST_PLAN;

} // namespace

void prepare_routing(PlannedStmt* statement, int cursor_options) {
    if (!config::routing_enabled || IsBackgroundWorker || (cursor_options & kCursorOptions) != 0 ||
        statement->commandType != CMD_SELECT || statement->utilityStmt != nullptr ||
        statement->hasModifyingCTE || statement->rowMarks != NIL || statement->parallelModeNeeded ||
        !IsTransactionState())
        return;
    catalog::refresh_routes();
    if (!catalog::any_routes())
        return;
    // The one switching plan whose source the statement reads.
    const catalog::Route* route = nullptr;
    std::vector<Index> source_rtis;
    Index rti = 0;
    ListCell* cell;
    foreach (cell, statement->rtable) {
        ++rti;
        auto* rte = lfirst_node(RangeTblEntry, cell);
        if (rte->rtekind != RTE_RELATION)
            continue;
        const catalog::Route* found = catalog::find_route_for_relation(rte->relid);
        if (found == nullptr || found->source != rte->relid)
            continue;
        if (route != nullptr && route != found)
            return; // two switching plans: not routed
        route = found;
        source_rtis.push_back(rti);
    }
    if (route == nullptr)
        return;
    auto* shape = const_cast<RouteShape*>(shape_of(*route));
    if (!shape->usable)
        return;
    const Oid function = route_function();
    if (!OidIsValid(function))
        return;

    Rewrite rewrite{shape, source_rtis, {}, 0};
    const int rtable_length = list_length(statement->rtable);
    for (size_t i = 0; i < shape->shadows.size(); ++i)
        rewrite.shadow_rtis.push_back(static_cast<Index>(rtable_length + 1 + i));
    int highest = max_plan_node_id(statement->planTree);
    foreach (cell, statement->subplans)
        if (lfirst(cell) != nullptr)
            highest = std::max(highest, max_plan_node_id(static_cast<Plan*>(lfirst(cell))));
    rewrite.next_plan_node_id = highest + 1;

    // The copies, redirected (PostgreSQL node code: inside pg::call).
    Plan* new_tree = pg::call([&] {
        return redirect(static_cast<Plan*>(copyObjectImpl(statement->planTree)), nullptr, rewrite);
    });
    List* new_subplans = pg::call([&] {
        List* copies = NIL;
        ListCell* sub;
        foreach (sub, statement->subplans)
            copies = lappend(copies, redirect(static_cast<Plan*>(copyObjectImpl(lfirst(sub))),
                                              nullptr, rewrite));
        return copies;
    });
    if (rewrite.failed || !rewrite.swapped)
        return;

    pg::call([&] {
        for (const auto& shadow : shape->shadows) {
            RangeTblEntry* rte = makeNode(RangeTblEntry);
            rte->rtekind = RTE_RELATION;
            rte->relid = shadow.relid;
            rte->relkind = RELKIND_RELATION;
            rte->rellockmode = AccessShareLock;
            rte->inFromCl = false;
            rte->eref = makeAlias(pstrdup(shadow.name.c_str()),
                                  static_cast<List*>(copyObjectImpl(shadow.column_names)));
            statement->rtable = lappend(statement->rtable, rte);
            statement->relationOids = lappend_oid(statement->relationOids, shadow.relid);
            // A one-shot plan runs without the plan cache taking its locks.
            LockRelationOid(shadow.relid, AccessShareLock);
        }
        statement->planTree = make_marker(new_tree, statement->planTree, function, route->plan_id);
        int i = 0;
        ListCell* sub;
        foreach (sub, statement->subplans) {
            Plan* old_tree = static_cast<Plan*>(lfirst(sub));
            if (old_tree != nullptr)
                lfirst(sub) = make_marker(static_cast<Plan*>(list_nth(new_subplans, i)), old_tree,
                                          function, route->plan_id);
            ++i;
        }
    });
}

ChannelChoice choose_channel(QueryDesc* query, int eflags) {
    ChannelChoice choice;
    PlannedStmt* statement = query->plannedstmt;
    if (!is_marker(statement->planTree))
        return choice;
    choice.routed = true;
    choice.plan_id = marker_plan_id(statement->planTree);
    bool use_new = false;
    const bool runs = (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0;
    if (runs && config::routing_enabled) {
        catalog::refresh_routes();
        const catalog::Route* route = catalog::find_route(choice.plan_id);
        if (route != nullptr && route->new_weight > 0 &&
            snapshot_sees(route->plan_row_xmin, query->snapshot))
            use_new = route->new_weight >= 100 ||
                      pg::backend_random() % 100 < static_cast<uint64_t>(route->new_weight);
    }
    choice.channel = use_new ? Channel::new_channel : Channel::old_channel;
    choice.counted = runs;
    // The executor gets a statement with the chosen trees only (freed again
    // after ExecutorEnd, or with the query's memory).
    choice.original = statement;
    choice.chosen = pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(query));
        auto* chosen = static_cast<PlannedStmt*>(palloc(sizeof(PlannedStmt)));
        *chosen = *statement;
        chosen->planTree = use_new ? statement->planTree->lefttree : statement->planTree->righttree;
        chosen->subplans = NIL;
        ListCell* cell;
        foreach (cell, statement->subplans) {
            auto* sub = static_cast<Plan*>(lfirst(cell));
            if (is_marker(sub))
                sub = use_new ? sub->lefttree : sub->righttree;
            chosen->subplans = lappend(chosen->subplans, sub);
        }
        MemoryContextSwitchTo(old);
        return chosen;
    });
    query->plannedstmt = choice.chosen;
    if (choice.counted)
        claim_channel_stats(choice.plan_id);
    return choice;
}

void routed_execution_started(QueryDesc* query, const ChannelChoice& choice) {
    executions.push_back({query, query->estate->es_query_cxt, choice, false});
    Execution& execution = executions.back();
    pg::call([&] {
        auto* callback = static_cast<MemoryContextCallback*>(
            MemoryContextAlloc(execution.memory, sizeof(MemoryContextCallback)));
        callback->func = execution_memory_gone;
        callback->arg = execution.memory;
        MemoryContextRegisterResetCallback(execution.memory, callback);
    });
}

bool is_routed_execution(QueryDesc* query) {
    for (const auto& execution : executions)
        if (execution.query == query && !execution.ended)
            return true;
    return false;
}

void routed_execution_ended(QueryDesc* query, double seconds) {
    for (auto& execution : executions) {
        if (execution.query != query || execution.ended ||
            execution.memory != query->estate->es_query_cxt)
            continue;
        if (execution.choice.counted)
            record_channel_statement(execution.choice.plan_id, execution.choice.channel,
                                     seconds * 1e6, false);
        execution.ended = true;
    }
}

void restore_statement(QueryDesc* query, const ChannelChoice& choice) {
    query->plannedstmt = choice.original;
    pg::call([&] {
        list_free(choice.chosen->subplans);
        pfree(choice.chosen);
    });
}

void routed_execution_finished(QueryDesc* query) {
    for (size_t i = executions.size(); i-- > 0;) {
        if (executions[i].query != query || !executions[i].ended)
            continue;
        const ChannelChoice choice = executions[i].choice;
        executions.erase(executions.begin() + static_cast<long>(i));
        restore_statement(query, choice);
        return;
    }
}

void install_routing_callbacks() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

} // namespace presplit::switchover

// presplit._route_new(plan bigint): marks routed plans (see routing.hpp); the
// executor hook replaces the node that holds it before anything evaluates
// it. Evaluated, something ran the plan without that hook: refuse.
extern "C" Datum presplit_route_new(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&]() -> Datum {
        throw presplit::pg::Error(ERRCODE_INTERNAL_ERROR,
                                  "split plan " + std::to_string(PG_GETARG_INT64(0)) +
                                      ": a routed plan ran without pg_presplit's executor hook",
                                  "", "Set presplit.routing = off for this session.");
    });
}
