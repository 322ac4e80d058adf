// The forecast models behind forecast_hourly() (core/forecast.hpp), internal
// to the core: each one forecasts from an origin t (it has seen y[0, t)) the
// values y[t], y[t + 1], ... Origins are visited in increasing order, so that
// Holt-Winters filters forward once per backtest. Fixed-size state only.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

#include "core/forecast.hpp"

namespace presplit::core::forecast_detail {

constexpr size_t kDayHours = 24;
constexpr size_t kWeekHours = 7 * kDayHours;
constexpr size_t kTrendWindowHours = 2 * kDayHours; // the trend model's fit window
constexpr size_t kPeakDays = 7;                     // daily maxima in the peak trend's fit

// One series, cleaned (finite, >= 0, gaps filled), with its model space: the
// logarithm when multiplicative (peaks and troughs scale together: additive
// in log space), the values themselves otherwise.
struct Series {
    size_t n;
    bool multiplicative;
    bool non_negative; // values (loads, sizes); false for their increments
    double offset;     // log(y + offset): zeros stay finite; small against the mean
    std::array<double, kMaxHistoryHours> y;
    std::array<double, kMaxHistoryHours> z;               // to_model(y)
    std::array<double, kMaxHistoryHours + 1> day_maximum; // [e]: max of y[e - 24, e), e >= 24
    // Holt-Winters' state after two weeks when it has a weekly season (the
    // same for all its parameters): see WeeklyStart. Valid when n >= 336.
    struct WeeklyStart {
        double level, trend;
        std::array<double, kDayHours> day;
        std::array<double, kWeekHours> week;
    } weekly_start;

