#include "core/succession.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

using presplit::core::inherited_shares;
using presplit::core::KeySampler;
using presplit::core::MadePartition;

namespace {

std::unique_ptr<KeySampler> sampler_with(double lo, double hi, int accesses, uint64_t seed) {
    auto keys = std::make_unique<KeySampler>();
    uint64_t random = seed;
    for (int i = 0; i < accesses; i++) {
        random = random * 6364136223846793005ULL + 1442695040888963407ULL;
        keys->record_point(lo + (hi - lo) * static_cast<double>(random >> 11) / 9007199254740992.0,
                           1, random);
    }
    return keys;
}

MadePartition part(double lower, double upper, double bytes) {
    MadePartition made;
    made.has_lower = made.has_upper = true;
    made.lower = lower;
    made.upper = upper;
    made.bytes = bytes;
    return made;
}

} // namespace

TEST(InheritedShares, LoadFollowsTheSampledAccessesSizeTheBytes) {
    // Every access in [0, 500): a split at 500 of a partition whose rows are
    // mostly in the upper half. The load goes to the lower half.
    auto keys = sampler_with(0, 500, 5000, 42);
    const auto shares = inherited_shares(keys.get(), {part(0, 500, 100), part(500, 1000, 300)}, 32);
    ASSERT_TRUE(shares.load_from_accesses);
    EXPECT_DOUBLE_EQ(shares.load[0], 1.0);
    EXPECT_DOUBLE_EQ(shares.load[1], 0.0);
    EXPECT_DOUBLE_EQ(shares.size[0], 0.25);
    EXPECT_DOUBLE_EQ(shares.size[1], 0.75);
}

TEST(InheritedShares, UnboundedEndsAndAnEvenSpread) {
    auto keys = sampler_with(0, 1000, 20000, 7);
    MadePartition lower = part(0, 250, 1), upper = part(250, 0, 1);
    lower.has_lower = false;
    upper.has_upper = false;
    const auto shares = inherited_shares(keys.get(), {lower, upper}, 32);
    ASSERT_TRUE(shares.load_from_accesses);
    // 256 sampled points: a quarter below 250, within sampling error.
    EXPECT_NEAR(shares.load[0], 0.25, 0.08);
    EXPECT_DOUBLE_EQ(shares.load[0] + shares.load[1], 1.0);
}

TEST(InheritedShares, TooFewPointsOrNoComparableAxisShareLoadAsSize) {
    auto few = sampler_with(0, 500, 10, 1);
    auto shares = inherited_shares(few.get(), {part(0, 500, 100), part(500, 1000, 300)}, 32);
    EXPECT_FALSE(shares.load_from_accesses);
    EXPECT_DOUBLE_EQ(shares.load[0], 0.25);
    shares = inherited_shares(nullptr, {part(0, 500, 0), part(500, 1000, 0)}, 32);
    EXPECT_FALSE(shares.load_from_accesses);
    EXPECT_DOUBLE_EQ(shares.load[1], 0.5); // no bytes at all: equal shares
    EXPECT_DOUBLE_EQ(shares.size[1], 0.5);
    EXPECT_TRUE(inherited_shares(nullptr, {}, 32).load.empty());
}

TEST(InheritedShares, SomeMadePartitionsElsewhereShareOfTheSourcesWhole) {
    // The upper half went to another server: only the lower half is given.
    auto keys = sampler_with(0, 1000, 20000, 11);
    const auto shares = inherited_shares(keys.get(), {part(0, 500, 100)}, 32, false, 400);
    ASSERT_TRUE(shares.load_from_accesses);
    EXPECT_NEAR(shares.load[0], 0.5, 0.1);
    EXPECT_DOUBLE_EQ(shares.size[0], 0.25);
    // Without the source's size: no size share; load as size then is none.
    const auto unknown = inherited_shares(nullptr, {part(0, 500, 100)}, 32, false, 0);
    EXPECT_DOUBLE_EQ(unknown.size[0], 0.0);
    EXPECT_DOUBLE_EQ(unknown.load[0], 0.0);
}
