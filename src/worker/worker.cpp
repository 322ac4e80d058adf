// Lifecycle: the postmaster starts the worker once recovery has finished and
// restarts it kRestartSeconds after it exits with an error (an ERROR in the
// worker is promoted to FATAL). SIGTERM (server shutdown, or
// pg_terminate_backend) ends it with exit code 0, which the postmaster takes
// as "done": it comes back at the next server start. SIGHUP reloads the
// configuration at the next wake-up.
//
// Each round runs in its own transaction; for now a round only checks that the
// extension exists in presplit.database and publishes a heartbeat.
#include "worker/worker.hpp"

#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PGDLLEXPORT void presplit_worker_main(Datum main_arg);
}

namespace presplit::worker {
namespace {

constexpr int kRestartSeconds = 5;

void publish_start() {
    LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
    pg::WorkerHeartbeat& beat = pg::shared_state()->worker;
    beat.pid = MyProcPid;
    beat.started_at = GetCurrentTimestamp();
    beat.last_beat = 0;
    beat.loops = 0;
    beat.starts += 1;
    beat.extension_present = false;
    LWLockRelease(pg::shared_lock());
}

void publish_heartbeat(bool extension_present) {
    LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
    pg::WorkerHeartbeat& beat = pg::shared_state()->worker;
    beat.last_beat = GetCurrentTimestamp();
    beat.loops += 1;
    beat.extension_present = extension_present;
    LWLockRelease(pg::shared_lock());
}

// Runs at process exit, also after FATAL: nobody should read a dead pid.
void publish_exit(int, Datum) {
    LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
    if (pg::shared_state()->worker.pid == MyProcPid)
        pg::shared_state()->worker.pid = 0;
    LWLockRelease(pg::shared_lock());
}

void run_round() {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "pg_presplit: checking for work");
    bool extension_present = OidIsValid(get_extension_oid("pg_presplit", true));
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    publish_heartbeat(extension_present);
}

void run_worker() {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    // Published before connecting, so that a worker that cannot connect (no
    // such database) shows as starting again and again, never beating.
    before_shmem_exit(publish_exit, 0);
    publish_start();
    BackgroundWorkerInitializeConnection(config::worker_database, nullptr, 0);
    ereport(LOG,
            (errmsg("pg_presplit worker started for database \"%s\"", config::worker_database)));

    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        run_round();
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        config::worker_naptime_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    ereport(LOG, (errmsg("pg_presplit worker shutting down")));
    proc_exit(0);
}

} // namespace

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
}

} // namespace presplit::worker

void presplit_worker_main(Datum) {
    presplit::pg::entry([] { presplit::pg::call(presplit::worker::run_worker); });
}
