#include "core/random.hpp"
#include "core/range_handoff.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr int64_t kT0 = 1700000000 / H * H;
constexpr double kSpan = 1e6;

// A sampler of the partition [lo, lo + kSpan) fed with a hot range (`hot` of
// the accesses, sd 3 % of the span) centred at `centre`, the rest uniform;
// accesses of the range outside the partition are not its (another
// partition's sampler has them).
KeySampler hot_range_sampler(double lo, double centre, double hot, uint64_t seed) {
    KeySampler s;
    s.reset();
    SplitMix64 rng{seed};
    for (int i = 0; i < 4000; i++) {
        double k;
        if (rng.unit() >= hot) {
            k = lo + rng.uniform(0, kSpan);
        } else {
            double u1 = std::max(rng.unit(), 1e-300), u2 = rng.unit();
            k = centre +
                std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2) * 0.03 * kSpan;
            if (!(k >= lo && k < lo + kSpan))
                continue;
        }
        s.record_point(std::floor(k), 1, rng.next());
    }
    return s;
}

std::vector<ForecastPoint> flat(double value, size_t hours = 48) {
    return std::vector<ForecastPoint>(hours, ForecastPoint{value, 0.8 * value, 1.2 * value});
}

RangeMotion moving(double at_now, double per_hour) {
    RangeMotion m;
    m.moving = true;
    m.at_now = at_now;
    m.per_second = per_hour / H;
    m.points = 24;
    m.t_value = 50;
    return m;
}

RangeShape shape(double centre, double sd, double share) {
    RangeShape s;
    s.found = true;
    s.centre = centre;
    s.sd = sd;
    s.share = share;
    return s;
}

} // namespace

TEST(RangeHandoff, ShapeOfAHotRangeFromTheSampledAccesses) {
    KeySampler s = hot_range_sampler(0, 700000, 0.7, 11);
    RangeShape r = range_shape(s, 690000, 0, kSpan);
    ASSERT_TRUE(r.found) << r.reason;
    EXPECT_NEAR(r.centre, 700000, 8000);
    EXPECT_NEAR(r.sd, 30000, 10000);
    EXPECT_NEAR(r.share, 0.7, 0.12);

    // A uniform load has no range; nor has an empty sampler.
    KeySampler uniform = hot_range_sampler(0, 0, 0, 12);
    RangeShape none = range_shape(uniform, 500000, 0, kSpan);
    EXPECT_FALSE(none.found);
    EXPECT_NE(none.reason.find("no hot range"), std::string::npos) << none.reason;
    KeySampler empty;
    empty.reset();
    EXPECT_FALSE(range_shape(empty, 500000, 0, kSpan).found);
    EXPECT_FALSE(range_shape(s, 500000, 0, std::numeric_limits<double>::infinity()).found);
}

RangeSnapshot snapshot_of(const RangeShape& r, const RangeMotion& m,
                          const std::vector<ForecastPoint>& source, double lo, double hi) {
    RangeSnapshot s{};
    remember_range(&s, r, m, source, kT0, kT0, lo, hi);
    return s;
}

