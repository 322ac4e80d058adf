#include "core/prediction_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {

std::string crossing_text(const Assessment& a, int64_t now) {
    char buf[256];
    const Crossing& c = a.crossing;
    if (c.already_over)
        std::snprintf(buf, sizeof buf, "%s %.4g is at or above its threshold %.4g now",
                      to_string(a.metric), a.current, a.threshold);
    else if (c.measured)
        std::snprintf(buf, sizeof buf, "%s %.4g now: at or above %.2f x its threshold %.4g",
                      to_string(a.metric), a.current, c.level / a.threshold, a.threshold);
    else if (c.found && c.level > 0 && c.level < a.threshold)
        std::snprintf(buf, sizeof buf,
                      "%s %.4g now; the forecast's upper bound %.4g reaches %.4g (%.2f x the "
                      "threshold %.4g) in %s",
                      to_string(a.metric), a.current, c.upper, c.level, c.level / a.threshold,
                      a.threshold, hours_text(c.at - now).c_str());
    else if (c.found)
        std::snprintf(buf, sizeof buf,
                      "%s %.4g now; the forecast's upper bound %.4g reaches the threshold %.4g "
                      "in %s",
                      to_string(a.metric), a.current, c.upper, a.threshold,
                      hours_text(c.at - now).c_str());
    else
        std::snprintf(buf, sizeof buf, "%s %.4g now; no crossing of %.4g forecast",
                      to_string(a.metric), a.current, a.threshold);
    return buf;
}

Decision make(Action action, const RoundInput& in) {
    Decision d;
    d.action = action;
    d.emit = action != Action::none;
    PredictionEvent& e = d.event;
    const Assessment& a = in.assessment;
    e.at = in.now;
    e.action = action;
    e.metric = a.metric;
    e.current = a.current;
    e.threshold = a.threshold;
    e.predicted_crossing = a.crossing.found ? a.crossing.at : 0;
    e.upper_at_crossing = a.crossing.upper;
    e.split_kind = a.split.kind;
    e.split_key = a.split.key;
    e.drift = in.drift;
    return d;
}

// An event about our plan names its split, not this round's.
void about_plan(Decision* d, const PartitionTrack& t) {
    d->event.split_key = t.plan_key;
    if (t.plan_kind != SplitKind::none)
        d->event.split_kind = t.plan_kind;
}

void attach_schedule(Decision* d, const CopySchedule& s) {
    d->schedule = s;
    d->event.copy_verdict = s.verdict;
    d->event.copy_start = s.start;
    d->event.copy_finish = s.finish;
}

// The schedule of a copy of `bytes`: a remote copy (in.remote_copy, unless
// `remote` is false: it has begun) cannot pause, and is scheduled to fit in
// one window with the worker's estimate.
CopySchedule schedule_copy(double bytes, bool remote, const RoundInput& in, int64_t crossing,
                           const std::vector<TimeWindow>& windows, const CopyOptions& options) {
    if (remote && in.remote_copy) {
        CopyOptions unpausable = options;
        unpausable.resumable = false;
        return plan_copy(*in.remote_copy, in.now, crossing, windows, unpausable);
    }
    return plan_copy(bytes, in.copy_bytes_per_second, in.now, crossing, windows, options);
}

// Said once: the same advice or refusal is not repeated every round, only
// when the action changes or the predicted crossing moved by 3 hours or more.
bool already_said(const PartitionTrack& t, Action action, int64_t crossing_hour) {
    return t.advised_action == static_cast<int32_t>(action) &&
           std::llabs(t.advised_crossing_hour - crossing_hour) < 3;
}

void remember_said(PartitionTrack* t, Action action, int64_t crossing_hour) {
    t->advised_action = static_cast<int32_t>(action);
    t->advised_crossing_hour = crossing_hour;
}

} // namespace

const char* to_string(PredictMode mode) {
    switch (mode) {
    case PredictMode::off:
        return "off";
    case PredictMode::advise:
        return "advise";
    case PredictMode::prepare:
        return "prepare";
    case PredictMode::split:
        return "split";
    }
    return "off";
}

