#include "core/offpeak.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

constexpr int64_t H = 3600;
constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kMidnight = 20000 * kDaySeconds; // a UTC midnight

std::vector<ForecastPoint> day_of(const std::vector<double>& loads) {
    std::vector<ForecastPoint> v;
    for (double x : loads)
        v.push_back({x, x * 0.9, x * 1.1});
    return v;
}

} // namespace

TEST(MaintenanceWindow, ParsesOneAndSeveral) {
    auto p = parse_maintenance_window("01:00-05:00");
    ASSERT_TRUE(p.ok) << p.error;
    ASSERT_EQ(p.windows.size(), 1u);
    EXPECT_EQ(p.windows[0].start_minute, 60);
    EXPECT_EQ(p.windows[0].end_minute, 300);

    p = parse_maintenance_window(" 13:00 - 14:30 ,1:00-5:00");
    ASSERT_TRUE(p.ok) << p.error;
    ASSERT_EQ(p.windows.size(), 2u); // sorted
    EXPECT_EQ(format_maintenance_window(p.windows), "01:00-05:00,13:00-14:30");
}

TEST(MaintenanceWindow, EmptyMeansPredicted) {
    for (const char* text : {"", "   "}) {
        auto p = parse_maintenance_window(text);
        EXPECT_TRUE(p.ok);
        EXPECT_TRUE(p.windows.empty());
    }
}

TEST(MaintenanceWindow, WrapsMidnightAndMerges) {
    auto p = parse_maintenance_window("22:00-02:00");
    ASSERT_TRUE(p.ok);
    ASSERT_EQ(p.windows.size(), 1u);
    EXPECT_EQ(format_maintenance_window(p.windows), "22:00-02:00");

    // Overlapping and touching windows become one; 24:00 joins 00:00.
    p = parse_maintenance_window("01:00-03:00,02:00-04:00,04:00-05:00,23:00-24:00,00:00-00:30");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(format_maintenance_window(p.windows), "01:00-05:00,23:00-00:30");

    p = parse_maintenance_window("00:00-24:00");
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(format_maintenance_window(p.windows), "00:00-24:00");
}

TEST(MaintenanceWindow, BadInputSaysWhatIsWrong) {
    struct Case {
        const char* text;
        const char* says;
    } cases[] = {
        {"01:00", "is not HH:MM-HH:MM"},
        {"01:00-05:00,", "empty window"},
        {",01:00-05:00", "empty window"},
        {"1-5", "is not HH:MM"},
        {"01:60-05:00", "minutes above 59"},
        {"25:00-05:00", "past 24:00"},
        {"01:00-24:30", "past 24:00"},
        {"24:00-05:00", "starts at 24:00"},
        {"03:00-03:00", "is empty"},
        {"01:00-05:00-06:00", "is not HH:MM-HH:MM"},
        {"aa:bb-05:00", "is not HH:MM"},
        {"01:00-05:0x", "is not HH:MM"},
        {"-01:00-05:00", "is not HH:MM-HH:MM"},
    };
    for (const Case& c : cases) {
        auto p = parse_maintenance_window(c.text);
        EXPECT_FALSE(p.ok) << c.text;
        EXPECT_NE(p.error.find(c.says), std::string::npos) << c.text << ": " << p.error;
        EXPECT_FALSE(p.hint.empty());
    }
}

TEST(MaintenanceWindow, ExpandsInTheServersTimeZone) {
    auto p = parse_maintenance_window("01:00-05:00");
    ASSERT_TRUE(p.ok);
    // UTC+2: 01:00-05:00 local is 23:00-03:00 UTC, from the day before.
    auto w = expand_daily_windows(p.windows, kMidnight, kMidnight + 2 * kDaySeconds, 2 * 3600);
    ASSERT_EQ(w.size(), 3u);
    EXPECT_EQ(w[0].starts, kMidnight); // clipped
    EXPECT_EQ(w[0].ends, kMidnight + 3 * H);
    EXPECT_EQ(w[1].starts, kMidnight + 23 * H);
    EXPECT_EQ(w[1].ends, kMidnight + 27 * H);
    EXPECT_EQ(w[2].starts, kMidnight + 47 * H);
    EXPECT_EQ(w[2].ends, kMidnight + 48 * H); // clipped
    EXPECT_TRUE(std::isnan(w[0].predicted_load));
    // Clipped to [from, until): from inside the window.
    w = expand_daily_windows(p.windows, kMidnight + 2 * H, kMidnight + 4 * H, 0);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].starts, kMidnight + 2 * H);
    EXPECT_EQ(w[0].ends, kMidnight + 4 * H);
    // West of UTC.
    w = expand_daily_windows(p.windows, kMidnight, kMidnight + kDaySeconds, -5 * 3600);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].starts, kMidnight + 6 * H);
}

