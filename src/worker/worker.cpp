// The supervisor: one background worker per cluster, serving
// presplit.database. The postmaster starts it once recovery has finished and
// restarts it kRestartSeconds after it exits with an error (an ERROR in the
// worker is promoted to FATAL). SIGTERM (server shutdown, or
// pg_terminate_backend) ends it with exit code 0 (lifecycle.hpp: a step that
// runs is cancelled), which the postmaster takes as "done": it comes back at
// the next server start. SIGHUP reloads the configuration at the next
// wake-up.
//
// Each round (every presplit.naptime, or at once when woken: a new plan, a
// plan worker that ended) checks that the extension exists in
// presplit.database, publishes a heartbeat, starts plan workers for the plans
// with long work (plan_workers.hpp) and does the short steps of the others
// itself: starting a switchover, the ramp's hold, raise or abort
// (core/plan_work.hpp). Nothing it does waits for a copy, a verification or
// a lock, so every ramp is judged at every round. It also looks after the
// analyzer's statistics (analyzer/maintenance.hpp): frees the entries of
// partitions no longer managed, samples partition sizes, saves the
// statistics file periodically and when it stops at a shutdown.
#include "worker/worker.hpp"

#include "analyzer/maintenance.hpp"
#include "analyzer/stats_store.hpp"
#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"
#include "catalog/catalog.hpp"
#include "catalog/remote_moves.hpp"
#include "core/plan_work.hpp"
#include "core/retry_backoff.hpp"
#include "migration/layout.hpp"
#include "remote/move.hpp"
#include "predictor/manager.hpp"
#include "worker/lifecycle.hpp"
#include "worker/migration_job.hpp"
#include "worker/plan_workers.hpp"
#include "worker/readiness.hpp"
#include "worker/switchover_job.hpp"
#include "worker/transaction.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PGDLLEXPORT void presplit_worker_main(Datum main_arg);
}

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace presplit::worker {
namespace {

constexpr int kRestartSeconds = 5;

void publish_start() {
    pg::call([] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        pg::WorkerHeartbeat& beat = pg::shared_state()->worker;
        beat.pid = MyProcPid;
        beat.procno = MyProc->pgprocno;
        beat.started_at = GetCurrentTimestamp();
        beat.last_beat = 0;
        beat.loops = 0;
        beat.starts += 1;
        beat.extension_present = false;
        LWLockRelease(pg::shared_lock());
    });
}

void publish_heartbeat(bool extension_present) {
    pg::call([&] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        pg::WorkerHeartbeat& beat = pg::shared_state()->worker;
        beat.last_beat = GetCurrentTimestamp();
        beat.loops += 1;
        beat.extension_present = extension_present;
        LWLockRelease(pg::shared_lock());
    });
}

// Runs at process exit, also after FATAL: nobody should read a dead pid.
void publish_exit(int, Datum) {
    pg::entry([] {
        pg::call([] {
            LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
            if (pg::shared_state()->worker.pid == MyProcPid)
                pg::shared_state()->worker.pid = 0;
            LWLockRelease(pg::shared_lock());
        });
    });
}

// Plans the worker leaves alone until they are whole again, with what each
// lacked when last looked at (logged when it changes).
std::map<int64_t, std::string> waiting;

// The plans with work that the worker may advance now (worker/readiness.hpp),
// oldest first, with who does it; the others wait, with a line in the server
// log. copying: whether any plan is copying (preparing, backfilling), ready
// or not.
std::vector<std::pair<int64_t, core::PlanWork>> plans_ready_for_work(bool& copying) {
    std::vector<std::pair<int64_t, core::PlanWork>> ready;
    std::map<int64_t, std::string> still_waiting;
    for (const auto& [id, facts] :
         catalog::plans_needing_work(migration::old_bound_constraint_name())) {
        copying |= core::in_backfill(facts.state);
        // Even a plan with nothing to do now: a DBA learns that its capture
        // is gone before it has work again.
        std::optional<std::string> missing = missing_for_work(id);
        if (!missing) {
            if (waiting.count(id))
                pg::call([&] {
                    ereport(LOG, (errmsg("pg_presplit: split plan %lld is whole again: going on",
                                         static_cast<long long>(id))));
                });
            const core::PlanWork work = core::work_for(facts, config::backfill_paused);
            if (work != core::PlanWork::none)
                ready.emplace_back(id, work);
            continue;
        }
        auto before = waiting.find(id);
        if (before == waiting.end() || before->second != *missing)
            pg::call([&] {
                ereport(LOG, (errmsg("pg_presplit: split plan %lld waits: %s",
                                     static_cast<long long>(id), missing->c_str()),
                              errdetail("The worker goes on with it once it is whole, e.g. "
                                        "when a restore has finished.")));
            });
        still_waiting[id] = *missing;
    }
    waiting = std::move(still_waiting);
    return ready;
}

