// The worker's part of a split plan from synced on: start the switchover a
// split_partition call asked for, ramp the new channel's weight, cut over at
// 100, and after the cutover validate the detached source's bound so that a
// rollback needs no scan. One transaction per step.
#pragma once

#include "worker/migration_job.hpp"

namespace presplit::worker {

// The supervisor's short steps (core::PlanWork::supervisor): start switching,
// or judge the ramp's step (hold, raise, abort). Skips a plan whose row lock
// another transaction holds.
Step run_switchover_step(int64_t id);

// Every round (the worker's own transaction): measures the replication lag
// of every switching plan's targets on other servers and publishes it for
// read routing (switchover/channel_stats.hpp). True if there is such a plan:
// the round must then come again within a second.
bool publish_remote_lags();
// A round with no remote target in use (catalog::remote_targets_in_use)
// measures no lag: the last round's are forgotten.
void forget_remote_lags();

// Every round (a transaction of its own): remote targets that lost their
// slot after verification sent back to copying
// (remote::resync_lost_remote_targets). True if there was one.
bool resync_lost_remote_targets();

// A plan worker's: the cutover the ramp has reached 100 for (its lock may
// wait up to presplit.cutover_max_wait), or after it the validation of the
// old partition's bound (a scan of all its rows); and the remote targets'
// replication after the cutover or a rollback after it (retried after a
// back-off while another server is down, event remote_split_retry).
Step run_cutover_step(int64_t id);

} // namespace presplit::worker
