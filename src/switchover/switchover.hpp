// The switchover (README, "Switching over"): channels and weights, the
// cutover, the rollback and the finalization of a split plan. Every function
// runs in the caller's transaction and records what it did (plan state,
// channel weights, events) in that same transaction, so that a crash leaves
// the table wholly in the old or wholly in the new layout and the plan's
// state says which.
//
// Cutover, in one transaction:
//   1. ACCESS EXCLUSIVE on the parent, the source and the shadows
//      (lock_exclusively): a blocking autovacuum is cancelled, a long holder
//      is waited for without a lock request, and each try is bounded by
//      presplit.cutover_lock_timeout and retried with backoff, so that the
//      swap never queues every session behind one long query;
//   2. drop capture; DETACH the source; give it a NOT VALID CHECK constraint
//      equal to its bound (validated later without blocking anyone, so that
//      a rollback can attach it again without a scan);
//   3. ATTACH every shadow (its CHECK constraint equal to the bound lets
//      PostgreSQL skip the validation scan; its indexes match the parent's, so
//      they are attached, not built), then drop that CHECK constraint;
//   4. reverse capture: a trigger on each new partition applies every change
//      to the detached source for the rollback window.
// Nothing in it reads or writes the data: its length does not depend on the
// partition's size. All of it runs as the table owner in a
// security-restricted operation (the owner of the source must own the
// parent: ATTACH and DETACH need both).
#pragma once

#include "catalog/catalog.hpp"
#include "migration/layout.hpp"

#include <string>
#include <vector>

namespace presplit::switchover {

struct LockReport {
    int tries = 0;        // lock requests made, the last one granted
    double waited_ms = 0; // from the first look at the holders to the lock
};

// ACCESS EXCLUSIVE on the plan's tables (ONLY each, in the order writers lock
// them; the parent first if `with_parent`). A waiting ACCESS EXCLUSIVE
// request queues every later session behind it, so before each try it looks
// at who holds a conflicting lock (core::LockWait decides): it cancels an
// autovacuum (not one preventing wraparound) and waits for it to go; while a
// long holder (a transaction older than presplit.cutover_lock_timeout, or an
// anti-wraparound autovacuum) holds one it waits on its latch without
// making a request; otherwise it tries, waiting at most
// presplit.cutover_lock_timeout, and backs off after a failed try. Events
// (kinds autovacuum_cancelled, lock_wait) name each holder it cancelled or
// waited for. ERROR 55P03, naming the holders, after
// presplit.cutover_max_tries tries or presplit.cutover_max_wait. The
// statement runs as the tables' owner. `what` names the operation.
LockReport lock_exclusively(const migration::PlanLayout& layout, bool with_parent,
                            const std::string& what);

// SHARE on the plan's tables (not the parent), with the same bounded retry
// and events: writers of them wait, readers do not. For a cut that a
// verification notes and releases at once (remote::verify).
LockReport lock_shared(const migration::PlanLayout& layout, const std::string& what);

// synced → switching, with the channels at old 100 / new 0.
void begin_switching(const catalog::Plan& plan);

struct SwapReport {
    int tries = 0;           // lock attempts, the last one successful
    double lock_held_ms = 0; // from the lock to the end of the swap (commit follows)
};

// The plan must be synced or switching.
SwapReport cut_over(const migration::PlanLayout& layout);

// Before cutover: drops the new channel -- capture and the shadows -- under
// the exclusive lock on the source and the shadows, leaving the source as it
// was (the new channel's weight back to 0 if it had one). `what` names the
// operation in lock messages. Rollback, cancel and the clean-up of a failed
// plan end this way.
void drop_new_channel(const migration::PlanLayout& layout, const std::string& what);

// Cancels a plan that has not started switching (the caller checked that it
// may): drops its new channel and ends it cancelled with `reason`.
// presplit.cancel and the predictive manager end plans this way.
void cancel(const catalog::Plan& plan, const std::string& reason);

// Restores the original layout, with no data lost: before cutover by
// dropping capture and the shadows; after it (state cut_over, within
// presplit.rollback_window) by the same swap backwards. The plan ends
// rolled_back with `reason`.
void roll_back(const migration::PlanLayout& layout, const std::string& reason);

// cut_over → finalized: ends reverse capture; drops the old partition, or
// keeps it as a plain table.
void finalize(const migration::PlanLayout& layout, bool drop_old);

// After cutover: validates the detached source's bound constraint (a scan
// that blocks nobody), so that a rollback need not. True if it did work.
bool validate_old_bound(const migration::PlanLayout& layout);

} // namespace presplit::switchover
