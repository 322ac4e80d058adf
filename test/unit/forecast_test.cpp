#include "core/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.hpp"

using namespace presplit::core;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr size_t kDay = 24;
constexpr size_t kWeek = 7 * kDay;
constexpr size_t kHistory = 21 * kDay;

// A synthetic hourly series: a daily cycle from a trough to peak_to_trough
// times the trough (an asymmetric cycle: busy afternoons, quiet nights),
// growing by growth_per_day (compounded), weekends at weekend_factor, times
// a Gaussian noise of relative standard deviation noise.
struct Shape {
    const char* name;
    double trough;
    double peak_to_trough;
    double growth_per_day;
    double weekend_factor;
    double noise;
};

double daily_cycle(size_t hour_of_day) {
    double a = 2 * kPi * static_cast<double>(hour_of_day) / kDay;
    // Peak around 15:00, trough around 04:00; in [0, 1].
    double v = 0.5 + 0.42 * std::cos(a - 2 * kPi * 15.0 / 24) +
               0.08 * std::cos(2 * (a - 2 * kPi * 11.0 / 24));
    return std::clamp(v, 0.0, 1.0);
}

double gaussian(SplitMix64& random) {
    double u1 = 1 - random.unit(), u2 = random.unit();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
}

// Hours [0, n) of the shape, the cycle shifted by phase hours; *clean (if
// given) receives the values without the noise.
std::vector<double> series(const Shape& shape, size_t n, uint64_t seed, size_t phase = 0,
                           std::vector<double>* clean = nullptr) {
    SplitMix64 random{seed};
    std::vector<double> out(n);
    if (clean)
        clean->resize(n);
    for (size_t t = 0; t < n; t++) {
        size_t hour = t + phase;
        double level =
            shape.trough * std::pow(1 + shape.growth_per_day, static_cast<double>(t) / kDay);
        double v = level * (1 + (shape.peak_to_trough - 1) * daily_cycle(hour % kDay));
        if ((hour / kDay) % 7 >= 5)
            v *= shape.weekend_factor;
        if (clean)
            (*clean)[t] = v;
        out[t] = std::max(0.0, v * (1 + shape.noise * gaussian(random)));
    }
    return out;
}

[[maybe_unused]] Forecast forecast(const std::vector<double>& history, size_t n,
                                   ForecastOptions options = {}) {
    return forecast_hourly(history.data(), n, options);
}

} // namespace

TEST(Forecast, ModelNames) {
    EXPECT_STREQ(model_name(ForecastModel::kTrendOnly), "trend");
    EXPECT_STREQ(model_name(ForecastModel::kSeasonalNaiveDay), "seasonal_naive_day");
    EXPECT_STREQ(model_name(ForecastModel::kSeasonalNaiveWeek), "seasonal_naive_week");
    EXPECT_STREQ(model_name(ForecastModel::kHoltWinters), "holt_winters");
    EXPECT_STREQ(model_name(ForecastModel::kDailyPeakTrend), "daily_peak_trend");
}

namespace {

std::vector<double> exact_daily(size_t n) {
    std::vector<double> y(n);
    for (size_t t = 0; t < n; t++)
        y[t] = 100 * (1 + 4 * daily_cycle(t % kDay));
    return y;
}

void expect_near_relative(double actual, double expected, double tolerance, size_t hour) {
    EXPECT_NEAR(actual, expected, tolerance * std::max(1.0, std::fabs(expected)))
        << "hour " << hour;
}

} // namespace

TEST(Forecast, EmptyHistoryForecastsNothing) {
    Forecast f = forecast_hourly(nullptr, 0, ForecastOptions{});
    EXPECT_EQ(f.history_hours, 0u);
    EXPECT_TRUE(f.short_history);
    EXPECT_TRUE(f.hours.empty());
    EXPECT_TRUE(std::isnan(f.mase));

    std::vector<double> unknown(kHistory, std::nan(""));
    f = forecast(unknown, unknown.size());
    EXPECT_EQ(f.history_hours, 0u);
    EXPECT_TRUE(f.hours.empty());
}

