#include "core/prediction_policy.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr int64_t kMidnight = 20000 * kDaySeconds;

std::vector<TimeWindow> nights() {
    auto p = parse_maintenance_window("01:00-05:00");
    return expand_daily_windows(p.windows, kMidnight, kMidnight + 10 * kDaySeconds, 0);
}

// A load partition whose crossing is `lead` seconds after now (none if < 0).
Assessment crossing_in(int64_t now, int64_t lead, double key = 500) {
    Assessment a;
    a.metric = SplitMetric::load;
    a.current = 80;
    a.threshold = 100;
    if (lead >= 0) {
        a.crossing.found = true;
        a.crossing.at = now + lead;
        a.crossing.predicted = 90; // an interval of a settled forecast: upper / point ~1.1
        a.crossing.upper = 101;
        a.crossing.level = 100;
    }
    a.split = SplitChoice{SplitKind::load_balance, key, 0.5, 0.5, "key sampler", {}};
    return a;
}

PolicyOptions unconfirmed() {
    PolicyOptions o;
    o.confirm_seconds = 0; // most tests look at one round; Policy.ConfirmsACrossing at two
    return o;
}

struct World {
    PartitionTrack track{};
    PolicyOptions options = unconfirmed();
    std::vector<TimeWindow> windows = nights();
    std::optional<PlanState> plan;
    double remaining = 3600 * 100.0;          // one hour of copy at 100 bytes/s
    double source = 3600 * 100.0;             // the partition's bytes
    std::optional<RemoteCopyEstimate> remote; // a copy to another server
    bool remote_begun = false;

    Decision round(int64_t now, const Assessment& a, PredictMode mode = PredictMode::prepare,
                   double drift = 0) {
        RoundInput in;
        in.now = now;
        in.mode = mode;
        in.assessment = a;
        in.plan_state = plan;
        in.plan_key = track.plan_key;
        in.source_bytes = source;
        in.bytes_remaining = remaining;
        in.copy_bytes_per_second = 100;
        in.drift = drift;
        in.windows = &windows;
        in.remote_copy = remote;
        in.remote_copy_begun = remote_begun;
        Decision d = decide_round(&track, in, options);
        if (d.action == Action::create_plan)
            plan = PlanState::planned;
        if (d.action == Action::cancel_plan)
            plan = PlanState::cancelled;
        if (d.action == Action::start_switchover)
            plan = PlanState::switching;
        return d;
    }
};

} // namespace

TEST(PredictMode, Names) {
    for (auto m : {PredictMode::off, PredictMode::advise, PredictMode::prepare, PredictMode::split})
        EXPECT_EQ(parse_predict_mode(to_string(m)), m);
    EXPECT_FALSE(parse_predict_mode("on").has_value());
    EXPECT_FALSE(parse_predict_mode("").has_value());
}

TEST(Policy, OffDoesNothing) {
    World w;
    Decision d = w.round(kMidnight, crossing_in(kMidnight, 5 * H), PredictMode::off);
    EXPECT_EQ(d.action, Action::none);
    EXPECT_FALSE(d.emit);
    EXPECT_FALSE(w.track.has_plan);
}

TEST(Policy, AdviseSaysItOnceAndWhenItChanges) {
    World w;
    int64_t now = kMidnight + 12 * H;
    Decision d = w.round(now, crossing_in(now, 10 * H), PredictMode::advise);
    EXPECT_EQ(d.action, Action::advise);
    EXPECT_TRUE(d.emit);
    EXPECT_EQ(d.event.predicted_crossing, now + 10 * H);
    EXPECT_NE(d.event.reason.find("reaches the threshold"), std::string::npos) << d.event.reason;
    EXPECT_FALSE(w.track.has_plan);
    d = w.round(now + H, crossing_in(now + H, 9 * H), PredictMode::advise); // same crossing
    EXPECT_FALSE(d.emit);
    d = w.round(now + 2 * H, crossing_in(now + 2 * H, 20 * H), PredictMode::advise); // moved
    EXPECT_TRUE(d.emit);
    d = w.round(now + 3 * H, crossing_in(now + 3 * H, -1), PredictMode::advise); // gone
    EXPECT_TRUE(d.emit);
    EXPECT_NE(d.event.reason.find("no crossing"), std::string::npos) << d.event.reason;
    d = w.round(now + 4 * H, crossing_in(now + 4 * H, -1), PredictMode::advise);
    EXPECT_FALSE(d.emit);
}

