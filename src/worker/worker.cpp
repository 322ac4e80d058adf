// Lifecycle: the postmaster starts the worker once recovery has finished and
// restarts it kRestartSeconds after it exits with an error (an ERROR in the
// worker is promoted to FATAL). SIGTERM (server shutdown, or
// pg_terminate_backend) ends it with exit code 0 (lifecycle.hpp: a step that
// runs is cancelled), which the postmaster takes as "done": it comes back at
// the next server start. SIGHUP reloads the configuration at the next
// wake-up.
//
// Each round checks that the extension exists in presplit.database, publishes
// a heartbeat, and advances the plans that have work: backfill
// (migration_job) and switchover (switchover_job).
#include "worker/worker.hpp"

#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"
#include "catalog/catalog.hpp"
#include "worker/lifecycle.hpp"
#include "worker/migration_job.hpp"
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

#include <map>
#include <optional>

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

// The plans with work that the worker may advance now (worker/readiness.hpp);
// the others wait, with a line in the server log.
std::vector<int64_t> plans_ready_for_work() {
    std::vector<int64_t> ready;
    std::map<int64_t, std::string> still_waiting;
    for (int64_t id : catalog::plans_needing_work()) {
        std::optional<std::string> missing = missing_for_work(id);
        if (!missing) {
            if (waiting.count(id))
                pg::call([&] {
                    ereport(LOG, (errmsg("pg_presplit: split plan %lld is whole again: going on",
                                         static_cast<long long>(id))));
                });
            ready.push_back(id);
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

// One round: publish a heartbeat, then advance every plan that has work,
// one step each in turn, until none has or a shutdown is requested. Throttle
// pauses are taken between steps.
void run_round() {
    auto found = in_transaction("pg_presplit: looking for work", Isolation::read_committed, [] {
        bool present = pg::call([] { return OidIsValid(get_extension_oid("pg_presplit", true)); });
        return present ? std::make_pair(true, plans_ready_for_work())
                       : std::make_pair(false, std::vector<int64_t>{});
    });
    publish_heartbeat(found.ok && found.value.first);
    if (!found.ok)
        return;
    std::vector<int64_t> plans = found.value.second;
    while (!plans.empty() && !shutdown_requested()) {
        int64_t pause_ms = INT64_MAX;
        std::vector<int64_t> still_working;
        for (int64_t id : plans) {
            Step step = run_migration_step(id);
            if (step.outcome == StepOutcome::idle && step.pause_ms == 0)
                step = run_switchover_step(id);
            if (step.outcome == StepOutcome::progress || step.pause_ms > 0)
                still_working.push_back(id);
            if (step.outcome != StepOutcome::idle || step.pause_ms > 0)
                pause_ms = std::min(pause_ms, step.pause_ms);
        }
        plans = std::move(still_working);
        publish_heartbeat(true);
        reload_configuration_if_asked();
        if (!plans.empty() && pause_ms > 0 && pause_ms != INT64_MAX && !shutdown_requested())
            nap(pause_ms);
    }
}

void run_worker() {
    install_signal_handlers();
    BackgroundWorkerUnblockSignals();
    // Published before connecting, so that a worker that cannot connect (no
    // such database) shows as starting again and again, never beating.
    before_shmem_exit(publish_exit, 0);
    publish_start();
    BackgroundWorkerInitializeConnection(config::worker_database, nullptr, 0);
    ereport(LOG,
            (errmsg("pg_presplit worker started for database \"%s\"", config::worker_database)));

    while (!shutdown_requested()) {
        reload_configuration_if_asked();
        run_round();
        if (!shutdown_requested())
            nap(config::worker_naptime_ms);
    }
    ereport(LOG, (errmsg("pg_presplit worker shutting down")));
    proc_exit(0);
}

} // namespace

namespace {

bool wake_at_commit = false;

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
        if (event == XACT_EVENT_COMMIT)
            pg::call(set_worker_latch);
        if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
            wake_at_commit = false;
    });
}

} // namespace

void wake_worker() {
    wake_at_commit = true;
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
