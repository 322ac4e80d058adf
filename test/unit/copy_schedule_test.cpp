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
    CopyOptions o = exact();
    o.outside_windows = false; // presplit.late_copy_outside_windows off
    // 6 h of copy; only tonight's 4 h lie before the crossing at noon day 1.
    CopySchedule s =
        plan_copy(6 * H * 1.0, 1, kMidnight + 12 * H, kMidnight + kDaySeconds + 12 * H, w, o);
    EXPECT_EQ(s.verdict, CopyVerdict::late);
    EXPECT_EQ(s.outside_from, 0);
    EXPECT_FALSE(s.can_make_it());
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    EXPECT_EQ(s.finish, kMidnight + 2 * kDaySeconds + 3 * H);
    EXPECT_NE(s.reason.find("cannot make it"), std::string::npos) << s.reason;
    EXPECT_NE(s.reason.find("late"), std::string::npos) << s.reason;

    // Inside a window now: start now.
    s = plan_copy(6 * H * 1.0, 1, kMidnight + 2 * H, kMidnight + 4 * H, w, o);
    EXPECT_EQ(s.verdict, CopyVerdict::late);
    EXPECT_EQ(s.start, kMidnight + 2 * H);

    // More than all the windows known: no_window.
    s = plan_copy(100 * H * 1.0, 1, kMidnight, kMidnight + 2 * kDaySeconds, w, o);
    EXPECT_EQ(s.verdict, CopyVerdict::no_window);
    EXPECT_EQ(s.finish, 0);
}

// presplit.late_copy_outside_windows (the default): the windows before the
// deadline first, the shortfall outside them just before the deadline.
TEST(CopySchedule, OutsideTheWindowsTheShortfallEndsAtTheDeadline) {
    auto w = nights(3);
    const int64_t noon = kMidnight + 12 * H, day1 = kMidnight + kDaySeconds;
    // 6 h of copy, tonight's 4 h before the crossing at noon day 1: 2 h
    // outside the windows, 10:00-12:00 on day 1.
    CopySchedule s = plan_copy(6 * H * 1.0, 1, noon, day1 + 12 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::outside_windows) << s.reason;
    EXPECT_TRUE(s.can_make_it());
    EXPECT_FALSE(s.in_windows());
    EXPECT_EQ(s.available_seconds, 4 * H);
    EXPECT_EQ(s.start, day1 + H); // the night's window first
    EXPECT_EQ(s.outside_from, day1 + 10 * H);
    EXPECT_EQ(s.outside_seconds, 2 * H);
    EXPECT_EQ(s.finish, day1 + 12 * H);
    EXPECT_EQ(to_string(s.verdict), std::string("outside_windows"));
    EXPECT_NE(s.reason.find("cannot make it in the windows"), std::string::npos) << s.reason;
    EXPECT_NE(s.reason.find("2.0 h of it outside the windows, without a pause from in 22.0 h"),
              std::string::npos)
        << s.reason;
    EXPECT_NE(s.reason.find("finishes 0.0 h before the deadline"), std::string::npos) << s.reason;

    // The off-window part spans a window: 14 h of copy before 03:00 on day 2
    // (margin 0), 6 h of windows (01:00-05:00 day 1, 01:00-03:00 day 2):
    // without a pause from 17:00 on day 1, 8 h of it outside the windows.
    s = plan_copy(14 * H * 1.0, 1, noon, kMidnight + 2 * kDaySeconds + 3 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::outside_windows) << s.reason;
    EXPECT_EQ(s.available_seconds, 6 * H);
    EXPECT_EQ(s.outside_from, day1 + 17 * H);
    EXPECT_EQ(s.outside_seconds, 8 * H);
    EXPECT_EQ(s.finish, kMidnight + 2 * kDaySeconds + 3 * H);

    // Rounded down to the round interval, never before now.
    CopyOptions o = exact();
    o.start_granularity_seconds = 600;
    s = plan_copy((6 * H + 100) * 1.0, 1, noon, day1 + 12 * H, w, o);
    ASSERT_EQ(s.verdict, CopyVerdict::outside_windows) << s.reason;
    EXPECT_EQ(s.outside_from, day1 + 9 * H + 50 * 60);
    EXPECT_LE(s.finish, day1 + 12 * H);

    // Even without a pause from now it finishes late: from now, and late.
    s = plan_copy(30 * H * 1.0, 1, noon, day1 + 12 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::late) << s.reason;
    EXPECT_FALSE(s.can_make_it());
    EXPECT_EQ(s.outside_from, noon);
    EXPECT_EQ(s.start, noon);
    EXPECT_EQ(s.finish, noon + 30 * H);
    EXPECT_NE(s.reason.find("would finish 6.0 h late"), std::string::npos) << s.reason;

    // No window before the deadline at all: all of it outside, at the end.
    s = plan_copy(2 * H * 1.0, 1, noon, noon + 10 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::outside_windows) << s.reason;
    EXPECT_EQ(s.outside_from, noon + 8 * H);
    EXPECT_EQ(s.start, noon + 8 * H);

    // Enough window time: no outside part.
    s = plan_copy(2 * H * 1.0, 1, noon, day1 + 12 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::fits);
    EXPECT_EQ(s.outside_from, 0);

    // A copy that cannot pause keeps its own rule.
    o = exact();
    o.resumable = false;
    s = plan_copy(6 * H * 1.0, 1, noon, day1 + 12 * H, w, o);
    EXPECT_EQ(s.outside_from, 0);
}

