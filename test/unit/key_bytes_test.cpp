#include "core/key_bytes.hpp"
#include "core/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

double position(const std::string& bytes, const std::string& prefix) {
    return byte_position(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), prefix);
}

} // namespace

TEST(KeyBytes, CommonPrefix) {
    EXPECT_EQ(common_prefix("customer-100", "customer-200"), "customer-");
    EXPECT_EQ(common_prefix("abc", "abcdef"), "abc");
    EXPECT_EQ(common_prefix("abc", "xyz"), "");
    EXPECT_EQ(common_prefix("", "abc"), "");
    EXPECT_EQ(common_prefix(std::string("a\0b", 3), std::string("a\0c", 3)), std::string("a\0", 2));
}

// Byte order in, position order out (not strictly), with the prefix
// stripped: keys that differ only after 15 shared bytes are still told apart.
TEST(KeyBytes, PositionsFollowByteOrder) {
    const std::string prefix = "customer-000000";
    std::vector<std::string> keys = {"customer-000000",   "customer-0000001", "customer-0000002",
                                     "customer-00000020", "customer-0000003", "customer-000000z"};
    for (size_t i = 0; i + 1 < keys.size(); i++) {
        ASSERT_LT(keys[i], keys[i + 1]);
        EXPECT_LT(position(keys[i], prefix), position(keys[i + 1], prefix)) << keys[i];
    }
    EXPECT_EQ(position("customer-000000", prefix), 0.0);
    // Outside the prefix: below or above every key of the leaf.
    EXPECT_EQ(position("customer-", prefix), -INFINITY);
    EXPECT_EQ(position("a", prefix), -INFINITY);
    EXPECT_EQ(position("customer-1", prefix), INFINITY);
    EXPECT_EQ(position("", prefix), -INFINITY);
    EXPECT_EQ(position("", ""), 0.0);
    // No prefix: the first bytes.
    EXPECT_LT(position("a", ""), position("b", ""));
    EXPECT_LT(position("a", ""), position("a\x01", ""));
}

// Random byte strings: sorted by bytes, their positions never decrease.
TEST(KeyBytes, PositionsNeverReverseTheOrder) {
    SplitMix64 rng{11};
    std::vector<std::string> keys;
    for (int i = 0; i < 5000; i++) {
        std::string key = "shared/";
        const size_t length = rng.next() % 12;
        for (size_t j = 0; j < length; j++)
            key.push_back(static_cast<char>(rng.next() % 4 == 0 ? 0xff : rng.next() % 256));
        keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
        return std::lexicographical_compare(
            a.begin(), a.end(), b.begin(), b.end(),
            [](char x, char y) { return static_cast<uint8_t>(x) < static_cast<uint8_t>(y); });
    });
    for (size_t i = 0; i + 1 < keys.size(); i++)
        EXPECT_LE(position(keys[i], "shared/"), position(keys[i + 1], "shared/"));
}

// A position turns back into bytes that sort at or below every key with that
// position (so a split there puts them all on its right) and give the same
// position again.
TEST(KeyBytes, PositionsTurnBackIntoBytes) {
    SplitMix64 rng{3};
    for (int i = 0; i < 1000; i++) {
        std::string key;
        for (int j = 0; j < 16; j++)
            key.push_back(static_cast<char>(rng.next() % 256));
        const double p = position(key, "");
        uint8_t bytes[8];
        position_bytes(p, bytes);
        const std::string back(reinterpret_cast<const char*>(bytes), 8);
        EXPECT_EQ(position(back, ""), p);
        EXPECT_LE(std::memcmp(back.data(), key.data(), 8), 0);
    }
    uint8_t bytes[8];
    position_bytes(-5, bytes);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes), 8), std::string(8, '\0'));
    position_bytes(1e300, bytes);
    EXPECT_EQ(bytes[0], 0xff);
    EXPECT_EQ(bytes[6], 0xf8); // 48 + 5 = 53 bits kept
    EXPECT_EQ(bytes[7], 0x00);
}
