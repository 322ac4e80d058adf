// The worker's part of a split plan before switchover: preparing →
// backfilling → synced (or failed), one short transaction per step.
#pragma once

#include "worker/transaction.hpp"

#include <cstdint>
#include <string>

namespace presplit::worker {

enum class StepOutcome {
    idle,     // nothing to do for this plan now
    progress, // did a step; more may follow at once
    error,    // the step failed and was rolled back
};

struct Step {
    StepOutcome outcome = StepOutcome::idle;
    int64_t pause_ms = 0; // throttle: wait this long before the next step
};

// Runs one step of plan `id` in its own transaction. Errors are caught,
// rolled back, logged and recorded; after kMaxConsecutiveErrors the plan is
// marked failed.
Step run_migration_step(int64_t id);

// The worker, each round: publishes the limits of the remote copies that may
// run now (remote/copy_throttle.hpp), from the backfill's settings. Returns
// whether there is any. On an error publishes nothing (the last limits go
// stale).
bool publish_remote_copy_limits();

// Logs a failed step of plan `id` in presplit.events; with may_fail_plan, the
// kMaxConsecutiveErrors-th error in a row of a backfill fails the plan.
void record_worker_error(int64_t id, const std::string& error, bool may_fail_plan);

// What a step's transaction came to, for the round: its value; at once again
// after a serialization failure or deadlock; nothing while shutting down;
// otherwise the error recorded (record_worker_error) and a naptime's pause.
Step step_outcome(int64_t id, const TransactionResult<Step>& step, bool may_fail_plan);

// A split's steps that need the servers of its remote targets -- before its
// cutover the subscriptions, their verification and the cutover itself,
// after it the reverse directions and the clean-up there -- fail while one
// of those servers is down. They share one back-off per plan
// (core/retry_backoff.hpp: 0.5 s doubling up to 10 s) and report with a
// remote_split_retry event at the 1st, 2nd, 4th ... failure in a row, not a
// worker_error each round; they never fail the plan. In the plan worker,
// which serves one plan.
//
// How long the plan's remote steps must still wait (0: they may run now).
int64_t remote_retry_wait_ms(int64_t id);
// A remote step reached its servers: the next failure starts over.
void remote_step_succeeded(int64_t id);
// A remote step's transaction failed: at once again after a serialization
// failure or deadlock, nothing while shutting down; otherwise the back-off's
// next try (an event when the back-off reports it).
Step remote_step_failed(int64_t id, const std::string& error, int sqlstate, bool interrupted);
// Whether the plan's last remote step failed: its plan worker stays (with
// its back-off) until one succeeds, even while the plan looks as if it had
// nothing to do (an apply worker that only tries to connect to a server that
// is down counts as running).
bool remote_retry_pending(int64_t id);

} // namespace presplit::worker
