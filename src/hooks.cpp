#include "hooks.hpp"

#include "analyzer/managed_set.hpp"
#include "analyzer/recorder.hpp"
#include "analyzer/stats_store.hpp"
#include "catalog/routes.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"
#include "remote/copy_throttle.hpp"
#include "remote/warmup.hpp"
#include "switchover/channel_stats.hpp"
#include "switchover/routing.hpp"

extern "C" {
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "replication/walsender.h"
#include "storage/proc.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "tcop/utility.h"
}

#include <type_traits>

namespace presplit {
namespace {

shmem_request_hook_type previous_shmem_request = nullptr;
shmem_startup_hook_type previous_shmem_startup = nullptr;
planner_hook_type previous_planner = nullptr;
ExecutorStart_hook_type previous_executor_start = nullptr;
ExecutorRun_hook_type previous_executor_run = nullptr;
ExecutorEnd_hook_type previous_executor_end = nullptr;
ProcessUtility_hook_type previous_process_utility = nullptr;

// How many statements are running in this backend: planning, executor
// start, run and end, utility commands. 0 when ExecutorEnd of an outermost
// statement begins; more for a statement run by a function (however it is
// called: while planning, pruning, running), a DO block or a utility
// command. (A trigger's statements in ExecutorFinish count as outermost:
// only the end of their statement and its commit follow them.)
int statements_running = 0;
// ExecutorRun counts only once this server has had a cutover onto another
// server announced (before, it calls on at no cost): from the transaction
// after the one it began in, every statement has been counted from its
// start, and the count can be trusted.
bool counting_runs = false;
LocalTransactionId counting_runs_since = InvalidLocalTransactionId;

// pg::call(f), counted as a statement running (inside pg::entry: an error
// unwinds through here as a C++ exception).
template <typename F>
auto counted_call(F&& f) -> std::invoke_result_t<F&> {
    ++statements_running;
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
            pg::call(f);
            --statements_running;
        } else {
            auto result = pg::call(f);
            --statements_running;
            return result;
        }
    } catch (...) {
        --statements_running;
        throw;
    }
}

void request_shared_memory() {
    if (previous_shmem_request)
        previous_shmem_request();
    pg::request_shared_state();
    analyzer::request_shared_memory();
    switchover::request_channel_stats();
    remote::request_copy_throttle();
}

void attach_shared_memory() {
    if (previous_shmem_startup)
        previous_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    pg::attach_shared_state();
    analyzer::attach_shared_memory();
    switchover::attach_channel_stats();
    remote::attach_copy_throttle();
    LWLockRelease(AddinShmemInitLock);
}

PlannedStmt* plan_query(Query* parse, const char* query_string, int cursor_options,
                        ParamListInfo bound_params) {
    return pg::entry([&] {
        PlannedStmt* planned = counted_call([&] {
            return previous_planner
                       ? previous_planner(parse, query_string, cursor_options, bound_params)
                       : standard_planner(parse, query_string, cursor_options, bound_params);
        });
        switchover::prepare_routing(planned, parse, cursor_options);
        return planned;
    });
}

// ExecutorStart with the analyzer's sampling and the router's channel.
void start_executor_tracked(QueryDesc* query, int eflags) {
    const uint64_t scale = analyzer::statement_starting(query, eflags);
    const switchover::ChannelChoice choice = switchover::choose_channel(query, eflags);
    try {
        counted_call([&] {
            if (previous_executor_start)
                previous_executor_start(query, eflags);
            else
                standard_ExecutorStart(query, eflags);
        });
    } catch (...) {
        if (choice.routed) {
            query->plannedstmt = choice.original;
            switchover::routed_execution_failed_to_start(choice);
        }
        throw;
    }
    if (scale == 0 && !choice.routed)
        return;
    // Both the analyzer and the channel statistics want executor time.
    if (scale > 0 || choice.counted)
        pg::call([&] {
            if (query->totaltime == nullptr) {
                MemoryContext old = MemoryContextSwitchTo(query->estate->es_query_cxt);
                query->totaltime = InstrAlloc(1, INSTRUMENT_TIMER, false);
                MemoryContextSwitchTo(old);
            }
        });
    if (choice.routed)
        switchover::routed_execution_started(query, choice);
    analyzer::statement_started(query, scale);
}

