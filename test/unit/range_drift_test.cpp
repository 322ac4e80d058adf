#include "core/range_drift.hpp"
#include "core/random.hpp"

#include <cmath>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr int64_t kT0 = 1700000000 / H * H;
constexpr double kSpan = 1e6;

// A sampler fed with a hot range (70 % of the accesses, sd 3 % of the span)
// centred at `centre`, the rest uniform: the simulator's drifting world.
KeySampler hot_range_sampler(double centre, uint64_t seed) {
    KeySampler s;
    s.reset();
    SplitMix64 rng{seed};
    for (int i = 0; i < 4000; i++) {
        double k;
        if (rng.unit() < 0.3) {
            k = rng.uniform(0, kSpan);
        } else {
            double u1 = std::max(rng.unit(), 1e-300), u2 = rng.unit();
            k = centre +
                std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2) * 0.03 * kSpan;
        }
        s.record_point(std::floor(std::min(std::max(k, 0.0), kSpan - 1)), 1, rng.next());
    }
    return s;
}

} // namespace

TEST(RangeDrift, EmptyAndZeroedTrackSaysNothing) {
    RangeTrack t{};
    RangeMotion m = range_motion(t, kT0);
    EXPECT_FALSE(m.moving);
    EXPECT_EQ(m.points, 0u);
    EXPECT_EQ(range_shift(m, kT0, kT0 + 10 * H, 0, kSpan), 0);
    EXPECT_EQ(range_leaves_at(m, kT0, kT0 + 48 * H, 0, kSpan), 0);
}

TEST(RangeDrift, SteadyMotionIsRecoveredAndExtrapolated) {
    RangeTrack t{};
    SplitMix64 rng{7};
    // 2500 keys an hour (6 % of the span a day), noise sd 1000 keys.
    for (int h = 0; h < 12; h++)
        observe_range(&t, kT0 + h * H, 300000 + 2500.0 * h + (rng.unit() - 0.5) * 2000, 0, kSpan);
    const int64_t now = kT0 + 11 * H;
    RangeMotion m = range_motion(t, now);
    ASSERT_TRUE(m.moving);
    EXPECT_NEAR(m.per_second * H, 2500, 250);
    EXPECT_NEAR(m.at_now, 327500, 1500);
    // A day later it is about 60 000 keys further.
    EXPECT_NEAR(range_shift(m, now, now + 24 * H, 0, kSpan), 60000, 6000);
    // It reaches the top of the partition in about (1e6 - 327500) / 2500 hours.
    const int64_t leaves = range_leaves_at(m, now, now + 400 * H, 0, kSpan);
    EXPECT_NEAR(static_cast<double>(leaves - now) / H, 269, 30);
    // Not within two days; and a range predicted outside the partition by
    // the target moves nothing (the split stays where the load is now).
    EXPECT_EQ(range_leaves_at(m, now, now + 48 * H, 0, kSpan), 0);
    EXPECT_EQ(range_shift(m, now, now + 400 * H, 0, kSpan), 0);
}

TEST(RangeDrift, AStillRangeIsNotMoving) {
    RangeTrack t{};
    SplitMix64 rng{11};
    for (int h = 0; h < 24; h++)
        observe_range(&t, kT0 + h * H, 500000 + (rng.unit() - 0.5) * 20000, 0, kSpan);
    RangeMotion m = range_motion(t, kT0 + 23 * H);
    EXPECT_EQ(m.points, 24u);
    EXPECT_FALSE(m.moving);
    EXPECT_LT(m.t_value, 4);
}

TEST(RangeDrift, TooFewOrTooCloseObservations) {
    RangeTrack t{};
    for (int h = 0; h < 5; h++)
        observe_range(&t, kT0 + h * H, 1000.0 * h, 0, kSpan);
    EXPECT_FALSE(range_motion(t, kT0 + 4 * H).moving); // 5 points
    RangeTrack close{};
    for (int i = 0; i < 10; i++)
        observe_range(&close, kT0 + i * 60, 1000.0 * i, 0, kSpan);
    EXPECT_FALSE(range_motion(close, kT0 + 9 * 60).moving); // 9 minutes
    // Points older than the fitted day do not count.
    RangeTrack old{};
    for (int h = 0; h < 8; h++)
        observe_range(&old, kT0 + h * H, 1000.0 * h, 0, kSpan);
    EXPECT_TRUE(range_motion(old, kT0 + 7 * H).moving);
    EXPECT_FALSE(range_motion(old, kT0 + 40 * H).moving);
}