TEST(Forecast, ExactDailySeriesIsRecovered) {
    for (size_t n : {size_t{60}, size_t{200}, kHistory}) {
        auto y = exact_daily(n + 48);
        Forecast f = forecast(y, n);
        EXPECT_FALSE(f.short_history);
        EXPECT_EQ(f.model, ForecastModel::kSeasonalNaiveDay) << model_name(f.model);
        ASSERT_EQ(f.hours.size(), 48u);
        for (size_t i = 0; i < 48; i++) {
            expect_near_relative(f.hours[i].predicted, y[n + i], 1e-12, i);
            // No backtest error: no width.
            expect_near_relative(f.hours[i].lower, y[n + i], 1e-9, i);
            expect_near_relative(f.hours[i].upper, y[n + i], 1e-9, i);
        }
    }
}

TEST(Forecast, ExactWeeklySeriesIsRecovered) {
    auto y = series({"weekly", 100, 4, 0, 0.4, 0}, kHistory + 72, 1);
    Forecast f = forecast(y, kHistory);
    ASSERT_EQ(f.hours.size(), 48u);
    for (size_t i = 0; i < 48; i++)
        expect_near_relative(f.hours[i].predicted, y[kHistory + i], 1e-9, i);
    EXPECT_LT(f.model_mase[static_cast<size_t>(ForecastModel::kSeasonalNaiveWeek)],
              f.model_mase[static_cast<size_t>(ForecastModel::kSeasonalNaiveDay)]);
}

// A size that grows by the same number of bytes every hour.
TEST(Forecast, LinearTrendIsRecovered) {
    std::vector<double> y(kHistory + 168);
    for (size_t t = 0; t < y.size(); t++)
        y[t] = 1e9 + 2.5e6 * static_cast<double>(t);
    ForecastOptions additive;
    additive.multiplicative = false;
    additive.horizon_hours = 168;
    for (size_t n : {size_t{49}, size_t{100}, kHistory}) {
        Forecast f = forecast(y, n, additive);
        ASSERT_EQ(f.hours.size(), 168u);
        for (size_t i = 0; i < 168; i++)
            expect_near_relative(f.hours[i].predicted, y[n + i], 1e-9, i);
    }
    // On log values too (the default), within a percent over a week.
    Forecast f = forecast(y, kHistory, ForecastOptions{});
    for (size_t i = 0; i < 48; i++)
        expect_near_relative(f.hours[i].predicted, y[kHistory + i], 0.01, i);
}

// A trend plus a daily cycle, noise-free: additive (a size that grows faster
// in the afternoon) and multiplicative (a load growing 3 % a day).
TEST(Forecast, TrendWithADailyCycleIsRecovered) {
    std::vector<double> size(kHistory + 48), load(kHistory + 48);
    double bytes = 1e9;
    for (size_t t = 0; t < size.size(); t++) {
        bytes += 1e6 * (1 + 4 * daily_cycle(t % kDay));
        size[t] = bytes;
        load[t] =
            100 * std::pow(1.03, static_cast<double>(t) / kDay) * (1 + 4 * daily_cycle(t % kDay));
    }
    ForecastOptions additive;
    additive.multiplicative = false;
    Forecast f = forecast(size, kHistory, additive);
    for (size_t i = 0; i < 48; i++)
        expect_near_relative(f.hours[i].predicted, size[kHistory + i], 1e-6, i);
    f = forecast(load, kHistory);
    for (size_t i = 0; i < 48; i++)
        expect_near_relative(f.hours[i].predicted, load[kHistory + i], 0.01, i);
}

