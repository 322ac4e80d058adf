#include "pg/shared_memory.hpp"

#include "analyzer/stats_store.hpp"
#include "pg/guard.hpp"
#include "switchover/channel_stats.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace presplit::pg {
namespace {

constexpr const char* kSegmentName = "pg_presplit";
constexpr const char* kTrancheName = "pg_presplit";

shmem_request_hook_type previous_shmem_request_hook = nullptr;
shmem_startup_hook_type previous_shmem_startup_hook = nullptr;

SharedState* state = nullptr;
LWLock* lock = nullptr;

void request_shared_memory() {
    if (previous_shmem_request_hook)
        previous_shmem_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
    RequestNamedLWLockTranche(kTrancheName, 1);
    RequestAddinShmemSpace(analyzer::shared_memory_size());
    RequestNamedLWLockTranche(analyzer::lock_tranche_name(), analyzer::lock_count());
    RequestAddinShmemSpace(switchover::channel_stats_shared_size());
}

void attach_shared_memory() {
    if (previous_shmem_startup_hook)
        previous_shmem_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    state = static_cast<SharedState*>(ShmemInitStruct(kSegmentName, sizeof(SharedState), &found));
    if (!found)
        memset(state, 0, sizeof(SharedState));
    lock = &GetNamedLWLockTranche(kTrancheName)->lock;
    analyzer::attach_shared_memory();
    switchover::attach_channel_stats();
    LWLockRelease(AddinShmemInitLock);
}

} // namespace

void install_shared_memory_hooks() {
    previous_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = [] { entry([] { call(request_shared_memory); }); };
    previous_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = [] { entry([] { call(attach_shared_memory); }); };
}

SharedState* shared_state() {
    return state;
}
LWLock* shared_lock() {
    return lock;
}

} // namespace presplit::pg
