// Plan workers: dynamic background workers, one per busy split plan, that do
// its long steps (core/plan_work.hpp): copying and verifying, dropping a
// failed plan's shadows, the ramp's cutover, validating the old partition's
// bound after it. The supervisor starts them, at most
// presplit.max_plan_workers at a time; each takes one plan's steps one after
// the other (the plan's row lock serializes them with everything else that
// changes the plan) until that plan has no more long work, and exits. A plan
// worker is never restarted by the postmaster: if its plan still has work, the
// supervisor starts another at its next round. They show in pg_stat_activity
// as backend_type "pg_presplit plan worker".
#pragma once

#include <cstdint>
#include <vector>

namespace presplit::worker {

// In the supervisor, at its start: forgets the reservations a previous
// supervisor made for plan workers that have not started (yet): if one
// starts after all, it finds its reservation gone and exits.
void forget_unclaimed_plan_workers();

// In the supervisor: the plans that have a plan worker now (started by this
// supervisor or an earlier one), after freeing the slots of those that
// ended without freeing it themselves.
std::vector<int64_t> plans_with_plan_worker();

// In the supervisor: asks the postmaster for a plan worker for `plan`. False
// (with a WARNING the first time) when no background worker slot is free
// (max_worker_processes).
bool start_plan_worker(int64_t plan);

} // namespace presplit::worker