TEST(Forecast, ShortHistoryFallsBackToTrend) {
    // 30 known hours after 474 unknown ones.
    std::vector<double> y(kHistory, std::nan(""));
    for (size_t t = kHistory - 30; t < kHistory; t++)
        y[t] = 50 + 2 * static_cast<double>(t - (kHistory - 30));
    Forecast f = forecast(y, y.size());
    EXPECT_TRUE(f.short_history);
    EXPECT_EQ(f.history_hours, 30u);
    EXPECT_EQ(f.model, ForecastModel::kTrendOnly);
    EXPECT_TRUE(std::isnan(f.mase));
    ASSERT_EQ(f.hours.size(), 48u);
    for (size_t i = 0; i < 48; i++) {
        expect_near_relative(f.hours[i].predicted, 50 + 2 * static_cast<double>(30 + i), 1e-9, i);
        EXPECT_LE(f.hours[i].lower, f.hours[i].predicted);
        EXPECT_GE(f.hours[i].upper, f.hours[i].predicted);
    }

    // With noise: an interval, wider further out.
    SplitMix64 random{7};
    for (size_t t = kHistory - 30; t < kHistory; t++)
        y[t] = 50 + 2 * static_cast<double>(t - (kHistory - 30)) + 3 * gaussian(random);
    f = forecast(y, y.size());
    EXPECT_TRUE(f.short_history);
    EXPECT_GT(f.hours[0].upper - f.hours[0].lower, 0);
    for (size_t i = 1; i < 48; i++)
        EXPECT_GT(f.hours[i].upper - f.hours[i].lower, f.hours[i - 1].upper - f.hours[i - 1].lower);
    EXPECT_NEAR(f.hours[47].predicted, 50 + 2 * 77, 15);

    // 47 hours of a daily cycle are still short.
    auto cycle = exact_daily(47);
    EXPECT_TRUE(forecast(cycle, cycle.size()).short_history);
    EXPECT_FALSE(forecast(exact_daily(48), 48).short_history);

    // Under three hours: flat, from 0 to twice the largest value.
    std::vector<double> two{10, 20};
    f = forecast(two, 2);
    EXPECT_TRUE(f.short_history);
    EXPECT_EQ(f.hours[5].predicted, 20);
    EXPECT_EQ(f.hours[5].lower, 0);
    EXPECT_EQ(f.hours[5].upper, 40);
}

// On noisy series (daily cycles, growth, weekends), the actual values of the
// next 48 hours fall inside [lower, upper] at about the nominal rate.
TEST(Forecast, IntervalCoversAtItsNominalRate) {
    const Shape shapes[] = {
        {"", 100, 4, 0, 1, 0.05},
        {"", 100, 10, 0.03, 1, 0.10},
        {"", 100, 4, 0, 0.5, 0.07},
    };
    for (double nominal : {0.8, 0.95}) {
        size_t inside = 0, above = 0, points = 0;
        for (const Shape& shape : shapes)
            for (uint64_t seed = 0; seed < 8; seed++) {
                auto y = series(shape, kHistory + 48, 50 + seed, seed * 5);
                ForecastOptions options;
                options.interval = nominal;
                Forecast f = forecast(y, kHistory, options);
                for (size_t i = 0; i < 48; i++) {
                    double actual = y[kHistory + i];
                    inside += actual >= f.hours[i].lower && actual <= f.hours[i].upper;
                    above += actual > f.hours[i].upper;
                    points++;
                }
            }
        double coverage = static_cast<double>(inside) / points;
        std::printf("nominal %.2f: coverage %.3f, above %.3f\n", nominal, coverage,
                    static_cast<double>(above) / points);
        EXPECT_GE(coverage, nominal - 0.04) << nominal;
        EXPECT_LE(coverage, nominal + 0.06) << nominal; // a little wide, rather than narrow
        // The manager acts on the upper bound: it is the one that must hold.
        EXPECT_LE(static_cast<double>(above) / points, (1 - nominal) / 2 + 0.02) << nominal;
    }
}