TEST(Policy, ConfirmsAPredictedCrossingOverTwoForecasts) {
    World w;
    w.options.confirm_seconds = 3600;
    int64_t t = kMidnight + 12 * H;
    // One forecast's crossing, gone at the next: nothing done, nothing said.
    EXPECT_EQ(w.round(t, crossing_in(t, 10 * H)).action, Action::none);
    EXPECT_EQ(w.round(t + 600, crossing_in(t + 600, 10 * H)).action, Action::none);
    EXPECT_EQ(w.round(t + H, crossing_in(t + H, -1)).action, Action::none);
    EXPECT_FALSE(w.track.has_plan);
    // Held for an hour: a plan.
    t += 2 * H;
    EXPECT_EQ(w.round(t, crossing_in(t, 10 * H)).action, Action::none);
    EXPECT_EQ(w.round(t + H - 600, crossing_in(t + H - 600, 10 * H)).action, Action::none);
    EXPECT_EQ(w.round(t + H, crossing_in(t + H, 9 * H)).action, Action::create_plan);
    // A measured crossing acts at once.
    World v;
    v.options.confirm_seconds = 3600;
    Assessment over = crossing_in(t, 0);
    over.crossing.already_over = true;
    EXPECT_EQ(v.round(t, over).action, Action::create_plan);
}

TEST(Policy, NothingBeyondTheHorizon) {
    World w;
    Decision d = w.round(kMidnight, crossing_in(kMidnight, 30 * H));
    EXPECT_EQ(d.action, Action::none);
    EXPECT_FALSE(w.track.has_plan);
}

TEST(Policy, RefusesWhenNoSplitHelpsAndSaysWhy) {
    World w;
    Assessment a = crossing_in(kMidnight, 5 * H);
    a.split = SplitChoice{};
    a.split.reason = "one key (42) carries 70% of the sampled accesses: no split balances it";
    Decision d = w.round(kMidnight, a);
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_TRUE(d.emit);
    EXPECT_NE(d.event.reason.find("one key (42)"), std::string::npos);
    EXPECT_FALSE(w.track.has_plan);
    EXPECT_FALSE(w.round(kMidnight + H, a).emit); // said once
}

// Creates at noon for a crossing at 10:00 tomorrow, copies 1 h of data (1.5 h
// planned); returns the rounds that copied, all inside windows, from `start`.
void prepare_until_synced(bool start_early, int64_t start) {
    World w;
    w.options.copy.start_early = start_early;
    int64_t now = kMidnight + 12 * H;
    Decision d = w.round(now, crossing_in(now, 22 * H));
    ASSERT_EQ(d.action, Action::create_plan) << d.event.reason;
    EXPECT_TRUE(w.track.has_plan);
    EXPECT_EQ(d.schedule.verdict, CopyVerdict::fits);
    EXPECT_EQ(d.event.copy_start, start);
    // Deadline 09:00 tomorrow, 1.5 h of window time: the latest start is 03:30.
    EXPECT_EQ(d.schedule.latest_start, kMidnight + kDaySeconds + 3 * H + 30 * 60);
    int64_t crossing = now + 22 * H;
    int copy_rounds = 0, emitted = 0;
    for (int64_t t = now + 600; t < crossing; t += 600) {
        d = w.round(t, crossing_in(t, crossing - t));
        if (d.emit)
            emitted++;
        if (d.action == Action::copy) {
            copy_rounds++;
            EXPECT_NE(window_at(w.windows, t), kNoWindow) << "copy outside a window";
            EXPECT_GE(t, start);
            w.remaining -= 600 * 100.0;
            if (w.remaining <= 0)
                w.plan = PlanState::synced;
        } else if (w.plan != PlanState::synced) {
            EXPECT_EQ(d.action, Action::hold_copy);
        } else {
            EXPECT_EQ(d.action, Action::none); // prepare: stays synced
        }
    }
    EXPECT_EQ(copy_rounds, 6);
    EXPECT_EQ(w.plan, PlanState::synced);
    EXPECT_LE(emitted, 3); // copy on, copy off: not one event per round
}

TEST(Policy, PrepareCreatesCopiesInWindowsOnlyAndStaysSynced) {
    prepare_until_synced(true, kMidnight + kDaySeconds + H);                // the night's start
    prepare_until_synced(false, kMidnight + kDaySeconds + 3 * H + 30 * 60); // the latest start
}

TEST(Policy, LongCopyIsPlannedBeyondTheHorizon) {
    World w;
    w.remaining = 10 * 3600 * 100.0; // 10 h of copy, 15 h planned: four nights of 4 h
    int64_t now = kMidnight + 12 * H;
    int64_t crossing = kMidnight + 4 * kDaySeconds + 12 * H; // 96 h ahead
    RoundInput in;
    in.mode = PredictMode::prepare;
    in.source_bytes = w.remaining;
    in.copy_bytes_per_second = 100;
    in.windows = &w.windows;
    // 84 h ahead of the crossing, the latest start (01:00 tomorrow) is 13 h away.
    in.now = now;
    in.assessment = crossing_in(now, crossing - now);
    Decision d = decide_round(&w.track, in, w.options);
    EXPECT_EQ(d.action, Action::none);
    // 15 h of window time before 11:00 on day 4: the nights of days 2-4 give
    // 12 h, so the copy must start by 02:00 on day 1. At 01:10 that is within
    // the hour: plan.
    in.now = kMidnight + kDaySeconds + 70 * 60;
    in.assessment = crossing_in(in.now, crossing - in.now);
    d = decide_round(&w.track, in, w.options);
    EXPECT_EQ(d.action, Action::create_plan) << d.event.reason;
    EXPECT_EQ(d.schedule.verdict, CopyVerdict::fits);
    EXPECT_EQ(d.schedule.latest_start, kMidnight + kDaySeconds + 2 * H);
}