// Plans that wait for a free plan worker slot (logged once each).
std::set<int64_t> waiting_for_a_plan_worker;

// Starts plan workers for the plans that need one, oldest first, within
// presplit.max_plan_workers.
void start_plan_workers(const std::vector<int64_t>& need) {
    const core::PlanWorkerAssignment assignment =
        core::assign_plan_workers(need, plans_with_plan_worker(), config::max_plan_workers);
    for (int64_t id : assignment.start)
        if (!start_plan_worker(id))
            break; // no background worker slot: nor for the next ones
    std::set<int64_t> now_waiting(assignment.waiting.begin(), assignment.waiting.end());
    for (int64_t id : now_waiting)
        if (!waiting_for_a_plan_worker.count(id))
            pg::call([&] {
                ereport(LOG, (errmsg("pg_presplit: split plan %lld waits for a plan worker: "
                                     "all %d that presplit.max_plan_workers allows are busy",
                                     static_cast<long long>(id), config::max_plan_workers)));
            });
    waiting_for_a_plan_worker = std::move(now_waiting);
}

// The predictive shard manager's round (predictor/manager.hpp), when due:
// its assessment in one transaction, then each decision in its own.
void run_manager_if_due() {
    if (shutdown_requested() || !predictor::manager_round_due())
        return;
    auto round = in_transaction("pg_presplit: predicting splits", Isolation::read_committed,
                                [] { return predictor::run_manager_round(); });
    if (!round.ok)
        return;
    for (const predictor::ManagerAction& action : round.value) {
        if (shutdown_requested())
            return;
        in_transaction("pg_presplit: acting on a prediction", Isolation::read_committed, [&] {
            predictor::apply_action(action);
            return true;
        });
    }
}

struct WorkFound {
    bool extension_present = false;
    bool copying = false; // a plan is preparing or backfilling
    // A plan copying, synced or switching has a target on another server:
    // else the round's remote checks are skipped, with no query.
    bool remote_targets = false;
    std::vector<std::pair<int64_t, core::PlanWork>> plans;
};

// Whether the last round published limits for remote copies: a round with
// no plan copying onto another server and no move skips the limits' query
// (publish_remote_copy_limits), once they are cleared.
bool copy_limits_published = false;

// Moves whose step failed wait before the next try (core/retry_backoff.hpp).
core::RetryBackoff move_backoff;

// SharedState::moves_to_look_at: read and cleared, or set.
bool take_moves_flag() {
    return pg::call([] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        const bool look = pg::shared_state()->moves_to_look_at;
        pg::shared_state()->moves_to_look_at = false;
        LWLockRelease(pg::shared_lock());
        return look;
    });
}

void set_moves_flag() {
    pg::call([] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        pg::shared_state()->moves_to_look_at = true;
        LWLockRelease(pg::shared_lock());
    });
}

