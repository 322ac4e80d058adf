// The switchover (design.md, "switchover"): channels and weights, the
// cutover, the rollback and the finalization of a split plan. Every function
// runs in the caller's transaction and records what it did (plan state,
// channel weights, events) in that same transaction, so that a crash leaves
// the table wholly in the old or wholly in the new layout and the plan's
// state says which.
//
// Cutover, in one transaction:
//   1. ACCESS EXCLUSIVE on the parent, the source and the shadows, each try
//      bounded by presplit.cutover_lock_timeout and retried with backoff, so
//      that the swap never queues every session behind one long query;
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

// ACCESS EXCLUSIVE on `tables` (ONLY each, in this order), each try waiting
// at most presplit.cutover_lock_timeout: a waiting ACCESS EXCLUSIVE request
// queues every later session behind it, so it must never wait long. Between
// tries (backoff doubling up to 1 s) the sessions it held up run. Returns the
// number of tries; ERROR 55P03 after presplit.cutover_max_tries. Runs as
// `owner`, the tables' owner: the statement holds their names.
int lock_exclusively(unsigned int owner, const std::vector<std::string>& tables,
                     const std::string& what);

// synced → switching, with the channels at old 100 / new 0.
void begin_switching(const catalog::Plan& plan);

struct SwapReport {
    int tries = 0;           // lock attempts, the last one successful
    double lock_held_ms = 0; // from the lock to the end of the swap (commit follows)
};

// The plan must be synced or switching.
SwapReport cut_over(const migration::PlanLayout& layout);

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
