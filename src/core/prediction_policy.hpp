// What the predictive shard manager does for one partition in one round,
// by mode (presplit.predict):
//   off     nothing;
//   advise  events only: a crossing predicted (or no longer), the split point,
//           or why no split helps;
// (a predicted crossing counts once it held for an hour: two forecasts)
//   prepare creates a plan with origin 'predicted' when a crossing is
//           predicted within the horizon (or earlier, when its copy needs
//           more window time than the horizon holds: the latest start that
//           still makes it is near), lets its copy run inside off-peak
//           windows from the time the copy schedule says (and outside them
//           from the time it says, when the windows before the crossing
//           cannot hold it: CopySchedule::outside_from), and leaves the
//           plan synced (split_partition(source) then reuses it);
//   split   as prepare, and starts the switchover when the partition really
//           reaches its threshold, or at the start of the last off-peak window
//           before the predicted crossing, or at the latest switch_lead before
//           the crossing.
// Being wrong: re-assessed every round; before cutover a plan is cancelled
// when its split point stayed beyond a tolerance for an hour (and re-planned
// at once; a synced plan only beyond a wider tolerance for 6 hours, and
// only while a new copy could still be synced before the crossing), or when
// no crossing was predicted within twice the horizon for a whole day. After
// such a cancellation, hysteresis against flapping: no new predicted plan
// for that partition for a cooldown, and then for a week only on stronger
// evidence (the point forecast, not just the upper bound, crosses within the
// horizon, or the measured value does); the same evidence is asked of a
// crossing whose upper bound is far above its point forecast (an interval
// too wide to act on); the number of predicted plans and the bytes of their
// shadows are capped.
// Every action comes with an event carrying its numbers.
//
// PartitionTrack is the manager's memory of one partition: fixed size, no
// pointers (shared memory or a backend-local array). Losing it (a restart) is
// safe: the plan's state lives in the catalog, and a fresh track only delays
// a cancellation by a day.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/copy_schedule.hpp"
#include "core/offpeak.hpp"
#include "core/plan_state.hpp"
#include "core/split_decision.hpp"

namespace presplit::core {

enum class PredictMode { off, advise, prepare, split };
const char* to_string(PredictMode mode);
std::optional<PredictMode> parse_predict_mode(std::string_view name);

struct PolicyOptions {
    int64_t horizon_seconds = 24 * 3600; // presplit.prediction_horizon
    // Act when the forecast's upper bound reaches headroom x threshold
    // (assess_partition): thresholds are on short-term rates, forecasts on
    // hourly means. docs/prediction.md has the measurements behind 0.95.
    double headroom = 0.95;
    int64_t cancel_after_seconds = 24 * 3600; // no crossing within 2 x horizon this long: cancel
    int64_t cooldown_seconds = 24 * 3600;     // after such a cancel, no new predicted plan
    int64_t strict_seconds = 7 * 24 * 3600;   // and then only on the point forecast
    double drift_tolerance = 0.15;            // |share left of the planned key - target|
    int64_t drift_persist_seconds = 3600;     // ... beyond it this long: cancel
    // A synced plan has its whole copy behind it, and a split somewhat off
    // its target still relieves the partition: it is cancelled for drift
    // only beyond a wider tolerance, held longer, and only while a new copy
    // could still be synced before the crossing.
    double synced_drift_tolerance = 0.25;
    int64_t synced_drift_persist_seconds = 6 * 3600;
    // Create a plan this long before the latest copy start that still makes
    // it, even beyond the horizon (long copies, short windows).
    int64_t start_slack_seconds = 3600;
    // A predicted crossing must hold this long (two hourly forecasts in a
    // row) before a plan or an advice: one forecast's interval can be wild.
    int64_t confirm_seconds = 3600;
    int64_t switch_lead_seconds = 3600; // split mode: switch at the latest this early
    // A crossing seen only by an upper bound more than this many times the
    // point forecast at that hour needs the point forecast to cross within
    // the horizon (or the measured value to) before a plan is made: such an
    // interval says the history cannot tell. A backstop: the forecaster
    // measures a load's interval over its current regime, but not yet in
    // the first day and a half after a change (a partition whose inherited
    // history holds its source's ramp), nor after a change under 4x a day.
    // Settled intervals stay far below it (docs/prediction.md).
    double max_upper_ratio = 3.0;
    size_t max_predicted_plans = 4; // active predicted plans, server-wide
    double max_shadow_bytes = 0;    // bytes of their sources, server-wide; 0: no cap
    CopyOptions copy;
};

enum class Action {
    none,
    advise,           // an event only
    refuse,           // a crossing is predicted but no split helps (or a cap): event only
    create_plan,      // create a plan (origin 'predicted') at split.key
    copy,             // let the plan's copy run now
    hold_copy,        // keep the copy paused (outside a window, or not yet time)
    cancel_plan,      // cancel the predicted plan (before cutover)
    start_switchover, // split mode: start the ramp
};
const char* to_string(Action action);

// One event: what was decided and the numbers it was decided on.
struct PredictionEvent {
    int64_t at = 0;
    Action action = Action::none;
    SplitMetric metric = SplitMetric::load;
    double current = 0;
    double threshold = 0;
    int64_t predicted_crossing = 0; // 0: none within the forecast
    double upper_at_crossing = 0;
    SplitKind split_kind = SplitKind::none;
    double split_key = 0;
    double drift = 0;
    CopyVerdict copy_verdict = CopyVerdict::no_rate;
    int64_t copy_start = 0;
    int64_t copy_finish = 0;
    std::string reason;
};

struct PartitionTrack {
    bool has_plan;     // a predicted plan of ours is active
    bool copy_started; // its copy has run at least once
    bool copy_running; // the last round said copy
    bool copy_outside; // ... outside the windows (CopySchedule::outside_from)
    SplitKind plan_kind;
    double plan_key;
    int64_t plan_created_at;
    int64_t last_crossing_seen_at; // last round predicting a crossing within 2 x horizon
    int64_t cooldown_until;        // no new predicted plan before (unless over the threshold)
    int64_t strict_until;          // before this, only on the point forecast's crossing
    int64_t last_crossing_at;      // the plan's last predicted crossing (its copy deadline)
    int64_t plan_lead_seconds;     // how far ahead its crossing was when the plan was made
    int64_t drift_since;           // first round of the current drift beyond tolerance, 0: none
    int32_t drift_kept_said;       // a synced plan kept despite drift: which reason was said
    int64_t crossing_since;        // first round of the current predicted crossing, 0: none
    int64_t advised_crossing_hour; // advise/refuse: what was last said, to say it once
    int32_t advised_action;        // Action of the last advise/refuse event, 0: none
    uint32_t plans_created;
    uint32_t plans_cancelled;
    uint32_t replans; // cancellations for drift (a re-plan follows)
};
static_assert(std::is_trivial_v<PartitionTrack> && std::is_standard_layout_v<PartitionTrack>,
              "zero bytes must be an empty PartitionTrack");

struct RoundInput {
    int64_t now = 0;
    PredictMode mode = PredictMode::advise;
    Assessment assessment;               // assess_partition()
    std::optional<PlanState> plan_state; // our predicted plan's state; nullopt: none
    double plan_key = 0;                 // its split point (from the catalog)
    double source_bytes = 0;             // the partition's size now
    double bytes_remaining = 0;          // of the plan's copy
    double copy_bytes_per_second = 0;    // measured (or assumed) copy rate
    double drift = 0;                    // |share left of the planned key - target| now
    const std::vector<TimeWindow>* windows = nullptr; // off-peak, sorted, from now on
    size_t predicted_plans = 0; // active predicted plans server-wide, this one excluded
    double shadow_bytes = 0;    // their sources' bytes, this one excluded

