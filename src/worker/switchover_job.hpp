// The worker's part of a split plan from synced on: start the switchover a
// split_partition call asked for, ramp the new channel's weight, cut over at
// 100, and after the cutover validate the detached source's bound so that a
// rollback needs no scan. One short transaction per step.
#pragma once

#include "worker/migration_job.hpp"

namespace presplit::worker {

Step run_switchover_step(int64_t id);

} // namespace presplit::worker