TEST(Forecast, IntervalNeverNarrowsWithTheHorizon) {
    auto y = series({"", 100, 4, 0.02, 1, 0.08}, kHistory, 3);
    ForecastOptions options;
    options.horizon_hours = kMaxHorizonHours;
    Forecast f = forecast(y, kHistory, options);
    ASSERT_EQ(f.hours.size(), kMaxHorizonHours);
    for (size_t i = 1; i < f.hours.size(); i++) {
        // Relative to the prediction (log space: the bands are multiplicative).
        double width = std::log(f.hours[i].upper / f.hours[i].predicted);
        double previous = std::log(f.hours[i - 1].upper / f.hours[i - 1].predicted);
        EXPECT_GE(width, previous - 1e-3) << i; // the log offset bends it slightly
    }
    EXPECT_GT(f.hours.back().upper / f.hours.back().predicted,
              f.hours[0].upper / f.hours[0].predicted);
}

TEST(Forecast, HistoryIsCleaned) {
    auto y = exact_daily(kHistory + 200 + 48);
    // Only the newest 504 hours count: garbage before them changes nothing.
    auto garbage = y;
    for (size_t t = 0; t < 200; t++)
        garbage[t] = t % 2 ? -1e12 : std::numeric_limits<double>::infinity();
    Forecast f = forecast(garbage, kHistory + 200);
    EXPECT_EQ(f.history_hours, kHistory);
    for (size_t i = 0; i < 48; i++)
        expect_near_relative(f.hours[i].predicted, y[kHistory + 200 + i], 1e-12, i);

    // Gaps inside are filled; negatives read as 0; the result stays finite.
    auto gappy = series({"", 100, 4, 0, 1, 0.05}, kHistory, 9);
    for (size_t t = 100; t < 130; t++)
        gappy[t] = std::nan("");
    gappy[300] = -5;
    gappy[kHistory - 1] = std::numeric_limits<double>::infinity();
    f = forecast(gappy, kHistory);
    EXPECT_EQ(f.history_hours, kHistory);
    for (const ForecastPoint& p : f.hours) {
        EXPECT_TRUE(std::isfinite(p.predicted) && std::isfinite(p.lower) && std::isfinite(p.upper));
        EXPECT_GE(p.lower, 0);
        EXPECT_LE(p.lower, p.predicted);
        EXPECT_LE(p.predicted, p.upper);
    }
}

TEST(Forecast, ZerosAndConstants) {
    for (bool multiplicative : {true, false}) {
        ForecastOptions options;
        options.multiplicative = multiplicative;
        for (double value : {0.0, 42.0}) {
            std::vector<double> y(kHistory, value);
            Forecast f = forecast(y, kHistory, options);
            EXPECT_TRUE(std::isnan(f.mase)); // no seasonal-naive error to scale by
            for (const ForecastPoint& p : f.hours) {
                EXPECT_NEAR(p.predicted, value, 1e-9 * value + 1e-12);
                EXPECT_NEAR(p.lower, value, 1e-9 * value + 1e-12);
                EXPECT_NEAR(p.upper, value, 1e-9 * value + 1e-12);
            }
            EXPECT_EQ(first_crossing(f, value + 1), std::nullopt);
        }
    }
}

// Idle most of the time, bursts at random: the upper bound stays finite and
// above the bursts' typical size.
TEST(Forecast, IntermittentLoad) {
    SplitMix64 random{5};
    std::vector<double> y(kHistory);
    for (double& v : y)
        v = random.unit() < 0.1 ? 1000 * random.unit() : 0;
    Forecast f = forecast(y, kHistory);
    for (const ForecastPoint& p : f.hours) {
        EXPECT_TRUE(std::isfinite(p.upper));
        EXPECT_GE(p.upper, 100);
        EXPECT_LT(p.upper, 1e4);
    }
}

TEST(Forecast, HorizonIsCapped) {
    auto y = exact_daily(kHistory);
    ForecastOptions options;
    options.horizon_hours = 10000;
    EXPECT_EQ(forecast(y, kHistory, options).hours.size(), kMaxHorizonHours);
    options.horizon_hours = 0;
    EXPECT_TRUE(forecast(y, kHistory, options).hours.empty());
    options.horizon_hours = 5;
    EXPECT_EQ(forecast(y, 10, options).hours.size(), 5u);
}

