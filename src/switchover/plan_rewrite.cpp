#include "switchover/plan_rewrite.hpp"

#include "switchover/route_indexes.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
}

#include <algorithm>

namespace presplit::switchover {
namespace {

// More shadows than this (split points + 1): not routed.
constexpr size_t kMaxShadows = 64;

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

} // namespace

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

} // namespace presplit::switchover