TEST(MaintenanceWindow, WrappingWindowReachesIntoTheRange) {
    auto p = parse_maintenance_window("22:00-02:00");
    ASSERT_TRUE(p.ok);
    auto w = expand_daily_windows(p.windows, kMidnight, kMidnight + kDaySeconds, 0);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0].starts, kMidnight); // yesterday's window, clipped
    EXPECT_EQ(w[0].ends, kMidnight + 2 * H);
    EXPECT_EQ(w[1].starts, kMidnight + 22 * H);
    EXPECT_EQ(w[1].ends, kMidnight + 24 * H);
    EXPECT_EQ(window_seconds_between(w, kMidnight, kMidnight + kDaySeconds), 4 * H);
    EXPECT_EQ(window_at(w, kMidnight + H), 0u);
    EXPECT_EQ(window_at(w, kMidnight + 2 * H), kNoWindow); // ends exclusive
    EXPECT_EQ(window_at(w, kMidnight + 22 * H), 1u);
    EXPECT_EQ(window_at(w, kMidnight - 1), kNoWindow);
}

TEST(OffpeakPrediction, QuietHoursOfADailyCycle) {
    // Trough at 03:00-05:00, peak in the afternoon.
    std::vector<double> load(24, 100);
    for (int h : {1, 2, 3, 4, 5})
        load[h] = 20;
    load[14] = 200;
    auto w = predict_offpeak_windows(day_of(load), kMidnight, kMidnight, kMidnight + kDaySeconds,
                                     OffpeakOptions{});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].starts, kMidnight + H);
    EXPECT_EQ(w[0].ends, kMidnight + 6 * H);
    EXPECT_DOUBLE_EQ(w[0].predicted_load, 20);
}

TEST(OffpeakPrediction, NightAcrossTheEndOfTheForecastIsOneWindowRepeatedDaily) {
    // The forecast starts at 10:00; quiet from 22:00 to 04:00.
    int64_t first = kMidnight + 10 * H;
    std::vector<double> load(24, 100);
    for (int k = 12; k < 18; k++) // hours 22..03 are indexes 12..17
        load[k] = 10;
    auto w = predict_offpeak_windows(day_of(load), first, first, first + 3 * kDaySeconds,
                                     OffpeakOptions{});
    ASSERT_EQ(w.size(), 3u);
    for (size_t i = 0; i < w.size(); i++) {
        EXPECT_EQ(w[i].starts, kMidnight + 22 * H + static_cast<int64_t>(i) * kDaySeconds);
        EXPECT_EQ(w[i].seconds(), 6 * H);
    }
    // Shorter runs than min_hours are not windows.
    load.assign(24, 100);
    load[5] = 10;
    EXPECT_TRUE(
        predict_offpeak_windows(day_of(load), first, first, first + kDaySeconds, OffpeakOptions{})
            .empty());
    // A night cut by the forecast's end that is long enough only once joined.
    load.assign(24, 100);
    load[0] = load[23] = 10;
    w = predict_offpeak_windows(day_of(load), first, first + H, first + 2 * kDaySeconds,
                                OffpeakOptions{});
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0].starts, first + 23 * H);
    EXPECT_EQ(w[0].ends, first + 25 * H);
}

TEST(OffpeakPrediction, FlatLoadIsOneWindowAndUnknownLoadNone) {
    std::vector<double> load(24, 100);
    load[7] = 95; // within 10 % of the peak: flat
    auto w = predict_offpeak_windows(day_of(load), kMidnight, kMidnight,
                                     kMidnight + 2 * kDaySeconds, OffpeakOptions{});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].seconds(), 2 * kDaySeconds);

    load[3] = NAN;
    EXPECT_TRUE(predict_offpeak_windows(day_of(load), kMidnight, kMidnight, kMidnight + kDaySeconds,
                                        OffpeakOptions{})
                    .empty());
    EXPECT_TRUE(predict_offpeak_windows(day_of(std::vector<double>(23, 1)), kMidnight, kMidnight,
                                        kMidnight + kDaySeconds, OffpeakOptions{})
                    .empty());
}

TEST(OffpeakPrediction, QuietFractionOfTheRange) {
    // Sinusoid from 10 to 100: the bottom 30 % of the range is below 37.
    std::vector<double> load(24);
    for (int h = 0; h < 24; h++)
        load[h] = 55 - 45 * std::cos(2 * kPi * (h - 3) / 24.0); // trough at 03:00
    // Quiet: 23:00 to 08:00 (cos >= 0.4 within 4.4 h of 03:00).
    auto w = predict_offpeak_windows(day_of(load), kMidnight, kMidnight - 2 * H,
                                     kMidnight + kDaySeconds - 2 * H, OffpeakOptions{});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].starts, kMidnight - H);
    EXPECT_EQ(w[0].ends, kMidnight + 8 * H);
    for (int64_t t = w[0].starts; t < w[0].ends; t += H)
        EXPECT_LE(load[((t - kMidnight) / H + 24) % 24], 10 + 0.3 * 90);
    EXPECT_LT(w[0].predicted_load, 37);
}
