// How the switchover waits for its exclusive locks (cutover, rollback,
// finalization, cancellation) without stalling every other session. A request
// for ACCESS EXCLUSIVE that has to wait queues every later request for the
// table behind it, so it must only be made when it can be granted soon. Pure
// logic: the thin layer (switchover/lock_holders) says who holds a lock that
// conflicts, and does what this decides.
//
// Before each try the holders of conflicting locks are sorted:
//   - an autovacuum worker is cancelled, as PostgreSQL cancels one that
//     blocks a lock request once deadlock_timeout has passed (autovacuum
//     yields), and the wait goes on, without a request, until it has gone;
//     it is cancelled again if it is still there after cancel_again_ms;
//   - an autovacuum preventing wraparound is never cancelled (PostgreSQL
//     does not either): it is waited for like a long holder;
//   - a long holder, whose transaction has run for at least one try's lock
//     timeout, is waited for without a request: trying would queue everyone
//     behind it for the whole timeout and most likely fail;
//   - short holders are tried past: a try queues behind them for at most
//     the lock timeout.
// A try that times out all the same (a holder came in between, or took
// longer than its age suggested) is retried after a backoff. Everything is
// bounded by max_tries tries and max_wait_ms, tries included.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace presplit::core {

enum class HolderKind {
    autovacuum,            // cancelled: autovacuum yields
    wraparound_autovacuum, // never cancelled
    other,                 // a query, a transaction, a manual VACUUM, a prepared transaction
};

struct LockHolder {
    uint64_t id = 0; // its transaction: the same id is the same holder
    HolderKind kind = HolderKind::other;
    // When its transaction began, on the clock of now_ms; nullopt if unknown
    // (then it counts from the first time it was seen).
    std::optional<int64_t> started_ms;
};

struct LockWaitSettings {
    int64_t lock_timeout_ms = 50;   // how long one try waits in the queue
    int max_tries = 40;             // tries before giving up
    int64_t max_wait_ms = 30000;    // the whole wait, tries included
    int64_t poll_ms = 20;           // how often the holders are looked at while waiting
    int64_t cancel_again_ms = 1000; // a cancelled autovacuum still there is cancelled again
};

enum class LockAction {
    try_lock, // request the locks, waiting at most lock_timeout_ms
    wait,     // make no request; sleep wait_ms, then ask again
    give_up,  // the bound is reached
};

enum class GiveUpReason { none, tries, time };

struct LockDecision {
    LockAction action = LockAction::try_lock;
    GiveUpReason reason = GiveUpReason::none;
    int64_t wait_ms = 0;
    std::vector<uint64_t> cancel;            // autovacuum holders to cancel now
    std::vector<uint64_t> waiting_for;       // the holders it waits for (or gave up on)
    std::vector<uint64_t> newly_waiting_for; // those it had not waited for before
};

// 10 ms after the first failed try, doubling, at most 1 s.
int64_t lock_backoff_ms(int failed_tries);

// One wait for a set of locks, from start_ms until it has them or gives up.
class LockWait {
public:
    LockWait(const LockWaitSettings& settings, int64_t start_ms);

    // What to do now, given the current holders of conflicting locks.
    LockDecision next(int64_t now_ms, const std::vector<LockHolder>& holders);
    // The outcome of a try the last decision asked for.
    void tried(int64_t now_ms, bool locked);

    int tries() const { return tries_; }
    int64_t elapsed_ms(int64_t now_ms) const { return now_ms - start_ms_; }

private:
    LockWaitSettings settings_;
    int64_t start_ms_;
    int tries_ = 0;
    int64_t next_try_ms_;
    std::map<uint64_t, int64_t> first_seen_ms_;
    std::map<uint64_t, int64_t> cancelled_ms_;
    std::set<uint64_t> reported_;
};

} // namespace presplit::core
