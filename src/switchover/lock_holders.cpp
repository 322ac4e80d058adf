#include "switchover/lock_holders.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/twophase.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/sinvaladt.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

#include <cerrno>
#include <csignal>

namespace presplit::switchover {
namespace {

// A holder as read under the locks: plain data, in a scratch memory context.
struct RawHolder {
    uint64_t id;
    BackendId backend_id; // InvalidBackendId: a prepared transaction
    LocalTransactionId lxid;
    size_t relation;
    PGPROC* proc;
    bool alive; // still in the transaction that held the lock
    int pid;
    uint8 status_flags;
    bool needs_description;
    bool described;
    const char* backend_type;
    TimestampTz xact_start; // 0: unknown
};

uint64_t holder_id(BackendId backend_id, LocalTransactionId lxid) {
    return (static_cast<uint64_t>(static_cast<uint32>(backend_id)) << 32) | lxid;
}
BackendId backend_of(uint64_t id) {
    return static_cast<BackendId>(static_cast<int32>(static_cast<uint32>(id >> 32)));
}
LocalTransactionId lxid_of(uint64_t id) {
    return static_cast<LocalTransactionId>(id & 0xffffffffu);
}

// The holders of locks on `relids` that conflict with `lockmode`
// (fast-path locks included), each once, with their process's pid and
// status flags (read under ProcArrayLock, as ProcSleep reads them).
// Thin PostgreSQL code: may ereport.
RawHolder* collect_holders(const unsigned int* relids, size_t relations, LOCKMODE lockmode,
                           int* count) {
    const int capacity = MaxBackends + max_prepared_xacts + 1;
    RawHolder* raw = static_cast<RawHolder*>(palloc0(sizeof(RawHolder) * capacity));
    int n = 0;
    for (size_t r = 0; r < relations; ++r) {
        LOCKTAG tag;
        SET_LOCKTAG_RELATION(tag, MyDatabaseId, relids[r]);
        int found = 0;
        VirtualTransactionId* vxids = GetLockConflicts(&tag, lockmode, &found);
        for (int i = 0; i < found; ++i) {
            const uint64_t id = holder_id(vxids[i].backendId, vxids[i].localTransactionId);
            int j = 0;
            while (j < n && raw[j].id != id)
                ++j;
            if (j < n || n >= capacity)
                continue;
            raw[n].id = id;
            raw[n].backend_id = vxids[i].backendId;
            raw[n].lxid = vxids[i].localTransactionId;
            raw[n].relation = r;
            ++n;
        }
    }
    // BackendIdGetProc takes SInvalWriteLock: not while holding ProcArrayLock.
    for (int i = 0; i < n; ++i)
        if (raw[i].backend_id != InvalidBackendId)
            raw[i].proc = BackendIdGetProc(raw[i].backend_id);
    LWLockAcquire(ProcArrayLock, LW_SHARED);
    for (int i = 0; i < n; ++i) {
        if (raw[i].backend_id == InvalidBackendId) {
            raw[i].alive = true; // a prepared transaction: no process
            continue;
        }
        PGPROC* proc = raw[i].proc;
        if (proc != nullptr && proc->backendId == raw[i].backend_id && proc->lxid == raw[i].lxid) {
            raw[i].alive = true;
            raw[i].pid = proc->pid;
            raw[i].status_flags = proc->statusFlags;
        }
    }
    LWLockRelease(ProcArrayLock);
    *count = n;
    return raw;
}

// Backend type and transaction start of the holders that need them, from a
// fresh copy of the backend status array (pg_stat_activity's source; the
// copy a transaction keeps would be stale after the first look).
void describe_holders(RawHolder* raw, int n) {
    pgstat_clear_backend_activity_snapshot();
    const int backends = pgstat_fetch_stat_numbackends();
    for (int b = 1; b <= backends; ++b) {
        PgBackendStatus* status = pgstat_fetch_stat_beentry(b);
        if (status == nullptr || status->st_procpid == 0)
            continue;
        for (int i = 0; i < n; ++i) {
            if (!raw[i].needs_description || raw[i].pid != status->st_procpid)
                continue;
            raw[i].described = true;
            raw[i].xact_start = status->st_xact_start_timestamp;
            const char* type = nullptr;
            if (status->st_backendType == B_BG_WORKER)
                type = GetBackgroundWorkerTypeByPid(status->st_procpid);
            raw[i].backend_type =
                pstrdup(type != nullptr ? type : GetBackendTypeDesc(status->st_backendType));
        }
    }
    pgstat_clear_backend_activity_snapshot();
}

core::HolderKind kind_of(uint8 status_flags) {
    if (!(status_flags & PROC_IS_AUTOVACUUM))
        return core::HolderKind::other;
    return (status_flags & PROC_VACUUM_FOR_WRAPAROUND) ? core::HolderKind::wraparound_autovacuum
                                                       : core::HolderKind::autovacuum;
}

// The pid of the autovacuum worker still running transaction `id`, if it does
// not prevent wraparound; 0 otherwise.
int autovacuum_to_cancel(uint64_t id) {
    const BackendId backend_id = backend_of(id);
    if (backend_id == InvalidBackendId)
        return 0;
    PGPROC* proc = BackendIdGetProc(backend_id);
    if (proc == nullptr)
        return 0;
    int pid = 0;
    LWLockAcquire(ProcArrayLock, LW_SHARED);
    if (proc->backendId == backend_id && proc->lxid == lxid_of(id) &&
        (proc->statusFlags & PROC_IS_AUTOVACUUM) &&
        !(proc->statusFlags & PROC_VACUUM_FOR_WRAPAROUND))
        pid = proc->pid;
    LWLockRelease(ProcArrayLock);
    return pid;
}

std::string seconds(double ms) {
    char text[32];
    snprintf(text, sizeof text, "%.1f s", ms / 1000.0);
    return text;
}

} // namespace

int64_t clock_ms() {
    return pg::call([] { return GetCurrentTimestamp(); }) / 1000;
}

std::vector<HolderFacts> HolderWatch::look() {
    const unsigned int* relids = relids_.data();
    const size_t relations = relids_.size();
    const LOCKMODE lockmode = lockmode_;
    RawHolder* raw = nullptr;
    int count = 0;
    MemoryContext scratch = pg::call([&] {
        MemoryContext context = AllocSetContextCreate(
            CurrentMemoryContext, "pg_presplit lock holders", ALLOCSET_SMALL_SIZES);
        MemoryContext caller = MemoryContextSwitchTo(context);
        raw = collect_holders(relids, relations, lockmode, &count);
        MemoryContextSwitchTo(caller);
        return context;
    });
    bool any_to_describe = false;
    for (int i = 0; i < count; ++i) {
        RawHolder& holder = raw[i];
        holder.needs_description = holder.alive && holder.pid != 0 && !described_.count(holder.id);
        any_to_describe = any_to_describe || holder.needs_description;
    }
    if (any_to_describe)
        pg::call([&] {
            MemoryContext caller = MemoryContextSwitchTo(scratch);
            describe_holders(raw, count);
            MemoryContextSwitchTo(caller);
        });

    std::vector<HolderFacts> holders;
    std::map<uint64_t, Description> described;
    for (int i = 0; i < count; ++i) {
        const RawHolder& raw_holder = raw[i];
        if (!raw_holder.alive)
            continue;
        auto known = described_.find(raw_holder.id);
        Description description;
        if (known != described_.end())
            description = known->second;
        else if (raw_holder.backend_id == InvalidBackendId)
            description.backend_type = "prepared transaction";
        else if (raw_holder.described) {
            description.backend_type = raw_holder.backend_type;
            if (raw_holder.xact_start != 0)
                description.started_ms = raw_holder.xact_start / 1000;
        } else
            description.backend_type =
                (raw_holder.status_flags & PROC_IS_AUTOVACUUM) ? "autovacuum worker" : "unknown";
        HolderFacts facts;
        facts.holder.id = raw_holder.id;
        facts.holder.kind = kind_of(raw_holder.status_flags);
        facts.holder.started_ms = description.started_ms;
        facts.pid = raw_holder.pid;
        facts.backend_type = description.backend_type;
        facts.relation = raw_holder.relation;
        holders.push_back(std::move(facts));
        described[raw_holder.id] = std::move(description);
    }
    // Only the current holders: a transaction id is not reused while it lives.
    described_ = std::move(described);
    pg::call([&] { MemoryContextDelete(scratch); });
    return holders;
}

bool cancel_autovacuum(const HolderFacts& holder, const std::string& relation,
                       const std::string& waiting_for) {
    const uint64_t id = holder.holder.id;
    const int pid = pg::call([&] { return autovacuum_to_cancel(id); });
    if (pid == 0)
        return false;
    const char* relation_name = relation.c_str();
    const char* purpose = waiting_for.c_str();
    pg::call([&] {
        ereport(LOG, (errmsg("pg_presplit: sending cancel to blocking autovacuum PID %d", pid),
                      errdetail_log("Process %d waits for AccessExclusiveLock on relation %s for "
                                    "the %s.",
                                    MyProcPid, relation_name, purpose)));
        // As ProcSleep: the worker may have finished since; no complaint then.
        if (kill(pid, SIGINT) < 0 && errno != ESRCH)
            ereport(WARNING, (errmsg("could not send signal to process %d: %m", pid)));
    });
    return true;
}

std::string describe_holder(const HolderFacts& holder, int64_t now_ms) {
    if (holder.pid == 0)
        return "a prepared transaction (see pg_prepared_xacts)";
    std::string text = "pid " + std::to_string(holder.pid) + " (" + holder.backend_type;
    if (holder.holder.started_ms) {
        const TimestampTz started = static_cast<TimestampTz>(*holder.holder.started_ms) * 1000;
        const char* when = pg::call([&] { return timestamptz_to_str(started); });
        text += std::string(", transaction started ") + when + ", " +
                seconds(static_cast<double>(now_ms - *holder.holder.started_ms)) + " ago";
    }
    return text + ")";
}

} // namespace presplit::switchover
