#include "pg/shared_memory.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace presplit::pg {
namespace {

constexpr const char* kSegmentName = "pg_presplit";
constexpr const char* kTrancheName = "pg_presplit";

SharedState* state = nullptr;
LWLock* lock = nullptr;

} // namespace

void request_shared_state() {
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
    RequestNamedLWLockTranche(kTrancheName, 1);
}

void attach_shared_state() {
    bool found = false;
    state = static_cast<SharedState*>(ShmemInitStruct(kSegmentName, sizeof(SharedState), &found));
    if (!found) {
        memset(state, 0, sizeof(SharedState));
        pg_atomic_init_u64(&state->warmups.generation, 0);
        SpinLockInit(&state->warmups.mutex);
    }
    lock = &GetNamedLWLockTranche(kTrancheName)->lock;
}

SharedState* shared_state() {
    return state;
}
LWLock* shared_lock() {
    return lock;
}

} // namespace presplit::pg