TEST(Forecast, IsPure) {
    auto y = series({"", 100, 4, 0.02, 0.7, 0.08}, kHistory, 11);
    Forecast a = forecast(y, kHistory), b = forecast(y, kHistory);
    EXPECT_EQ(a.model, b.model);
    ASSERT_EQ(a.hours.size(), b.hours.size());
    for (size_t i = 0; i < a.hours.size(); i++) {
        EXPECT_EQ(a.hours[i].predicted, b.hours[i].predicted);
        EXPECT_EQ(a.hours[i].upper, b.hours[i].upper);
    }
}

TEST(Forecast, ForcedModel) {
    auto y = series({"", 100, 4, 0, 1, 0.08}, kHistory, 12);
    ForecastOptions options;
    options.force_model = ForecastModel::kSeasonalNaiveDay;
    Forecast f = forecast(y, kHistory, options);
    EXPECT_EQ(f.model, ForecastModel::kSeasonalNaiveDay);
    for (size_t i = 0; i < 48; i++)
        EXPECT_EQ(f.hours[i].predicted, y[kHistory - kDay + i % kDay]) << i;
    EXPECT_EQ(f.mase, f.model_mase[static_cast<size_t>(ForecastModel::kSeasonalNaiveDay)]);
    // The week-ago model needs a week and a backtest: not there, chosen as usual.
    options.force_model = ForecastModel::kSeasonalNaiveWeek;
    f = forecast(y, 200, options);
    EXPECT_NE(f.model, ForecastModel::kSeasonalNaiveWeek);
    EXPECT_TRUE(std::isnan(f.model_mase[static_cast<size_t>(ForecastModel::kSeasonalNaiveWeek)]));
}

TEST(Forecast, FirstCrossingActsOnTheUpperBound) {
    Forecast f{};
    f.hours = {{10, 8, 12}, {11, 9, 14}, {12, 10, 16}, {20, 15, 25}};
    EXPECT_EQ(first_crossing(f, 12), 0u);
    EXPECT_EQ(first_crossing(f, 13), 1u);
    EXPECT_EQ(first_crossing(f, 15), 2u); // predicted 12 is far below
    EXPECT_EQ(first_crossing(f, 25), 3u);
    EXPECT_EQ(first_crossing(f, 25.5), std::nullopt);
    EXPECT_EQ(first_crossing(Forecast{}, 0), std::nullopt);
}

// A partition's size: inserts follow the daily cycle (noisy), a few deletes;
// forecast additively. The crossing of a threshold 1.5 days of growth ahead
// is seen on time, never late, by the upper bound.
TEST(Forecast, SizeGrowthAndItsCrossing) {
    for (uint64_t seed = 0; seed < 6; seed++) {
        SplitMix64 random{100 + seed};
        std::vector<double> size(kHistory + 48);
        double bytes = 5e9;
        for (size_t t = 0; t < size.size(); t++) {
            bytes += 2e6 * (1 + 5 * daily_cycle(t % kDay)) * (1 + 0.1 * gaussian(random));
            size[t] = bytes;
        }
        ForecastOptions additive;
        additive.multiplicative = false;
        Forecast f = forecast(size, kHistory, additive);
        EXPECT_LT(f.mase, 0.3) << model_name(f.model);
        for (size_t i = 0; i < 48; i++)
            EXPECT_NEAR(f.hours[i].predicted, size[kHistory + i], 0.005 * size[kHistory + i]);
        double threshold = size[kHistory + 36];
        auto crossing = first_crossing(f, threshold);
        ASSERT_TRUE(crossing.has_value());
        EXPECT_LE(*crossing, 36u); // never late
        EXPECT_GE(*crossing, 24u); // at most half a day early
    }
}