TEST(CopySchedule, RunsInsideTheWindowsAndOutsideThemFromTheFillTime) {
    auto w = nights(3);
    const int64_t noon = kMidnight + 12 * H, day1 = kMidnight + kDaySeconds;
    const CopySchedule s = plan_copy(6 * H * 1.0, 1, noon, day1 + 12 * H, w, exact());
    ASSERT_EQ(s.verdict, CopyVerdict::outside_windows) << s.reason;
    EXPECT_FALSE(s.runs_at(noon, w, false, false));
    EXPECT_TRUE(s.runs_at(day1 + 2 * H, w, false, false)); // the window, at once
    EXPECT_FALSE(s.runs_at(day1 + 6 * H, w, true, false));
    EXPECT_FALSE(s.runs_at(day1 + 9 * H + 50 * 60, w, true, false));
    EXPECT_TRUE(s.runs_at(day1 + 10 * H, w, true, false));
    // Begun outside the windows: it goes on while they still fall short.
    EXPECT_TRUE(s.runs_at(day1 + 9 * H + 50 * 60, w, true, true));
    EXPECT_EQ(s.runs_from(noon, w, false), day1 + H);
    EXPECT_EQ(s.runs_from(day1 + 6 * H, w, true), day1 + 10 * H);
    // Inside the windows only: never outside.
    CopyOptions o = exact();
    o.outside_windows = false;
    const CopySchedule strict = plan_copy(6 * H * 1.0, 1, noon, day1 + 12 * H, w, o);
    EXPECT_FALSE(strict.runs_at(day1 + 10 * H, w, true, true));
    EXPECT_EQ(strict.runs_from(day1 + 6 * H, w, true), kMidnight + 2 * kDaySeconds + H);
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
    EXPECT_EQ(s.outside_from, kMidnight + 12 * H);

    // Done, and no window begins before the deadline: what follows the copy
    // (its verification) runs outside the windows now; else it waits.
    s = plan_copy(0, 10, kMidnight + 12 * H, kMidnight + 20 * H, w, exact());
    EXPECT_EQ(s.verdict, CopyVerdict::done);
    EXPECT_EQ(s.outside_from, kMidnight + 12 * H);
    EXPECT_TRUE(s.runs_at(kMidnight + 12 * H, w, true, false));
    s = plan_copy(0, 10, kMidnight + 12 * H, kMidnight + kDaySeconds + 12 * H, w, exact());
    EXPECT_EQ(s.outside_from, 0);
    EXPECT_FALSE(s.runs_at(kMidnight + 12 * H, w, true, false));
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

// --- a copy that cannot pause (a remote target's): one window, the worker's rule

namespace {

CopyOptions unpausable() {
    CopyOptions o;
    o.margin_seconds = 0;
    o.resumable = false; // safety factor 1.5, as the worker's
    return o;
}

// The worker, at the schedule's start, starts the copy.
void expect_worker_starts(const CopySchedule& s, const RemoteCopyEstimate& e,
                          const std::vector<TimeWindow>& w) {
    const RemoteCopyStart r = decide_remote_copy_start(e, s.start, w, RemoteStartOptions{});
    EXPECT_TRUE(r.starts()) << "schedule: " << s.reason << "; worker: " << r.reason;
    EXPECT_EQ(r.copy_seconds, s.copy_seconds);
}

} // namespace

TEST(UnpausableCopy, FitsInOneWindowWhereTheResumableScheduleSpansTwo) {
    auto w = nights(3); // 01:00-05:00
    // 2 h x1.5 = 3 h; crossing at 03:00 on day 2. Resumable, the copy would
    // start at 04:00 on day 1 and go on at 01:00 on day 2: the worker
    // refuses to start it with 1 h left, and then it finishes after the
    // crossing. Not resumable: the whole night of day 1.
    const int64_t now = kMidnight + 12 * H, crossing = kMidnight + 2 * kDaySeconds + 3 * H;
    CopyOptions resumable = unpausable();
    resumable.resumable = true;
    CopySchedule local = plan_copy(hours_of_copy(2), now, crossing, w, resumable);
    ASSERT_EQ(local.verdict, CopyVerdict::fits) << local.reason;
    EXPECT_EQ(local.start, kMidnight + kDaySeconds + 4 * H);
    EXPECT_FALSE(decide_remote_copy_start(hours_of_copy(2), local.start, w, {}).starts());

    CopySchedule s = plan_copy(hours_of_copy(2), now, crossing, w, unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::fits) << s.reason;
    EXPECT_FALSE(s.resumable);
    EXPECT_TRUE(s.can_make_it());
    EXPECT_EQ(s.copy_seconds, 3 * H);
    // The latest start in that window, an hour to spare for the worker's
    // rounds where the window has it (here it has one: 01:00).
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    EXPECT_EQ(s.latest_start, s.start);
    EXPECT_EQ(s.finish, kMidnight + kDaySeconds + 4 * H);
    EXPECT_EQ(s.available_seconds, 4 * H); // the longest part of one window before it
    expect_worker_starts(s, hours_of_copy(2), w);
    EXPECT_NE(s.reason.find("cannot pause"), std::string::npos) << s.reason;
    EXPECT_NE(s.reason.find("estimated 2.0 h x1.5 = 3.0 h (test)"), std::string::npos) << s.reason;

    // A shorter copy starts later in the window, the slack left: 1 h x1.5
    // ends at 04:00, an hour before the window's.
    s = plan_copy(hours_of_copy(1), now, crossing + kDaySeconds, w, unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::fits) << s.reason;
    EXPECT_EQ(s.start, kMidnight + 2 * kDaySeconds + 2 * H + H / 2);
    expect_worker_starts(s, hours_of_copy(1), w);
    // start_early: the first start the worker would take.
    CopyOptions early = unpausable();
    early.start_early = true;
    s = plan_copy(hours_of_copy(1), now, crossing + kDaySeconds, w, early);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
}

TEST(UnpausableCopy, LateStartsWhereTheWorkerWouldNotNearAWindowsEnd) {
    auto w = nights(3);
    // 04:00 on day 0, inside a window with 1 h left; 3 h needed; crossing at
    // 03:00 on day 1: no window before it holds the copy. Resumable: now.
    // Not resumable: at 01:00 on day 1, where the worker starts it.
    const int64_t now = kMidnight + 4 * H, crossing = kMidnight + kDaySeconds + 3 * H;
    CopySchedule s = plan_copy(hours_of_copy(2), now, crossing, w, unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::late) << s.reason;
    EXPECT_FALSE(s.can_make_it());
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    EXPECT_EQ(s.finish, kMidnight + kDaySeconds + 4 * H);
    EXPECT_EQ(s.latest_start, 0);
    expect_worker_starts(s, hours_of_copy(2), w);
    EXPECT_NE(s.reason.find("cannot make it"), std::string::npos) << s.reason;
    EXPECT_NE(s.reason.find("no window before the deadline holds it (the longest holds 2.0 h); it "
                            "would finish 1.0 h late"),
              std::string::npos)
        << s.reason;
    CopyOptions resumable = unpausable();
    resumable.resumable = true;
    EXPECT_EQ(plan_copy(hours_of_copy(2), now, crossing, w, resumable).start, now);
}

TEST(UnpausableCopy, LongerThanAnyWindowStartsAtAWindowsStart) {
    auto w = nights(3);
    // 10 h x1.5 = 15 h: no 4 h window holds it. It starts at a window's
    // start, the latest that still finishes before the deadline.
    const int64_t now = kMidnight + 12 * H;
    CopySchedule s =
        plan_copy(hours_of_copy(10), now, kMidnight + 3 * kDaySeconds, w, unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::too_long) << s.reason;
    EXPECT_TRUE(s.can_make_it());
    EXPECT_EQ(s.start, kMidnight + 2 * kDaySeconds + H);
    EXPECT_EQ(s.latest_start, s.start);
    EXPECT_EQ(s.finish, s.start + 15 * H);
    expect_worker_starts(s, hours_of_copy(10), w);
    EXPECT_EQ(decide_remote_copy_start(hours_of_copy(10), s.start, w, {}).verdict,
              RemoteStartVerdict::start_long);
    EXPECT_NE(s.reason.find("longer than any whole window: it starts at a window's start"),
              std::string::npos)
        << s.reason;
    EXPECT_NE(s.reason.find("it finishes 8.0 h before the deadline"), std::string::npos)
        << s.reason;
    EXPECT_STREQ(to_string(s.verdict), "too_long");
    // The deadline too near for any: the earliest window's start, late.
    s = plan_copy(hours_of_copy(10), now, kMidnight + kDaySeconds + 5 * H, w, unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::too_long) << s.reason;
    EXPECT_FALSE(s.can_make_it());
    EXPECT_EQ(s.latest_start, 0);
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
    expect_worker_starts(s, hours_of_copy(10), w);
    EXPECT_NE(s.reason.find("it would finish 11.0 h late"), std::string::npos) << s.reason;
    // Half-way through a window it is not started there (the worker would
    // wait): the next window's start.
    s = plan_copy(hours_of_copy(10), kMidnight + 3 * H, kMidnight + kDaySeconds + 5 * H, w,
                  unpausable());
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H) << s.reason;
}

