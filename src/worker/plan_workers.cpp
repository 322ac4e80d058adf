#include "worker/plan_workers.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/plan_work.hpp"
#include "migration/layout.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"
#include "worker/lifecycle.hpp"
#include "worker/migration_job.hpp"
#include "worker/readiness.hpp"
#include "worker/switchover_job.hpp"
#include "worker/transaction.hpp"

extern "C" {
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/memutils.h"

PGDLLEXPORT void presplit_plan_worker_main(Datum main_arg);
}

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

namespace presplit::worker {
namespace {

// What the supervisor hands a plan worker (in bgw_extra).
struct PlanWorkerArgument {
    int64_t plan_id;
    uint64_t generation; // of its slot's reservation
    Oid database;
};
static_assert(sizeof(PlanWorkerArgument) <= BGW_EXTRALEN);

// --- the supervisor's side -----------------------------------------------------

// The plan workers this supervisor asked for, by their reservation's
// generation.
struct Launch {
    int slot;
    BackgroundWorkerHandle* handle; // in TopMemoryContext
};
std::map<uint64_t, Launch> launched;
// Plans for which starting a plan worker failed (logged once).
std::set<int64_t> start_failed;

pg::PlanWorkerSlot* slots() {
    return pg::shared_state()->plan_workers;
}

void free_slot_if_still(int slot, uint64_t generation) {
    pg::call([&] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        pg::PlanWorkerSlot& entry = pg::shared_state()->plan_workers[slot];
        if (entry.in_use && entry.generation == generation)
            memset(&entry, 0, sizeof entry);
        LWLockRelease(pg::shared_lock());
    });
}

// A plan worker that stopped (or never started) may have left its slot
// reserved: it frees its slot when it exits, unless it never got to claim
// it.
void reap() {
    for (auto it = launched.begin(); it != launched.end();) {
        pid_t pid = 0;
        BackgroundWorkerHandle* handle = it->second.handle;
        const BgwHandleStatus status =
            pg::call([&] { return GetBackgroundWorkerPid(handle, &pid); });
        if (status != BGWH_STOPPED) {
            ++it;
            continue;
        }
        free_slot_if_still(it->second.slot, it->first);
        pg::call([&] { pfree(handle); });
        it = launched.erase(it);
    }
}

// --- the plan worker's side ----------------------------------------------------

int my_slot = -1;

void release_slot(int, Datum) {
    pg::entry([] {
        pg::call([] {
            LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
            pg::PlanWorkerSlot& entry = pg::shared_state()->plan_workers[my_slot];
            if (entry.in_use && entry.pid == MyProcPid)
                memset(&entry, 0, sizeof entry);
            LWLockRelease(pg::shared_lock());
        });
    });
}

bool claim_slot(int slot, const PlanWorkerArgument& argument) {
    return pg::call([&] {
        bool claimed = false;
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        pg::PlanWorkerSlot& entry = pg::shared_state()->plan_workers[slot];
        if (entry.in_use && entry.generation == argument.generation &&
            entry.plan_id == argument.plan_id && entry.pid == 0) {
            entry.pid = MyProcPid;
            claimed = true;
        }
        LWLockRelease(pg::shared_lock());
        return claimed;
    });
}

// Whether the plan still has work for a plan worker, and everything it
// stands on is there (the supervisor logs what a plan waits for).
bool still_has_work(int64_t id) {
    auto result =
        in_transaction("pg_presplit: looking at a split plan", Isolation::read_committed, [&] {
            auto facts = catalog::plan_facts(id, migration::old_bound_constraint_name());
            return facts &&
                   core::work_for(*facts, config::backfill_paused) == core::PlanWork::plan_worker &&
                   !missing_for_work(id);
        });
    return result.ok && result.value;
}

void run_plan_worker(int slot) {
    install_signal_handlers();
    pg::call(BackgroundWorkerUnblockSignals);
    PlanWorkerArgument argument;
    memcpy(&argument, MyBgworkerEntry->bgw_extra, sizeof argument);
    if (slot < 0 || slot >= pg::kMaxPlanWorkers || !claim_slot(slot, argument))
        return; // the supervisor that asked for it has gone, and its reservation with it
    my_slot = slot;
    pg::call([] { before_shmem_exit(release_slot, 0); });
    pg::call([&] { BackgroundWorkerInitializeConnectionByOid(argument.database, InvalidOid, 0); });
    const int64_t id = argument.plan_id;
    pg::call([&] {
        ereport(DEBUG1, (errmsg("pg_presplit plan worker started for split plan %lld",
                                static_cast<long long>(id))));
    });

    while (!shutdown_requested()) {
        reload_configuration_if_asked();
        if (!remote_retry_pending(id) && !still_has_work(id))
            break;
        Step step = run_migration_step(id);
        if (step.outcome == StepOutcome::idle && step.pause_ms == 0)
            step = run_cutover_step(id);
        // Nothing done and nothing to wait for: something changed under the
        // plan; the supervisor starts another plan worker if need be.
        if (step.outcome == StepOutcome::idle && step.pause_ms == 0)
            break;
        if (step.pause_ms > 0 && !shutdown_requested())
            nap(step.pause_ms);
    }
    pg::call([&] {
        ereport(DEBUG1, (errmsg("pg_presplit plan worker for split plan %lld exiting",
                                static_cast<long long>(id))));
    });
}

} // namespace

