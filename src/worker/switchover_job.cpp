#include "worker/switchover_job.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/ramp.hpp"
#include "migration/layout.hpp"
#include "pg/guard.hpp"
#include "switchover/switchover.hpp"
#include "worker/transaction.hpp"

namespace presplit::worker {
namespace {

core::RampSettings ramp_settings() {
    core::RampSettings settings;
    settings.step_percent = config::ramp_step_percent;
    settings.step_interval_ms = config::ramp_interval_ms;
    // Reads are not routed by weight yet, so neither channel has measurements
    // to compare: every step is taken on the interval alone.
    settings.min_statements = 0;
    return settings;
}

Step ramp(const catalog::Plan& plan) {
    const int weight = plan.new_channel_weight.value_or(0);
    core::RampDecision decision = core::decide_ramp_step(
        ramp_settings(), weight, plan.paused, plan.ms_at_current_weight.value_or(0), {}, {});
    const std::string source = pg::qualified_relation_name(plan.source);
    switch (decision.action) {
    case core::RampAction::hold:
        if (plan.paused)
            return {};
        return {StepOutcome::idle,
                std::max<int64_t>(10, config::ramp_interval_ms -
                                          plan.ms_at_current_weight.value_or(0))};
    case core::RampAction::raise:
        catalog::set_new_channel_weight(plan.id, decision.new_weight);
        catalog::log_event(plan.id, source, "weight",
                           "new channel " + std::to_string(weight) + " -> " +
                               std::to_string(decision.new_weight) + " (ramp)");
        return {StepOutcome::progress, 0};
    case core::RampAction::abort:
        catalog::set_new_channel_weight(plan.id, 0);
        catalog::set_paused(plan.id, true);
        catalog::log_event(plan.id, source, "ramp_aborted", decision.reason);
        return {};
    case core::RampAction::cut_over:
        switchover::cut_over(migration::load_layout(plan));
        return {StepOutcome::progress, 0};
    }
    return {};
}

} // namespace

Step run_switchover_step(int64_t id) {
    auto step =
        in_transaction("pg_presplit: switching over", Isolation::read_committed, [&]() -> Step {
            auto plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan)
                return {};
            if (plan->state == "synced" && plan->switch_requested) {
                switchover::begin_switching(*plan);
                return {StepOutcome::progress, 0};
            }
            if (plan->state == "switching" && plan->switch_requested && plan->ramp)
                return ramp(*plan);
            if (plan->state == "cut_over")
                switchover::validate_old_bound(migration::load_layout(*plan));
            return {};
        });
    if (step.ok)
        return step.value;
    if (step.retryable())
        return {StepOutcome::progress, 0};
    record_worker_error(id, step.error, /*may_fail_plan=*/false);
    return {StepOutcome::error, config::worker_naptime_ms};
}

} // namespace presplit::worker
