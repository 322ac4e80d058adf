// The predictive shard manager's round, run by the supervisor (worker.cpp)
// once per new hour of the model clock (and when a held copy's window
// starts) while presplit.predict is not off: forecasts every managed
// partition's load (core::forecast_hourly), finds its threshold crossing
// and split point (core::assess_partition), the
// off-peak windows (presplit.maintenance_window, or the quiet hours of the
// server's forecast load), writes them to presplit.prediction and
// presplit.offpeak_window, and decides per partition, earliest crossing
// first (core::decide_round). The decisions are applied one by one, each in
// its own transaction, so that one that fails (a table whose owner cannot
// create the shadows) does not stop the others.
//
// The per-partition tracks (core::PartitionTrack, core::RangeTrack) live in
// the worker process; losing them (a restart) is safe: the plans are in the
// catalog with their split kind, a fresh track only delays a cancellation
// by a day, and a moving hot range is seen again after a few hours.
// docs/prediction.md has the reasoning.
#pragma once

extern "C" {
#include "postgres.h"
}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/split_decision.hpp"

namespace presplit::predictor {

// One decision to apply.
struct ManagerAction {
    enum class Kind { event, create_plan, hold_copy, release_copy, cancel_plan, start_switchover };
    Kind kind = Kind::event;
    Oid partition = InvalidOid;
    std::optional<int64_t> plan_id; // the predicted plan acted on (not for create_plan)
    std::string split_point;        // create_plan: the key, in the key type's text form
    core::SplitKind split_kind = core::SplitKind::none; // create_plan: load, size or append
    bool copy_held = true;                              // create_plan: outside an off-peak window
    std::optional<std::string> event;                   // presplit.event detail (kind 'prediction')
};

// Whether a round is due: presplit.predict is not off and the model clock's
// hour changed since the last round of this process (or there was none), or
// a copy the last round held is to be let run now (its off-peak window, or
// its scheduled start, began). Marks it done.
bool manager_round_due();

// The round's assessment and decisions (in a transaction); they are applied
// by apply_action, each in a transaction of its own.
std::vector<ManagerAction> run_manager_round();
void apply_action(const ManagerAction& action);

// Creates a predicted plan of `source` split at `split_point`, as the
// table's owner (never as a superuser), as presplit.prepare_split would.
// kind is recorded with the plan (presplit.plan.split_kind).
// With servers to split onto (the table's own, or presplit.predict_servers),
// its upper piece goes to the first of them, fewest targets of active plans
// first, that passes every check split_partition makes for a remote target;
// when none does, no plan is made (the manager only advises) and `note`
// says why for each server.
struct PredictedPlan {
    std::optional<int64_t> id; // nullopt: not created
    std::string note;          // where its upper piece went, or why there is no plan
};
PredictedPlan create_predicted_plan(Oid source, const std::string& split_point, bool copy_held,
                                    core::SplitKind kind);

} // namespace presplit::predictor
