#include "core/split_decision.hpp"
#include "core/random.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr int64_t kT0 = 1700000000 / H * H;

std::vector<ForecastPoint> ramp(double from, double step, size_t n, double band) {
    std::vector<ForecastPoint> v;
    for (size_t i = 0; i < n; i++) {
        double x = from + step * static_cast<double>(i);
        v.push_back({x, x - band, x + band});
    }
    return v;
}

} // namespace

TEST(Crossing, OnTheUpperBound) {
    auto f = ramp(50, 5, 48, 10); // predicted 50, 55, ...; upper 60, 65, ...
    Crossing c = predict_crossing(f, kT0, kT0 + 10, 50, 100);
    ASSERT_TRUE(c.found);
    EXPECT_FALSE(c.already_over);
    EXPECT_EQ(c.hour, 8u); // upper 50 + 40 + 10 = 100
    EXPECT_EQ(c.at, kT0 + 8 * H);
    EXPECT_DOUBLE_EQ(c.upper, 100);
    EXPECT_DOUBLE_EQ(c.predicted, 90);
}

TEST(Crossing, HeadroomAndThePointForecast) {
    auto f = ramp(50, 5, 48, 10); // predicted 50 + 5 h, upper 60 + 5 h
    Crossing c = predict_crossing(f, kT0, kT0, 50, 100, 0.9);
    ASSERT_TRUE(c.found);
    EXPECT_EQ(c.hour, 6u); // upper 90
    EXPECT_TRUE(c.point_found);
    EXPECT_EQ(c.point_at, kT0 + 8 * H); // predicted 90
    // Measured over the level but under the threshold: a crossing now, not over.
    c = predict_crossing(f, kT0, kT0 + 60, 95, 100, 0.9);
    EXPECT_TRUE(c.found && c.point_found);
    EXPECT_FALSE(c.already_over);
    EXPECT_TRUE(c.measured);
    EXPECT_DOUBLE_EQ(c.level, 90);
    EXPECT_EQ(c.at, kT0 + 60);
    // Upper bound only: no point crossing.
    c = predict_crossing(ramp(50, 0, 48, 60), kT0, kT0, 50, 100);
    EXPECT_TRUE(c.found);
    EXPECT_FALSE(c.point_found);
}

TEST(Crossing, OffNoneAlreadyOverAndPastHours) {
    auto f = ramp(50, 0, 48, 10);
    EXPECT_FALSE(predict_crossing(f, kT0, kT0, 50, 0).found); // threshold 0 = off
    EXPECT_FALSE(predict_crossing(f, kT0, kT0, 50, NAN).found);
    EXPECT_FALSE(predict_crossing(f, kT0, kT0, 50, 61).found); // upper is 60
    Crossing c = predict_crossing(f, kT0, kT0 + 5, 70, 61);    // measured over
    EXPECT_TRUE(c.found && c.already_over);
    EXPECT_EQ(c.at, kT0 + 5);
    // Hours that ended before now do not count; the current hour counts from now.
    f = ramp(100, -10, 48, 0);
    EXPECT_FALSE(predict_crossing(f, kT0, kT0 + 2 * H, 10, 95).found);
    c = predict_crossing(f, kT0, kT0 + 30 * 60, 10, 95);
    EXPECT_TRUE(c.found);
    EXPECT_EQ(c.at, kT0 + 30 * 60);
}

TEST(LoadSplit, BalancedUniformLoad) {
    KeySampler s{};
    SplitMix64 rng{1};
    for (int i = 0; i < 20000; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    SplitChoice c = choose_load_split(s, LoadSplitOptions{});
    ASSERT_TRUE(c.ok()) << c.reason;
    EXPECT_EQ(c.kind, SplitKind::load_balance);
    EXPECT_NEAR(c.key, 500, 100);
    EXPECT_NEAR(c.left_share, 0.5, 0.1);
    EXPECT_NE(c.reason.find("key sampler"), std::string::npos);
}

TEST(LoadSplit, OneHotKeyIsRefusedWithTheReason) {
    KeySampler s{};
    SplitMix64 rng{2};
    for (int i = 0; i < 20000; i++) {
        double key = rng.unit() < 0.7 ? 42 : std::floor(rng.uniform(0, 1000));
        s.record_point(key, 1, rng.next());
    }
    HotKey hot = dominant_key(s);
    EXPECT_EQ(hot.key, 42);
    EXPECT_GT(hot.share, 0.5);
    SplitChoice c = choose_load_split(s, LoadSplitOptions{});
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("one key (42)"), std::string::npos) << c.reason;
    EXPECT_NE(c.reason.find("no split"), std::string::npos) << c.reason;
}

TEST(LoadSplit, TooFewSamplesAndUnbalancedAndSpanning) {
    KeySampler s{};
    SplitMix64 rng{3};
    for (int i = 0; i < 50; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    SplitChoice c = choose_load_split(s, LoadSplitOptions{});
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("too few accesses"), std::string::npos) << c.reason;

    // Every access scans the whole range: any split cuts them.
    KeySampler scans{};
    for (int i = 0; i < 5000; i++) {
        double lo = std::floor(rng.uniform(0, 10));
        scans.record(lo, lo + 990, 1, rng.next());
    }
    c = choose_load_split(scans, LoadSplitOptions{});
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("no key divides"), std::string::npos) << c.reason;

    // A tight imbalance limit refuses what the default accepts.
    KeySampler uniform{};
    for (int i = 0; i < 20000; i++)
        uniform.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    LoadSplitOptions strict;
    strict.max_imbalance = 0.0001;
    c = choose_load_split(uniform, strict);
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("unbalanced"), std::string::npos) << c.reason;
}