// A plan made for a crossing beyond twice the horizon (its copy had to
// start) is not cancelled for "no crossing within twice the horizon" while
// its crossing is no further out than when it was made; once it recedes
// beyond that, the day without a crossing counts.
TEST(Policy, PlanBeyondTwiceTheHorizonIsKeptWhileItsCrossingHolds) {
    for (bool recedes : {false, true}) {
        World w;
        w.remaining = w.source = 10 * 3600 * 100.0; // 15 h planned: four nights of 4 h
        const int64_t crossing = kMidnight + 4 * kDaySeconds + 12 * H;
        int64_t now = kMidnight + kDaySeconds + 70 * 60; // its copy must start by 02:00
        Decision d = w.round(now, crossing_in(now, crossing - now));
        ASSERT_EQ(d.action, Action::create_plan) << d.event.reason;
        const int64_t lead = crossing - now; // 83 h, beyond 2 x 24 h
        w.plan = PlanState::backfilling;
        bool cancelled = false;
        for (int hour = 1; hour <= 30 && !cancelled; hour++) {
            now += H;
            const int64_t at = recedes ? now + lead + 2 * H : crossing;
            d = w.round(now, crossing_in(now, at - now));
            cancelled = d.action == Action::cancel_plan;
        }
        EXPECT_EQ(cancelled, recedes) << d.event.reason;
    }
}

TEST(Policy, SplitModeSwitchesInTheLastWindowBeforeTheCrossing) {
    World w;
    w.plan = PlanState::synced;
    w.track.has_plan = true;
    int64_t crossing = kMidnight + kDaySeconds + 14 * H;
    // Tonight 02:00 is in the last window before the crossing.
    int64_t t = kMidnight + 20 * H;
    EXPECT_EQ(w.round(t, crossing_in(t, crossing - t), PredictMode::split).action, Action::none);
    t = kMidnight + kDaySeconds + 2 * H;
    Decision d = w.round(t, crossing_in(t, crossing - t), PredictMode::split);
    EXPECT_EQ(d.action, Action::start_switchover);
    EXPECT_NE(d.event.reason.find("last off-peak window"), std::string::npos) << d.event.reason;

    // A window tonight, but another before the crossing: wait for that one.
    World v;
    v.plan = PlanState::synced;
    v.track.has_plan = true;
    v.options.horizon_seconds = 48 * H;
    crossing = kMidnight + 2 * kDaySeconds + 14 * H;
    t = kMidnight + 2 * H;
    EXPECT_EQ(v.round(t, crossing_in(t, crossing - t), PredictMode::split).action, Action::none);

    // Reaching the threshold switches at once; so does the lead before the crossing.
    World u;
    u.plan = PlanState::synced;
    u.track.has_plan = true;
    Assessment over = crossing_in(kMidnight + 15 * H, 0);
    over.crossing.already_over = true;
    EXPECT_EQ(u.round(kMidnight + 15 * H, over, PredictMode::split).action,
              Action::start_switchover);
    World s;
    s.plan = PlanState::synced;
    s.track.has_plan = true;
    t = kMidnight + 15 * H;
    EXPECT_EQ(s.round(t, crossing_in(t, 50 * 60), PredictMode::split).action,
              Action::start_switchover);
    // prepare never switches.
    World p;
    p.plan = PlanState::synced;
    p.track.has_plan = true;
    EXPECT_EQ(p.round(kMidnight + 15 * H, over, PredictMode::prepare).action, Action::none);
}

