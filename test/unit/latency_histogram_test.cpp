#include "core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace presplit::core;

TEST(LatencyHistogram, BucketsAreGeometricAndClamped) {
    EXPECT_EQ(latency_bucket(0.0), 0);
    EXPECT_EQ(latency_bucket(0.99), 0);
    EXPECT_EQ(latency_bucket(1.0), 1);
    EXPECT_EQ(latency_bucket(2.0), 5); // four buckets per doubling
    EXPECT_EQ(latency_bucket(4.0), 9);
    EXPECT_LT(latency_bucket(1000.0), latency_bucket(1200.0));
    EXPECT_EQ(latency_bucket(1e12), kLatencyBuckets - 1);
    EXPECT_EQ(latency_bucket(std::nan("")), 0);
}

TEST(LatencyHistogram, QuantileIsWithinABucketOfTheTruth) {
    LatencyCounts counts{};
    // 95 statements at 100 us, 5 at 10 ms: p95 is 100 us, p99 is 10 ms.
    counts[latency_bucket(100)] += 95;
    counts[latency_bucket(10000)] += 5;
    EXPECT_NEAR(latency_quantile_ms(counts, 0.95), 0.1, 0.1 * 0.1);
    EXPECT_NEAR(latency_quantile_ms(counts, 0.99), 10.0, 10.0 * 0.1);
    EXPECT_NEAR(latency_quantile_ms(counts, 1.0), 10.0, 10.0 * 0.1);
}

TEST(LatencyHistogram, EmptyHasNoQuantile) {
    LatencyCounts counts{};
    EXPECT_EQ(latency_quantile_ms(counts, 0.95), 0.0);
}

TEST(LatencyHistogram, SubtractGivesTheCountsSinceASnapshot) {
    LatencyCounts before{}, after{};
    before[3] = 5;
    after[3] = 7;
    after[10] = 4;
    LatencyCounts since = subtract(after, before);
    EXPECT_EQ(since[3], 2u);
    EXPECT_EQ(since[10], 4u);
    before[20] = 9; // a reset in between: no negative counts
    EXPECT_EQ(subtract(after, before)[20], 0u);
}
