#include "core/load_history.hpp"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
// 2023-11-14 22:00:00 UTC: the start of an hour (and so of a minute).
constexpr int64_t kT0 = 1699999200;

LoadCounters reads(uint64_t n) {
    return LoadCounters{n, 0, 0, 0, 0};
}

// LoadHistory is 27 KB: keep it off the test's stack, zeroed as shared memory is.
std::unique_ptr<LoadHistory> fresh() {
    auto h = std::make_unique<LoadHistory>();
    std::memset(static_cast<void*>(h.get()), 0, sizeof(LoadHistory));
    return h;
}

std::vector<LoadCounters> minutes(const LoadHistory& h, int64_t now, size_t n) {
    std::vector<LoadCounters> out(n, LoadCounters{});
    out.resize(h.minute_series(now, out.data(), n));
    return out;
}

std::vector<LoadCounters> hours(const LoadHistory& h, int64_t now, size_t n) {
    std::vector<LoadCounters> out(n, LoadCounters{});
    out.resize(h.hour_series(now, out.data(), n));
    return out;
}

} // namespace

TEST(LoadCounters, AddAndHelpers) {
    LoadCounters a{1, 2, 3, 4, 5};
    LoadCounters b{10, 20, 30, 40, 50};
    a += b;
    EXPECT_EQ(a, (LoadCounters{11, 22, 33, 44, 55}));
    EXPECT_EQ(a + b, (LoadCounters{21, 42, 63, 84, 105}));
    EXPECT_EQ(a.statements(), 33u);
    EXPECT_FALSE(a.is_zero());
    EXPECT_TRUE(LoadCounters{}.is_zero());
}

TEST(LoadHistory, ZeroInitializedIsEmpty) {
    auto h = fresh();
    EXPECT_TRUE(h->empty());
    EXPECT_TRUE(h->total().is_zero());
    int64_t covered = -1;
    EXPECT_TRUE(h->last_seconds(kT0, kHour, &covered).is_zero());
    EXPECT_EQ(covered, 59 * kMinute + 1); // 59 whole minutes and second kT0, all zero
    EXPECT_EQ(h->rate_per_second(kT0, kHour, &LoadCounters::reads), 0.0);
    for (const LoadCounters& c : minutes(*h, kT0, 180))
        EXPECT_TRUE(c.is_zero());
    for (const LoadCounters& c : hours(*h, kT0, 504))
        EXPECT_TRUE(c.is_zero());
    // Even at time 0, where the zeroed "newest bucket" indexes point.
    EXPECT_TRUE(h->last_seconds(0, 60).is_zero());

    h->add(kT0 + 5, reads(3));
    EXPECT_FALSE(h->empty());
    EXPECT_EQ(h->started_seconds(), kT0 + 5);
    EXPECT_EQ(h->total(), reads(3));
    EXPECT_EQ(h->last_seconds(kT0 + 5, 60), reads(3));
}

TEST(LoadHistory, MinuteToNextMinute) {
    auto h = fresh();
    h->add(kT0 + 59, reads(1)); // last second of minute 0
    h->add(kT0 + 60, reads(2)); // first second of minute 1
    EXPECT_EQ(h->last_seconds(kT0 + 60, 60), reads(2));
    EXPECT_EQ(h->last_seconds(kT0 + 60, 61), reads(3)); // two buckets
    EXPECT_EQ(h->last_seconds(kT0 + 60, 120), reads(3));
    auto m = minutes(*h, kT0 + 60, 3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0], reads(0));
    EXPECT_EQ(m[1], reads(1));
    EXPECT_EQ(m[2], reads(2));
    // Both fall into the same hour bucket.
    EXPECT_EQ(h->last_seconds(kT0 + 60, 4 * kHour), reads(3));
    EXPECT_EQ(h->total(), reads(3));
}