TEST(Policy, CancelsAfterADayWithoutACrossingThenCoolsDown) {
    World w;
    int64_t t = kMidnight + 12 * H;
    ASSERT_EQ(w.round(t, crossing_in(t, 20 * H)).action, Action::create_plan);
    // Crossings beyond the horizon but within twice it keep the plan.
    for (int k = 1; k <= 30; k++) {
        t += H;
        EXPECT_NE(w.round(t, crossing_in(t, 40 * H)).action, Action::cancel_plan);
    }
    // No crossing at all: cancelled once a whole day has passed, not before.
    int64_t last_seen = t;
    Decision d;
    do {
        t += H;
        d = w.round(t, crossing_in(t, -1));
    } while (d.action != Action::cancel_plan && t < last_seen + 3 * kDaySeconds);
    EXPECT_EQ(d.action, Action::cancel_plan);
    EXPECT_EQ(t - last_seen, kDaySeconds);
    EXPECT_NE(d.event.reason.find("no crossing predicted"), std::string::npos) << d.event.reason;
    EXPECT_FALSE(w.track.has_plan);
    // The crossing comes back at once: no flap, a refusal during the cooldown.
    t += H;
    d = w.round(t, crossing_in(t, 10 * H));
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_NE(d.event.reason.find("cancelled"), std::string::npos) << d.event.reason;
    // After the cooldown, for a week, the upper bound alone is not enough...
    t += kDaySeconds;
    d = w.round(t, crossing_in(t, 10 * H));
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_NE(d.event.reason.find("point forecast"), std::string::npos) << d.event.reason;
    // ... the point forecast crossing within the horizon is.
    Assessment point = crossing_in(t, 10 * H);
    point.crossing.point_found = true;
    point.crossing.point_at = t + 12 * H;
    EXPECT_EQ(w.round(t, point).action, Action::create_plan);
    EXPECT_EQ(w.track.plans_created, 2u);
    EXPECT_EQ(w.track.plans_cancelled, 1u);
    // Over the threshold, the cooldown does not hold a plan back.
    World v;
    v.track.cooldown_until = t + kDaySeconds;
    Assessment over = crossing_in(t, 0);
    over.crossing.already_over = true;
    EXPECT_EQ(v.round(t, over).action, Action::create_plan);
}

TEST(Policy, DriftCancelsAndReplansAtOnce) {
    World w;
    int64_t t = kMidnight + 12 * H;
    ASSERT_EQ(w.round(t, crossing_in(t, 20 * H, 500)).action, Action::create_plan);
    EXPECT_EQ(w.track.plan_key, 500);
    t += H;
    EXPECT_NE(w.round(t, crossing_in(t, 19 * H, 520), PredictMode::prepare, 0.10).action,
              Action::cancel_plan); // within tolerance
    // Beyond it for less than an hour, then back: one noisy sample is no drift.
    t += 600;
    EXPECT_NE(w.round(t, crossing_in(t, 18 * H, 700), PredictMode::prepare, 0.3).action,
              Action::cancel_plan);
    t += 600;
    EXPECT_NE(w.round(t, crossing_in(t, 18 * H, 700), PredictMode::prepare, 0.05).action,
              Action::cancel_plan);
    // Beyond it for an hour: cancelled.
    Decision d;
    int64_t first = t + 600;
    for (t = first; t <= first + H; t += 600) {
        d = w.round(t, crossing_in(t, 17 * H, 700), PredictMode::prepare, 0.3);
        if (t < first + H) {
            EXPECT_NE(d.action, Action::cancel_plan);
        }
    }
    EXPECT_EQ(d.action, Action::cancel_plan);
    EXPECT_NE(d.event.reason.find("drifted"), std::string::npos) << d.event.reason;
    EXPECT_EQ(d.event.split_key, 500);
    d = w.round(t, crossing_in(t, 16 * H, 700));
    EXPECT_EQ(d.action, Action::create_plan); // no cooldown for a re-plan
    EXPECT_EQ(w.track.plan_key, 700);
    EXPECT_EQ(w.track.replans, 1u);
}

TEST(Policy, DriftReplanNeedsNoNewConfirmation) {
    // With the default confirmation (an hour): the crossing was confirmed
    // before the first plan and held since, so the re-plan after a drift
    // cancel comes in the next round (the simulator's `drifting` lost the
    // last hour of a night's window to a second confirmation).
    World w;
    w.options = PolicyOptions{};
    int64_t t = kMidnight + 12 * H;
    EXPECT_EQ(w.round(t, crossing_in(t, 20 * H, 500)).action, Action::none);
    t += H;
    ASSERT_EQ(w.round(t, crossing_in(t, 19 * H, 500)).action, Action::create_plan);
    Decision d;
    const int64_t first = t + 600;
    for (t = first; t <= first + H; t += 600)
        d = w.round(t, crossing_in(t, 17 * H, 700), PredictMode::prepare, 0.3);
    ASSERT_EQ(d.action, Action::cancel_plan);
    t += 600;
    d = w.round(t, crossing_in(t, 16 * H, 700));
    EXPECT_EQ(d.action, Action::create_plan);
    EXPECT_EQ(w.track.plan_key, 700);
    // A crossing gone after the cancel is confirmed afresh when it returns.
    World v;
    v.options = PolicyOptions{};
    t = kMidnight + 12 * H;
    v.round(t, crossing_in(t, 20 * H, 500));
    ASSERT_EQ(v.round(t + H, crossing_in(t + H, 19 * H, 500)).action, Action::create_plan);
    for (t = first; t <= first + H; t += 600)
        d = v.round(t, crossing_in(t, 17 * H, 700), PredictMode::prepare, 0.3);
    ASSERT_EQ(d.action, Action::cancel_plan);
    t += 600;
    EXPECT_EQ(v.round(t, crossing_in(t, -1)).action, Action::none);
    t += 600;
    EXPECT_EQ(v.round(t, crossing_in(t, 16 * H, 700)).action, Action::none);
    EXPECT_EQ(v.round(t + H, crossing_in(t + H, 15 * H, 700)).action, Action::create_plan);
}

