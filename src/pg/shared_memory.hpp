// The workers' shared memory: one fixed-size struct, created at startup.
// Standard layout, no pointers (every process maps it at its own address);
// the LWLock that guards it is looked up per process.
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
}

#include <cstdint>
#include <type_traits>

namespace presplit::pg {

// What the background worker publishes about itself.
struct WorkerHeartbeat {
    int pid;                // 0 while no worker runs
    int procno;             // its PGPROC number, to set its latch
    TimestampTz started_at; // start of the current incarnation
    TimestampTz last_beat;  // end of its last round
    uint64_t loops;         // rounds since started_at
    uint64_t starts;        // incarnations since the server started
    bool extension_present; // CREATE EXTENSION done in presplit.database
};

// Plan workers (worker/plan_workers.hpp): a slot per running one. The
// supervisor reserves a slot before it asks the postmaster to start the
// worker, which claims it (if the reservation is still its own) and frees it
// when it exits.
constexpr int kMaxPlanWorkers = 64; // the upper limit of presplit.max_plan_workers

struct PlanWorkerSlot {
    bool in_use;
    int64_t plan_id;
    uint64_t generation; // of the reservation, handed to the worker it is for
    int pid;             // 0 until the worker has claimed the slot
};

// A cutover onto other servers about to take its lock (remote/warmup.hpp):
// sessions that use its table open their postgres_fdw connections first.
constexpr int kWarmupSlots = 4;      // cutovers announced at once (plan workers)
constexpr int kMaxWarmupServers = 8; // servers per cutover; more are not warmed
struct CutoverWarmupSlot {
    uint64_t announcement; // 0: free
    TimestampTz until;     // the announcement lapses then (or when withdrawn)
    Oid relations[2];      // the parent and the partition cut over
    int server_count;
    Oid servers[kMaxWarmupServers];
    int sessions_warmed; // sessions that opened (or had) their connections
    int sessions_failed; // sessions whose attempt raised an error
};
struct CutoverWarmups {
    // Changed by every announcement and withdrawal; a session reads it
    // without the mutex on each statement and looks further only when it
    // moved.
    pg_atomic_uint64 generation;
    slock_t mutex; // guards the slots
    uint64_t announcements;
    CutoverWarmupSlot slots[kWarmupSlots];
};

struct SharedState {
    WorkerHeartbeat worker; // guarded by shared_lock()
    // Guarded by shared_lock().
    PlanWorkerSlot plan_workers[kMaxPlanWorkers];
    uint64_t plan_worker_reservations; // generations handed out
    // Guarded by shared_lock(). A move onto another server may need the
    // worker: set when its worker starts and when a move function commits,
    // cleared by the worker's round once no move is open, so that rounds
    // without moves run no query for them.
    bool moves_to_look_at;
    CutoverWarmups warmups; // its own mutex
};
static_assert(std::is_standard_layout_v<SharedState>);

// Called from the shared-memory hooks (src/hooks.cpp): the request, then the
// attach with AddinShmemInitLock held.
void request_shared_state();
void attach_shared_state();

// Both valid once shared memory is attached (after shmem_startup_hook).
SharedState* shared_state();
LWLock* shared_lock();

} // namespace presplit::pg