TEST(LoadHistory, GapOfFiveMinutesClearsTheSkippedBuckets) {
    auto h = fresh();
    // Fill all 180 minute buckets, so that skipped buckets hold stale data.
    for (int64_t i = 0; i < 180; i++)
        h->add(kT0 + i * kMinute, reads(1000 + i));
    int64_t last = kT0 + 179 * kMinute;
    h->add(last + 5 * kMinute, reads(7));
    auto m = minutes(*h, last + 5 * kMinute, 6);
    ASSERT_EQ(m.size(), 6u);
    EXPECT_EQ(m[0], reads(1179));
    for (size_t i = 1; i < 5; i++)
        EXPECT_EQ(m[i], reads(0)) << i;
    EXPECT_EQ(m[5], reads(7));
    EXPECT_EQ(h->last_seconds(last + 5 * kMinute, 5 * kMinute), reads(7));
    EXPECT_EQ(h->last_seconds(last + 5 * kMinute, 6 * kMinute), reads(1179 + 7));
}

TEST(LoadHistory, GapOfFourHoursClearsEveryMinuteButKeepsHours) {
    auto h = fresh();
    for (int64_t i = 0; i < 180; i++)
        h->add(kT0 + i * kMinute, reads(1)); // hours 0, 1, 2: 60 each
    int64_t later = kT0 + 3 * kHour + 4 * kHour;
    h->add(later, reads(5));
    auto m = minutes(*h, later, 180);
    for (size_t i = 0; i + 1 < m.size(); i++)
        EXPECT_TRUE(m[i].is_zero()) << i; // all but the newest
    EXPECT_EQ(m.back(), reads(5));
    EXPECT_EQ(h->last_seconds(later, 180 * kMinute), reads(5));
    auto hr = hours(*h, later, 8);
    ASSERT_EQ(hr.size(), 8u);
    EXPECT_EQ(hr[0], reads(60)); // hour 0
    EXPECT_EQ(hr[1], reads(60));
    EXPECT_EQ(hr[2], reads(60));
    for (size_t i = 3; i < 7; i++)
        EXPECT_TRUE(hr[i].is_zero()) << i;
    EXPECT_EQ(hr[7], reads(5)); // hour 7
    EXPECT_EQ(h->last_seconds(later, 8 * kHour), reads(185));
    EXPECT_EQ(h->total(), reads(185));
}

TEST(LoadHistory, GapOfThirtyDaysClearsEverything) {
    auto h = fresh();
    for (int64_t i = 0; i < 504; i++)
        h->add(kT0 + i * kHour, reads(1));
    int64_t later = kT0 + 503 * kHour + 30 * kDay;
    h->add(later, reads(2));
    auto m = minutes(*h, later, 180);
    auto hr = hours(*h, later, 504);
    ASSERT_EQ(hr.size(), 504u);
    for (size_t i = 0; i + 1 < m.size(); i++)
        EXPECT_TRUE(m[i].is_zero()) << i;
    for (size_t i = 0; i + 1 < hr.size(); i++)
        EXPECT_TRUE(hr[i].is_zero()) << i;
    EXPECT_EQ(hr.back(), reads(2));
    EXPECT_EQ(h->last_seconds(later, 21 * kDay), reads(2));
    EXPECT_EQ(h->total(), reads(506)); // the totals remember
}

TEST(LoadHistory, QueryAfterIdleTimeSeesZeros) {
    auto h = fresh();
    h->add(kT0, reads(4));
    // No add since: buckets after the newest are zero, nothing is written.
    EXPECT_EQ(h->last_seconds(kT0 + 10 * kMinute, 10 * kMinute), reads(0));
    EXPECT_EQ(h->last_seconds(kT0 + 10 * kMinute, 11 * kMinute), reads(4));
    EXPECT_EQ(h->last_seconds(kT0 + 4 * kHour, 3 * kHour), reads(0));
    EXPECT_EQ(h->last_seconds(kT0 + 4 * kHour, 5 * kHour), reads(4));
    EXPECT_EQ(h->last_seconds(kT0 + 30 * kDay, 21 * kDay), reads(0));
}