TEST(UnpausableCopy, NoEstimateNoWindowAndTheBytesForm) {
    auto w = nights(2);
    CopySchedule s = plan_copy(RemoteCopyEstimate{0, "nothing known"}, kMidnight + 12 * H,
                               kMidnight + 2 * kDaySeconds, w, unpausable());
    EXPECT_EQ(s.verdict, CopyVerdict::no_rate);
    EXPECT_NE(s.reason.find("nothing known"), std::string::npos) << s.reason;
    s = plan_copy(hours_of_copy(1), kMidnight + 3 * kDaySeconds, kMidnight + 4 * kDaySeconds, w,
                  unpausable());
    EXPECT_EQ(s.verdict, CopyVerdict::no_window) << s.reason;
    // Bytes over a rate, not resumable: the same as that estimate.
    s = plan_copy(2 * H * 1000.0, 1000, kMidnight + 12 * H, kMidnight + kDaySeconds + 3 * H + 2, w,
                  unpausable());
    ASSERT_EQ(s.verdict, CopyVerdict::late) << s.reason;
    EXPECT_EQ(s.start, kMidnight + kDaySeconds + H);
}

TEST(UnpausableCopy, TheWorkerStartsItWhereverTheScheduleStartsIt) {
    // Windows of uneven lengths, every hour of two days, several lengths and
    // deadlines: each start the schedule gives, the worker takes.
    std::vector<TimeWindow> w;
    for (int d = 0; d < 4; ++d) {
        w.push_back(
            {kMidnight + d * kDaySeconds + H, kMidnight + d * kDaySeconds + (3 + d) * H, 0});
        w.push_back({kMidnight + d * kDaySeconds + 13 * H,
                     kMidnight + d * kDaySeconds + 14 * H + H / 2, 0});
    }
    int checked = 0;
    for (int64_t now = kMidnight; now < kMidnight + 2 * kDaySeconds; now += H / 4)
        for (double hours : {0.3, 1.0, 1.9, 3.5, 9.0})
            for (int64_t lead : {6 * H, 20 * H, 40 * H})
                for (bool early : {false, true}) {
                    CopyOptions o = unpausable();
                    o.start_early = early;
                    const CopySchedule s = plan_copy(hours_of_copy(hours), now, now + lead, w, o);
                    if (s.start == 0)
                        continue;
                    EXPECT_GE(s.start, now);
                    EXPECT_NE(window_at(w, s.start), kNoWindow) << s.reason;
                    expect_worker_starts(s, hours_of_copy(hours), w);
                    ++checked;
                }
    EXPECT_GT(checked, 1000);
}