std::optional<PredictMode> parse_predict_mode(std::string_view name) {
    for (PredictMode m :
         {PredictMode::off, PredictMode::advise, PredictMode::prepare, PredictMode::split})
        if (name == to_string(m))
            return m;
    return std::nullopt;
}

const char* to_string(Action action) {
    switch (action) {
    case Action::none:
        return "none";
    case Action::advise:
        return "advise";
    case Action::refuse:
        return "refuse";
    case Action::create_plan:
        return "create_plan";
    case Action::copy:
        return "copy";
    case Action::hold_copy:
        return "hold_copy";
    case Action::cancel_plan:
        return "cancel_plan";
    case Action::start_switchover:
        return "start_switchover";
    }
    return "none";
}

std::optional<double> too_wide_an_interval(const Crossing& c, int64_t now, const PolicyOptions& o) {
    if (!c.found || c.measured || !(c.upper > o.max_upper_ratio * c.predicted) ||
        (c.point_found && c.point_at - now <= o.horizon_seconds))
        return std::nullopt;
    return c.predicted > 0 ? c.upper / c.predicted : HUGE_VAL;
}

Decision decide_round(PartitionTrack* t, const RoundInput& in, const PolicyOptions& o) {
    if (in.mode == PredictMode::off)
        return Decision{};
    const int64_t now = in.now;
    const Assessment& a = in.assessment;
    const Crossing& c = a.crossing;
    const int64_t lead = c.found ? c.at - now : 0;
    const bool within_horizon = c.found && lead <= o.horizon_seconds;
    const bool within_twice = c.found && lead <= 2 * o.horizon_seconds;
    const int64_t crossing_hour = c.found ? c.at / 3600 : -1;
    static const std::vector<TimeWindow> kNoWindows;
    const std::vector<TimeWindow>& windows = in.windows ? *in.windows : kNoWindows;

    // A fresh track (a restart) counts the day without a crossing from now.
    // A plan made for a crossing further out than twice the horizon (a big
    // copy that must start early) sees it while it is no further out than
    // when the plan was made.
    const bool planned_crossing_held =
        t->has_plan && c.found && lead <= std::max(2 * o.horizon_seconds, t->plan_lead_seconds);
    if (within_twice || planned_crossing_held || t->last_crossing_seen_at == 0)
        t->last_crossing_seen_at = now;

    // Follow the catalog: a plan that ended (finalized, cancelled by the DBA,
    // failed) is no longer ours; an active one found after a restart is.
    bool plan_active = in.plan_state.has_value() && is_active(*in.plan_state);
    if (t->has_plan && !plan_active) {
        t->has_plan = t->copy_started = t->copy_running = t->copy_outside = false;
    } else if (!t->has_plan && plan_active) {
        t->has_plan = true;
        t->drift_kept_said = 0;
        t->plan_key = in.plan_key;
        t->plan_kind = in.plan_kind;
        t->plan_created_at = now;
        t->plan_lead_seconds = lead;
    }

    if (t->has_plan) {
        PlanState state = *in.plan_state;
        if (state == PlanState::switching || state == PlanState::cut_over)
            return Decision{}; // the switchover owns it now
        Decision d = make(Action::none, in);
        about_plan(&d, *t);

        // Being wrong, 1: the planned key no longer divides the load (or rows)
        // as it should, for an hour (not one noisy sample). Cancel; the next
        // round re-plans at the new key. A synced plan (its copy done) only
        // beyond the wider tolerance held longer, and only when a new copy
        // could still be synced before the crossing: else it is kept, as a
        // split off its target still relieves the partition and none would
        // be ready.
        const bool synced = state == PlanState::synced;
        const double tolerance = synced ? o.synced_drift_tolerance : o.drift_tolerance;
        const int64_t persist = synced ? o.synced_drift_persist_seconds : o.drift_persist_seconds;
        if (in.drift > tolerance) {
            if (t->drift_since == 0)
                t->drift_since = now;
        } else {
            t->drift_since = 0;
        }
        bool drifted = t->drift_since != 0 && now - t->drift_since >= persist;
        // Said once per plan and reason (a drift hovering at the tolerance
        // would repeat it every round).
        if (synced && in.drift > o.drift_tolerance) {
            char buf[256];
            std::string why;
            int said = 1;
            if (!drifted) {
                std::snprintf(buf, sizeof buf,
                              "split point off its target share by %.0f%% (tolerance %.0f%%), "
                              "kept: the plan is synced; a synced plan is re-planned only beyond "
                              "%.0f%% for %s, with time to copy again before the crossing",
                              100 * in.drift, 100 * o.drift_tolerance,
                              100 * o.synced_drift_tolerance,
                              hours_text(o.synced_drift_persist_seconds).c_str());
                why = buf;
            } else {
                const int64_t deadline = c.found                     ? c.at
                                         : t->last_crossing_at > now ? t->last_crossing_at
                                                                     : now;
                const CopySchedule again =
                    schedule_copy(in.source_bytes, true, in, deadline, windows, o.copy);
                // In the windows: a plan already synced is not copied
                // again outside them for a better split point.
                if (!again.in_windows()) {
                    drifted = false;
                    said = 2;
                    std::snprintf(buf, sizeof buf,
                                  "split point off its target share by %.0f%% (tolerance %.0f%% "
                                  "for a synced plan) for %s, kept: a new copy would not be "
                                  "synced before the crossing (",
                                  100 * in.drift, 100 * o.synced_drift_tolerance,
                                  hours_text(now - t->drift_since).c_str());
                    why = buf + again.reason + ")";
                }
            }
            if (!drifted && said > t->drift_kept_said) {
                d.emit = true;
                d.event.reason = why;
                t->drift_kept_said = said;
            }
        }
        if (drifted) {
            d = make(Action::cancel_plan, in);
            about_plan(&d, *t);
            char buf[200];
            std::snprintf(buf, sizeof buf,
                          "split point drifted: the planned key %.6g is off its target share by "
                          "%.0f%% (tolerance %.0f%%%s) for %.0f min; re-planning",
                          t->plan_key, 100 * in.drift, 100 * tolerance,
                          synced ? " for a synced plan" : "",
                          static_cast<double>(now - t->drift_since) / 60);
            d.event.reason = buf;
            t->has_plan = t->copy_started = t->copy_running = t->copy_outside = false;
            t->drift_since = 0;
            t->drift_kept_said = 0;
            t->plans_cancelled++;
            t->replans++;
            // The crossing held all along the plan's life: the re-plan comes
            // in the next round, not after a new confirmation (an hour of
            // window time lost, often the copy's last).
            t->crossing_since = now - o.confirm_seconds;
            return d;
        }
        // Being wrong, 2: no crossing within twice the horizon for a day.
        if (!c.already_over && now - t->last_crossing_seen_at >= o.cancel_after_seconds) {
            d = make(Action::cancel_plan, in);
            about_plan(&d, *t);
            d.event.reason = "no crossing predicted within " + hours_text(2 * o.horizon_seconds) +
                             " for " + hours_text(now - t->last_crossing_seen_at) + " (" +
                             crossing_text(a, now) + "); no new predicted plan for " +
                             hours_text(o.cooldown_seconds) + ", then for " +
                             hours_text(o.strict_seconds) + " only on the point forecast";
            t->has_plan = t->copy_started = t->copy_running = t->copy_outside = false;
            t->drift_since = 0;
            t->plans_cancelled++;
            t->cooldown_until = now + o.cooldown_seconds;
            t->strict_until = now + o.strict_seconds;
            return d;
        }

        if (state == PlanState::synced) {
            if (in.mode != PredictMode::split)
                return d; // prepare: stays synced until split_partition(source)
            std::string why;
            if (c.already_over) {
                why = "the partition reached its threshold: " + crossing_text(a, now);
            } else if (c.found && lead <= o.switch_lead_seconds) {
                why = "switching just before the predicted crossing: " + crossing_text(a, now);
            } else if (within_horizon) {
                size_t w = window_at(windows, now);
                if (w != kNoWindow) {
                    // The last window that starts before the crossing (less
                    // the lead) is this one: switch now, off-peak.
                    bool later = w + 1 < windows.size() &&
                                 windows[w + 1].starts < c.at - o.switch_lead_seconds;
                    if (!later)
                        why = "switching in the last off-peak window before the predicted "
                              "crossing: " +
                              crossing_text(a, now);
                }
            }
            if (why.empty())
                return d;
            d = make(Action::start_switchover, in);
            about_plan(&d, *t);
            d.event.reason = why;
            return d;
        }

        // planned, preparing, backfilling: copy inside windows from the
        // scheduled start (or at once when the windows cannot make it), and
        // outside them from the time the schedule says they fall short.
        // Without a crossing in this round's forecast, the last one predicted
        // stays the deadline (the plan lives on until the cancellation rule).
        if (c.found)
            t->last_crossing_at = c.at;
        int64_t crossing = c.found                     ? c.at
                           : t->last_crossing_at > now ? t->last_crossing_at
                                                       : now + 2 * o.horizon_seconds;
        CopySchedule s =
            schedule_copy(in.bytes_remaining, !in.remote_copy_begun, in, crossing, windows, o.copy);
        size_t w = window_at(windows, now);
        // Inside a window once due (a copy that cannot pause only from its
        // start: released before, it would wait in the worker for the next
        // window); outside the windows only from the time the schedule says
        // the windows fall short. Nothing left to copy (done) still leaves
        // the verification, which the same hold keeps waiting.
        bool copy = in.mode != PredictMode::advise &&
                    s.runs_at(now, windows, t->copy_started, t->copy_outside);
        const bool outside = copy && w == kNoWindow;
        d = make(copy ? Action::copy : Action::hold_copy, in);
        about_plan(&d, *t);
        attach_schedule(&d, s);
        d.emit = copy != t->copy_running || outside != t->copy_outside;
        if (outside)
            d.event.reason = "copying outside the off-peak windows: " + s.reason;
        else if (copy)
            d.event.reason = "copying inside the off-peak window until " +
                             hours_text(windows[w].ends - now) + " from now; " + s.reason;
        else if (w == kNoWindow)
            d.event.reason = "outside the off-peak windows: the copy waits (capture keeps the "
                             "shadows current); " +
                             s.reason;
        else
            d.event.reason =
                "the copy is scheduled to start in " + hours_text(s.start - now) + "; " + s.reason;
        if (copy)
            t->copy_started = true;
        t->copy_running = copy;
        t->copy_outside = outside;
        return d;
    }

    // No plan. Act when the crossing is within the horizon, or when the copy
    // must start soon to make it (a long copy, short windows).
    CopySchedule schedule;
    bool start_near = false;
    if (c.found && !c.already_over) {
        schedule = schedule_copy(in.source_bytes, true, in, c.at, windows, o.copy);
        start_near =
            schedule.verdict == CopyVerdict::late || schedule.verdict == CopyVerdict::no_window ||
            (schedule.verdict == CopyVerdict::outside_windows &&
             schedule.start - now <= o.start_slack_seconds) ||
            (schedule.verdict == CopyVerdict::too_long && schedule.latest_start == 0) ||
            ((schedule.verdict == CopyVerdict::fits || schedule.verdict == CopyVerdict::too_long) &&
             schedule.latest_start - now <= o.start_slack_seconds);
    }
    bool due = c.found && (within_horizon || c.already_over || start_near);
    // Confirmation: a predicted crossing must hold for confirm_seconds (two
    // hourly forecasts in a row) before anything is said or done; a measured
    // one acts at once.
    if (!due)
        t->crossing_since = 0;
    else if (t->crossing_since == 0)
        t->crossing_since = now;
    if (due && !c.already_over && now - t->crossing_since < o.confirm_seconds)
        return Decision{};
    if (!due) {
        if (t->advised_action != 0) {
            // Say once that the crossing is no longer predicted.
            Decision d = make(in.mode == PredictMode::advise ? Action::advise : Action::none, in);
            d.emit = true;
            d.event.reason = "no crossing within the horizon any more: " + crossing_text(a, now);
            remember_said(t, Action::none, -1);
            return d;
        }
        return Decision{};
    }
    if (!a.split.ok()) {
        Decision d = make(Action::refuse, in);
        d.event.reason = crossing_text(a, now) + "; but no split: " + a.split.reason;
        d.emit = !already_said(*t, Action::refuse, crossing_hour);
        remember_said(t, Action::refuse, crossing_hour);
        return d;
    }
    if (in.mode == PredictMode::advise) {
        Decision d = make(Action::advise, in);
        d.event.reason = crossing_text(a, now) + "; split at " + a.split.reason;
        d.emit = !already_said(*t, Action::advise, crossing_hour);
        remember_said(t, Action::advise, crossing_hour);
        return d;
    }
    std::string cap;
    char buf[200];
    if (now < t->cooldown_until && !c.already_over) {
        cap = "a predicted plan for this partition was cancelled: no new one for " +
              hours_text(t->cooldown_until - now);
    } else if (now < t->strict_until && !c.already_over &&
               !(c.point_found && c.point_at - now <= o.horizon_seconds)) {
        cap = "a predicted plan for this partition was cancelled: for " +
              hours_text(t->strict_until - now) +
              " more a new one needs the point forecast to cross within the horizon";
    } else if (const std::optional<double> ratio = too_wide_an_interval(c, now, o)) {
        std::snprintf(buf, sizeof buf,
                      "the forecast is too uncertain: at the crossing its upper bound is %.3g "
                      "times its point forecast %.4g (more than %.3g), and the point forecast "
                      "does not cross within the horizon",
                      *ratio, c.predicted, o.max_upper_ratio);
        cap = buf;
    } else if (in.predicted_plans >= o.max_predicted_plans) {
        std::snprintf(buf, sizeof buf, "%zu predicted plans are active (the cap)",
                      in.predicted_plans);
        cap = buf;
    } else if (o.max_shadow_bytes > 0 && in.shadow_bytes + in.source_bytes > o.max_shadow_bytes) {
        std::snprintf(buf, sizeof buf,
                      "the shadows of the predicted plans would hold %.0f bytes, above the cap "
                      "of %.0f",
                      in.shadow_bytes + in.source_bytes, o.max_shadow_bytes);
        cap = buf;
    }
    if (!cap.empty()) {
        Decision d = make(Action::refuse, in);
        d.event.reason = crossing_text(a, now) + "; no plan: " + cap;
        d.emit = !already_said(*t, Action::refuse, crossing_hour);
        remember_said(t, Action::refuse, crossing_hour);
        return d;
    }
    Decision d = make(Action::create_plan, in);
    if (c.already_over)
        schedule = schedule_copy(in.source_bytes, true, in, now, windows, o.copy);
    attach_schedule(&d, schedule);
    d.event.reason =
        crossing_text(a, now) + "; split at " + a.split.reason + "; " + schedule.reason;
    t->has_plan = true;
    t->copy_started = t->copy_running = t->copy_outside = false;
    t->plan_kind = a.split.kind;
    t->plan_key = a.split.key;
    t->plan_created_at = now;
    t->plan_lead_seconds = lead;
    t->last_crossing_seen_at = now;
    t->last_crossing_at = c.at;
    t->drift_since = 0;
    t->drift_kept_said = 0;
    t->crossing_since = 0;
    t->plans_created++;
    remember_said(t, Action::create_plan, crossing_hour);
    return d;
}

int64_t copy_release_at(const Decision& decision, const PartitionTrack& track, PredictMode mode,
                        const std::vector<TimeWindow>& windows, int64_t now) {
    if (mode != PredictMode::prepare && mode != PredictMode::split)
        return 0;
    if (decision.action != Action::hold_copy && decision.action != Action::create_plan)
        return 0;
    // decide_round lets the copy run when its schedule says it runs.
    const int64_t at = decision.schedule.runs_from(now, windows, track.copy_started);
    return at > now ? at : 0;
}

int64_t copy_hold_at(const Decision& decision, PredictMode mode,
                     const std::vector<TimeWindow>& windows, int64_t now) {
    if (mode != PredictMode::prepare && mode != PredictMode::split)
        return 0;
    if (decision.action != Action::copy && decision.action != Action::create_plan)
        return 0;
    for (const TimeWindow& w : windows)
        if (w.starts <= now && now < w.ends)
            return w.ends;
    return 0;
}

} // namespace presplit::core