TEST(RangeDrift, AJumpStartsTheTrackOver) {
    RangeTrack t{};
    for (int h = 0; h < 10; h++)
        observe_range(&t, kT0 + h * H, 950000 + 2500.0 * h, 0, kSpan);
    ASSERT_TRUE(range_motion(t, kT0 + 9 * H).moving);
    // The range left at the top; another one enters at the bottom.
    observe_range(&t, kT0 + 10 * H, 10000, 0, kSpan);
    EXPECT_EQ(t.restarts, 1u);
    EXPECT_EQ(t.count, 1u);
    EXPECT_FALSE(range_motion(t, kT0 + 10 * H).moving);
    // Unbounded partitions judge no jump.
    RangeTrack u{};
    observe_range(&u, kT0, 0, -INFINITY, INFINITY);
    observe_range(&u, kT0 + H, 1e9, -INFINITY, INFINITY);
    EXPECT_EQ(u.restarts, 0u);
    EXPECT_EQ(u.count, 2u);
    // The ring keeps the last two days.
    RangeTrack r{};
    for (int h = 0; h < 100; h++)
        observe_range(&r, kT0 + h * H, 100.0 * h, 0, kSpan);
    EXPECT_EQ(r.count, RangeTrack::kPoints);
    RangeMotion m = range_motion(r, kT0 + 99 * H);
    ASSERT_TRUE(m.moving);
    EXPECT_NEAR(m.per_second * H, 100, 1e-6);
    EXPECT_EQ(m.points, 25u); // the fitted day: hours 75..99
}

TEST(RangeDrift, AimedSplitAndItsDrift) {
    RangeTrack t{};
    for (int h = 0; h < 12; h++)
        observe_range(&t, kT0 + h * H, 300000 + 2500.0 * h, 0, kSpan);
    const int64_t now = kT0 + 11 * H;
    RangeMotion m = range_motion(t, now);
    ASSERT_TRUE(m.moving);

    KeySampler today = hot_range_sampler(327500, 3);
    SplitChoice middle = choose_load_split(today, LoadSplitOptions{});
    ASSERT_EQ(middle.kind, SplitKind::load_balance);
    EXPECT_NEAR(middle.key, 327500, 15000);

    Crossing c;
    c.found = true;
    c.at = now + 12 * H;
    const int64_t target = aim_time(c, 0, now);
    EXPECT_EQ(target, now + 24 * H);
    SplitChoice aimed = aim_load_split(middle, m, now, target, 0, kSpan);
    EXPECT_EQ(aimed.kind, SplitKind::load_balance);
    EXPECT_NEAR(aimed.key, 387500, 1);
    EXPECT_NE(aimed.reason.find("moves +2500 keys an hour"), std::string::npos) << aimed.reason;

    // Judged against today's middle, the aimed key is far off (the plain
    // drift cancels it); judged along the path, it is on target.
    const double shift = range_shift(m, now, target, 0, kSpan);
    EXPECT_GT(load_split_drift(today, aimed.key, 0, 0, kSpan), 0.2); // tolerance 0.15
    EXPECT_LT(load_split_drift(today, aimed.key, shift, 0, kSpan), 0.1);
    // The range a day later: the same plan is still on target for that day.
    KeySampler tomorrow = hot_range_sampler(387500, 4);
    EXPECT_LT(load_split_drift(tomorrow, aimed.key, 0, 0, kSpan), 0.1);

    // Without a crossing the aim is the plan's last crossing, else now.
    Crossing none;
    EXPECT_EQ(aim_time(none, now + 5 * H, now), now + 17 * H);
    EXPECT_EQ(aim_time(none, now - 5 * H, now), now + 12 * H);
}

TEST(RangeDrift, OnlyNumericLoadSplitsAreAimed) {
    RangeTrack t{};
    for (int h = 0; h < 12; h++)
        observe_range(&t, kT0 + h * H, 300000 + 2500.0 * h, 0, kSpan);
    const int64_t now = kT0 + 11 * H;
    RangeMotion m = range_motion(t, now);
    SplitChoice size;
    size.kind = SplitKind::size_quantile;
    size.key = 500000;
    EXPECT_EQ(aim_load_split(size, m, now, now + 24 * H, 0, kSpan).key, 500000);
    SplitChoice text;
    text.kind = SplitKind::load_balance;
    text.key = 327500;
    text.image.size = 3; // a real key of a text column: stays
    EXPECT_EQ(aim_load_split(text, m, now, now + 24 * H, 0, kSpan).key, 327500);
    SplitChoice refused;
    EXPECT_FALSE(aim_load_split(refused, m, now, now + 24 * H, 0, kSpan).ok());
    // Leaving the partition before the aim: the key stays, the reason says when.
    SplitChoice middle{SplitKind::load_balance, 327500, 0.5, 0.5, "key sampler", {}};
    SplitChoice stays = aim_load_split(middle, m, now, now + 24 * H, 0, 340000);
    EXPECT_EQ(stays.key, 327500);
    EXPECT_NE(stays.reason.find("leaves the partition in 5.0 h"), std::string::npos)
        << stays.reason;
}