TEST(RangeHandoff, TheLoadMovesToTheNeighbourHourByHour) {
    // 1000/s in the source, 70 % of it a range 100 000 keys below the top,
    // moving 2500 keys an hour: its middle crosses in 40 h.
    const std::vector<ForecastPoint> source = flat(1000);
    RangeSnapshot snap =
        snapshot_of(shape(900000, 30000, 0.7), moving(900000, 2500), source, 0, kSpan);
    ASSERT_EQ(snap.at, kT0);
    Handoff h = range_handoff(snap, kT0, 48, kT0, 0, kSpan);
    ASSERT_TRUE(h.found) << h.reason;
    EXPECT_TRUE(h.upward);
    EXPECT_EQ(h.enters_at, kT0 + 40 * H);
    ASSERT_EQ(h.into.size(), 48u);
    EXPECT_LT(h.into[0].predicted, 1);                       // 3.3 sd away
    EXPECT_NEAR(h.into[39].predicted, 0.7 * 1000 * 0.5, 40); // half of it at the bound
    EXPECT_GT(h.into[47].predicted, 450);
    // Constant width and load: what the source loses, the neighbour gains
    // (the lower bound 0 is 30 sd away), with the source's interval.
    for (size_t i = 0; i < 48; i++) {
        EXPECT_NEAR(h.leaving[i].predicted, h.into[i].predicted, 1e-6);
        EXPECT_NEAR(h.into[i].upper, 1.2 * h.into[i].predicted, 1e-9);
        EXPECT_NEAR(h.into[i].lower, 0.8 * h.into[i].predicted, 1e-9);
    }
    EXPECT_NE(h.reason.find("+2500 keys an hour"), std::string::npos) << h.reason;
    EXPECT_NE(h.reason.find("in 40.0 h"), std::string::npos) << h.reason;

    // The neighbour at 500/s alone never reaches 0.95 x 1000; with the range
    // it does, once about 0.65 of the range is in (upper bound 1.2 x).
    std::vector<ForecastPoint> neighbour = flat(500);
    EXPECT_FALSE(predict_crossing(neighbour, kT0, kT0, 500, 1000, 0.95).found);
    apply_handoff(&neighbour, h.into, +1);
    Crossing c = predict_crossing(neighbour, kT0, kT0, 500, 1000, 0.95);
    ASSERT_TRUE(c.found);
    EXPECT_GE(c.at, kT0 + 36 * H);
    EXPECT_LE(c.at, kT0 + 41 * H);
    // The source loses it: its forecast falls by the same amount.
    std::vector<ForecastPoint> rest = source;
    apply_handoff(&rest, h.leaving, -1);
    EXPECT_NEAR(rest[0].predicted, 1000, 1);
    EXPECT_NEAR(rest[47].predicted, 1000 - h.into[47].predicted, 1e-6);
    EXPECT_LE(rest[47].lower, rest[47].predicted);
    EXPECT_GE(rest[47].upper, rest[47].predicted);
    // Aimed at now, before it is in (0.04 % of it): no split point there;
    // 52 h from now, inside.
    KeySampler none;
    none.reset();
    SplitChoice early = handoff_split(h, none, 500, 500, kT0, kT0, kSpan, 2 * kSpan);
    EXPECT_EQ(early.kind, SplitKind::none);
    EXPECT_NE(early.reason.find("no split point"), std::string::npos) << early.reason;
    SplitChoice later = handoff_split(h, none, 500, 500, kT0, kT0 + 47 * H, kSpan, 2 * kSpan);
    ASSERT_EQ(later.kind, SplitKind::load_balance) << later.reason;
    EXPECT_GT(later.key, kSpan);
}

TEST(RangeHandoff, CarriedForwardWhileItCrosses) {
    const std::vector<ForecastPoint> source = flat(1000);
    RangeSnapshot snap =
        snapshot_of(shape(900000, 30000, 0.7), moving(900000, 2500), source, 0, kSpan);
    // 38 h later the source sees only the part still inside: a smaller,
    // narrower range nearer the middle. The snapshot is kept.
    remember_range(&snap, shape(980000, 18000, 0.45), moving(980000, 1500), flat(700), kT0 + 38 * H,
                   kT0 + 38 * H, 0, kSpan);
    EXPECT_EQ(snap.at, kT0);
    EXPECT_EQ(snap.share, 0.7);
    // From now on the neighbour gains only what enters from now: its own
    // forecast has what is in already (57 % of it, 42 h in: 5000 keys past).
    const int64_t now = kT0 + 42 * H;
    Handoff h = range_handoff(snap, now, 24, now, 0, kSpan);
    ASSERT_TRUE(h.found) << h.reason;
    EXPECT_NEAR(h.past_now, 0.566, 0.001);
    EXPECT_LT(h.into[0].predicted, 15);
    // 23.5 h on it is 2.1 sd past: 98.3 % in.
    EXPECT_NEAR(h.into[23].predicted, 700 * (0.983 - 0.566), 5);
    EXPECT_NE(h.reason.find("passed this partition's bound 1000000 2.0 h ago"), std::string::npos)
        << h.reason;
    // Two days after the last whole measurement: forgotten.
    Handoff old = range_handoff(snap, kT0 + 49 * H, 24, kT0 + 49 * H, 0, kSpan);
    EXPECT_FALSE(old.found);
    EXPECT_NE(old.reason.find("last measured whole 49.0 h ago"), std::string::npos) << old.reason;
    // Measured whole and still: forgotten at once.
    RangeMotion still = moving(500000, 0);
    still.moving = false;
    remember_range(&snap, shape(500000, 30000, 0.7), still, source, kT0 + 40 * H, kT0 + 40 * H, 0,
                   kSpan);
    EXPECT_EQ(snap.at, 0);
}

