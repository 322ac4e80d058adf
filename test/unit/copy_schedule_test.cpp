#include "core/copy_schedule.hpp"

#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr int64_t kMidnight = 20000 * kDaySeconds;

// 01:00-05:00 every night for `days` days from kMidnight.
std::vector<TimeWindow> nights(int days) {
    auto p = parse_maintenance_window("01:00-05:00");
    return expand_daily_windows(p.windows, kMidnight, kMidnight + days * kDaySeconds, 0);
}

CopyOptions exact() {
    CopyOptions o;
    o.safety_factor = 1;
    o.margin_seconds = 0;
    o.start_early = false;
    return o;
}

} // namespace

TEST(CopySchedule, LatestStartThatFinishesBeforeTheCrossing) {
    auto w = nights(3);
    // 2 h of copy, crossing at 14:00 on day 1: tonight 03:00-05:00 on day 1.
    CopySchedule s = plan_copy(2 * H * 1000.0, 1000, kMidnight + 12 * H,
                               kMidnight + kDaySeconds + 14 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::fits) << s.reason;
    EXPECT_TRUE(s.can_make_it());
    EXPECT_EQ(s.copy_seconds, 2 * H);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + 3 * H);
    EXPECT_EQ(s.finish, kMidnight + kDaySeconds + 5 * H);
    EXPECT_EQ(s.available_seconds, 4 * H);
    EXPECT_EQ(s.latest_start, s.start);

    // start_early: the first window time from now; the latest start is kept.
    CopyOptions early = exact();
    early.start_early = true;
    s = plan_copy(2 * H * 1000.0, 1000, kMidnight + 12 * H, kMidnight + 2 * kDaySeconds + 14 * H, w,
                  early);
    ASSERT_EQ(s.verdict, CopyVerdict::fits);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    EXPECT_EQ(s.finish, kMidnight + kDaySeconds + 3 * H);
    EXPECT_EQ(s.latest_start, kMidnight + 2 * kDaySeconds + 3 * H);
    // Inside a window: now.
    s = plan_copy(H * 1000.0, 1000, kMidnight + kDaySeconds + 2 * H, kMidnight + 2 * kDaySeconds, w,
                  early);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + 2 * H);
}

TEST(CopySchedule, LatestStartIsRoundedDownToTheRoundInterval) {
    auto w = nights(2);
    CopyOptions o = exact();
    o.start_granularity_seconds = 600;
    // 1000 s of copy before 05:00: 04:43:20, rounded down to 04:40.
    CopySchedule s = plan_copy(1000, 1, kMidnight, kMidnight + 5 * H, w, o);
    ASSERT_EQ(s.verdict, CopyVerdict::fits);
    EXPECT_EQ(s.start, kMidnight + 4 * H + 40 * 60);
    // A round at 04:40 still sees it fit.
    EXPECT_EQ(plan_copy(1000, 1, s.start, kMidnight + 5 * H, w, o).verdict, CopyVerdict::fits);
}

TEST(CopySchedule, SpansSeveralNightsAndHonoursTheMargin) {
    auto w = nights(4);
    // 6 h of copy with safety 1.5 = 9 h; crossing at 04:00 on day 3 with a
    // 1 h margin: deadline 03:00 day 3 (2 h that night), 4 h on days 2 and
    // 1 -> 10 h available, start 1 h into day 1's window.
    CopyOptions o;
    o.safety_factor = 1.5;
    o.margin_seconds = H;
    o.start_early = false;
    CopySchedule s =
        plan_copy(6 * H * 10.0, 10, kMidnight, kMidnight + 3 * kDaySeconds + 4 * H, w, o);
    ASSERT_EQ(s.verdict, CopyVerdict::fits) << s.reason;
    EXPECT_EQ(s.copy_seconds, 9 * H);
    EXPECT_EQ(s.deadline, kMidnight + 3 * kDaySeconds + 3 * H);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + 2 * H);
    EXPECT_EQ(s.finish, kMidnight + 3 * kDaySeconds + 3 * H);
}