    double to_model(double v) const { return multiplicative ? std::log(v + offset) : v; }
    double from_model(double v) const { return multiplicative ? std::exp(v) - offset : v; }
    double clamp(double v) const { return non_negative && v < 0 ? 0 : v; }
};

class Model {
public:
    virtual ~Model() = default;
    // The first origin it can forecast from.
    virtual size_t warmup() const = 0;
    // The first origin from which its errors are like those it will make at
    // the end of the history (its state has settled): the interval's
    // residuals are collected from there.
    virtual size_t settled() const { return warmup(); }
    // Sees y[0, t); t never decreases (until restart()), warmup() <= t <= n.
    virtual void advance(size_t t) = 0;
    // Forgets what advance() saw, to backtest again.
    virtual void restart() {}
    // out[i] = forecast of y[t + i], i < count <= kMaxHorizonHours;
    // Series::clamp()ed.
    virtual void predict(size_t count, double* out) const = 0;
    // The same in model space (Series::to_model of it).
    virtual void predict_model(const Series& s, size_t count, double* out) const {
        predict(count, out);
        for (size_t i = 0; i < count; i++)
            out[i] = s.to_model(out[i]);
    }
};

// The same hour one period (a day, a week) ago, or the period before for
// horizons beyond one period.
class SeasonalNaive final : public Model {
public:
    SeasonalNaive(const Series& s, size_t period) : s_(s), period_(period) {}
    size_t warmup() const override { return period_; }
    void advance(size_t t) override { t_ = t; }
    void predict(size_t count, double* out) const override;

private:
    const Series& s_;
    size_t period_;
    size_t t_ = 0;
};

// A least-squares line through the last min(t, window) hours, projected.
class LinearTrend final : public Model {
public:
    LinearTrend(const Series& s, size_t window) : s_(s), window_(window) {}
    size_t warmup() const override { return 1; }
    size_t settled() const override { return window_; }
    void advance(size_t t) override;
    void predict(size_t count, double* out) const override;
    // Of the last fit: points, residual standard deviation (NaN under 3
    // points), and the prediction's standard error factor for y[t + i]:
    // sqrt(1 + 1/W + (x - mean x)^2 / Sxx).
    size_t points() const { return points_; }
    double residual_sd() const;
    double standard_error_factor(size_t i) const;

private:
    const Series& s_;
    size_t window_;
    size_t t_ = 0, points_ = 0;
    double mean_x_ = 0, mean_y_ = 0, slope_ = 0, sxx_ = 0;
};

// The daily maxima of the last kPeakDays 24-hour windows ending at the origin,
// fitted by a line and projected to the coming days, shaped by the daily
// profile of the same days: times the mean ratio of each hour to its day's
// maximum (multiplicative), or plus the mean difference (additive).
class DailyPeakTrend final : public Model {
public:
    explicit DailyPeakTrend(const Series& s) : s_(s) {}
    size_t warmup() const override { return kDayHours; }
    size_t settled() const override { return 3 * kDayHours; }
    void advance(size_t t) override;
    void predict(size_t count, double* out) const override;

private:
    const Series& s_;
    double peak_now_ = 0, peak_slope_ = 0;  // the line at day 0 (the last 24 h), per day
    std::array<double, kDayHours> shape_{}; // by hour after the origin, mod 24
};

struct HoltWintersParameters {
    double alpha; // level
    double beta;  // trend
    double gamma; // daily season
    double phi;   // trend damping
    double omega; // weekly season (on top of the daily one); 0: none
};

// Additive Holt-Winters in model space (on log values when multiplicative):
// level, damped trend, a 24-hour season and, when omega > 0, a 168-hour season
// of what the daily one leaves (Taylor's double seasonal method: weekends).
// Initialized from the first day; the daily season's smoothing starts as the
// running mean of the days seen (gamma_t = max(gamma, 1 / days seen)), so one
// noisy first day does not linger. The weekly season starts after two weeks,
// from a decomposition of them (start_week()), then likewise.
class HoltWinters final : public Model {
public:
    HoltWinters(const Series& s, const HoltWintersParameters& p) : s_(s), p_(p) {}
    size_t warmup() const override { return kDayHours; }
    size_t settled() const override { return p_.omega > 0 ? 2 * kWeekHours : 3 * kDayHours; }
    void advance(size_t t) override;
    void restart() override { t_ = 0; }
    void predict(size_t count, double* out) const override;
    void predict_model(const Series& s, size_t count, double* out) const override;
    // The same, not clamped at 0 (values below the log offset included).
    void predict_raw_model(size_t count, double* out) const;

private:
    const Series& s_;
    HoltWintersParameters p_;
    size_t t_ = 0; // observations filtered
    double level_ = 0, trend_ = 0;
    std::array<double, kDayHours> day_{};   // by absolute hour mod 24
    std::array<double, kWeekHours> week_{}; // by absolute hour mod 168
};

// Series::weekly_start of s (n >= 336): after two weeks, with a weekly
// season, level, trend and both seasons afresh from those weeks (a classical
// decomposition, as Taylor initializes). The difference between the weeks is
// the trend (the weekly pattern cancels out); the detrended mean is the
// level, the mean by hour of the day the daily season, the rest by hour of
// the week the weekly one. The filter had taken the weekends for declines
// of the level or the trend.
void start_week(Series& s);

// A model of the hourly increments forecasting the values: the last value
// plus the forecast increments. A size is a sum of inserts: its errors are a
// random walk, which this anchors at the last known size.
class Integrated final : public Model {
public:
    // increments models y[k + 1] - y[k] of values.
    Integrated(const Series& values, Model& increments)
        : values_(values), increments_(increments) {}
    size_t warmup() const override { return increments_.warmup() + 1; }
    size_t settled() const override { return increments_.settled() + 1; }
    void advance(size_t t) override {
        t_ = t;
        increments_.advance(t - 1);
    }
    void restart() override { increments_.restart(); }
    void predict(size_t count, double* out) const override;

private:
    const Series& values_;
    Model& increments_;
    size_t t_ = 0;
};

// Parameters from small grids, by the backtest error (horizons 1..24 h, in
// model space weighted by the level: ~ the error in values) at <= 48 origins
// in [first_origin, n): a coordinate search (one parameter at a time over its
// grid, at most three rounds), so at most 34 filter runs. The weekly season
// is tried only when weekly is true.
HoltWintersParameters fit_holt_winters(const Series& s, size_t first_origin, bool weekly);

} // namespace presplit::core::forecast_detail
