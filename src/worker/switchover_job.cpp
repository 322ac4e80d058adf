#include "worker/switchover_job.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/ramp.hpp"
#include "migration/layout.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "remote/split.hpp"
#include "switchover/channel_stats.hpp"
#include "switchover/switchover.hpp"
#include "worker/transaction.hpp"

#include <cstdio>
#include <optional>
#include <unordered_map>
#include <utility>

namespace presplit::worker {
namespace {

core::RampSettings ramp_settings() {
    core::RampSettings settings;
    settings.step_percent = config::ramp_step_percent;
    settings.step_interval_ms = config::ramp_interval_ms;
    settings.min_statements = static_cast<uint64_t>(config::ramp_min_statements);
    settings.evidence_timeout_ms = config::ramp_evidence_timeout_ms;
    settings.max_latency_ratio = config::ramp_max_latency_ratio;
    settings.min_latency_increase_ms = config::ramp_min_latency_increase_ms;
    settings.max_error_rate_increase = config::ramp_max_error_rate_increase;
    return settings;
}

// The channels' totals when the worker first saw a plan at its current
// weight: a step is judged on what the channels served since.
struct StepBaseline {
    int weight;
    switchover::PlanChannels totals;
    bool waiting_logged = false; // the ramp_waiting event of this step
    instr_time since;            // when the worker took the baseline
};
std::unordered_map<int64_t, StepBaseline> baselines;

// The lags published last round, by plan (a plan missing: not measured).
std::unordered_map<int64_t, std::optional<double>> remote_lags;

struct StepMeasurements {
    core::ChannelMeasurement old_channel, new_channel, remote_channel;
};

StepMeasurements measure_step(int64_t plan_id, int weight) {
    const switchover::PlanChannels now =
        switchover::read_channel_stats(plan_id).value_or(switchover::PlanChannels{});
    auto found = baselines.find(plan_id);
    if (found == baselines.end() || found->second.weight != weight) {
        baselines[plan_id] = {weight, now, false, pg::now()};
        return {};
    }
    auto since = [&](int channel) {
        const switchover::ChannelTotals& before = found->second.totals[channel];
        core::ChannelMeasurement measured;
        measured.statements = now[channel].statements - before.statements;
        measured.errors = now[channel].errors - before.errors;
        measured.p95_latency_ms =
            core::latency_quantile_ms(core::subtract(now[channel].latency, before.latency), 0.95);
        return measured;
    };
    return {since(0), since(1), since(2)};
}

std::string describe(const core::ChannelMeasurement& old_channel,
                     const core::ChannelMeasurement& new_channel,
                     const std::optional<core::ChannelMeasurement>& remote_channel) {
    auto one = [](const char* name, const core::ChannelMeasurement& channel) {
        char text[160];
        snprintf(text, sizeof text, "%s %llu reads, %llu errors, p95 %.3f ms", name,
                 static_cast<unsigned long long>(channel.statements),
                 static_cast<unsigned long long>(channel.errors), channel.p95_latency_ms);
        return std::string(text);
    };
    return one("old", old_channel) + "; " + one("new", new_channel) +
           (remote_channel ? "; " + one("remote", *remote_channel) : "");
}

Step ramp(const catalog::Plan& plan) {
    const int weight = plan.new_channel_weight.value_or(0);
    const StepMeasurements measured = measure_step(plan.id, weight);
    const int64_t ms_measured = static_cast<int64_t>(pg::elapsed_ms(baselines[plan.id].since));
    // A plan with targets on other servers: its remote reads are judged
    // apart (README, "Weighted reads onto other servers").
    // Without a local target (a whole partition onto one server), only them.
    const auto lag = remote_lags.find(plan.id);
    const bool remote = lag != remote_lags.end();
    bool local_targets = !remote;
    if (remote)
        for (const catalog::Shadow& shadow : catalog::load_shadows(plan.id))
            local_targets |= !shadow.server.has_value();
    const core::RampDecision decision =
        remote ? core::decide_ramp_step_with_remote(
                     ramp_settings(), weight, plan.paused, plan.ms_at_current_weight.value_or(0),
                     measured.old_channel, measured.new_channel, measured.remote_channel,
                     lag->second.has_value(), ms_measured, local_targets)
               : core::decide_ramp_step(ramp_settings(), weight, plan.paused,
                                        plan.ms_at_current_weight.value_or(0), measured.old_channel,
                                        measured.new_channel, ms_measured);
    const auto& [old_channel, new_channel, remote_channel] = measured;
    const std::optional<core::ChannelMeasurement> remote_reads =
        remote ? std::optional<core::ChannelMeasurement>(remote_channel) : std::nullopt;
    const std::string source = pg::qualified_relation_name(plan.source);
    switch (decision.action) {
    case core::RampAction::hold:
        if (plan.paused)
            return {};
        if (decision.waiting_for_evidence && !baselines[plan.id].waiting_logged) {
            baselines[plan.id].waiting_logged = true;
            catalog::log_event(
                plan.id, source, "ramp_waiting",
                "at " + std::to_string(weight) +
                    "%: " + describe(old_channel, new_channel, remote_reads) + "; waiting for " +
                    std::to_string(config::ramp_min_statements) +
                    " routable reads on each channel, at most presplit.ramp_evidence_timeout (" +
                    std::to_string(config::ramp_evidence_timeout_ms) + " ms)");
        }
        // Until the interval is over, or (evidence pending) a naptime;
        // remote targets are judged every round (publish_remote_lags).
        return {StepOutcome::idle,
                remote ? std::min<int64_t>(config::worker_naptime_ms, 1000)
                       : std::max<int64_t>(std::min<int64_t>(config::worker_naptime_ms, 1000),
                                           config::ramp_interval_ms -
                                               plan.ms_at_current_weight.value_or(0))};
    case core::RampAction::raise:
        catalog::set_new_channel_weight(plan.id, decision.new_weight);
        catalog::log_event(
            plan.id, source, "weight",
            "new channel " + std::to_string(weight) + " -> " + std::to_string(decision.new_weight) +
                " (ramp" + (decision.without_evidence ? ", without evidence" : "") + ")" +
                (weight > 0 ? "; at " + std::to_string(weight) +
                                  "%: " + describe(old_channel, new_channel, remote_reads)
                            : ""));
        return {StepOutcome::progress, 0};
    case core::RampAction::abort:
        catalog::set_new_channel_weight(plan.id, 0);
        catalog::set_paused(plan.id, true);
        catalog::log_event(plan.id, source, "ramp_aborted",
                           decision.reason + " (" +
                               describe(old_channel, new_channel, remote_reads) + ")");
        return {};
    case core::RampAction::cut_over:
        // A plan worker's (run_cutover_step): its lock may wait.
        return {};
    }
    return {};
}

} // namespace

bool publish_remote_lags() {
    auto lags = in_transaction("pg_presplit: measuring remote lag", Isolation::read_committed,
                               [] { return remote::switching_remote_lags(); });
    remote_lags.clear();
    if (!lags.ok)
        return false;
    for (const auto& [plan_id, lag_ms] : lags.value) {
        switchover::publish_remote_lag(plan_id, lag_ms);
        remote_lags[plan_id] = lag_ms;
    }
    return !lags.value.empty();
}

void forget_remote_lags() {
    remote_lags.clear();
}

bool resync_lost_remote_targets() {
    auto resynced =
        in_transaction("pg_presplit: re-syncing lost remote targets", Isolation::read_committed,
                       [] { return remote::resync_lost_remote_targets(); });
    return resynced.ok && resynced.value;
}

Step run_switchover_step(int64_t id) {
    auto step =
        in_transaction("pg_presplit: switching over", Isolation::read_committed, [&]() -> Step {
            // Never waits for the plan's row lock: whoever holds it (a plan
            // worker's step, a user's call) may hold it long, and the other
            // plans' ramps must not wait. The next round looks again.
            auto plan = catalog::load_plan_unless_locked(id);
            if (!plan)
                return {};
            if (plan->state == core::PlanState::synced && plan->switch_requested) {
                switchover::begin_switching(*plan);
                return {StepOutcome::progress, 0};
            }
            if (plan->state == core::PlanState::switching && plan->switch_requested && plan->ramp)
                return ramp(*plan);
            return {};
        });
    return step_outcome(id, step, /*may_fail_plan=*/false);
}

namespace {

// A split's remote targets once the cutover or a rollback after it has
// committed: each reverse direction started (or repaired, or found lost) and
// the forward replication dropped after the cutover; after a rollback (or a
// failure), what is left of the reverse directions and the tables there
// dropped; after a finalize whose drops there failed (a server lost after
// its checks), what is left there. Each needs the other servers: while one
// is down the step fails, and is tried again after the remote steps'
// back-off (remote_step_failed). nullopt: nothing to do now.
std::optional<Step> tend_remote_targets(int64_t id) {
    const int64_t wait_ms = remote_retry_wait_ms(id);
    if (wait_ms > 0)
        return Step{StepOutcome::idle, wait_ms};
    // nullopt: no server was needed (the plan is in no such state).
    auto step =
        in_transaction("pg_presplit: tending remote targets", Isolation::read_committed,
                       [&]() -> std::optional<bool> {
                           auto plan = catalog::load_plan(id, /*lock=*/true);
                           if (!plan)
                               return std::nullopt;
                           if (plan->state == core::PlanState::cut_over) {
                               const migration::PlanLayout layout = migration::load_layout(*plan);
                               bool acted = remote::tend_remote_reverse(layout);
                               // Every change reached them under the cutover's lock: their
                               // replication holds WAL for nothing.
                               if (remote::remote_replication_left(layout)) {
                                   remote::drop_remote_targets(layout, /*drop_tables=*/false);
                                   acted = true;
                               }
                               return acted;
                           }
                           if (plan->state == core::PlanState::finalized)
                               return remote::drop_finalized_remains(*plan);
                           if (plan->state != core::PlanState::rolled_back &&
                               plan->state != core::PlanState::failed)
                               return std::nullopt;
                           return remote::drop_remote_reverse(migration::load_layout(*plan),
                                                              /*drop_tables=*/true);
                       });
    if (!step.ok)
        return remote_step_failed(id, step.error, step.sqlstate, step.interrupted);
    if (!step.value)
        return std::nullopt;
    remote_step_succeeded(id);
    return *step.value ? std::optional<Step>(Step{StepOutcome::progress, 0}) : std::nullopt;
}

} // namespace

Step run_cutover_step(int64_t id) {
    // First its remote targets (their own transaction: a server down must
    // not keep the old bound from being validated here).
    const std::optional<Step> remote = tend_remote_targets(id);
    bool remote_cutover = false; // a cutover onto other servers was tried
    auto step = in_transaction(
        "pg_presplit: cutting over or validating", Isolation::read_committed, [&]() -> Step {
            auto plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan)
                return {};
            if (plan->state == core::PlanState::switching && plan->switch_requested && plan->ramp &&
                !plan->paused && plan->new_channel_weight.value_or(0) >= 100) {
                // Onto other servers: one of the remote steps (their
                // back-off, their events).
                if (catalog::has_remote_targets(id)) {
                    if (const int64_t wait_ms = remote_retry_wait_ms(id); wait_ms > 0)
                        return {StepOutcome::idle, wait_ms};
                    remote_cutover = true;
                }
                switchover::cut_over(migration::load_layout(*plan));
                return {StepOutcome::progress, 0};
            }
            if (plan->state == core::PlanState::cut_over &&
                switchover::validate_old_bound(migration::load_layout(*plan)))
                return {StepOutcome::progress, 0};
            return {};
        });
    if (remote_cutover) {
        if (!step.ok)
            return remote_step_failed(id, step.error, step.sqlstate, step.interrupted);
        remote_step_succeeded(id);
    }
    const Step local = step_outcome(id, step, /*may_fail_plan=*/false);
    if (local.outcome == StepOutcome::progress || !remote)
        return local;
    return *remote;
}

} // namespace presplit::worker
