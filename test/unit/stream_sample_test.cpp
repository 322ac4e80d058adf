#include "core/stream_sample.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

// Offers items 0..n-1 and returns the items kept.
std::vector<int> run(StreamSample& sample, int n) {
    std::vector<int> kept;
    for (int item = 0; item < n; item++) {
        int32_t slot = sample.offer();
        if (slot == StreamSample::kSkip)
            continue;
        EXPECT_GE(slot, 0);
        if (static_cast<size_t>(slot) < kept.size())
            kept[static_cast<size_t>(slot)] = item;
        else {
            EXPECT_EQ(static_cast<size_t>(slot), kept.size()); // filled in order
            kept.push_back(item);
        }
    }
    return kept;
}

} // namespace

TEST(StreamSample, KeepsEverythingUpToItsCapacity) {
    StreamSample sample;
    sample.start(16, 1);
    EXPECT_EQ(sample.kept(), 0u);
    EXPECT_EQ(sample.weight(), 0.0);
    std::vector<int> kept = run(sample, 5);
    EXPECT_EQ(kept, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(sample.seen(), 5u);
    EXPECT_EQ(sample.kept(), 5u);
    EXPECT_EQ(sample.weight(), 1.0);
}

TEST(StreamSample, AFullSampleStandsForEverything) {
    StreamSample sample;
    sample.start(16, 2);
    std::vector<int> kept = run(sample, 1000000);
    EXPECT_EQ(kept.size(), 16u);
    EXPECT_EQ(sample.kept(), 16u);
    EXPECT_EQ(sample.weight(), 1000000.0 / 16);
}

// Every item is equally likely to be kept: k / n. 100 items, 10 kept, 20000
// runs: each item kept 2000 times on average (standard deviation 42); the
// bounds are 6 deviations away. The first and last items (where a wrong
// initial skip or a stale W would show) are among them.
TEST(StreamSample, EachItemIsEquallyLikely) {
    constexpr int kItems = 100, kRuns = 20000;
    std::vector<int> times(kItems, 0);
    for (int run_number = 0; run_number < kRuns; run_number++) {
        StreamSample sample;
        sample.start(10, 1000 + static_cast<uint64_t>(run_number));
        for (int item : run(sample, kItems))
            times[static_cast<size_t>(item)]++;
    }
    for (int item = 0; item < kItems; item++)
        EXPECT_NEAR(times[static_cast<size_t>(item)], 2000, 250) << "item " << item;
}

// Kept items are rare once the sample is full: about k (1 + ln(n / k))
// offers return a slot.
TEST(StreamSample, FewItemsAreKeptFromALongStream) {
    StreamSample sample;
    sample.start(16, 3);
    int slots = 0;
    for (int item = 0; item < 1000000; item++)
        if (sample.offer() != StreamSample::kSkip)
            slots++;
    const double expected = 16 * (1 + std::log(1000000.0 / 16));
    EXPECT_GT(slots, expected / 2);
    EXPECT_LT(slots, expected * 2);
}

TEST(StreamSample, SameSeedSameSample) {
    StreamSample a, b;
    a.start(8, 42);
    b.start(8, 42);
    EXPECT_EQ(run(a, 5000), run(b, 5000));
    StreamSample zero;
    zero.start(0, 5); // capacity 0 is taken as 1
    EXPECT_EQ(run(zero, 100).size(), 1u);
}