TEST(LoadHistory, TimeGoingBackwardsAddsIntoTheNewestBucket) {
    auto h = fresh();
    int64_t now = kT0 + 2 * kHour + 5 * kMinute + 30;
    h->add(now - 2 * kMinute, reads(1));
    h->add(now, reads(2));
    h->add(now - kHour, reads(4)); // clock stepped back an hour
    h->add(now - 1, reads(8));     // and then one second
    EXPECT_EQ(h->total(), reads(15));
    auto m = minutes(*h, now, 3);
    EXPECT_EQ(m[0], reads(1));
    EXPECT_EQ(m[1], reads(0));
    EXPECT_EQ(m[2], reads(14)); // newest minute bucket
    EXPECT_EQ(hours(*h, now, 1)[0], reads(15));
    // Queries before the newest bucket are answered as of its end.
    int64_t covered = 0;
    EXPECT_EQ(h->last_seconds(now - kHour, 60, &covered), reads(14));
    EXPECT_EQ(covered, 60);
    EXPECT_EQ(minutes(*h, now - kHour, 3), m);
    // Time moving on again rolls over normally.
    h->add(now + kMinute, reads(16));
    EXPECT_EQ(h->last_seconds(now + kMinute, 60), reads(16));
    EXPECT_EQ(h->last_seconds(now + kMinute, 120), reads(30));
}

TEST(LoadHistory, WindowSumsAreExactAtBucketBoundaries) {
    // One read every second, the clock checked at chosen moments.
    auto h = fresh();
    int64_t fed = kT0 - 1;
    auto feed_through = [&](int64_t t) {
        for (; fed < t; fed++)
            h->add(fed + 1, reads(1));
    };
    int64_t covered = 0;
    // Last second of a minute: a window of whole minutes is exact.
    int64_t end_of_minute = kT0 + 30 * kMinute - 1;
    feed_through(end_of_minute);
    EXPECT_EQ(h->last_seconds(end_of_minute, 60, &covered).reads, 60u);
    EXPECT_EQ(covered, 60);
    EXPECT_EQ(h->last_seconds(end_of_minute, 600, &covered).reads, 600u);
    EXPECT_EQ(covered, 600);
    // First second of a minute: only that second of the current bucket.
    int64_t start_of_minute = kT0 + 30 * kMinute;
    feed_through(start_of_minute);
    EXPECT_EQ(h->last_seconds(start_of_minute, 60, &covered).reads, 1u);
    EXPECT_EQ(covered, 1);
    EXPECT_EQ(h->last_seconds(start_of_minute, 61, &covered).reads, 61u);
    EXPECT_EQ(covered, 61);
    // Mid-minute: whole buckets, the covered seconds tell the rate.
    int64_t mid = kT0 + 30 * kMinute + 29;
    feed_through(mid);
    EXPECT_EQ(h->last_seconds(mid, 90, &covered).reads, 90u);
    EXPECT_EQ(covered, 90);
    EXPECT_DOUBLE_EQ(h->rate_per_second(mid, 90, &LoadCounters::reads), 1.0);
    // 180 minutes is the longest minute window; beyond that, hours.
    int64_t end_of_hour = kT0 + 4 * kHour - 1;
    feed_through(end_of_hour);
    EXPECT_EQ(h->last_seconds(end_of_hour, 180 * kMinute, &covered).reads, 3 * 3600u);
    EXPECT_EQ(covered, 3 * kHour);
    EXPECT_EQ(h->last_seconds(end_of_hour, 180 * kMinute + 1, &covered).reads, 4 * 3600u);
    EXPECT_EQ(covered, 4 * kHour);
    EXPECT_DOUBLE_EQ(h->rate_per_second(end_of_hour, 4 * kHour, &LoadCounters::reads), 1.0);
    // Windows beyond 21 days are capped at the hour ring.
    EXPECT_EQ(h->last_seconds(end_of_hour, 100 * kDay, &covered).reads, 4 * 3600u);
    EXPECT_EQ(covered, 21 * kDay);
    // Nothing for an empty window.
    EXPECT_TRUE(h->last_seconds(end_of_hour, 0, &covered).is_zero());
    EXPECT_EQ(covered, 0);
    EXPECT_EQ(h->rate_per_second(end_of_hour, -5, &LoadCounters::reads), 0.0);
}

