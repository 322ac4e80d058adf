// pg_presplit's shared memory: one fixed-size struct, created at startup.
// Standard layout, no pointers (every process maps it at its own address);
// the LWLock that guards it is looked up per process.
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "storage/lwlock.h"
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

struct SharedState {
    WorkerHeartbeat worker; // guarded by shared_lock()
};
static_assert(std::is_standard_layout_v<SharedState>);

// Called from _PG_init: chains shmem_request_hook and shmem_startup_hook.
void install_shared_memory_hooks();

// Both valid once shared memory is attached (after shmem_startup_hook).
SharedState* shared_state();
LWLock* shared_lock();

} // namespace presplit::pg