TEST(RangeHandoff, DownwardIntoThePartitionBelow) {
    const std::vector<ForecastPoint> source = flat(800);
    RangeSnapshot snap =
        snapshot_of(shape(1070000, 30000, 0.6), moving(1070000, -2000), source, 1e6, 2e6);
    Handoff h = range_handoff(snap, kT0, 48, kT0, 1e6, 2e6);
    ASSERT_TRUE(h.found) << h.reason;
    EXPECT_FALSE(h.upward);
    EXPECT_EQ(h.enters_at, kT0 + 35 * H);
    EXPECT_NEAR(h.into[34].predicted, 0.6 * 800 * 0.5, 30);
    // Its split in the neighbour [0, 1e6), 47 h from now: the range's middle
    // will be at 976 000, 0.8 sd below the bound (79 % of it inside). With
    // no load of its own, the middle of the part inside; with as much again
    // spread evenly, nearer the partition's middle.
    KeySampler none;
    none.reset();
    SplitChoice alone = handoff_split(h, none, 0, 0, kT0, kT0 + 47 * H, 0, 1e6);
    ASSERT_EQ(alone.kind, SplitKind::load_balance) << alone.reason;
    EXPECT_LT(alone.key, 976000);
    EXPECT_GT(alone.key, 976000 - 20000);
    EXPECT_NEAR(alone.left_share, 0.5, 1e-3);
    EXPECT_NE(alone.reason.find("from the neighbour's range"), std::string::npos) << alone.reason;
    const double range_in = h.range_load[47] * 0.79;
    KeySampler uniform = hot_range_sampler(0, 0, 0, 21);
    SplitChoice mixed = handoff_split(h, uniform, range_in, range_in, kT0, kT0 + 47 * H, 0, 1e6);
    ASSERT_EQ(mixed.kind, SplitKind::load_balance) << mixed.reason;
    EXPECT_LT(mixed.key, alone.key - 20000);
    EXPECT_GT(mixed.key, 800000);
    EXPECT_NEAR(mixed.left_share, 0.5, 0.01);
}

TEST(RangeHandoff, NothingToHandOver) {
    const std::vector<ForecastPoint> source = flat(1000);
    // No snapshot.
    EXPECT_FALSE(range_handoff(RangeSnapshot{}, kT0, 48, kT0, 0, kSpan).found);
    // Still: nothing remembered.
    RangeMotion still = moving(900000, 2500);
    still.moving = false;
    EXPECT_EQ(snapshot_of(shape(900000, 30000, 0.7), still, source, 0, kSpan).at, 0);
    // Too far: 0.4 % of it past the bound at the end of the 48 hours.
    Handoff far = range_handoff(
        snapshot_of(shape(800000, 30000, 0.7), moving(800000, 2500), source, 0, kSpan), kT0, 48,
        kT0, 0, kSpan);
    EXPECT_FALSE(far.found);
    EXPECT_TRUE(far.into.empty());
    EXPECT_NE(far.reason.find("in 80.0 h: 0 % more"), std::string::npos) << far.reason;
    // Unbounded that way: no neighbour.
    const double inf = std::numeric_limits<double>::infinity();
    Handoff top =
        range_handoff(snapshot_of(shape(900000, 30000, 0.7), moving(900000, 2500), source, 0, inf),
                      kT0, 48, kT0, 0, inf);
    EXPECT_FALSE(top.found);
    EXPECT_NE(top.reason.find("unbounded"), std::string::npos) << top.reason;
    // Never measured whole (born near the bound): nothing to carry.
    EXPECT_EQ(snapshot_of(shape(960000, 30000, 0.7), moving(960000, 2500), source, 0, kSpan).at, 0);
}

TEST(RangeHandoff, ApplyKeepsValuesAtOrAboveZero) {
    std::vector<ForecastPoint> f = flat(100, 3);
    apply_handoff(&f, flat(150, 2), -1);
    EXPECT_EQ(f[0].predicted, 0);
    EXPECT_EQ(f[0].lower, 0);
    EXPECT_EQ(f[0].upper, 0);
    EXPECT_EQ(f[2].predicted, 100); // beyond the hand-off's hours: unchanged
}

