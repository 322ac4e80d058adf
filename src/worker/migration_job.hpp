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

} // namespace presplit::worker