// One step of each move to another server (remote/move.hpp), each in its own
// transaction. A step that fails (the other server down, the catch-up too
// slow, a lock not granted) is retried at a later round (move_backoff), with
// an event when the back-off reports it.
// Looked for in a transaction of their own, so that nothing about moves can
// keep the split plans from their round. Returns whether one of them made
// progress, and in `any` whether there were moves to look at.
bool run_remote_moves(bool& any) {
    any = false;
    // Taken before the query: a move committed after it sets it again (seen
    // next round); one committed before it, the query sees.
    if (!take_moves_flag())
        return false;
    struct MovesFound {
        std::vector<int64_t> ids;
        bool open = false;
    };
    auto found = in_transaction("pg_presplit: looking for moves", Isolation::read_committed, [] {
        MovesFound moves;
        moves.ids = catalog::moves_needing_work(remote::reverse_name_prefix());
        moves.open = !moves.ids.empty() || catalog::any_open_move();
        return moves;
    });
    if (!found.ok || found.value.open)
        set_moves_flag();
    any = found.ok && !found.value.ids.empty();
    bool progress = false;
    for (int64_t id : found.value.ids) {
        if (shutdown_requested())
            break;
        if (move_backoff.wait_ms(id, GetCurrentTimestamp() / 1000) > 0)
            continue;
        auto step = in_transaction("pg_presplit: moving a partition", Isolation::read_committed,
                                   [&] { return remote::advance_move(id); });
        progress |= step.ok && step.value;
        if (step.ok) {
            move_backoff.succeeded(id);
            continue;
        }
        if (step.interrupted)
            continue;
        const core::RetryBackoff::Failure failure =
            move_backoff.failed(id, GetCurrentTimestamp() / 1000, step.error);
        if (failure.report)
            (void)in_transaction(
                "pg_presplit: recording a move's error", Isolation::read_committed, [&] {
                    auto move = catalog::load_move(id, /*lock=*/false);
                    catalog::log_event(std::nullopt, move ? move->source_name : "",
                                       "remote_move_retry",
                                       catalog::move_label(id) + ": " + step.error + "; " +
                                           core::describe_retry(failure));
                    return true;
                });
    }
    return progress;
}

// One round; returns how long to nap before the next one.
int64_t run_round() {
    auto found = in_transaction("pg_presplit: looking for work", Isolation::read_committed, [] {
        WorkFound work;
        work.extension_present =
            pg::call([] { return OidIsValid(get_extension_oid("pg_presplit", true)); });
        if (work.extension_present) {
            work.plans = plans_ready_for_work(work.copying);
            work.remote_targets = catalog::remote_targets_in_use();
        }
        return work;
    });
    publish_heartbeat(found.ok && found.value.extension_present);
    if (!found.ok)
        return config::worker_naptime_ms;
    if (found.value.extension_present)
        run_manager_if_due();

    std::vector<int64_t> need;
    for (const auto& [id, work] : found.value.plans)
        if (work == core::PlanWork::plan_worker)
            need.push_back(id);
    if (!shutdown_requested())
        start_plan_workers(need);

    int64_t pause_ms = config::worker_naptime_ms;
    // The remote checks: lost subscriptions (re-sync), the lag for routing.
    // Only while a plan has a target on another server (a plan's reverse
    // direction after the cutover is its plan worker's step).
    const bool remote = found.value.extension_present && found.value.remote_targets;
    if (remote && !shutdown_requested() && resync_lost_remote_targets())
        pause_ms = 0;
    if (remote && !shutdown_requested() && publish_remote_lags())
        pause_ms = std::min<int64_t>(pause_ms, 1000); // routing needs a fresh lag
    if (!remote)
        forget_remote_lags();
    for (const auto& [id, work] : found.value.plans) {
        if (work != core::PlanWork::supervisor || shutdown_requested())
            continue;
        const Step step = run_switchover_step(id);
        if (step.outcome == StepOutcome::progress)
            pause_ms = 0; // e.g. a new weight: look again at once
        else if (step.pause_ms > 0)
            pause_ms = std::min(pause_ms, step.pause_ms);
    }
    bool any_moves = false;
    if (found.value.extension_present && !shutdown_requested()) {
        if (run_remote_moves(any_moves))
            pause_ms = 0;
        else if (any_moves)
            pause_ms = std::min<int64_t>(pause_ms, 200); // a copy to watch
    }
    // Published while a copy may run (a plan copying, a move: after the
    // moves' step, so that a new move's subscription is paced from this
    // round on), and once more after, to clear them.
    if (found.value.extension_present && !shutdown_requested() &&
        ((found.value.copying && remote) || any_moves || copy_limits_published)) {
        copy_limits_published = publish_remote_copy_limits();
        if (copy_limits_published)
            pause_ms = std::min<int64_t>(pause_ms, 1000); // a paced copy needs fresh limits
    }
    return pause_ms;
}

std::string percent(double share) {
    return std::to_string(static_cast<int>(std::lround(share * 100))) + "%";
}