TEST(LoadHistory, SeriesAreOldestFirstAndWrapAround) {
    auto h = fresh();
    for (int64_t i = 0; i < 200; i++)
        h->add(kT0 + i * kMinute + 7, LoadCounters{static_cast<uint64_t>(i), 0, 0, 0, 1});
    int64_t now = kT0 + 199 * kMinute + 7;
    auto m = minutes(*h, now, 1000); // clamped to the ring
    ASSERT_EQ(m.size(), 180u);
    for (size_t i = 0; i < m.size(); i++)
        EXPECT_EQ(m[i].reads, 20 + i) << i;
    auto few = minutes(*h, now, 3);
    ASSERT_EQ(few.size(), 3u);
    EXPECT_EQ(few[0].reads, 197u);
    EXPECT_EQ(few[2].reads, 199u);
    EXPECT_EQ(h->minute_series(now, nullptr, 3), 0u);

    auto hr = hours(*h, now, 5);
    ASSERT_EQ(hr.size(), 5u);
    EXPECT_TRUE(hr[0].is_zero()); // before the first add
    EXPECT_EQ(hr[1].time_us, 60u);
    EXPECT_EQ(hr[1].reads, (0u + 59u) * 60u / 2u);
    EXPECT_EQ(hr[2].time_us, 60u);
    EXPECT_EQ(hr[3].time_us, 60u);
    EXPECT_EQ(hr[4].time_us, 20u); // the current hour so far
    EXPECT_EQ(hr[4].reads, (180u + 199u) * 20u / 2u);
}

TEST(LoadHistory, HourRingWrapsAround) {
    auto h = fresh();
    for (int64_t i = 0; i < 600; i++)
        h->add(kT0 + i * kHour, reads(static_cast<uint64_t>(i)));
    int64_t now = kT0 + 599 * kHour;
    auto hr = hours(*h, now, 504);
    ASSERT_EQ(hr.size(), 504u);
    for (size_t i = 0; i < hr.size(); i++)
        EXPECT_EQ(hr[i].reads, 96 + i) << i;
    EXPECT_EQ(h->last_seconds(now, 2 * kDay).reads, (552u + 599u) * 48u / 2u);
}

TEST(LoadHistory, Reset) {
    auto h = fresh();
    h->add(kT0, LoadCounters{1, 2, 3, 4, 5});
    h->reset();
    EXPECT_TRUE(h->empty());
    EXPECT_TRUE(h->total().is_zero());
    EXPECT_TRUE(h->last_seconds(kT0, 60).is_zero());
    h->add(kT0 + 10, reads(1));
    EXPECT_EQ(h->started_seconds(), kT0 + 10);
}

TEST(LoadHistory, TimesBeforeTheZeroedNewestBucketAddIntoIt) {
    // Zeroed memory says "newest bucket = minute 0 (1970)": a clock below
    // that is a clock going backwards, and is handled as one.
    auto h = fresh();
    h->add(-61, reads(1));
    h->add(-3 * kDay, reads(2));
    EXPECT_EQ(h->total(), reads(3));
    EXPECT_EQ(h->last_seconds(-61, 60), reads(3));
    EXPECT_EQ(h->last_seconds(59, 60), reads(3));
    EXPECT_EQ(h->last_seconds(60, 60), reads(0));
    EXPECT_EQ(h->last_seconds(60, 120), reads(3));
}