TEST(Policy, SyncedPlanIsCancelledForDriftOnlyWhenItPersistsAndACopyStillFits) {
    // A synced plan (its copy done) off its target by 20 %: beyond the 15 %
    // that cancels a plan still copying, within the 25 % for a synced one.
    World w;
    int64_t t = kMidnight + 12 * H;
    const int64_t crossing = t + 20 * H; // 08:00 tomorrow: tonight's window can copy again
    ASSERT_EQ(w.round(t, crossing_in(t, crossing - t, 500)).action, Action::create_plan);
    w.plan = PlanState::synced;
    w.remaining = 0;
    int emitted = 0;
    Decision d;
    for (t += 600; t < kMidnight + 18 * H; t += 600) {
        d = w.round(t, crossing_in(t, crossing - t, 700), PredictMode::prepare, 0.2);
        ASSERT_NE(d.action, Action::cancel_plan) << d.event.reason;
        if (d.emit) {
            emitted++;
            EXPECT_NE(d.event.reason.find("kept: the plan is synced"), std::string::npos)
                << d.event.reason;
        }
    }
    EXPECT_EQ(emitted, 1); // said once, not every round
    // Beyond 25 %: cancelled once it held for 6 hours, not before (a new copy
    // still fits in tonight's window 01:00-05:00, before 07:00).
    const int64_t first = t;
    do {
        d = w.round(t, crossing_in(t, crossing - t, 700), PredictMode::prepare, 0.3);
        t += 600;
    } while (d.action != Action::cancel_plan && t < crossing);
    ASSERT_EQ(d.action, Action::cancel_plan);
    EXPECT_EQ(t - 600 - first, 6 * H);
    EXPECT_NE(d.event.reason.find("for a synced plan"), std::string::npos) << d.event.reason;
    EXPECT_EQ(w.track.replans, 1u);

    // The same drift with no window left before the crossing: a new copy could
    // not be synced in time, so the synced plan stays, and says why once.
    World v;
    t = kMidnight + 12 * H;
    const int64_t soon = t + 10 * H; // 22:00, no window before it
    ASSERT_EQ(v.round(t, crossing_in(t, soon - t, 500)).action, Action::create_plan);
    v.plan = PlanState::synced;
    v.remaining = 0;
    emitted = 0;
    std::string said;
    for (t += 600; t < soon; t += 600) {
        d = v.round(t, crossing_in(t, soon - t, 700), PredictMode::prepare, 0.4);
        ASSERT_NE(d.action, Action::cancel_plan) << d.event.reason;
        if (d.emit) {
            emitted++;
            said = d.event.reason;
        }
    }
    // Said when first beyond 15 % (kept: synced), then why past 6 hours.
    EXPECT_EQ(emitted, 2);
    EXPECT_NE(said.find("would not be synced before the crossing"), std::string::npos) << said;
    EXPECT_TRUE(v.track.has_plan);
    // Once the partition reaches its threshold, split mode switches with it.
    Assessment over = crossing_in(soon, 0, 700);
    over.crossing.already_over = true;
    EXPECT_EQ(v.round(soon, over, PredictMode::split, 0.4).action, Action::start_switchover);
}

TEST(Policy, CapsOnPlansAndShadowBytes) {
    World w;
    w.options.max_predicted_plans = 2;
    RoundInput in;
    in.now = kMidnight;
    in.mode = PredictMode::prepare;
    in.assessment = crossing_in(kMidnight, 5 * H);
    in.windows = &w.windows;
    in.source_bytes = 1000;
    in.copy_bytes_per_second = 10;
    in.predicted_plans = 2;
    Decision d = decide_round(&w.track, in, w.options);
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_NE(d.event.reason.find("cap"), std::string::npos) << d.event.reason;
    in.predicted_plans = 1;
    w.options.max_shadow_bytes = 1500;
    in.shadow_bytes = 600;
    PartitionTrack fresh{};
    d = decide_round(&fresh, in, w.options);
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_NE(d.event.reason.find("above the cap"), std::string::npos) << d.event.reason;
    in.shadow_bytes = 400;
    EXPECT_EQ(decide_round(&fresh, in, w.options).action, Action::create_plan);
}