// What forecasts from many origins came to, against the noise-free values
// (the oracle: the best any forecast can do) and the seasonal-naive (24 h)
// forecast; MASE over horizons 1..24 h with the in-sample seasonal-naive
// scale (M4), MAPE of the next hour, coverage of the 95 % interval over 48 h.
struct Scores {
    double mase = 0, oracle_mase = 0, naive_mase = 0;
    double mape = 0, oracle_mape = 0;
    double coverage = 0, above = 0, width = 0;
    int chosen[kForecastModelCount] = {};
    int on_increments = 0;
};

// make(seed, &clean) returns kHistory + 48 + 20 hours; forecasts from 4
// origins per seed (5 hours apart). clean: the noise-free values, or when
// cumulative the expected increments (the oracle then adds them to the last
// known value).
template <class Make>
Scores score(Make make, const ForecastOptions& options, size_t seeds, bool cumulative = false) {
    constexpr size_t kOrigins = 4, kAhead = 48;
    Scores sc;
    size_t runs = 0, points = 0;
    for (size_t seed = 0; seed < seeds; seed++) {
        std::vector<double> clean;
        std::vector<double> y = make(seed, &clean);
        for (size_t o = 0; o < kOrigins; o++) {
            size_t end = kHistory + o * 5; // history = y[end - 504, end)
            const double* h = y.data() + (end - kHistory);
            Forecast f = forecast_hourly(h, kHistory, options);
            ForecastOptions naive_options = options;
            naive_options.force_model = ForecastModel::kSeasonalNaiveDay;
            Forecast naive = forecast_hourly(h, kHistory, naive_options);
            double scale = 0;
            for (size_t t = kDay; t < kHistory; t++)
                scale += std::fabs(h[t] - h[t - kDay]);
            scale /= kHistory - kDay;
            double error = 0, naive_error = 0, oracle_error = 0, oracle = y[end - 1];
            for (size_t i = 0; i < kDay; i++) {
                oracle = cumulative ? oracle + clean[end + i] : clean[end + i];
                error += std::fabs(y[end + i] - f.hours[i].predicted);
                naive_error += std::fabs(y[end + i] - naive.hours[i].predicted);
                oracle_error += std::fabs(y[end + i] - oracle);
                if (i == 0)
                    sc.oracle_mape += std::fabs(y[end] - oracle) / y[end];
            }
            sc.mase += error / kDay / scale;
            sc.naive_mase += naive_error / kDay / scale;
            sc.oracle_mase += oracle_error / kDay / scale;
            sc.mape += std::fabs(y[end] - f.hours[0].predicted) / y[end];
            for (size_t i = 0; i < kAhead; i++) {
                sc.coverage += y[end + i] >= f.hours[i].lower && y[end + i] <= f.hours[i].upper;
                sc.above += y[end + i] > f.hours[i].upper;
                sc.width += (f.hours[i].upper - f.hours[i].lower) / f.hours[i].predicted;
                points++;
            }
            sc.chosen[static_cast<size_t>(f.model)]++;
            sc.on_increments += f.on_increments;
            runs++;
        }
    }
    for (double* mean : {&sc.mase, &sc.naive_mase, &sc.oracle_mase, &sc.mape, &sc.oracle_mape})
        *mean /= runs;
    for (double* mean : {&sc.coverage, &sc.above, &sc.width})
        *mean /= points;
    return sc;
}

void print_header() {
    std::printf("| %-26s | %5s | %6s | %5s | %5s | %6s | %5s | %5s | %s\n", "series", "MASE",
                "oracle", "naive", "MAPE1", "oracle", "cover", "width", "models chosen");
}

