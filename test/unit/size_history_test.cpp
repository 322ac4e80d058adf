#include "core/size_history.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
// 2023-11-14 22:00:00 UTC: the start of an hour.
constexpr int64_t kT0 = 1699999200;

// Zeroed as shared memory is.
std::unique_ptr<SizeHistory> fresh() {
    auto h = std::make_unique<SizeHistory>();
    std::memset(static_cast<void*>(h.get()), 0, sizeof(SizeHistory));
    return h;
}

std::vector<SizeSample> series(const SizeHistory& h, int64_t now, size_t n) {
    std::vector<SizeSample> out(n, SizeSample{-1, -1, -1});
    out.resize(h.hour_series(now, out.data(), n));
    return out;
}

bool same(const SizeSample& a, const SizeSample& b) {
    return a.at_seconds == b.at_seconds && a.rows == b.rows && a.bytes == b.bytes;
}

} // namespace

TEST(SizeHistory, ZeroInitializedIsEmpty) {
    auto h = fresh();
    EXPECT_EQ(h->latest(kT0).at_seconds, 0);
    for (const SizeSample& s : series(*h, kT0, SizeHistory::kHours))
        EXPECT_TRUE(same(s, SizeSample{}));
}

TEST(SizeHistory, OneSamplePerHourOldestFirst) {
    auto h = fresh();
    for (int i = 0; i < 5; i++)
        h->record(kT0 + i * kHour + 17, 100 * i, 8192 * (i + 1));
    const int64_t now = kT0 + 4 * kHour + 1800;
    auto s = series(*h, now, 6);
    ASSERT_EQ(s.size(), 6u);
    EXPECT_TRUE(same(s[0], SizeSample{})); // the hour before the first sample
    for (int i = 0; i < 5; i++)
        EXPECT_TRUE(same(s[static_cast<size_t>(i) + 1],
                         SizeSample{kT0 + i * kHour + 17, 100 * i, 8192 * (i + 1)}))
            << i;
    EXPECT_TRUE(same(h->latest(now), SizeSample{kT0 + 4 * kHour + 17, 400, 40960}));
}

TEST(SizeHistory, LaterSampleOfTheSameHourReplacesTheEarlierOne) {
    auto h = fresh();
    h->record(kT0 + 10, 1, 100);
    h->record(kT0 + 3599, 2, 200);
    auto s = series(*h, kT0 + 3599, 1);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_TRUE(same(s[0], SizeSample{kT0 + 3599, 2, 200}));
}

TEST(SizeHistory, SkippedHoursHaveNoSample) {
    auto h = fresh();
    h->record(kT0, 1, 100);
    h->record(kT0 + 3 * kHour, 4, 400); // the worker was down for two hours
    auto s = series(*h, kT0 + 3 * kHour, 4);
    ASSERT_EQ(s.size(), 4u);
    EXPECT_TRUE(same(s[0], SizeSample{kT0, 1, 100}));
    EXPECT_EQ(s[1].at_seconds, 0);
    EXPECT_EQ(s[2].at_seconds, 0);
    EXPECT_TRUE(same(s[3], SizeSample{kT0 + 3 * kHour, 4, 400}));
}

TEST(SizeHistory, KeepsTwentyOneDays) {
    auto h = fresh();
    for (int64_t hour = 0; hour < 30 * 24; hour++)
        h->record(kT0 + hour * kHour, hour, hour * 10);
    const int64_t now = kT0 + (30 * 24 - 1) * kHour;
    auto s = series(*h, now, 10000);
    ASSERT_EQ(s.size(), SizeHistory::kHours);
    for (size_t i = 0; i < s.size(); i++) {
        const int64_t hour =
            30 * 24 - static_cast<int64_t>(SizeHistory::kHours) + static_cast<int64_t>(i);
        EXPECT_TRUE(same(s[i], SizeSample{kT0 + hour * kHour, hour, hour * 10})) << i;
    }
    // Asked as of hour 503, hour 0's slot holds hour 504's sample: no sample
    // for hour 0 any more.
    auto old = series(*h, kT0 + 21 * kDay - kHour, SizeHistory::kHours);
    EXPECT_EQ(old[0].at_seconds, 0);
    EXPECT_EQ(old.back().at_seconds, kT0 + 21 * kDay - kHour);
}

TEST(SizeHistory, QueriesAfterALongGapSeeNothingStale) {
    auto h = fresh();
    h->record(kT0, 1, 100);
    EXPECT_EQ(h->latest(kT0 + 21 * kDay).at_seconds, 0);
    EXPECT_TRUE(same(h->latest(kT0 + 21 * kDay - kHour), SizeSample{kT0, 1, 100}));
    // Exactly 504 hours later the same slot stands for another hour.
    for (const SizeSample& s : series(*h, kT0 + 21 * kDay, SizeHistory::kHours))
        EXPECT_EQ(s.at_seconds, 0);
}

TEST(SizeHistory, ClockGoingBackwards) {
    auto h = fresh();
    h->record(kT0 + 5 * kHour, 5, 500);
    h->record(kT0 + 2 * kHour, 2, 200); // the clock stepped back 3 hours
    auto s = series(*h, kT0 + 5 * kHour, 4);
    ASSERT_EQ(s.size(), 4u);
    EXPECT_TRUE(same(s[0], SizeSample{kT0 + 2 * kHour, 2, 200}));
    EXPECT_TRUE(same(s[3], SizeSample{kT0 + 5 * kHour, 5, 500}));
    // Asked as of the earlier time, the later sample is not shown.
    EXPECT_TRUE(same(h->latest(kT0 + 2 * kHour), SizeSample{kT0 + 2 * kHour, 2, 200}));
}

TEST(SizeHistory, IgnoresTimesBeforeTheEpoch) {
    auto h = fresh();
    h->record(0, 1, 1);
    h->record(-kHour, 1, 1);
    EXPECT_EQ(h->latest(kT0).at_seconds, 0);
    EXPECT_EQ(h->hour_series(kT0, nullptr, 10), 0u);
}

TEST(SizeHistory, UnknownRowsAreKept) {
    auto h = fresh();
    h->record(kT0, -1, 8192);
    EXPECT_TRUE(same(h->latest(kT0), SizeSample{kT0, -1, 8192}));
}

TEST(SizeHistory, InheritsAShareOfTheSamplesBeforeTheCutover) {
    auto source = fresh();
    for (int64_t hour = 0; hour < 5; hour++)
        source->record(kT0 + hour * kHour, 1000 * (hour + 1), 8000 * (hour + 1));
    source->record(kT0 + 6 * kHour, -1, 80000); // rows unknown
    const int64_t cutover = kT0 + 4 * kHour + 1800;
    auto made = fresh();
    made->record(cutover + 60, 1234, 5678); // its own sample, same hour as the source's last
    made->inherit(*source, 0.25, cutover);
    std::vector<SizeSample> s(8);
    ASSERT_EQ(made->hour_series(kT0 + 7 * kHour, s.data(), s.size()), 8u);
    EXPECT_TRUE(same(s[0], SizeSample{kT0, 250, 2000}));
    EXPECT_TRUE(same(s[3], SizeSample{kT0 + 3 * kHour, 1000, 8000}));
    EXPECT_TRUE(same(s[4], SizeSample{cutover + 60, 1234, 5678})); // its own is kept
    EXPECT_EQ(s[6].at_seconds, 0); // after the cutover: not inherited
    auto untouched = fresh();
    untouched->inherit(*source, 0.0, cutover);
    untouched->inherit(*source, 2.0, cutover);
    EXPECT_EQ(untouched->latest(kT0 + 7 * kHour).at_seconds, 0);
}
