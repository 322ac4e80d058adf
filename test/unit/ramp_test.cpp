#include "core/ramp.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

ChannelMeasurement channel(uint64_t statements, uint64_t errors, double p95) {
    ChannelMeasurement measurement;
    measurement.statements = statements;
    measurement.errors = errors;
    measurement.p95_latency_ms = p95;
    return measurement;
}

const ChannelMeasurement kHealthy = channel(1000, 0, 2.0);

} // namespace

TEST(Ramp, RaisesByOneStepAfterTheInterval) {
    RampSettings settings;
    auto held = decide_ramp_step(settings, 10, false, 9999, kHealthy, kHealthy);
    EXPECT_EQ(held.action, RampAction::hold);
    EXPECT_EQ(held.new_weight, 10);
    auto raised = decide_ramp_step(settings, 10, false, 10000, kHealthy, kHealthy);
    EXPECT_EQ(raised.action, RampAction::raise);
    EXPECT_EQ(raised.new_weight, 20);
}

TEST(Ramp, StartsFromZeroWithoutEvidence) {
    RampSettings settings;
    auto decision = decide_ramp_step(settings, 0, false, 10000, kHealthy, channel(0, 0, 0));
    EXPECT_EQ(decision.action, RampAction::raise);
    EXPECT_EQ(decision.new_weight, 10);
}

TEST(Ramp, WaitsForEvidenceBeforeTheNextStep) {
    RampSettings settings;
    settings.evidence_timeout_ms = 600000;
    auto decision = decide_ramp_step(settings, 30, false, 60000, kHealthy, channel(10, 0, 2.0));
    EXPECT_EQ(decision.action, RampAction::hold);
}

TEST(Ramp, StepsOnWithoutEvidenceAfterTheTimeout) {
    RampSettings settings; // interval 10 s, evidence timeout 60 s
    auto waiting = decide_ramp_step(settings, 30, false, 59999, channel(0, 0, 0), channel(0, 0, 0));
    EXPECT_EQ(waiting.action, RampAction::hold);
    EXPECT_TRUE(waiting.waiting_for_evidence);
    auto stepped = decide_ramp_step(settings, 30, false, 60000, channel(0, 0, 0), channel(0, 0, 0));
    EXPECT_EQ(stepped.action, RampAction::raise);
    EXPECT_EQ(stepped.new_weight, 40);
    EXPECT_TRUE(stepped.without_evidence);
    // Some reads, but fewer than needed: the same.
    EXPECT_TRUE(decide_ramp_step(settings, 30, false, 70000, kHealthy, channel(3, 0, 2.0))
                    .without_evidence);
}

TEST(Ramp, EvidenceTimeoutCountsOnlyWhatWasMeasured) {
    RampSettings settings;
    // A restarted worker has measured 1 s of a step that began long ago.
    auto decision =
        decide_ramp_step(settings, 30, false, 3600000, channel(0, 0, 0), channel(0, 0, 0), 1000);
    EXPECT_EQ(decision.action, RampAction::hold);
    EXPECT_TRUE(decision.waiting_for_evidence);
}

TEST(Ramp, NotWaitingBeforeTheIntervalNorWithEvidence) {
    RampSettings settings;
    EXPECT_FALSE(decide_ramp_step(settings, 30, false, 5000, channel(0, 0, 0), channel(0, 0, 0))
                     .waiting_for_evidence);
    auto judged = decide_ramp_step(settings, 30, false, 70000, kHealthy, kHealthy);
    EXPECT_EQ(judged.action, RampAction::raise);
    EXPECT_FALSE(judged.without_evidence);
}

TEST(Ramp, ZeroEvidenceTimeoutStepsAtTheInterval) {
    RampSettings settings;
    settings.evidence_timeout_ms = 0;
    auto decision =
        decide_ramp_step(settings, 30, false, 10000, channel(0, 0, 0), channel(0, 0, 0));
    EXPECT_EQ(decision.action, RampAction::raise);
    EXPECT_TRUE(decision.without_evidence);
}

TEST(Ramp, NeverPassesOneHundredAndCutsOverThere) {
    RampSettings settings;
    settings.step_percent = 25;
    EXPECT_EQ(decide_ramp_step(settings, 90, false, 10000, kHealthy, kHealthy).new_weight, 100);
    auto at_full = decide_ramp_step(settings, 100, false, 0, kHealthy, kHealthy);
    EXPECT_EQ(at_full.action, RampAction::cut_over);
}

TEST(Ramp, PausedHoldsEvenAtFullWeight) {
    RampSettings settings;
    EXPECT_EQ(decide_ramp_step(settings, 100, true, 100000, kHealthy, kHealthy).action,
              RampAction::hold);
    EXPECT_EQ(decide_ramp_step(settings, 40, true, 100000, kHealthy, kHealthy).action,
              RampAction::hold);
}

TEST(Ramp, AbortsOnLatencyRegression) {
    RampSettings settings;
    auto decision = decide_ramp_step(settings, 40, false, 0, kHealthy, channel(1000, 0, 3.5));
    EXPECT_EQ(decision.action, RampAction::abort);
    EXPECT_EQ(decision.new_weight, 0);
    EXPECT_NE(decision.reason.find("p95 latency 3.500 ms on the new channel vs 2.000 ms"),
              std::string::npos)
        << decision.reason;
    // Within the limit: no abort.
    EXPECT_NE(decide_ramp_step(settings, 40, false, 0, kHealthy, channel(1000, 0, 2.9)).action,
              RampAction::abort);
}

