// presplit.set_weight, pause, resume, cutover, rollback, finalize: each
// checks the caller and the plan's state before changing anything. And
// presplit._channel_stats, behind the view presplit.channels (the caller's
// plans only).
#include "api/arguments.hpp"
#include "api/plan_access.hpp"
#include "api/result_rows.hpp"
#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/plan_state.hpp"
#include "migration/layout.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "switchover/channel_stats.hpp"
#include "switchover/switchover.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"

PG_FUNCTION_INFO_V1(presplit_set_weight);
PG_FUNCTION_INFO_V1(presplit_pause);
PG_FUNCTION_INFO_V1(presplit_resume);
PG_FUNCTION_INFO_V1(presplit_cutover);
PG_FUNCTION_INFO_V1(presplit_rollback);
PG_FUNCTION_INFO_V1(presplit_finalize);
PG_FUNCTION_INFO_V1(presplit_channel_stats);
}

#include <initializer_list>

namespace presplit {
namespace {

using api::owned_plan;
using catalog::plan_label;
using State = core::PlanState;

std::string caller_name() {
    return pg::call([] { return GetUserNameFromId(GetUserId(), false); });
}

// ERROR 55000 unless the plan is in one of `states`.
void require_state(const catalog::Plan& plan, std::initializer_list<State> states,
                   const std::string& operation, const std::string& hint = {}) {
    std::string allowed;
    for (State state : states) {
        if (plan.state == state)
            return;
        allowed += (allowed.empty() ? "" : " or ") + core::to_string(state);
    }
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot " + operation + " " + plan_label(plan.id) + " in state " +
                        core::to_string(plan.state),
                    "This needs a plan in state " + allowed + ".", hint);
}

// The plan (locked, caller checked) for the switchover functions.
catalog::Plan plan_argument(FunctionCallInfo fcinfo) {
    int64_t id = api::required_int64(fcinfo, 0, "plan");
    catalog::require_extension();
    return owned_plan(id);
}

Datum set_weight(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "new_channel_weight must not be NULL");
    const int weight = PG_GETARG_INT32(1);
    if (weight < 0 || weight > 100)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "new_channel_weight must be between 0 and 100, not " +
                            std::to_string(weight));
    catalog::Plan plan = plan_argument(fcinfo);
    require_state(plan, {State::synced, State::switching}, "set the weight of",
                  plan.state == State::cut_over
                      ? "It has cut over: the new channel has it all."
                      : "Wait for it to be synced: presplit.wait(" + std::to_string(plan.id) +
                            ", '" + core::to_string(State::synced) + "').");
    if (plan.state == State::synced)
        switchover::begin_switching(plan);
    const int before = plan.new_channel_weight.value_or(0);
    catalog::set_new_channel_weight(plan.id, weight);
    catalog::log_event(plan.id, pg::qualified_relation_name(plan.source), "weight",
                       "new channel " + std::to_string(before) + " -> " + std::to_string(weight) +
                           " (set by " + caller_name() + ")");
    worker::wake_worker();
    PG_RETURN_VOID();
}

Datum set_paused(FunctionCallInfo fcinfo, bool paused) {
    catalog::Plan plan = plan_argument(fcinfo);
    // Before switching too: the ramp then waits at 0 once the plan gets there.
    require_state(
        plan,
        {State::planned, State::preparing, State::backfilling, State::synced, State::switching},
        paused ? "pause" : "resume");
    catalog::set_paused(plan.id, paused);
    catalog::log_event(plan.id, pg::qualified_relation_name(plan.source),
                       paused ? "paused" : "resumed", "by " + caller_name());
    worker::wake_worker();
    PG_RETURN_VOID();
}

Datum cutover(FunctionCallInfo fcinfo) {
    catalog::Plan plan = plan_argument(fcinfo);
    require_state(plan, {State::synced, State::switching}, "cut over");
    switchover::cut_over(migration::load_layout(plan));
    worker::wake_worker(); // it validates the old partition's bound for a rollback
    PG_RETURN_VOID();
}

Datum rollback(FunctionCallInfo fcinfo) {
    catalog::Plan plan = plan_argument(fcinfo);
    if (core::is_terminal(plan.state))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "cannot roll back " + plan_label(plan.id) + ": it is already " +
                            core::to_string(plan.state));
    if (plan.state == State::cut_over &&
        plan.seconds_since_cut_over.value_or(0) > config::rollback_window_seconds)
        throw pg::Error(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "cannot roll back " + plan_label(plan.id) + ": its rollback window has passed",
            "It cut over " + std::to_string(static_cast<long long>(*plan.seconds_since_cut_over)) +
                " s ago; presplit.rollback_window is " +
                std::to_string(config::rollback_window_seconds) + " s.",
            "Finalize it with presplit.finalize(" + std::to_string(plan.id) + ").");
    switchover::roll_back(migration::load_layout(plan), "rolled back by " + caller_name());
    PG_RETURN_VOID();
}

Datum finalize(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "drop_old must not be NULL");
    const bool drop_old = PG_GETARG_BOOL(1);
    catalog::Plan plan = plan_argument(fcinfo);
    require_state(plan, {State::cut_over}, "finalize",
                  plan.state == State::synced || plan.state == State::switching
                      ? "Cut it over first: presplit.cutover(" + std::to_string(plan.id) + ")."
                      : "");
    switchover::finalize(migration::load_layout(plan), drop_old);
    PG_RETURN_VOID();
}

void add_channel_rows(int64_t plan_id, const switchover::PlanChannels& channels, void* arg) {
    if (!api::may_see_plan(plan_id))
        return; // another owner's plan
    auto& rows = *static_cast<api::ResultRows*>(arg);
    const char* names[] = {"old", "new", "remote"};
    for (int i = 0; i < 3; ++i) {
        const switchover::ChannelTotals& channel = channels[i];
        const uint64_t succeeded = channel.statements - channel.errors;
        Datum values[6];
        bool nulls[6] = {};
        values[0] = Int64GetDatum(plan_id);
        values[1] = api::text_datum(names[i]);
        values[2] = Int64GetDatum(static_cast<int64>(channel.statements));
        values[3] = Int64GetDatum(static_cast<int64>(channel.errors));
        values[4] =
            Float8GetDatum(succeeded > 0 ? channel.total_ms / static_cast<double>(succeeded) : 0.0);
        values[5] = Float8GetDatum(core::latency_quantile_ms(channel.latency, 0.95));
        nulls[4] = nulls[5] = succeeded == 0;
        rows.add(values, nulls);
    }
}

Datum channel_stats(FunctionCallInfo fcinfo) {
    api::ResultRows rows(fcinfo);
    switchover::for_each_channel_stats(add_channel_rows, &rows);
    return static_cast<Datum>(0);
}

} // namespace
} // namespace presplit

Datum presplit_channel_stats(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::channel_stats(fcinfo); });
}
Datum presplit_set_weight(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::set_weight(fcinfo); });
}
Datum presplit_pause(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::set_paused(fcinfo, true); });
}
Datum presplit_resume(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::set_paused(fcinfo, false); });
}
Datum presplit_cutover(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::cutover(fcinfo); });
}
Datum presplit_rollback(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::rollback(fcinfo); });
}
Datum presplit_finalize(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::finalize(fcinfo); });
}