// A partition's first days after a split continue its source's history,
// ramp included: the upper bound can be hundreds of times the point forecast
// (seen in the server: 0.03 statements/s forecast, upper bound 9).
TEST(Policy, TooWideAnIntervalNeedsThePointForecastToCross) {
    World w;
    int64_t now = kMidnight + 12 * H;
    Assessment wild = crossing_in(now, 5 * H);
    wild.current = 30;
    wild.crossing.predicted = 31;
    wild.crossing.upper = 9000;
    Decision d = w.round(now, wild);
    EXPECT_EQ(d.action, Action::refuse);
    EXPECT_TRUE(d.emit);
    EXPECT_NE(d.event.reason.find("too uncertain"), std::string::npos) << d.event.reason;
    EXPECT_NE(d.event.reason.find("290 times its point forecast 31"), std::string::npos)
        << d.event.reason;
    EXPECT_FALSE(w.track.has_plan);
    // Within the ratio: a plan.
    wild.crossing.upper = 3 * 31;
    EXPECT_EQ(w.round(now, wild).action, Action::create_plan);

    // The point forecast itself crossing within the horizon is evidence enough.
    World v;
    wild.crossing.upper = 9000;
    wild.crossing.point_found = true;
    wild.crossing.point_at = now + 20 * H;
    EXPECT_EQ(v.round(now, wild).action, Action::create_plan);
    // Beyond the horizon it is not.
    World u;
    wild.crossing.point_at = now + 30 * H;
    EXPECT_EQ(u.round(now, wild).action, Action::refuse);
    // What the forecasts view says comes from the same rule.
    wild.crossing.point_found = false;
    EXPECT_DOUBLE_EQ(too_wide_an_interval(wild.crossing, now, PolicyOptions{}).value(),
                     9000.0 / 31);
    wild.crossing.predicted = 0;
    EXPECT_TRUE(std::isinf(too_wide_an_interval(wild.crossing, now, PolicyOptions{}).value()));
    wild.crossing.found = false;
    EXPECT_FALSE(too_wide_an_interval(wild.crossing, now, PolicyOptions{}).has_value());
    // Nor is the ratio asked of a measured crossing.
    World m;
    Assessment over = crossing_in(now, 0);
    over.current = 96;
    over.crossing.measured = true;
    over.crossing.predicted = over.crossing.upper = 96;
    EXPECT_EQ(m.round(now, over).action, Action::create_plan);
}

TEST(Policy, FollowsTheCatalog) {
    World w;
    int64_t t = kMidnight + 12 * H;
    ASSERT_EQ(w.round(t, crossing_in(t, 20 * H)).action, Action::create_plan);
    w.plan = PlanState::cancelled; // the DBA cancelled it
    w.round(t + H, crossing_in(t + H, -1));
    EXPECT_FALSE(w.track.has_plan);
    // After a restart: an active predicted plan is adopted with its key.
    World r;
    r.plan = PlanState::backfilling;
    r.track.plan_key = 0;
    RoundInput in;
    in.now = t;
    in.mode = PredictMode::prepare;
    in.assessment = crossing_in(t, 20 * H);
    in.plan_state = PlanState::backfilling;
    in.plan_key = 321;
    in.plan_kind = SplitKind::size_quantile; // presplit.plan.split_kind
    in.windows = &r.windows;
    in.bytes_remaining = 10;
    in.copy_bytes_per_second = 1;
    Decision d = decide_round(&r.track, in, r.options);
    EXPECT_TRUE(r.track.has_plan);
    EXPECT_EQ(r.track.plan_key, 321);
    EXPECT_EQ(r.track.plan_kind, SplitKind::size_quantile);
    EXPECT_EQ(d.action, Action::hold_copy); // noon: outside the window
    EXPECT_EQ(d.event.split_kind, SplitKind::size_quantile) << "the plan's kind, not the round's";
    in.plan_state = PlanState::switching;
    EXPECT_EQ(decide_round(&r.track, in, r.options).action, Action::none);
}

// A copy whose rows are all copied still has its verification to run, under
// the same hold: let it run inside a window (held, it never reached synced).
TEST(Policy, CopiedPlanIsReleasedInAWindowForItsVerification) {
    World w;
    const int64_t noon = kMidnight + 12 * H;
    ASSERT_EQ(w.round(noon, crossing_in(noon, 20 * H)).action, Action::create_plan);
    w.plan = PlanState::backfilling;
    w.remaining = 0; // backfill_done: the verification is next
    const int64_t later = noon + H;
    EXPECT_EQ(w.round(later, crossing_in(later, 19 * H)).action, Action::hold_copy)
        << "outside the window";
    const int64_t night = kMidnight + kDaySeconds + 2 * H; // 02:00, inside 01:00-05:00
    Decision d = w.round(night, crossing_in(night, 9 * H));
    EXPECT_EQ(d.action, Action::copy);
    EXPECT_EQ(d.schedule.verdict, CopyVerdict::done);
}

