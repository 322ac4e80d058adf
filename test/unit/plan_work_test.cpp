#include "core/plan_work.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

PlanFacts facts(PlanState state) {
    PlanFacts plan;
    plan.state = state;
    return plan;
}

} // namespace

TEST(PlanWork, CopyingAndVerifyingGoToAPlanWorker) {
    EXPECT_EQ(work_for(facts(PlanState::preparing), false), PlanWork::plan_worker);
    EXPECT_EQ(work_for(facts(PlanState::backfilling), false), PlanWork::plan_worker);
}

TEST(PlanWork, PausedBackfillsWaitButFailedPlansAreStillCleanedUp) {
    EXPECT_EQ(work_for(facts(PlanState::backfilling), true), PlanWork::none);
    PlanFacts failed = facts(PlanState::failed);
    failed.has_shadows = true;
    EXPECT_EQ(work_for(failed, true), PlanWork::plan_worker);
    failed.has_shadows = false;
    EXPECT_EQ(work_for(failed, false), PlanWork::none);
}

TEST(PlanWork, ARunningRemoteChunkIsFoldedInWhilePausedOrHeld) {
    PlanFacts chunk = facts(PlanState::backfilling);
    chunk.remote_chunk_running = true;
    EXPECT_EQ(work_for(chunk, true), PlanWork::plan_worker);
    chunk.copy_held = true;
    EXPECT_EQ(work_for(chunk, false), PlanWork::plan_worker);
    chunk.remote_chunk_running = false;
    EXPECT_EQ(work_for(chunk, false), PlanWork::none);
    EXPECT_EQ(work_for(chunk, true), PlanWork::none);
}

TEST(PlanWork, AHeldCopyWaitsLikeAPausedBackfillButOnlyThatPlan) {
    PlanFacts held = facts(PlanState::backfilling);
    held.copy_held = true;
    EXPECT_EQ(work_for(held, false), PlanWork::none);
    EXPECT_EQ(work_for(facts(PlanState::backfilling), false), PlanWork::plan_worker);
    PlanFacts preparing = facts(PlanState::preparing);
    preparing.copy_held = true;
    EXPECT_EQ(work_for(preparing, false), PlanWork::none);
    // Held or not, a synced plan asked to switch goes on, and a failed one is
    // cleaned up.
    PlanFacts synced = facts(PlanState::synced);
    synced.copy_held = true;
    synced.switch_requested = true;
    EXPECT_EQ(work_for(synced, false), PlanWork::supervisor);
    PlanFacts failed = facts(PlanState::failed);
    failed.copy_held = true;
    failed.has_shadows = true;
    EXPECT_EQ(work_for(failed, false), PlanWork::plan_worker);
}

TEST(PlanWork, StartingASwitchoverIsTheSupervisorsOnlyWhenAsked) {
    PlanFacts synced = facts(PlanState::synced);
    EXPECT_EQ(work_for(synced, false), PlanWork::none);
    synced.switch_requested = true;
    EXPECT_EQ(work_for(synced, false), PlanWork::supervisor);
}

TEST(PlanWork, TheRampIsTheSupervisorsAndItsCutoverAPlanWorkers) {
    PlanFacts switching = facts(PlanState::switching);
    switching.switch_requested = true;
    switching.new_channel_weight = 0;
    EXPECT_EQ(work_for(switching, false), PlanWork::supervisor);
    switching.new_channel_weight = 90;
    EXPECT_EQ(work_for(switching, true), PlanWork::supervisor); // backfill_paused is not about it
    switching.new_channel_weight = 100;
    EXPECT_EQ(work_for(switching, false), PlanWork::plan_worker);
    switching.paused = true;
    EXPECT_EQ(work_for(switching, false), PlanWork::none);
    switching.paused = false;
    switching.ramp = false;
    EXPECT_EQ(work_for(switching, false), PlanWork::none);
    switching.ramp = true;
    switching.switch_requested = false;
    EXPECT_EQ(work_for(switching, false), PlanWork::none);
}

TEST(PlanWork, AfterTheCutoverOnlyTheValidationScan) {
    PlanFacts cut_over = facts(PlanState::cut_over);
    EXPECT_EQ(work_for(cut_over, false), PlanWork::none);
    cut_over.old_bound_unvalidated = true;
    EXPECT_EQ(work_for(cut_over, false), PlanWork::plan_worker);
}

TEST(PlanWork, ARemoteTargetsReplicationIsTendedAfterTheCutoverAndDroppedAfterItEnds) {
    PlanFacts cut_over = facts(PlanState::cut_over);
    cut_over.remote_reverse_work = true;
    EXPECT_EQ(work_for(cut_over, true), PlanWork::plan_worker);
    PlanFacts rolled_back = facts(PlanState::rolled_back);
    rolled_back.remote_reverse_work = true;
    EXPECT_EQ(work_for(rolled_back, false), PlanWork::plan_worker);
    PlanFacts failed = facts(PlanState::failed);
    failed.remote_reverse_work = true;
    EXPECT_EQ(work_for(failed, false), PlanWork::plan_worker);
    PlanFacts finalized = facts(PlanState::finalized);
    // What a server lost during finalize kept.
    finalized.remote_reverse_work = true;
    EXPECT_EQ(work_for(finalized, false), PlanWork::plan_worker);
    PlanFacts cancelled = facts(PlanState::cancelled);
    cancelled.remote_reverse_work = true;
    EXPECT_EQ(work_for(cancelled, false), PlanWork::none);
}

TEST(PlanWork, FinishedPlansHaveNoWork) {
    for (PlanState state :
         {PlanState::planned, PlanState::finalized, PlanState::rolled_back, PlanState::cancelled})
        EXPECT_EQ(work_for(facts(state), false), PlanWork::none) << to_string(state);
}

TEST(PlanWorkers, OldestPlansGetTheFreeSlots) {
    PlanWorkerAssignment a = assign_plan_workers({3, 5, 8, 9}, {}, 2);
    EXPECT_EQ(a.start, (std::vector<int64_t>{3, 5}));
    EXPECT_EQ(a.waiting, (std::vector<int64_t>{8, 9}));
}

TEST(PlanWorkers, RunningWorkersHoldTheirSlotsEvenWhenFinishing) {
    // Plan 3 has one; plan 1's is finishing (it no longer needs one).
    PlanWorkerAssignment a = assign_plan_workers({3, 5, 8}, {1, 3}, 3);
    EXPECT_EQ(a.start, (std::vector<int64_t>{5}));
    EXPECT_EQ(a.waiting, (std::vector<int64_t>{8}));
}

TEST(PlanWorkers, NeverMoreThanTheLimit) {
    PlanWorkerAssignment a = assign_plan_workers({4, 5}, {1, 2, 3}, 2); // the limit was lowered
    EXPECT_TRUE(a.start.empty());
    EXPECT_EQ(a.waiting, (std::vector<int64_t>{4, 5}));
    a = assign_plan_workers({4, 4}, {}, 2); // a plan gets one worker
    EXPECT_EQ(a.start, (std::vector<int64_t>{4}));
}
