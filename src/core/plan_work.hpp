// Which process advances a split plan (worker/worker.cpp). The supervisor --
// the one background worker registered at startup -- does the short steps of
// every plan itself, each round: starting a switchover, and the ramp's
// judgement (hold, raise, abort). Whatever can take long -- copying,
// verifying, dropping a failed plan's shadows, a cutover and its lock waits,
// validating the old partition's bound after it -- runs in a plan worker of
// its own: a dynamic background worker per busy plan, at most
// presplit.max_plan_workers at a time. So a ramp's abort never waits behind
// another plan's copy or verification. Pure logic: the worker feeds it what
// the catalog says.
#pragma once

#include "core/plan_state.hpp"

#include <cstdint>
#include <vector>

namespace presplit::core {

// What the catalog says about a plan, as far as the choice of worker goes.
struct PlanFacts {
    PlanState state = PlanState::planned;
    bool switch_requested = false;
    bool ramp = true;
    bool paused = false;
    // A predicted plan outside its off-peak window: its copy waits (capture
    // keeps the shadows current meanwhile), as under presplit.backfill_paused.
    bool copy_held = false;
    int new_channel_weight = 0; // 0 until switching
    // failed: some of its shadows (and so its capture) are still there.
    bool has_shadows = false;
    // cut_over: the detached source's bound constraint is not validated yet.
    bool old_bound_unvalidated = false;
    // A remote target's reverse direction needs the worker: cut_over, its
    // subscription here has no running worker (to start, repair, or find
    // lost); rolled back or failed, it is still there (to drop, with the
    // table on the other server); finalized, it or the forward direction is
    // still there (a server lost during finalize: to drop).
    bool remote_reverse_work = false;
    // A remote target's chunk (remote/split.hpp) has its subscription: to
    // fold in once copied, even while the copy is paused or held (no other
    // chunk starts then).
    bool remote_chunk_running = false;
};

enum class PlanWork {
    none,        // nothing to do for now
    supervisor,  // a short step the supervisor does itself
    plan_worker, // long work, for a plan worker
};

// backfill_paused: presplit.backfill_paused (nothing is copied or verified;
// a remote chunk already copying is folded in); facts.copy_held holds one
// plan's copy and verification the same way.
PlanWork work_for(const PlanFacts& facts, bool backfill_paused);

struct PlanWorkerAssignment {
    std::vector<int64_t> start;   // plans to start a plan worker for, in this order
    std::vector<int64_t> waiting; // plans that need one but find every slot taken
};

// need: the plans whose work is for a plan worker, oldest first; running:
// the plans that have a plan worker now (whether or not they still need it:
// one that is finishing holds its slot until it exits). At most max_workers
// plan workers run at once; the oldest plans get the free slots.
PlanWorkerAssignment assign_plan_workers(const std::vector<int64_t>& need,
                                         const std::vector<int64_t>& running, int max_workers);

} // namespace presplit::core
