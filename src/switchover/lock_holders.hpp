// Who holds a lock that conflicts with a given mode (ACCESS EXCLUSIVE for a
// cutover, SHARE for a verification's cut) on some relations:
// pg_locks and pg_stat_activity facts read without SQL, from the lock
// manager (GetLockConflicts), the process array and the backend status
// array; and cancelling an autovacuum worker the way PostgreSQL does when one
// blocks a lock request (proc.c, ProcSleep). The decisions are
// core::LockWait's.
#pragma once

#include "core/lock_wait.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace presplit::switchover {

struct HolderFacts {
    core::LockHolder holder;  // id: its virtual transaction id; started_ms: its transaction's start
    int pid = 0;              // 0: a prepared transaction
    std::string backend_type; // as pg_stat_activity.backend_type
    size_t relation = 0;      // the first relation (index) it holds a conflicting lock on
};

// Milliseconds on the clock of HolderFacts::holder.started_ms.
int64_t clock_ms();

// Watches the holders of locks on `relids` (this database's relations) that
// conflict with `lockmode` (a LOCKMODE, storage/lockdefs.h).
class HolderWatch {
public:
    HolderWatch(std::vector<unsigned int> relids, int lockmode)
        : relids_(std::move(relids)), lockmode_(lockmode) {}

    // The current holders other than this backend, each once. A holder seen
    // before keeps the description it had (the status array is read only
    // for new ones).
    std::vector<HolderFacts> look();

private:
    struct Description {
        std::string backend_type;
        std::optional<int64_t> started_ms;
    };
    std::vector<unsigned int> relids_;
    int lockmode_;
    std::map<uint64_t, Description> described_;
};

// Sends SIGINT to the autovacuum worker `holder` if it still runs the same
// transaction and does not prevent wraparound, and logs it, as PostgreSQL
// does (with `waiting_for`, what the lock is for, in the log's detail).
// True if it was signalled.
bool cancel_autovacuum(const HolderFacts& holder, const std::string& relation,
                       const std::string& waiting_for);

// "pid 123 (client backend, transaction started 2024-... , 12.3 s ago)".
std::string describe_holder(const HolderFacts& holder, int64_t now_ms);

} // namespace presplit::switchover