TEST(Ramp, AbortsOnErrorRegression) {
    RampSettings settings;
    auto decision =
        decide_ramp_step(settings, 40, false, 0, channel(1000, 1, 2.0), channel(1000, 30, 2.0));
    EXPECT_EQ(decision.action, RampAction::abort);
    EXPECT_NE(decision.reason.find("error rate 0.0300"), std::string::npos) << decision.reason;
}

TEST(Ramp, DoesNotJudgeOnTooFewStatements) {
    RampSettings settings;
    auto decision = decide_ramp_step(settings, 40, false, 0, kHealthy, channel(5, 5, 100.0));
    EXPECT_EQ(decision.action, RampAction::hold);
}

TEST(Ramp, MicrosecondNoiseIsNoLatencyRegression) {
    // Twice as slow, but by 5 us: below presplit.ramp_min_latency_increase.
    RampSettings settings;
    EXPECT_EQ(decide_ramp_step(settings, 40, false, 20000, channel(1000, 0, 0.005),
                               channel(1000, 0, 0.010))
                  .action,
              RampAction::raise);
    settings.min_latency_increase_ms = 0.001;
    EXPECT_EQ(decide_ramp_step(settings, 40, false, 20000, channel(1000, 0, 0.005),
                               channel(1000, 0, 0.010))
                  .action,
              RampAction::abort);
}

TEST(RampWithRemote, AbortsOnRemoteErrorsTheLocalChannelDoesNotHave) {
    RampSettings settings;
    auto decision = decide_ramp_step_with_remote(settings, 50, false, 1000, kHealthy, kHealthy,
                                                 channel(100, 10, 5.0), true);
    EXPECT_EQ(decision.action, RampAction::abort);
    EXPECT_EQ(decision.new_weight, 0);
    EXPECT_EQ(decision.reason.find("remote reads: error rate 0.1000 on the remote channel"), 0u);
}

TEST(RampWithRemote, JudgesRemoteLatencyAgainstTheSameSettings) {
    RampSettings settings; // x1.5 and at least 1 ms slower aborts
    auto slow = decide_ramp_step_with_remote(settings, 50, false, 1000, kHealthy, kHealthy,
                                             channel(100, 0, 3.5), true);
    EXPECT_EQ(slow.action, RampAction::abort);
    settings.min_latency_increase_ms = 5.0; // a round trip allowed for
    auto allowed = decide_ramp_step_with_remote(settings, 50, false, 1000, kHealthy, kHealthy,
                                                channel(100, 0, 3.5), true);
    EXPECT_EQ(allowed.action, RampAction::hold);
}

TEST(RampWithRemote, WithoutALocalTargetOnlyTheRemoteReadsAreJudged) {
    // A whole partition onto one server: the new channel reads nothing here.
    RampSettings settings;
    settings.min_latency_increase_ms = 5.0;
    const ChannelMeasurement nothing = channel(0, 0, 0);
    auto moved = decide_ramp_step_with_remote(settings, 50, false, 20000, kHealthy, nothing,
                                              channel(1000, 0, 3.5), true, INT64_MAX,
                                              /*local_targets=*/false);
    EXPECT_EQ(moved.action, RampAction::raise);
    EXPECT_FALSE(moved.without_evidence);
    // With a local target, its missing evidence holds the step.
    auto split = decide_ramp_step_with_remote(settings, 50, false, 20000, kHealthy, nothing,
                                              channel(1000, 0, 3.5), true, 0);
    EXPECT_EQ(split.action, RampAction::hold);
}

TEST(RampWithRemote, AbortsWhileATargetIsNotStreaming) {
    RampSettings settings;
    auto decision = decide_ramp_step_with_remote(settings, 20, false, 0, kHealthy, kHealthy,
                                                 channel(0, 0, 0), false);
    EXPECT_EQ(decision.action, RampAction::abort);
    EXPECT_NE(decision.reason.find("not streaming"), std::string::npos);
    // At 0 nothing is read there yet; paused, nothing is judged.
    EXPECT_EQ(decide_ramp_step_with_remote(settings, 0, false, 0, kHealthy, kHealthy,
                                           channel(0, 0, 0), false)
                  .action,
              RampAction::hold);
    EXPECT_EQ(decide_ramp_step_with_remote(settings, 20, true, 0, kHealthy, kHealthy,
                                           channel(0, 0, 0), false)
                  .action,
              RampAction::hold);
}

TEST(RampWithRemote, StepsOnlyWhenBothChannelsWould) {
    RampSettings settings;
    settings.evidence_timeout_ms = 600000;
    auto waiting = decide_ramp_step_with_remote(settings, 10, false, 10000, kHealthy, kHealthy,
                                                channel(3, 0, 5.0), true, 10000);
    EXPECT_EQ(waiting.action, RampAction::hold);
    EXPECT_TRUE(waiting.waiting_for_evidence);
    auto raised = decide_ramp_step_with_remote(settings, 10, false, 10000, kHealthy, kHealthy,
                                               channel(1000, 0, 2.5), true, 10000);
    EXPECT_EQ(raised.action, RampAction::raise);
    EXPECT_EQ(raised.new_weight, 20);
    auto cut = decide_ramp_step_with_remote(settings, 100, false, 0, kHealthy, kHealthy,
                                            channel(0, 0, 0), true);
    EXPECT_EQ(cut.action, RampAction::cut_over);
}