void print_row(const char* name, const Scores& sc) {
    std::printf("| %-26s | %5.3f | %6.3f | %5.3f | %4.1f%% | %5.1f%% | %4.1f%% | %5.3f |", name,
                sc.mase, sc.oracle_mase, sc.naive_mase, 100 * sc.mape, 100 * sc.oracle_mape,
                100 * sc.coverage, sc.width);
    for (size_t m = 0; m < kForecastModelCount; m++)
        if (sc.chosen[m])
            std::printf(" %s %d", model_name(static_cast<ForecastModel>(m)), sc.chosen[m]);
    if (sc.on_increments)
        std::printf(" (%d on increments)", sc.on_increments);
    std::printf("\n");
}

// The targets of issue 13 on daily-cycle loads, printed as the table of
// docs/prediction.md. MASE <= 0.8 and a next-hour MAPE <= 8 % where the noise
// allows it: with a growth trend, the in-sample scale is that of a smaller
// past level, and even the oracle's MASE is above 0.8; a Gaussian noise of
// relative deviation sigma puts the oracle's MAPE at 0.8 sigma (8 % at 10 %).
// Everywhere: close to the oracle, well below seasonal naive, and an interval
// that covers about its nominal 95 %.
TEST(ForecastReport, DailyCycleLoads) {
    const Shape shapes[] = {
        {"2x, 5% noise", 100, 2, 0, 1, 0.05},
        {"2x, 10% noise", 100, 2, 0, 1, 0.10},
        {"5x, 7% noise", 100, 5, 0, 1, 0.07},
        {"10x, 5% noise", 100, 10, 0, 1, 0.05},
        {"10x, 10% noise", 100, 10, 0, 1, 0.10},
        {"4x, +3%/day, 5%", 100, 4, 0.03, 1, 0.05},
        {"4x, +3%/day, 10%", 100, 4, 0.03, 1, 0.10},
        {"10x, +5%/day, 7%", 100, 10, 0.05, 1, 0.07},
        {"4x, weekends 0.5, 5%", 100, 4, 0, 0.5, 0.05},
        {"4x, weekends 0.5, 10%", 100, 4, 0, 0.5, 0.10},
        {"6x, wkends 0.6, +2%/d, 7%", 100, 6, 0.02, 0.6, 0.07},
    };
    std::printf("loads (multiplicative), 48 forecasts each:\n");
    print_header();
    for (const Shape& shape : shapes) {
        Scores sc = score(
            [&](size_t seed, std::vector<double>* clean) {
                return series(shape, kHistory + 48 + 20, 1000 + seed, seed * 7, clean);
            },
            ForecastOptions{}, 12);
        print_row(shape.name, sc);
        if (shape.growth_per_day == 0) {
            EXPECT_LE(sc.mase, 0.8) << shape.name;
        }
        EXPECT_LE(sc.mase, sc.oracle_mase + 0.1) << shape.name;
        EXPECT_LE(sc.mase, 0.85 * sc.naive_mase) << shape.name;
        if (shape.noise <= 0.07) {
            EXPECT_LE(sc.mape, 0.08) << shape.name;
        }
        // Weekly patterns: three weeks give the weekly season 2 or 3 samples.
        EXPECT_LE(sc.mape, (shape.weekend_factor == 1 ? 1.15 : 1.35) * sc.oracle_mape)
            << shape.name;
        EXPECT_GE(sc.coverage, 0.93) << shape.name;
        EXPECT_LE(sc.above, 0.03) << shape.name;
    }
}