    // Our plan's split kind (presplit.plan.split_kind), adopted with the
    // plan after a restart; none: unknown.
    SplitKind plan_kind = SplitKind::none;

    // The plan copies (or a new one would copy) to another server: the
    // estimate of that copy (estimate_remote_copy, the worker's). A remote
    // target's table sync cannot pause, so its copy is scheduled not
    // resumable (CopyOptions::resumable): to fit in one window. nullopt: a
    // local backfill only.
    std::optional<RemoteCopyEstimate> remote_copy;
    // Our plan's remote copy has begun (its subscription exists): what is
    // left is the local backfill, scheduled as usual.
    bool remote_copy_begun = false;
};

struct Decision {
    Action action = Action::none;
    bool emit = false; // whether `event` is new (an event is not repeated every round)
    PredictionEvent event;
    CopySchedule schedule;
};

// When a crossing is seen only through an interval too wide to act on
// (upper bound above max_upper_ratio x the point forecast at that hour, not
// measured, and the point forecast does not cross within the horizon): that
// ratio (infinity for a zero forecast); nullopt otherwise. decide_round makes
// no plan for it; the forecasts view says so.
std::optional<double> too_wide_an_interval(const Crossing& crossing, int64_t now,
                                           const PolicyOptions& options);

// Decides this round and updates the track. Partitions compete for the caps:
// call it in order of predicted crossing (earliest first), counting the plans
// created so far into predicted_plans / shadow_bytes.
Decision decide_round(PartitionTrack* track, const RoundInput& in, const PolicyOptions& options);

// When a copy this decision holds (hold_copy, or create_plan outside a
// window or before its scheduled start) would be let run, if nothing else
// changed: its scheduled start, or the start of the next window from then,
// or the time it is to run outside the windows from, whichever is first
// (CopySchedule::runs_from).
// The manager runs its next round at the earliest such time rather than at
// the next hourly one, so that a copy starts with its window. 0: nothing
// held, or no window ahead (in mode advise nothing is ever let run).
int64_t copy_release_at(const Decision& decision, const PartitionTrack& track, PredictMode mode,
                        const std::vector<TimeWindow>& windows, int64_t now);

// When a copy this decision lets run inside a window (copy, or create_plan
// there) must be looked at again: that window's end, where the next round
// holds it unless it may run on outside the windows. The manager rounds run
// hourly, and a window may end off the hour. 0: not in a window.
int64_t copy_hold_at(const Decision& decision, PredictMode mode,
                     const std::vector<TimeWindow>& windows, int64_t now);

} // namespace presplit::core
