#include "switchover/plan_rewrite.hpp"

#include "switchover/route_indexes.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "storage/lmgr.h"
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

// Executor parameters and subplans belong to the statement's own plan: a
// foreign scan planned on its own cannot take them (parameters of the
// statement's caller, PARAM_EXTERN, it can).
bool needs_statement_plan_walker(Node* node, void* context);
auto statement_plan_walker() {
    return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(needs_statement_plan_walker));
}
bool needs_statement_plan_walker(Node* node, void* context) {
    if (node == nullptr)
        return false;
    if (IsA(node, Param))
        return reinterpret_cast<Param*>(node)->paramkind != PARAM_EXTERN;
    if (IsA(node, SubPlan) || IsA(node, AlternativeSubPlan))
        return true;
    return expression_tree_walker(node, statement_plan_walker(), context);
}

// The scan on a target on another server: the planner plans "SELECT <the
// scan's output> FROM ONLY <foreign table> WHERE <the scan's conditions>"
// on its own (postgres_fdw sends what it can to the other server), and its
// foreign scan joins the statement with its Vars on the foreign table's
// range table entry. Read with the executing user's user mapping
// (checkAsUser unset), as a foreign partition is after the cutover; no
// privilege is checked on the foreign table itself (the statement's on the
// partitioned table were).
Plan* foreign_scan_for(Plan* node, Rewrite& rewrite, int shadow, Index rti) {
    const ShadowShape& target = rewrite.shape->shadows[shadow];
    List* targetlist = node->targetlist;
    List* conditions = NIL;
    switch (nodeTag(node)) {
    case T_IndexScan:
        if (reinterpret_cast<IndexScan*>(node)->indexorderbyorig != NIL) {
            rewrite.failed = true; // ordering operators: the order is the point
            return node;
        }
        conditions = scan_conditions(node);
        break;
    case T_IndexOnlyScan: {
        auto* ios = reinterpret_cast<IndexOnlyScan*>(node);
        if (ios->indexorderby != NIL) {
            rewrite.failed = true;
            return node;
        }
        auto to_table = [&](List* list) {
            return reinterpret_cast<List*>(
                index_vars_to_table(reinterpret_cast<Node*>(list), ios->indextlist));
        };
        targetlist = to_table(node->targetlist);
        conditions = list_concat(to_table(ios->recheckqual), to_table(node->qual));
        break;
    }
    default:
        conditions = scan_conditions(node);
        break;
    }
    if (needs_statement_plan_walker(reinterpret_cast<Node*>(list_make2(targetlist, conditions)),
                                    nullptr)) {
        rewrite.failed = true;
        return node;
    }
    const VarMap to_query{rti, 1, &target.attno};
    Query* query = makeNode(Query);
    query->commandType = CMD_SELECT;
    query->querySource = QSRC_ORIGINAL;
    query->canSetTag = true;
    RangeTblEntry* rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = target.relid;
    rte->relkind = RELKIND_FOREIGN_TABLE;
    rte->rellockmode = AccessShareLock;
    rte->inFromCl = true;
    rte->eref = makeAlias(pstrdup(target.name.c_str()),
                          static_cast<List*>(copyObjectImpl(target.column_names)));
    query->rtable = list_make1(rte);
    RangeTblRef* reference = makeNode(RangeTblRef);
    reference->rtindex = 1;
    query->jointree =
        makeFromExpr(list_make1(reference),
                     reinterpret_cast<Node*>(make_ands_explicit(mapped(conditions, to_query))));
    AttrNumber resno = 0;
    ListCell* cell;
    foreach (cell, targetlist) {
        auto* entry = lfirst_node(TargetEntry, cell);
        query->targetList = lappend(
            query->targetList,
            makeTargetEntry(mapped(static_cast<Expr*>(copyObjectImpl(entry->expr)), to_query),
                            ++resno, entry->resname, false));
    }
    LockRelationOid(target.relid, AccessShareLock); // the planner expects it locked
    PlannedStmt* planned = standard_planner(query, "", 0, nullptr);
    if (!IsA(planned->planTree, ForeignScan) || planned->subplans != NIL ||
        planned->paramExecTypes != NIL || list_length(planned->rtable) != 1) {
        rewrite.failed = true; // e.g. conditions the planner found always false
        return node;
    }
    auto* scan = reinterpret_cast<ForeignScan*>(planned->planTree);
    const Index shadow_rti = rewrite.shadow_rtis[shadow];
    const VarMap to_statement{1, shadow_rti, nullptr};
    scan->scan.scanrelid = shadow_rti;
    scan->fs_relids = bms_make_singleton(static_cast<int>(shadow_rti));
    scan->scan.plan.targetlist = mapped(scan->scan.plan.targetlist, to_statement);
    scan->scan.plan.qual = mapped(scan->scan.plan.qual, to_statement);
    scan->fdw_exprs = mapped(scan->fdw_exprs, to_statement);
    scan->fdw_recheck_quals = mapped(scan->fdw_recheck_quals, to_statement);
    scan->fdw_scan_tlist = mapped(scan->fdw_scan_tlist, to_statement);
    scan->scan.plan.plan_node_id = rewrite.next_plan_node_id++;
    rewrite.remote = true;
    return reinterpret_cast<Plan*>(scan);
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
    bool remote = false;
    for (int i = 0; i < count; ++i)
        remote = remote || rewrite.shape->shadows[needed[i]].remote;
    if (remote) {
        // A foreign scan can neither mark and restore (a merge join's inner
        // side) nor keep an index order.
        const bool order_free = order_free_parent(parent) || rewrite.unordered_statement;
        if ((parent != nullptr && IsA(parent, MergeJoin) && parent->righttree == node) ||
            ((IsA(node, IndexScan) || IsA(node, IndexOnlyScan)) && !order_free)) {
            rewrite.failed = true;
            return node;
        }
    }
    if (count > 1 && !remote && (IsA(node, IndexScan) || IsA(node, IndexOnlyScan))) {
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
        scans = lappend(scans, rewrite.shape->shadows[needed[i]].remote
                                   ? foreign_scan_for(node, rewrite, needed[i], rti)
                                   : clone_for_shadow(node, rewrite, needed[i], rti));
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

namespace {

bool orders_walker(Node* node, void* context);
auto ordering_walker() {
    return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(orders_walker));
}
bool orders_walker(Node* node, void* context) {
    if (node == nullptr)
        return false;
    if (IsA(node, Query)) {
        auto* query = reinterpret_cast<Query*>(node);
        if (query->sortClause != NIL || query->distinctClause != NIL || query->groupClause != NIL ||
            query->groupingSets != NIL || query->windowClause != NIL ||
            query->setOperations != nullptr)
            return true;
        return query_tree_walker(query, ordering_walker(), context, 0);
    }
    return expression_tree_walker(node, ordering_walker(), context);
}

bool consumes_order(Plan* node) {
    if (node == nullptr)
        return false;
    switch (nodeTag(node)) {
    case T_Limit: // a subquery's ORDER BY ... LIMIT may be a Limit over an index scan
    case T_MergeJoin:
    case T_MergeAppend:
    case T_Unique:
    case T_Group:
    case T_IncrementalSort:
    case T_GatherMerge:
    case T_WindowAgg:
    case T_SetOp:
        return true;
    case T_Agg:
        if (reinterpret_cast<Agg*>(node)->aggstrategy == AGG_SORTED ||
            reinterpret_cast<Agg*>(node)->aggstrategy == AGG_MIXED)
            return true;
        break;
    default:
        break;
    }
    bool found = false;
    for_each_child(node, [&](Plan*& child) { found = found || consumes_order(child); });
    return found;
}

} // namespace

bool order_free_statement(const Query* parse, PlannedStmt* statement) {
    if (orders_walker(reinterpret_cast<Node*>(const_cast<Query*>(parse)), nullptr) ||
        consumes_order(statement->planTree))
        return false;
    ListCell* cell;
    foreach (cell, statement->subplans)
        if (consumes_order(static_cast<Plan*>(lfirst(cell))))
            return false;
    return true;
}

int max_plan_node_id(Plan* node) {
    int highest = node->plan_node_id;
    for_each_child(node,
                   [&](Plan*& child) { highest = std::max(highest, max_plan_node_id(child)); });
    return highest;
}

} // namespace presplit::switchover