// A held copy is let run at its window's start (or its scheduled start), not
// at the next hourly round: the manager wakes then.
TEST(Policy, HeldCopyIsReleasedAtItsWindowsStart) {
    World w;
    w.windows = expand_daily_windows(parse_maintenance_window("01:30-05:00").windows, kMidnight,
                                     kMidnight + 10 * kDaySeconds, 0);
    w.options.copy.start_early = true;
    const int64_t noon = kMidnight + 12 * H;
    Decision d = w.round(noon, crossing_in(noon, 22 * H));
    ASSERT_EQ(d.action, Action::create_plan);
    const int64_t half_past_one = kMidnight + kDaySeconds + H + 30 * 60;
    EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, noon), half_past_one);
    // advise never lets a copy run: nothing to wake for.
    EXPECT_EQ(copy_release_at(d, w.track, PredictMode::advise, w.windows, noon), 0);
    w.plan = PlanState::backfilling;
    const int64_t one = kMidnight + kDaySeconds + H;
    d = w.round(one, crossing_in(one, 9 * H));
    ASSERT_EQ(d.action, Action::hold_copy);
    EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, one), half_past_one);
    // A round at that time lets it run.
    d = w.round(half_past_one, crossing_in(half_past_one, 8 * H + 30 * 60));
    EXPECT_EQ(d.action, Action::copy);
    EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, half_past_one), 0);

    // At the latest start: the scheduled start inside the window, 03:30
    // (deadline 09:00, 1.5 h of copy), not the window's start.
    World late;
    Decision c = late.round(noon, crossing_in(noon, 22 * H));
    ASSERT_EQ(c.action, Action::create_plan);
    EXPECT_EQ(copy_release_at(c, late.track, PredictMode::split, late.windows, noon),
              kMidnight + kDaySeconds + 3 * H + 30 * 60);
    // No window ahead: nothing to wake for.
    std::vector<TimeWindow> none;
    EXPECT_EQ(copy_release_at(c, late.track, PredictMode::prepare, none, noon), 0);
}

// A remote copy cannot pause: the manager lets it run only where the worker
// will start it (it fits in what is left of one window), not near a
// window's end as it would a local backfill.
TEST(Policy, RemoteCopyIsReleasedOnlyWhereItFitsInOneWindow) {
    for (bool remote : {false, true}) {
        World w;
        w.remaining = 2 * 3600 * 100.0; // 2 h at 100 bytes/s, 3 h with the factor
        if (remote)
            w.remote = RemoteCopyEstimate{2.0 * H, "2 h"};
        w.plan = PlanState::backfilling;
        // 04:00 on day 1, an hour of window left; crossing at 03:00 on day 2.
        const int64_t four = kMidnight + kDaySeconds + 4 * H;
        Decision d = w.round(four, crossing_in(four, 23 * H));
        const int64_t next_night = kMidnight + 2 * kDaySeconds + H;
        if (!remote) {
            // Resumable: the windows cannot make it, so it copies at once
            // (and the last hour outside the windows, 01:00 on day 2).
            EXPECT_EQ(d.action, Action::copy) << d.event.reason;
            EXPECT_EQ(d.schedule.verdict, CopyVerdict::outside_windows);
            EXPECT_EQ(d.schedule.outside_from, kMidnight + 2 * kDaySeconds);
            continue;
        }
        ASSERT_EQ(d.action, Action::hold_copy) << d.event.reason;
        EXPECT_EQ(d.schedule.verdict, CopyVerdict::late);
        EXPECT_FALSE(d.schedule.resumable);
        EXPECT_EQ(d.schedule.outside_from, 0); // its own rule: one window
        EXPECT_EQ(d.schedule.start, next_night);
        EXPECT_NE(d.event.reason.find("the copy is scheduled to start in 21.0 h"),
                  std::string::npos)
            << d.event.reason;
        EXPECT_NE(d.event.reason.find("cannot pause"), std::string::npos) << d.event.reason;
        EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, four), next_night);
        EXPECT_TRUE(decide_remote_copy_start(*w.remote, next_night, w.windows, {}).starts());
        d = w.round(next_night, crossing_in(next_night, 2 * H));
        EXPECT_EQ(d.action, Action::copy) << d.event.reason;
        // Begun: what is left is the local backfill, resumable again (at
        // 04:30 the local copy goes on though the remote estimate would not
        // fit in what is left).
        w.remote_begun = true;
        const int64_t later = next_night + 3 * H + H / 2;
        d = w.round(later, crossing_in(later, 10 * H));
        EXPECT_EQ(d.action, Action::copy) << d.event.reason;
        EXPECT_TRUE(d.schedule.resumable);
    }
}

// A new plan onto another server is planned with the remote estimate: a copy
// longer than any window is said so, and made near its window's start.
TEST(Policy, NewRemotePlanIsScheduledAsACopyThatCannotPause) {
    World w;
    w.remote = RemoteCopyEstimate{10.0 * H, "10 h"}; // 15 h with the factor, windows of 4 h
    const int64_t noon = kMidnight + 12 * H;
    Decision d = w.round(noon, crossing_in(noon, 20 * H));
    ASSERT_EQ(d.action, Action::create_plan) << d.event.reason;
    EXPECT_EQ(d.schedule.verdict, CopyVerdict::too_long);
    EXPECT_EQ(d.schedule.start, kMidnight + kDaySeconds + H);
    EXPECT_NE(d.event.reason.find("longer than any whole window"), std::string::npos)
        << d.event.reason;
    EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, noon),
              kMidnight + kDaySeconds + H);
}