void forget_unclaimed_plan_workers() {
    pg::call([] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        for (int i = 0; i < pg::kMaxPlanWorkers; ++i)
            if (slots()[i].in_use && slots()[i].pid == 0)
                memset(&slots()[i], 0, sizeof slots()[i]);
        LWLockRelease(pg::shared_lock());
    });
}

std::vector<int64_t> plans_with_plan_worker() {
    reap();
    std::vector<int64_t> plans;
    pg::call([&] {
        LWLockAcquire(pg::shared_lock(), LW_SHARED);
        for (int i = 0; i < pg::kMaxPlanWorkers; ++i)
            if (slots()[i].in_use)
                plans.push_back(slots()[i].plan_id);
        LWLockRelease(pg::shared_lock());
    });
    return plans;
}

bool start_plan_worker(int64_t plan) {
    int slot = -1;
    uint64_t generation = 0;
    pg::call([&] {
        LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE);
        for (int i = 0; i < pg::kMaxPlanWorkers && slot < 0; ++i)
            if (!slots()[i].in_use)
                slot = i;
        if (slot >= 0) {
            generation = ++pg::shared_state()->plan_worker_reservations;
            slots()[slot] = {true, plan, generation, 0};
        }
        LWLockRelease(pg::shared_lock());
    });
    if (slot < 0)
        return false; // (max_plan_workers is at most kMaxPlanWorkers: not reached)

    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker.bgw_library_name, "pg_presplit", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "presplit_plan_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "pg_presplit plan worker for split plan %lld",
             static_cast<long long>(plan));
    strlcpy(worker.bgw_type, "pg_presplit plan worker", BGW_MAXLEN);
    worker.bgw_main_arg = Int32GetDatum(slot);
    const PlanWorkerArgument argument{plan, generation, MyDatabaseId};
    memcpy(worker.bgw_extra, &argument, sizeof argument);
    // The postmaster sets the supervisor's latch when it starts or stops.
    worker.bgw_notify_pid = MyProcPid;

    BackgroundWorkerHandle* handle = nullptr;
    const bool registered = pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        bool ok = RegisterDynamicBackgroundWorker(&worker, &handle);
        MemoryContextSwitchTo(old);
        return ok;
    });
    if (!registered) {
        free_slot_if_still(slot, generation);
        if (start_failed.insert(plan).second)
            pg::call([&] {
                ereport(WARNING,
                        (errmsg("pg_presplit: could not start a plan worker for split plan %lld: "
                                "no background worker slot is free",
                                static_cast<long long>(plan)),
                         errdetail("The plan waits; the worker tries again at each round."),
                         errhint("Raise max_worker_processes (a restart), or lower "
                                 "presplit.max_plan_workers.")));
            });
        return false;
    }
    start_failed.erase(plan);
    launched[generation] = {slot, handle};
    return true;
}

} // namespace presplit::worker

void presplit_plan_worker_main(Datum main_arg) {
    presplit::pg::entry([&] {
        presplit::worker::run_plan_worker(DatumGetInt32(main_arg));
        presplit::pg::call([] { proc_exit(0); });
    });
}