TEST(RangeHandoff, ARoundHandsTheRangeToTheNeighbourOfItsTable) {
    // Table 1: a [0, 1e6) with a range at 800 000 moving +25 000 keys an hour
    // (its middle at the bound in 8 h), b [1e6, 2e6) above it; table 2's c
    // also starts at 1e6 (another table: not a neighbour).
    HandoffMemory a_memory{}, b_memory{}, c_memory{};
    for (int h = 10; h >= 1; h--)
        observe_range(&a_memory.hot, kT0 - h * H, 800000 - 25000.0 * h, 0, kSpan);
    const KeySampler a_sampler = hot_range_sampler(0, 800000, 0.7, 21);
    const KeySampler b_sampler = hot_range_sampler(kSpan, 0, 0, 22);
    std::vector<HandoffPartition> parts(3);
    parts[0] = {1, true, 0, kSpan, &a_sampler, &a_memory, flat(1000), {}, {}};
    parts[1] = {1, true, kSpan, 2 * kSpan, &b_sampler, &b_memory, flat(300), {}, {}};
    parts[2] = {2, true, kSpan, 2 * kSpan, &b_sampler, &c_memory, flat(300), {}, {}};
    hand_off_ranges(&parts, kT0, kT0);
    ASSERT_NE(a_memory.whole.at, 0) << "a whole moving range is remembered";
    EXPECT_NEAR(a_memory.whole.per_second * H, 25000, 2000);
    EXPECT_FALSE(parts[0].incoming.found);
    ASSERT_TRUE(parts[1].incoming.found) << parts[1].incoming.reason;
    EXPECT_TRUE(parts[1].incoming.upward);
    EXPECT_FALSE(parts[2].incoming.found);
    // b gains what a loses; its own forecast and c's stay as they were.
    ASSERT_EQ(parts[1].adjusted.size(), 48u);
    EXPECT_NEAR(parts[1].adjusted[0].predicted, 300, 1);
    EXPECT_GT(parts[1].adjusted[20].predicted, 300 + 0.5 * 700 * 0.8);
    EXPECT_NEAR(parts[1].adjusted[20].predicted - 300, 1000 - parts[0].adjusted[20].predicted, 1);
    EXPECT_EQ(parts[1].own[20].predicted, 300);
    EXPECT_EQ(parts[2].adjusted[20].predicted, 300);

    // The hand-off brings b's crossing of 600/s: the split from the range
    // entering it, at the aim, inside b where the range will be.
    const Crossing with = predict_crossing(parts[1].adjusted, kT0, kT0, 300, 600, 0.95);
    ASSERT_TRUE(with.found);
    const int64_t aim = with.at + 12 * H;
    const std::optional<SplitChoice> split =
        incoming_split(parts[1].incoming, with, parts[1].own, b_sampler, kT0, kT0, 300, 600, 0.95,
                       aim, kSpan, 2 * kSpan);
    ASSERT_TRUE(split.has_value());
    ASSERT_EQ(split->kind, SplitKind::load_balance) << split->reason;
    EXPECT_GT(split->key, kSpan);
    EXPECT_LT(split->key, kSpan + 0.5 * kSpan);
    // The policy's events read "split at " + the reason.
    EXPECT_EQ(split->reason.rfind("the middle of this partition's load", 0), 0u) << split->reason;
    EXPECT_NE(split->reason.find("from the neighbour's range: "), std::string::npos)
        << split->reason;
    // Its own history crosses as soon (or a measured crossing): its own split.
    EXPECT_FALSE(incoming_split(parts[1].incoming, with, flat(700), b_sampler, kT0, kT0, 300, 600,
                                0.95, aim, kSpan, 2 * kSpan));
    Crossing measured = with;
    measured.measured = true;
    EXPECT_FALSE(incoming_split(parts[1].incoming, measured, parts[1].own, b_sampler, kT0, kT0, 300,
                                600, 0.95, aim, kSpan, 2 * kSpan));

    // An inactive neighbour gets nothing; the source still loses the range.
    HandoffMemory again = a_memory;
    parts[0].memory = &again;
    parts[1].active = false;
    hand_off_ranges(&parts, kT0, kT0);
    EXPECT_FALSE(parts[1].incoming.found);
    EXPECT_EQ(parts[1].adjusted[20].predicted, 300);
    EXPECT_LT(parts[0].adjusted[20].predicted, 1000 - 0.5 * 700 * 0.8);
    // Without a table, no part in it: nothing measured, nothing handed.
    HandoffMemory fresh{};
    parts[0] = {0, true, 0, kSpan, &a_sampler, &fresh, flat(1000), {}, {}};
    parts[1].active = true;
    hand_off_ranges(&parts, kT0, kT0);
    EXPECT_EQ(fresh.hot.count, 0u);
    EXPECT_FALSE(parts[1].incoming.found);
}