TEST(LoadHistory, HourlyStatementRatesAreCompleteHoursWithNaNBeforeTheStart) {
    auto h = fresh();
    EXPECT_TRUE(h->hourly_statement_rates(kT0).empty()); // nothing added
    // First add half-way through the hour kT0; then 3 full hours of 7200
    // statements (2/s); now is in the hour after.
    h->add(kT0 + 1800, LoadCounters{1800, 0, 0, 0, 0});
    for (int64_t hour = 1; hour <= 3; ++hour)
        h->add(kT0 + hour * kHour + 10, LoadCounters{3600, 3600, 0, 0, 0});
    const int64_t now = kT0 + 4 * kHour + 5;
    std::vector<double> rates = h->hourly_statement_rates(now);
    ASSERT_EQ(rates.size(), LoadHistory::kHourBuckets - 1); // the newest is partial
    for (size_t i = 0; i + 4 < rates.size(); ++i)
        EXPECT_TRUE(std::isnan(rates[i])) << i; // before the first add
    const size_t n = rates.size();
    EXPECT_DOUBLE_EQ(rates[n - 4], 1.0); // 1800 statements in the 1800 s since the start
    EXPECT_DOUBLE_EQ(rates[n - 3], 2.0);
    EXPECT_DOUBLE_EQ(rates[n - 2], 2.0);
    EXPECT_DOUBLE_EQ(rates[n - 1], 2.0);
    // An idle hour is a zero, not NaN.
    const std::vector<double> later = h->hourly_statement_rates(now + kHour);
    EXPECT_DOUBLE_EQ(later.back(), 0.0);
}

TEST(LoadHistory, InheritsAShareOfTheBucketsBeforeTheCutover) {
    // The source: 3 days at 10 statements/s; cut over at kT0 + 3 days + 30 min.
    auto source = fresh();
    for (int64_t t = kT0; t < kT0 + 3 * kDay + kHour; t += 60)
        source->add(t, reads(600));
    const int64_t cutover = kT0 + 3 * kDay + 1800;
    // The new partition: its own statements since the cutover.
    auto made = fresh();
    made->add(cutover + 60, reads(300));
    made->add(cutover + 3 * 60, reads(300));
    made->inherit(*source, 0.25, cutover);
    EXPECT_EQ(made->started_seconds(), kT0);
    const std::vector<double> rates = made->hourly_statement_rates(cutover + 2 * kHour);
    const size_t n = rates.size();
    // Whole days before: a quarter of 10/s.
    EXPECT_DOUBLE_EQ(rates[n - 30], 2.5);
    // The cutover's hour: a quarter of the source's whole hour (its bucket
    // began before the cutover; a detached source records nothing after
    // it, this one did) plus the new partition's own 600.
    EXPECT_DOUBLE_EQ(rates[n - 2], (0.25 * 60 * 600 + 600) / 3600.0);
    // Minutes: a quarter of the source's 59 before the cutover still in the
    // window of 180, and its own 600 after.
    EXPECT_EQ(made->last_seconds(cutover + 2 * kHour, 180 * 60).reads, 59u * 150u + 600u);
}

TEST(LoadHistory, InheritsIntoAnEmptyHistoryAndOnlyBeforeTheCutover) {
    auto source = fresh();
    source->add(kT0, reads(100));
    source->add(kT0 + kHour, reads(100)); // after the cutover: not inherited
    auto made = fresh();
    made->inherit(*source, 0.5, kT0 + 60);
    EXPECT_EQ(made->started_seconds(), kT0);
    EXPECT_EQ(made->total(), reads(50)); // the bucket before the cutover only
    EXPECT_EQ(made->last_seconds(kT0 + kHour, 2 * kHour), reads(50));
    // Nothing to inherit: share out of range, source empty or started after.
    auto untouched = fresh();
    untouched->inherit(*source, 0.0, kT0 + 60);
    untouched->inherit(*source, 1.5, kT0 + 60);
    untouched->inherit(*fresh(), 0.5, kT0 + 60);
    untouched->inherit(*source, 0.5, kT0);
    EXPECT_TRUE(untouched->empty());
}