// Before a sweep frees their entries, the sources of the splits cut over
// lately pass their history on (analyzer/maintenance.hpp), each with an
// event. A source's entry lives until the first sweep after its cutover; a
// day covers a worker that was down meanwhile.
void pass_on_split_histories(int64_t now) {
    if (!pg::call([] { return OidIsValid(get_extension_oid("pg_presplit", true)); }))
        return;
    constexpr double kDaySeconds = 24 * 3600;
    std::vector<analyzer::Succession> successions;
    std::map<Oid, int64_t> plan_of_source;
    for (const catalog::Plan& plan : catalog::plans_cut_over_within(kDaySeconds)) {
        analyzer::Succession succession;
        succession.source = plan.source;
        succession.cut_over_seconds =
            pg::model_seconds_ago(plan.seconds_since_cut_over.value_or(0));
        for (const catalog::Shadow& shadow : catalog::load_shadows(plan.id))
            if (shadow.relation)
                succession.made.push_back(*shadow.relation);
        plan_of_source[plan.source] = plan.id;
        successions.push_back(std::move(succession));
    }
    for (const analyzer::Inheritance& got : analyzer::pass_on_histories(successions, now))
        catalog::log_event(
            plan_of_source[got.source], pg::qualified_relation_name(got.made), "history_inherited",
            "continues " + percent(got.load_share) + " of the old partition's load (" +
                (got.load_from_accesses ? "by its sampled accesses" : "as its size") + ") and " +
                percent(got.size_share) + " of its size history from before the cutover");
}

// The analyzer's share of a round (analyzer/maintenance.hpp).
void maintain_analyzer() {
    const int64_t now = analyzer::now_seconds();
    in_transaction("pg_presplit: passing split sources' history on", Isolation::read_committed,
                   [&] {
                       if (analyzer::sweep_due(now))
                           pass_on_split_histories(now);
                       return true;
                   });
    in_transaction("pg_presplit: analyzer maintenance", Isolation::read_committed, [&] {
        analyzer::maintain(now);
        return true;
    });
    analyzer::save_if_due(now);
}

void run_worker() {
    install_signal_handlers();
    BackgroundWorkerUnblockSignals();
    // Published before connecting, so that a worker that cannot connect (no
    // such database) shows as starting again and again, never beating.
    before_shmem_exit(publish_exit, 0);
    publish_start();
    BackgroundWorkerInitializeConnection(config::worker_database, nullptr, 0);
    forget_unclaimed_plan_workers();
    set_moves_flag(); // moves may be open since before this worker started
    ereport(LOG,
            (errmsg("pg_presplit worker started for database \"%s\"", config::worker_database)));

    while (!shutdown_requested()) {
        reload_configuration_if_asked();
        const int64_t pause_ms = run_round();
        maintain_analyzer();
        if (!shutdown_requested() && pause_ms > 0)
            nap(pause_ms);
    }
    analyzer::save_at_shutdown();
    ereport(LOG, (errmsg("pg_presplit worker shutting down")));
    proc_exit(0);
}

} // namespace

namespace {

bool wake_at_commit = false;
bool moves_at_commit = false; // and have it look at the moves

void set_worker_latch() {
    LWLockAcquire(pg::shared_lock(), LW_SHARED);
    int pid = pg::shared_state()->worker.pid;
    int procno = pg::shared_state()->worker.procno;
    LWLockRelease(pg::shared_lock());
    if (pid != 0)
        SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

// Wakes the worker once the transaction that asked for it has committed, so
// that it sees the new plan.
void on_transaction_end(XactEvent event, void*) {
    pg::entry([&] {
        if (!wake_at_commit)
            return;
        if (event == XACT_EVENT_COMMIT && moves_at_commit)
            set_moves_flag();
        if (event == XACT_EVENT_COMMIT)
            pg::call(set_worker_latch);
        if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
            wake_at_commit = false;
            moves_at_commit = false;
        }
    });
}

} // namespace

void wake_worker() {
    wake_at_commit = true;
}

void wake_worker_for_moves() {
    wake_at_commit = true;
    moves_at_commit = true;
}

void register_worker() {
    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = kRestartSeconds;
    strlcpy(worker.bgw_library_name, "pg_presplit", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "presplit_worker_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "pg_presplit worker", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "pg_presplit worker", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
    RegisterXactCallback(on_transaction_end, nullptr);
}

} // namespace presplit::worker

void presplit_worker_main(Datum) {
    presplit::pg::entry([] { presplit::pg::call(presplit::worker::run_worker); });
}