TEST(CopySchedule, CannotMakeItSaysSoAndStartsAtTheNextWindow) {
    auto w = nights(3);
    // 6 h of copy; only tonight's 4 h lie before the crossing at noon day 1.
    CopySchedule s =
        plan_copy(6 * H * 1.0, 1, kMidnight + 12 * H, kMidnight + kDaySeconds + 12 * H, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::late);
    EXPECT_FALSE(s.can_make_it());
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    EXPECT_EQ(s.finish, kMidnight + 2 * kDaySeconds + 3 * H);
    EXPECT_NE(s.reason.find("cannot make it"), std::string::npos) << s.reason;
    EXPECT_NE(s.reason.find("late"), std::string::npos) << s.reason;

    // Inside a window now: start now.
    s = plan_copy(6 * H * 1.0, 1, kMidnight + 2 * H, kMidnight + 4 * H, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::late);
    EXPECT_EQ(s.start, kMidnight + 2 * H);

    // More than all the windows known: no_window.
    s = plan_copy(100 * H * 1.0, 1, kMidnight, kMidnight + 2 * kDaySeconds, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::no_window);
    EXPECT_EQ(s.finish, 0);
}

TEST(CopySchedule, DoneNoRateAndCrossingInThePast) {
    auto w = nights(2);
    EXPECT_EQ(plan_copy(0, 10, kMidnight, kMidnight + H, w, exact()).verdict, CopyVerdict::done);
    CopySchedule s = plan_copy(10, 0, kMidnight, kMidnight + kDaySeconds, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::no_rate);
    EXPECT_NE(s.reason.find("no copy rate"), std::string::npos);
    s = plan_copy(10, 1, kMidnight + 12 * H, kMidnight, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::late);
    EXPECT_EQ(s.available_seconds, 0);
}

TEST(CopySchedule, FinishAfterWindowTime) {
    auto w = nights(2);
    EXPECT_EQ(finish_after_window_time(w, kMidnight, H), kMidnight + 2 * H);
    EXPECT_EQ(finish_after_window_time(w, kMidnight + 4 * H, 2 * H),
              kMidnight + kDaySeconds + 2 * H);
    EXPECT_EQ(finish_after_window_time(w, kMidnight, 9 * H), 0);
}

