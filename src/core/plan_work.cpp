#include "core/plan_work.hpp"

#include <algorithm>

#include "core/cpp_only.hpp"

namespace presplit::core {

PlanWork work_for(const PlanFacts& facts, bool backfill_paused) {
    const PlanState state = facts.state;
    if (in_backfill(state))
        return !(backfill_paused || facts.copy_held) || facts.remote_chunk_running
                   ? PlanWork::plan_worker
                   : PlanWork::none;
    // A failed plan's capture and shadows are dropped under an exclusive
    // lock that may have to wait (even while backfills are paused).
    if (state == PlanState::failed)
        return facts.has_shadows || facts.remote_reverse_work ? PlanWork::plan_worker
                                                              : PlanWork::none;
    // Rolled back after the cutover: the other servers' reverse direction
    // and tables, dropped once the rollback committed. Finalized: what a
    // server lost during finalize kept there.
    if (state == PlanState::rolled_back || state == PlanState::finalized)
        return facts.remote_reverse_work ? PlanWork::plan_worker : PlanWork::none;
    if (state == PlanState::synced)
        return facts.switch_requested ? PlanWork::supervisor : PlanWork::none;
    if (state == PlanState::switching) {
        // Without ramp the weights are the user's: set_weight, cutover.
        if (!facts.switch_requested || !facts.ramp || facts.paused)
            return PlanWork::none;
        // At 100 the ramp's next step is the cutover: its lock may wait.
        return facts.new_channel_weight >= 100 ? PlanWork::plan_worker : PlanWork::supervisor;
    }
    // Validating the bound scans the whole old partition; a remote
    // target's reverse direction is started or repaired after the cutover.
    if (state == PlanState::cut_over)
        return facts.old_bound_unvalidated || facts.remote_reverse_work ? PlanWork::plan_worker
                                                                        : PlanWork::none;
    return PlanWork::none;
}

PlanWorkerAssignment assign_plan_workers(const std::vector<int64_t>& need,
                                         const std::vector<int64_t>& running, int max_workers) {
    PlanWorkerAssignment assignment;
    int64_t free_slots = std::max<int64_t>(0, max_workers - static_cast<int64_t>(running.size()));
    for (int64_t plan : need) {
        if (std::find(running.begin(), running.end(), plan) != running.end())
            continue;
        if (std::find(assignment.start.begin(), assignment.start.end(), plan) !=
            assignment.start.end())
            continue;
        if (free_slots > 0) {
            assignment.start.push_back(plan);
            --free_slots;
        } else
            assignment.waiting.push_back(plan);
    }
    return assignment;
}

} // namespace presplit::core
