// Read routing's public side (routing.hpp): the planner hook's entry
// (prepare_routing: which statements are routed, the shadows joining the
// range table, the markers) and the executor side (the channel each
// execution draws, its statement with the chosen trees, its counting). The
// pieces: route_shapes (the shadows as the planner sees them), route_indexes
// (index matching), plan_rewrite (the new channel's tree), route_marker (both
// trees in one node).
#include "switchover/routing.hpp"

#include "catalog/routes.hpp"
#include "config.hpp"
#include "pg/backend_random.hpp"
#include "pg/guard.hpp"
#include "switchover/channel_stats.hpp"
#include "switchover/plan_rewrite.hpp"
#include "switchover/route_marker.hpp"
#include "switchover/route_shapes.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

#include <algorithm>
#include <vector>

namespace presplit::switchover {
namespace {

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

// A target on another server is fed by asynchronous logical replication:
// a transaction that has written must read its own writes (never routed
// there), and the others only while the worker's last measurement of the
// lag is recent and within presplit.remote_read_max_lag.
bool remote_read_allowed(int64_t plan_id) {
    return !TransactionIdIsValid(GetTopTransactionIdIfAny()) &&
           remote_lag_within(plan_id, config::remote_read_max_lag_ms);
}

} // namespace

void prepare_routing(PlannedStmt* statement, const Query* parse, int cursor_options) {
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
    bool has_remote = false;
    for (const auto& shadow : shape->shadows)
        has_remote = has_remote || shadow.remote;
    // A user without a user mapping for a remote target's server reads the
    // source (its reads would fail there, as they will after the cutover).
    if (has_remote && !current_user_can_read_remote(*shape))
        return;
    if (has_remote)
        rewrite.unordered_statement =
            pg::call([&] { return order_free_statement(parse, statement); });
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
            rte->relkind = shadow.remote ? RELKIND_FOREIGN_TABLE : RELKIND_RELATION;
            rte->rellockmode = AccessShareLock;
            rte->inFromCl = false;
            rte->eref = makeAlias(pstrdup(shadow.name.c_str()),
                                  static_cast<List*>(copyObjectImpl(shadow.column_names)));
            statement->rtable = lappend(statement->rtable, rte);
            statement->relationOids = lappend_oid(statement->relationOids, shadow.relid);
            // A one-shot plan runs without the plan cache taking its locks.
            LockRelationOid(shadow.relid, AccessShareLock);
        }
        statement->planTree =
            make_marker(new_tree, statement->planTree, function, route->plan_id, rewrite.remote);
        int i = 0;
        ListCell* sub;
        foreach (sub, statement->subplans) {
            Plan* old_tree = static_cast<Plan*>(lfirst(sub));
            if (old_tree != nullptr)
                lfirst(sub) = make_marker(static_cast<Plan*>(list_nth(new_subplans, i)), old_tree,
                                          function, route->plan_id, rewrite.remote);
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
    const catalog::Route* route = nullptr;
    if (runs && config::routing_enabled) {
        catalog::refresh_routes();
        route = catalog::find_route(choice.plan_id);
        if (route != nullptr && route->new_weight > 0 &&
            snapshot_sees(route->plan_row_xmin, query->snapshot))
            use_new = route->new_weight >= 100 ||
                      pg::backend_random() % 100 < static_cast<uint64_t>(route->new_weight);
    }
    const bool remote = marker_reads_remote(statement->planTree);
    // The plan may have been made for another user (SET ROLE, SECURITY
    // DEFINER): the mapping is the executing user's.
    if (use_new && remote &&
        (!remote_read_allowed(choice.plan_id) || !current_user_can_read_remote(*shape_of(*route))))
        use_new = false;
    choice.channel = !use_new ? Channel::old_channel
                     : remote ? Channel::remote_channel
                              : Channel::new_channel;
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

void routed_execution_failed_to_start(const ChannelChoice& choice) {
    if (choice.counted)
        record_channel_statement(choice.plan_id, choice.channel, 0, /*failed=*/true);
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
    install_shape_invalidation();
}

} // namespace presplit::switchover
