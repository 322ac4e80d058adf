#include "core/ramp.hpp"

#include <algorithm>
#include <cstdio>

#include "core/cpp_only.hpp"

namespace presplit::core {
namespace {

double error_rate(const ChannelMeasurement& channel) {
    return channel.statements == 0
               ? 0.0
               : static_cast<double>(channel.errors) / static_cast<double>(channel.statements);
}

std::string format(const char* pattern, double a, double b, double c) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, pattern, a, b, c);
    return buffer;
}

} // namespace

RampDecision decide_ramp_step(const RampSettings& settings, int current_weight, bool paused,
                              int64_t ms_at_current_weight, const ChannelMeasurement& old_channel,
                              const ChannelMeasurement& new_channel, int64_t ms_measured) {
    RampDecision decision;
    decision.new_weight = current_weight;
    if (paused)
        return decision;
    if (current_weight >= 100) {
        decision.action = RampAction::cut_over;
        decision.new_weight = 100;
        return decision;
    }
    // Judge the new channel only on enough evidence, and only against an old
    // channel that has some too (at 0% the new channel serves nothing).
    const bool enough = new_channel.statements >= settings.min_statements &&
                        old_channel.statements >= settings.min_statements;
    if (current_weight > 0 && enough) {
        const double old_rate = error_rate(old_channel);
        const double new_rate = error_rate(new_channel);
        if (new_rate - old_rate > settings.max_error_rate_increase) {
            decision.action = RampAction::abort;
            decision.new_weight = 0;
            decision.reason = format("error rate %.4f on the new channel vs %.4f on the old "
                                     "(limit +%.4f)",
                                     new_rate, old_rate, settings.max_error_rate_increase);
            return decision;
        }
        if (old_channel.p95_latency_ms > 0 &&
            new_channel.p95_latency_ms > old_channel.p95_latency_ms * settings.max_latency_ratio &&
            new_channel.p95_latency_ms - old_channel.p95_latency_ms >=
                settings.min_latency_increase_ms) {
            decision.action = RampAction::abort;
            decision.new_weight = 0;
            decision.reason = format("p95 latency %.3f ms on the new channel vs %.3f ms on the "
                                     "old (limit x%.2f)",
                                     new_channel.p95_latency_ms, old_channel.p95_latency_ms,
                                     settings.max_latency_ratio);
            return decision;
        }
    }
    if (ms_at_current_weight < settings.step_interval_ms)
        return decision;
    if (current_weight > 0 && !enough) {
        // Wait for evidence before going further, but not for ever.
        const int64_t waited = std::min(ms_at_current_weight, ms_measured);
        if (waited < std::max(settings.step_interval_ms, settings.evidence_timeout_ms)) {
            decision.waiting_for_evidence = true;
            return decision;
        }
        decision.without_evidence = true;
    }
    decision.action = RampAction::raise;
    decision.new_weight = std::min(100, current_weight + std::max(1, settings.step_percent));
    return decision;
}

RampDecision decide_ramp_step_with_remote(const RampSettings& settings, int current_weight,
                                          bool paused, int64_t ms_at_current_weight,
                                          const ChannelMeasurement& old_channel,
                                          const ChannelMeasurement& new_channel,
                                          const ChannelMeasurement& remote_channel,
                                          bool remote_streaming, int64_t ms_measured,
                                          bool local_targets) {
    const RampDecision local =
        decide_ramp_step(settings, current_weight, paused, ms_at_current_weight, old_channel,
                         new_channel, ms_measured);
    if (local.action == RampAction::abort || paused)
        return local;
    if (current_weight > 0 && current_weight < 100 && !remote_streaming) {
        RampDecision abort;
        abort.action = RampAction::abort;
        abort.reason = "a target on another server is not streaming (its subscription is not "
                       "connected): its reads would fail or be stale";
        return abort;
    }
    RampDecision remote = decide_ramp_step(settings, current_weight, paused, ms_at_current_weight,
                                           old_channel, remote_channel, ms_measured);
    if (remote.action == RampAction::abort) {
        const std::string judged = "the new channel";
        const size_t at = remote.reason.find(judged);
        if (at != std::string::npos)
            remote.reason.replace(at, judged.size(), "the remote channel");
        remote.reason = "remote reads: " + remote.reason;
        return remote;
    }
    if (!local_targets)
        return remote;
    if (remote.action == RampAction::hold)
        return remote.waiting_for_evidence || local.action != RampAction::hold ? remote : local;
    RampDecision both = local; // hold, or the same raise or cutover
    both.without_evidence = local.without_evidence || remote.without_evidence;
    return both;
}

} // namespace presplit::core