TEST(SizeSplit, MedianOfTheHistogram) {
    std::vector<double> bounds{0, 10, 20, 30, 1000};
    SplitChoice c = choose_size_split(bounds);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.kind, SplitKind::size_quantile);
    EXPECT_DOUBLE_EQ(c.key, 20);
    EXPECT_DOUBLE_EQ(c.left_share, 0.5);
    c = choose_size_split(bounds, 0.625); // halfway into the third bucket
    EXPECT_DOUBLE_EQ(c.key, 25);
    EXPECT_DOUBLE_EQ(share_below_bounds(bounds, 25), 0.625);
    EXPECT_DOUBLE_EQ(share_below_bounds(bounds, -5), 0);
    EXPECT_DOUBLE_EQ(share_below_bounds(bounds, 2000), 1);
    EXPECT_DOUBLE_EQ(share_below_bounds(bounds, 515), 0.875);
}

TEST(SizeSplit, RefusedWithoutADistributionOrForOneKey) {
    EXPECT_FALSE(choose_size_split({}).ok());
    EXPECT_FALSE(choose_size_split({5}).ok());
    SplitChoice c = choose_size_split({7, 7, 7, 7, 9});
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("one key (7)"), std::string::npos) << c.reason;
}

TEST(AppendSplit, InsertsAtTheRightEdge) {
    KeySampler inserts{};
    SplitMix64 rng{4};
    // Keys 0..100000 exist; recent inserts arrive at 99500..100000.
    for (int i = 0; i < 2000; i++)
        inserts.record_point(99500 + i / 4, 1, rng.next());
    SplitChoice c = choose_append_split(inserts, 0, 100000, AppendOptions{});
    ASSERT_TRUE(c.ok()) << c.reason;
    EXPECT_EQ(c.kind, SplitKind::append_edge);
    EXPECT_DOUBLE_EQ(c.key, 100001);
    EXPECT_GT(c.right_share, 0.95);

    // Inserts above the largest key measured count as the edge too.
    KeySampler beyond{};
    for (int i = 0; i < 2000; i++)
        beyond.record_point(100000 + i, 1, rng.next());
    EXPECT_TRUE(choose_append_split(beyond, 0, 100000, AppendOptions{}).ok());
}

TEST(AppendSplit, UniformInsertsAreNotAnAppendHotSpot) {
    KeySampler inserts{};
    SplitMix64 rng{5};
    for (int i = 0; i < 2000; i++)
        inserts.record_point(std::floor(rng.uniform(0, 100000)), 1, rng.next());
    SplitChoice c = choose_append_split(inserts, 0, 100000, AppendOptions{});
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("no append hot spot"), std::string::npos) << c.reason;
    KeySampler few{};
    few.record_point(5, 1, 1);
    c = choose_append_split(few, 0, 100000, AppendOptions{});
    EXPECT_NE(c.reason.find("too few inserts"), std::string::npos) << c.reason;
}

TEST(SharesOfPoints, PlannedKeyAgainstTodaysLoad) {
    KeySampler s{};
    SplitMix64 rng{6};
    for (int i = 0; i < 5000; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    EXPECT_NEAR(share_below_points(s, 500, 0, 1000), 0.5, 0.1);
    EXPECT_NEAR(share_below_points(s, 250, 0, 1000), 0.25, 0.1);
    EXPECT_TRUE(std::isnan(share_below_points(s, 5000, 2000, 3000)));
}

TEST(Assess, EarliestCrossingAndAppendWins) {
    auto load = ramp(50, 5, 48, 0);    // reaches 100 at hour 10
    auto size = ramp(1e9, 1e8, 48, 0); // reaches 2e9 at hour 10, 1.5e9 at hour 5
    MetricInput l{&load, 50, 100, SplitChoice{SplitKind::load_balance, 500, 0.5, 0.5, "l", {}}};
    MetricInput z{&size, 1e9, 1.5e9, SplitChoice{SplitKind::size_quantile, 400, 0.5, 0.5, "s", {}}};
    Assessment a = assess_partition(l, z, SplitChoice{}, kT0, kT0, 1.0);
    EXPECT_EQ(a.metric, SplitMetric::size);
    EXPECT_EQ(a.crossing.hour, 5u);
    EXPECT_EQ(a.split.key, 400);
    EXPECT_EQ(a.threshold, 1.5e9);

    z.threshold = 0; // size off
    a = assess_partition(l, z, SplitChoice{SplitKind::append_edge, 1001, 0, 1, "edge", {}}, kT0,
                         kT0, 1.0);
    EXPECT_EQ(a.metric, SplitMetric::load);
    EXPECT_EQ(a.crossing.hour, 10u);
    EXPECT_EQ(a.split.kind, SplitKind::append_edge);

    l.threshold = 1000; // no crossing: still reports the metric and its split
    a = assess_partition(l, z, SplitChoice{}, kT0, kT0, 1.0);
    EXPECT_FALSE(a.crossing.found);
    EXPECT_EQ(a.metric, SplitMetric::load);
}