// The windows before the crossing cannot hold the copy: they copy first, and
// the rest is copied outside them from the latest time that still finishes
// by the deadline, not before, and without stopping once begun.
TEST(Policy, LateCopyRunsOutsideTheWindowsFromTheFillTimeNotBefore) {
    for (bool outside : {true, false}) {
        World w;
        w.options.copy.outside_windows = outside;
        w.remaining = w.source = 5 * 3600 * 100.0; // 5 h of copy, 7.5 h planned; the night holds 4
        const int64_t noon = kMidnight + 12 * H, day1 = kMidnight + kDaySeconds;
        const int64_t crossing = day1 + 13 * H; // deadline 12:00 on day 1
        Decision d = w.round(noon, crossing_in(noon, crossing - noon));
        if (outside) {
            // 25 h ahead, beyond the horizon: the copy's first window
            // (01:00) is not near yet; the plan comes within the horizon.
            EXPECT_EQ(d.action, Action::none) << d.event.reason;
            d = w.round(noon + H, crossing_in(noon + H, crossing - noon - H));
        }
        ASSERT_EQ(d.action, Action::create_plan) << d.event.reason;
        EXPECT_EQ(d.schedule.verdict, outside ? CopyVerdict::outside_windows : CopyVerdict::late);
        // Planned: the night, then 3.5 h outside from 08:30.
        EXPECT_EQ(d.schedule.outside_from, outside ? day1 + 8 * H + 30 * 60 : 0);
        const int64_t created = outside ? noon + H : noon;
        EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, created), day1 + H);
        w.plan = PlanState::backfilling;
        int64_t first_outside = 0, synced_at = 0;
        int emitted = 0;
        for (int64_t t = created + 600; t < crossing && !synced_at; t += 600) {
            d = w.round(t, crossing_in(t, crossing - t));
            emitted += d.emit;
            const bool in_window = window_at(w.windows, t) != kNoWindow;
            if (d.action == Action::hold_copy && t == day1 + 5 * H) {
                // 1 h of copy left, 1.5 h planned: outside from 10:30.
                EXPECT_EQ(copy_release_at(d, w.track, PredictMode::prepare, w.windows, t),
                          outside ? day1 + 10 * H + 30 * 60 : kMidnight + 2 * kDaySeconds + H)
                    << d.event.reason;
            }
            if (d.action != Action::copy) {
                ASSERT_EQ(d.action, Action::hold_copy) << d.event.reason;
                // Once begun outside the windows, it does not stop.
                EXPECT_TRUE(first_outside == 0) << "stopped at " << (t - day1) / 60 << " min";
                continue;
            }
            if (!in_window && first_outside == 0) {
                first_outside = t;
                EXPECT_NE(d.event.reason.find("copying outside the off-peak windows"),
                          std::string::npos)
                    << d.event.reason;
                EXPECT_TRUE(d.emit);
            }
            w.remaining -= 600 * 100.0;
            if (w.remaining <= 0) {
                w.plan = PlanState::synced;
                synced_at = t + 600;
            }
        }
        if (outside) {
            EXPECT_EQ(first_outside, day1 + 10 * H + 30 * 60);
            EXPECT_EQ(synced_at, day1 + 11 * H + 30 * 60);
            EXPECT_LE(emitted, 4); // window on, off, outside on: not one per round
        } else {
            EXPECT_EQ(first_outside, 0);
            EXPECT_EQ(synced_at, 0); // the next night is after the crossing
        }
    }
}

// A copy let run in a window is looked at again at the window's end, which
// may be off the manager's hourly rounds.
TEST(Policy, CopyRunningInAWindowIsLookedAtAgainAtItsEnd) {
    auto p = parse_maintenance_window("01:00-05:30");
    const std::vector<TimeWindow> windows =
        expand_daily_windows(p.windows, kMidnight, kMidnight + 2 * kDaySeconds, 0);
    Decision d;
    d.action = Action::copy;
    EXPECT_EQ(copy_hold_at(d, PredictMode::prepare, windows, kMidnight + 4 * H),
              kMidnight + 5 * H + 30 * 60);
    EXPECT_EQ(copy_hold_at(d, PredictMode::prepare, windows, kMidnight + 6 * H), 0);
    EXPECT_EQ(copy_hold_at(d, PredictMode::advise, windows, kMidnight + 4 * H), 0);
    d.action = Action::hold_copy;
    EXPECT_EQ(copy_hold_at(d, PredictMode::prepare, windows, kMidnight + 4 * H), 0);
}