TEST(CopyRate, MeasuredFromRecentCopies) {
    CopyRateOptions o;
    // 30 MB in 10 s and 10 MB in 10 s: 2 MB/s; a copy without seconds is skipped.
    CopyRate r = copy_rate({{30.0 * 1024 * 1024, 10}, {10.0 * 1024 * 1024, 10}, {5e6, 0}}, o);
    EXPECT_TRUE(r.measured);
    EXPECT_EQ(r.copies, 2u);
    EXPECT_DOUBLE_EQ(r.wall_bytes_per_second, 2.0 * 1024 * 1024);
    EXPECT_DOUBLE_EQ(r.bytes_per_second, r.wall_bytes_per_second);
    EXPECT_NE(r.reason.find("2 MB/s measured"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("last 2 copies"), std::string::npos) << r.reason;
}

TEST(CopyRate, AssumedWithTheReasonWhenNothingWasMeasured) {
    CopyRateOptions o;
    o.assumed_bytes_per_wall_second = 4.0 * 1024 * 1024;
    CopyRate none = copy_rate({}, o);
    EXPECT_FALSE(none.measured);
    EXPECT_DOUBLE_EQ(none.bytes_per_second, 4.0 * 1024 * 1024);
    EXPECT_NE(none.reason.find("assumed (no finished copy measured yet)"), std::string::npos)
        << none.reason;
    // Too little copying to tell: the assumption, saying how little.
    CopyRate tiny = copy_rate({{1000, 0.01}}, o);
    EXPECT_FALSE(tiny.measured);
    EXPECT_DOUBLE_EQ(tiny.bytes_per_second, 4.0 * 1024 * 1024);
    EXPECT_NE(tiny.reason.find("too little measured"), std::string::npos) << tiny.reason;
}

TEST(CopyRate, OnTheModelClock) {
    CopyRateOptions o;
    o.clock_rate = 1440;
    CopyRate r = copy_rate({{1440.0 * 1000, 1}}, o);
    EXPECT_TRUE(r.measured);
    EXPECT_DOUBLE_EQ(r.wall_bytes_per_second, 1440.0 * 1000);
    EXPECT_DOUBLE_EQ(r.bytes_per_second, 1000);
    EXPECT_NE(r.reason.find("1000 bytes per model second at clock rate 1440"), std::string::npos)
        << r.reason;
}

namespace {

RemoteCopyEstimate hours_of_copy(double hours) {
    RemoteCopyEstimate e;
    e.seconds = hours * H;
    e.reason = "test";
    return e;
}

RemoteStartOptions no_safety() {
    RemoteStartOptions o;
    o.safety_factor = 1;
    return o;
}

} // namespace

TEST(RemoteCopyStart, StartsWhenTheEstimateFitsInWhatIsLeftOfTheWindow) {
    auto w = nights(3); // 01:00-05:00
    // 02:00, 3 h left: a 2 h copy starts, a 2 h copy x1.5 too.
    RemoteCopyStart r =
        decide_remote_copy_start(hours_of_copy(2), kMidnight + 2 * H, w, no_safety());
    EXPECT_EQ(r.verdict, RemoteStartVerdict::start) << r.reason;
    EXPECT_EQ(r.window_left_seconds, 3 * H);
    EXPECT_EQ(r.longest_window_seconds, 4 * H);
    EXPECT_NE(r.reason.find("fits in this window"), std::string::npos) << r.reason;
    r = decide_remote_copy_start(hours_of_copy(2), kMidnight + 2 * H, w, RemoteStartOptions{});
    EXPECT_EQ(r.copy_seconds, 3 * H);
    EXPECT_TRUE(r.starts()) << r.reason;
}

TEST(RemoteCopyStart, WaitsForTheNextWindowWhenWhatIsLeftIsTooShort) {
    auto w = nights(3);
    // 04:00, 1 h left; 2 h x1.5 = 3 h fits tomorrow's 4 h: wait until 01:00.
    RemoteCopyStart r =
        decide_remote_copy_start(hours_of_copy(2), kMidnight + 4 * H, w, RemoteStartOptions{});
    ASSERT_EQ(r.verdict, RemoteStartVerdict::wait) << r.reason;
    EXPECT_FALSE(r.starts());
    EXPECT_EQ(r.wait_until, kMidnight + kDaySeconds + H);
    EXPECT_EQ(r.copy_seconds, 3 * H);
    EXPECT_EQ(r.window_left_seconds, H);
    // The numbers, in words: the estimate, the window left, when it starts.
    EXPECT_NE(r.reason.find("in 21.0 h"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("does not fit in what is left"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("estimated 2.0 h x1.5 = 3.0 h (test), 1.0 h left in this window"),
              std::string::npos)
        << r.reason;
    // At that window's start it fits.
    r = decide_remote_copy_start(hours_of_copy(2), r.wait_until, w, RemoteStartOptions{});
    EXPECT_EQ(r.verdict, RemoteStartVerdict::start) << r.reason;
    // Outside the windows: the next one's start.
    r = decide_remote_copy_start(hours_of_copy(1), kMidnight + 12 * H, w, RemoteStartOptions{});
    EXPECT_EQ(r.verdict, RemoteStartVerdict::wait);
    EXPECT_EQ(r.wait_until, kMidnight + kDaySeconds + H);
    EXPECT_NE(r.reason.find("outside the off-peak windows"), std::string::npos) << r.reason;
}

TEST(RemoteCopyStart, ALongerCopyThanAnyWindowStartsAtAWindowsStart) {
    auto w = nights(3);
    // 10 h: no 4 h window holds it. At 01:00 (or up to an hour later: a
    // quarter of the window here) it starts and says so; at 02:30 it waits.
    RemoteCopyStart r = decide_remote_copy_start(hours_of_copy(10), kMidnight + H, w, no_safety());
    EXPECT_EQ(r.verdict, RemoteStartVerdict::start_long) << r.reason;
    EXPECT_TRUE(r.starts());
    EXPECT_NE(r.reason.find("longer than any whole window (the longest whole window ahead lasts "
                            "4.0 h): it starts at this window's start"),
              std::string::npos)
        << r.reason;
    EXPECT_EQ(
        decide_remote_copy_start(hours_of_copy(10), kMidnight + 2 * H, w, no_safety()).verdict,
        RemoteStartVerdict::start_long);
    r = decide_remote_copy_start(hours_of_copy(10), kMidnight + 2 * H + H / 2, w, no_safety());
    ASSERT_EQ(r.verdict, RemoteStartVerdict::wait) << r.reason;
    EXPECT_EQ(r.wait_until, kMidnight + kDaySeconds + H);
    EXPECT_NE(r.reason.find("it starts at a window's start"), std::string::npos) << r.reason;
    // The last window known: it starts (no later one to wait for).
    auto one = nights(1);
    EXPECT_EQ(
        decide_remote_copy_start(hours_of_copy(10), kMidnight + 3 * H, one, no_safety()).verdict,
        RemoteStartVerdict::start_long);
}

TEST(RemoteCopyStart, NothingRestrictsItWithoutWindowsOrAnEstimate) {
    auto w = nights(2);
    RemoteCopyStart r = decide_remote_copy_start(hours_of_copy(5), kMidnight + 12 * H, {}, {});
    EXPECT_EQ(r.verdict, RemoteStartVerdict::start);
    EXPECT_NE(r.reason.find("no off-peak window known"), std::string::npos) << r.reason;
    r = decide_remote_copy_start(RemoteCopyEstimate{0, "nothing known"}, kMidnight + 12 * H, w, {});
    EXPECT_EQ(r.verdict, RemoteStartVerdict::start);
    EXPECT_NE(r.reason.find("no estimate of its length (nothing known)"), std::string::npos);
    // Outside the windows, none ahead: now.
    EXPECT_EQ(
        decide_remote_copy_start(hours_of_copy(1), kMidnight + 3 * kDaySeconds, w, {}).verdict,
        RemoteStartVerdict::start);
}

TEST(RemoteCopyEstimate, TheCapOrTheSlowerMeasuredRateOnTheModelClock) {
    CopyRate assumed;
    assumed.wall_bytes_per_second = 2e6;
    assumed.reason = "copy rate assumed";
    // 20000 rows at 4000 rows/s: 5 s; at clock rate 1440, 7200 model seconds.
    RemoteCopyEstimate e = estimate_remote_copy(20000, 1e6, 4000, assumed, 1440);
    EXPECT_DOUBLE_EQ(e.seconds, 7200);
    EXPECT_NE(e.reason.find("20000 rows of the partition at "
                            "presplit.backfill_max_rows_per_second = 4000"),
              std::string::npos)
        << e.reason;
    EXPECT_NE(e.reason.find("clock rate 1440"), std::string::npos) << e.reason;
    // A measured rate slower than the cap wins; an assumed one does not.
    CopyRate measured = assumed;
    measured.measured = true;
    measured.wall_bytes_per_second = 1e5;
    EXPECT_DOUBLE_EQ(estimate_remote_copy(20000, 1e6, 4000, measured, 1).seconds, 10);
    EXPECT_DOUBLE_EQ(estimate_remote_copy(20000, 1e8, 4000, assumed, 1).seconds, 5);
    // No cap: the size at the rate; no row count: the same.
    EXPECT_DOUBLE_EQ(estimate_remote_copy(20000, 1e6, 0, measured, 1).seconds, 10);
    EXPECT_DOUBLE_EQ(estimate_remote_copy(0, 1e6, 4000, measured, 1).seconds, 10);
    // Nothing known: no estimate.
    e = estimate_remote_copy(0, 0, 4000, measured, 1);
    EXPECT_EQ(e.seconds, 0);
    EXPECT_NE(e.reason.find("ANALYZE"), std::string::npos);
}
