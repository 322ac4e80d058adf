// The switchover's automatic ramp (issue: switchover): raise the new
// channel's weight in steps, compare the two channels at each step, and
// abort -- weight back to 0, paused, with the reason -- if the new channel
// regresses. Pure logic: the worker feeds it the channels' measurements.
#pragma once

#include <cstdint>
#include <string>

namespace presplit::core {

struct RampSettings {
    int step_percent = 10;                 // weight added per step
    int64_t step_interval_ms = 10000;      // time at a weight before the next step
    double max_latency_ratio = 1.5;        // new p95 / old p95 that aborts...
    double min_latency_increase_ms = 1.0;  // ...if also this much slower (microsecond noise is not)
    double max_error_rate_increase = 0.01; // new error rate - old error rate that aborts
    uint64_t min_statements = 50;          // evidence needed on each channel per step
    // How long a step waits for that evidence, counted from its start (at
    // least step_interval_ms), before it steps on without it: a write-only
    // partition, or reads the router does not route, never give any.
    int64_t evidence_timeout_ms = 60000;
};

// What a channel served since the current step began.
struct ChannelMeasurement {
    uint64_t statements = 0;
    uint64_t errors = 0;
    double p95_latency_ms = 0;
};

enum class RampAction {
    hold,     // stay at the current weight
    raise,    // go to new_weight
    cut_over, // the new channel has all the weight: switch for good
    abort,    // regression: weight to 0, pause, record reason
};

struct RampDecision {
    RampAction action = RampAction::hold;
    int new_weight = 0;
    std::string reason;
    // hold: the interval is over and the step waits for reads on a channel.
    bool waiting_for_evidence = false;
    // raise: the step was not judged, its evidence never came.
    bool without_evidence = false;
};

// ms_measured: how long the measurements cover, if less than the whole step
// (they restart with the worker).
RampDecision decide_ramp_step(const RampSettings& settings, int current_weight, bool paused,
                              int64_t ms_at_current_weight, const ChannelMeasurement& old_channel,
                              const ChannelMeasurement& new_channel,
                              int64_t ms_measured = INT64_MAX);

// A plan with targets on other servers: the new channel's reads of them
// (the remote channel) are judged apart from its local ones, against the
// same settings, and the ramp aborts while a target is not streaming (its
// reads would fail, or be staler than the lag bound allows). The step goes
// on only when both judgements would. A plan without a local target
// (local_targets false: its new channel reads nothing here) is judged on
// its remote reads alone.
RampDecision decide_ramp_step_with_remote(const RampSettings& settings, int current_weight,
                                          bool paused, int64_t ms_at_current_weight,
                                          const ChannelMeasurement& old_channel,
                                          const ChannelMeasurement& new_channel,
                                          const ChannelMeasurement& remote_channel,
                                          bool remote_streaming, int64_t ms_measured = INT64_MAX,
                                          bool local_targets = true);

} // namespace presplit::core