void start_executor(QueryDesc* query, int eflags) {
    pg::entry([&] { start_executor_tracked(query, eflags); });
}

void run_executor_unchanged(QueryDesc* query, ScanDirection direction, uint64 count,
                            bool execute_once) {
    if (previous_executor_run)
        previous_executor_run(query, direction, count, execute_once);
    else
        standard_ExecutorRun(query, direction, count, execute_once);
}

// Counted in statements_running; only a walsender's COPY of a remote
// target's rows is paced (its receiver wrapped for the run).
void run_executor(QueryDesc* query, ScanDirection direction, uint64 count, bool execute_once) {
    if (!am_walsender) {
        if (!counting_runs && remote::cutovers_announced()) {
            counting_runs = true;
            counting_runs_since = MyProc->lxid;
        }
        if (!counting_runs) {
            run_executor_unchanged(query, direction, count, execute_once);
            return;
        }
        ++statements_running;
        pg::pass_through([&] { run_executor_unchanged(query, direction, count, execute_once); },
                         [] { --statements_running; });
        --statements_running;
        return;
    }
    pg::entry([&] {
        DestReceiver* paced = remote::paced_copy_receiver(query);
        DestReceiver* original = query->dest;
        if (paced != nullptr)
            query->dest = paced;
        // COPY reads its row count from its own receiver after the run.
        pg::call([&] { run_executor_unchanged(query, direction, count, execute_once); });
        query->dest = original;
    });
}

// Executor time so far (totaltime, if the hooks or another extension asked
// for it).
double executor_seconds(QueryDesc* query) {
    return pg::call([&] {
        if (query->totaltime == nullptr)
            return 0.0;
        InstrEndLoop(query->totaltime);
        return query->totaltime->total;
    });
}

void end_executor(QueryDesc* query) {
    pg::entry([&] {
        const bool outermost = statements_running == 0 && counting_runs &&
                               MyProc->lxid != counting_runs_since && query->estate != nullptr &&
                               !(query->estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY);
        if (analyzer::is_tracked(query))
            analyzer::statement_ending(query, executor_seconds(query));
        const bool routed = query->estate != nullptr && switchover::is_routed_execution(query);
        if (routed)
            switchover::routed_execution_ended(query, executor_seconds(query));
        counted_call([&] {
            if (previous_executor_end)
                previous_executor_end(query);
            else
                standard_ExecutorEnd(query);
        });
        if (routed)
            switchover::routed_execution_finished(query);
        // Last: the statement is done.
        if (outermost)
            remote::warm_connections_for_cutover(query);
    });
}

void process_utility(PlannedStmt* statement, const char* query_string, bool read_only_tree,
                     ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                     DestReceiver* dest, QueryCompletion* completion) {
    pg::entry([&] {
        const analyzer::UtilityRecording recording = analyzer::utility_starting(statement);
        instr_time start;
        INSTR_TIME_SET_CURRENT(start);
        counted_call([&] {
            if (previous_process_utility)
                previous_process_utility(statement, query_string, read_only_tree, context, params,
                                         env, dest, completion);
            else
                standard_ProcessUtility(statement, query_string, read_only_tree, context, params,
                                        env, dest, completion);
        });
        if (recording.baseline.empty())
            return;
        instr_time elapsed;
        INSTR_TIME_SET_CURRENT(elapsed);
        INSTR_TIME_SUBTRACT(elapsed, start);
        analyzer::utility_finished(recording, INSTR_TIME_GET_DOUBLE(elapsed));
    });
}

} // namespace

void install_hooks() {
    previous_shmem_request = shmem_request_hook;
    shmem_request_hook = [] { pg::entry([] { pg::call(request_shared_memory); }); };
    previous_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = [] { pg::entry([] { pg::call(attach_shared_memory); }); };
    previous_planner = planner_hook;
    planner_hook = plan_query;
    previous_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = start_executor;
    previous_executor_run = ExecutorRun_hook;
    ExecutorRun_hook = run_executor;
    previous_executor_end = ExecutorEnd_hook;
    ExecutorEnd_hook = end_executor;
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
    analyzer::install_managed_set_callbacks();
    catalog::install_routes_callbacks();
    switchover::install_routing_callbacks();
}

} // namespace presplit