// Sizes (additive): cumulative inserts, steady or following the daily cycle,
// growing or not. The noise of the inserts accumulates (a random walk): the
// oracle is the last known size plus the expected inserts since, and the 48
// hours of one forecast move together (more seeds for the coverage).
TEST(ForecastReport, PartitionSizes) {
    struct Growth {
        const char* name;
        double cycle;          // peak/trough of the inserts
        double growth_per_day; // of the insert rate
    };
    const Growth growths[] = {
        {"steady inserts, 10% noise", 1, 0},
        {"daily-cycle inserts 6x", 6, 0},
        {"daily-cycle 6x, +3%/day", 6, 0.03},
    };
    ForecastOptions additive;
    additive.multiplicative = false;
    std::printf("sizes (additive), 48 forecasts each:\n");
    print_header();
    for (const Growth& g : growths) {
        Scores sc = score(
            [&](size_t seed, std::vector<double>* clean) {
                SplitMix64 random{2000 + seed};
                size_t n = kHistory + 48 + 20;
                std::vector<double> y(n);
                clean->resize(n);
                double bytes = 5e9;
                for (size_t t = 0; t < n; t++) {
                    double rate = 2e6 * std::pow(1 + g.growth_per_day, t / double(kDay)) *
                                  (1 + (g.cycle - 1) * daily_cycle(t % kDay));
                    (*clean)[t] = rate;
                    bytes += rate * (1 + 0.1 * gaussian(random));
                    y[t] = bytes;
                }
                return y;
            },
            additive, 50, true);
        print_row(g.name, sc);
        EXPECT_LE(sc.mase, 0.3) << g.name;
        EXPECT_GE(sc.coverage, 0.9) << g.name;
        EXPECT_LE(sc.above, 0.05) << g.name;
    }
}

namespace {

// A partition's inherited history (docs/prediction.md, *Intervals*): a daily
// cycle (4x) whose level ramps up by `ramp` times over the first ramp_hours
// (log-linearly) then stays at 0.03 statements/s, times a Gaussian noise of
// relative deviation noise; n + 48 hours, the last 48 to check against.
std::vector<double> regime_change(size_t n, double ramp, size_t ramp_hours, double noise,
                                  uint64_t seed) {
    SplitMix64 random{seed};
    std::vector<double> y(n + 48);
    for (size_t t = 0; t < y.size(); t++) {
        double progress = std::min(1.0, static_cast<double>(t) / static_cast<double>(ramp_hours));
        double level = 0.03 * std::pow(ramp, progress - 1);
        double v = level * (1 + 3 * daily_cycle(t % kDay));
        y[t] = std::max(0.0, v * (1 + noise * gaussian(random)));
    }
    return y;
}

} // namespace

// Two and a half to four days of history whose first day is a ramp by 10x or
// 50x: the interval is measured over the regime since, so its upper bound
// stays within a few times the forecast (it was 80-20 000 times, from the
// ramp's day-over-day residuals) and still covers the next 48 hours.
TEST(Forecast, IntervalAfterAChangeOfRegime) {
    for (size_t n : {60, 66, 72, 96})
        for (double ramp : {10.0, 50.0})
            for (size_t ramp_hours : {12, 20}) {
                double worst = 0;
                size_t inside = 0, above = 0, points = 0;
                for (uint64_t seed = 0; seed < 8; seed++) {
                    auto y = regime_change(n, ramp, ramp_hours, 0.05, 70 + seed);
                    Forecast f = forecast(y, n);
                    ASSERT_FALSE(f.short_history);
                    for (size_t i = 0; i < 48; i++) {
                        worst = std::max(worst, f.hours[i].upper / f.hours[i].predicted);
                        inside += y[n + i] >= f.hours[i].lower && y[n + i] <= f.hours[i].upper;
                        above += y[n + i] > f.hours[i].upper;
                        points++;
                    }
                }
                double coverage = static_cast<double>(inside) / static_cast<double>(points);
                std::printf("%zu h, %gx over %zu h: upper/forecast at most %.1f, coverage %.3f, "
                            "above %.3f\n",
                            n, ramp, ramp_hours, worst, coverage,
                            static_cast<double>(above) / static_cast<double>(points));
                EXPECT_LE(worst, 3) << n << " " << ramp << " " << ramp_hours;
                // Below the lower bound: a daily peak trend through the ramp
                // (2.5 days) over-forecasts the next days; the manager acts on
                // the upper bound, which must hold.
                EXPECT_GE(coverage, 0.85) << n << " " << ramp << " " << ramp_hours;
                EXPECT_LE(static_cast<double>(above) / static_cast<double>(points), 0.045)
                    << n << " " << ramp << " " << ramp_hours;
            }
}
