#include "core/forecast_models.hpp"

#include <algorithm>

#include "core/cpp_only.hpp"

namespace presplit::core::forecast_detail {

void SeasonalNaive::predict(size_t count, double* out) const {
    for (size_t i = 0; i < count; i++)
        out[i] = s_.y[t_ + i - period_ * (1 + i / period_)];
}

void LinearTrend::advance(size_t t) {
    size_t w = std::min(t, window_);
    const double* y = s_.y.data() + (t - w);
    points_ = w;
    mean_x_ = (static_cast<double>(w) - 1) / 2;
    mean_y_ = 0;
    for (size_t i = 0; i < w; i++)
        mean_y_ += y[i];
    mean_y_ /= static_cast<double>(w);
    double sxy = 0;
    sxx_ = 0;
    for (size_t i = 0; i < w; i++) {
        double dx = static_cast<double>(i) - mean_x_;
        sxx_ += dx * dx;
        sxy += dx * (y[i] - mean_y_);
    }
    slope_ = sxx_ > 0 ? sxy / sxx_ : 0;
    t_ = t;
}

double LinearTrend::residual_sd() const {
    if (points_ < 3)
        return std::numeric_limits<double>::quiet_NaN();
    const double* y = s_.y.data() + (t_ - points_);
    double sse = 0;
    for (size_t i = 0; i < points_; i++) {
        double r = y[i] - (mean_y_ + slope_ * (static_cast<double>(i) - mean_x_));
        sse += r * r;
    }
    return std::sqrt(sse / static_cast<double>(points_ - 2));
}

void LinearTrend::predict(size_t count, double* out) const {
    for (size_t i = 0; i < count; i++) {
        double x = static_cast<double>(points_ + i);
        out[i] = s_.clamp(mean_y_ + slope_ * (x - mean_x_));
    }
}

double LinearTrend::standard_error_factor(size_t i) const {
    double w = static_cast<double>(points_);
    double dx = static_cast<double>(points_ + i) - mean_x_;
    return std::sqrt(1 + 1 / w + (sxx_ > 0 ? dx * dx / sxx_ : 0));
}

void DailyPeakTrend::advance(size_t t) {
    size_t days = std::min(t / kDayHours, kPeakDays);
    // Day k (0 = the last 24 h) at x = -k.
    double mean_x = 0, mean_peak = 0;
    for (size_t k = 0; k < days; k++) {
        mean_x -= static_cast<double>(k);
        mean_peak += s_.day_maximum[t - k * kDayHours];
    }
    mean_x /= static_cast<double>(days);
    mean_peak /= static_cast<double>(days);
    double sxx = 0, sxy = 0;
    for (size_t k = 0; k < days; k++) {
        double dx = -static_cast<double>(k) - mean_x;
        sxx += dx * dx;
        sxy += dx * (s_.day_maximum[t - k * kDayHours] - mean_peak);
    }
    peak_slope_ = sxx > 0 ? sxy / sxx : 0;
    peak_now_ = mean_peak - peak_slope_ * mean_x;

    // shape_[j]: hour j of each day window [t - 24 (k + 1), t - 24 k).
    for (size_t j = 0; j < kDayHours; j++) {
        double values = 0, peaks = 0;
        for (size_t k = 0; k < days; k++) {
            values += s_.y[t - (k + 1) * kDayHours + j];
            peaks += s_.day_maximum[t - k * kDayHours];
        }
        if (s_.multiplicative)
            shape_[j] = peaks > 0 ? values / peaks : 0; // ratio of sums: robust to a quiet day
        else
            shape_[j] = (values - peaks) / static_cast<double>(days);
    }
}

void DailyPeakTrend::predict(size_t count, double* out) const {
    for (size_t i = 0; i < count; i++) {
        double peak = peak_now_ + peak_slope_ * static_cast<double>(1 + i / kDayHours);
        double shaped = s_.multiplicative ? std::max(0.0, peak) * shape_[i % kDayHours]
                                          : peak + shape_[i % kDayHours];
        out[i] = s_.clamp(shaped);
    }
}

void HoltWinters::advance(size_t t) {
    if (t_ == 0) {
        level_ = 0;
        for (size_t i = 0; i < kDayHours; i++)
            level_ += s_.z[i];
        level_ /= kDayHours;
        trend_ = 0;
        for (size_t i = 0; i < kDayHours; i++)
            day_[i] = s_.z[i] - level_;
        week_.fill(0);
        t_ = kDayHours;
    }
    bool weekly = p_.omega > 0;
    if (weekly && t_ < 2 * kWeekHours && t >= 2 * kWeekHours) {
        // The whole state from the first two weeks (start_week()): no need
        // to filter them first.
        level_ = s_.weekly_start.level;
        trend_ = s_.weekly_start.trend;
        day_ = s_.weekly_start.day;
        week_ = s_.weekly_start.week;
        t_ = 2 * kWeekHours;
    }
    if (t_ >= t)
        return;
    // Each season's smoothing is at least the running mean's: hour t_ of the
    // day has been seen t_ / 24 times before, of the week t_ / 168 times.
    auto smoothing = [](double floor, size_t seen) {
        return std::max(floor, 1.0 / static_cast<double>(seen + 1));
    };
    size_t hour = t_ % kDayHours, week_hour = t_ % kWeekHours;
    double gamma = smoothing(p_.gamma, t_ / kDayHours);
    double omega = weekly && t_ >= 2 * kWeekHours ? smoothing(p_.omega, t_ / kWeekHours) : 0;
    for (; t_ < t; t_++) {
        double z = s_.z[t_];
        double& day = day_[hour];
        double& week = week_[week_hour];
        double previous_level = level_;
        level_ = p_.alpha * (z - day - week) + (1 - p_.alpha) * (level_ + p_.phi * trend_);
        trend_ = p_.beta * (level_ - previous_level) + (1 - p_.beta) * p_.phi * trend_;
        double previous_day = day;
        day = gamma * (z - level_ - week) + (1 - gamma) * day;
        week = omega * (z - level_ - previous_day) + (1 - omega) * week;
        if (++hour == kDayHours) {
            hour = 0;
            gamma = smoothing(p_.gamma, (t_ + 1) / kDayHours);
        }
        if (++week_hour == kWeekHours) {
            week_hour = 0;
            if (weekly && t_ + 1 >= 2 * kWeekHours)
                omega = smoothing(p_.omega, (t_ + 1) / kWeekHours);
        }
    }
}

void start_week(Series& s) {
    constexpr size_t kSpan = 2 * kWeekHours;
    Series::WeeklyStart& start = s.weekly_start;
    double trend = 0;
    for (size_t i = 0; i < kWeekHours; i++)
        trend += s.z[i + kWeekHours] - s.z[i];
    trend /= static_cast<double>(kWeekHours * kWeekHours);
    // z detrended to the level of the last hour of the two weeks.
    auto detrended = [&](size_t i) {
        return s.z[i] + trend * (static_cast<double>(kSpan - 1) - static_cast<double>(i));
    };
    double mean = 0;
    for (size_t i = 0; i < kSpan; i++)
        mean += detrended(i);
    mean /= kSpan;
    for (size_t j = 0; j < kDayHours; j++) {
        double day = 0;
        for (size_t i = j; i < kSpan; i += kDayHours)
            day += detrended(i);
        start.day[j] = day / (kSpan / kDayHours) - mean;
    }
    for (size_t i = 0; i < kWeekHours; i++)
        start.week[i] =
            (detrended(i) + detrended(i + kWeekHours)) / 2 - mean - start.day[i % kDayHours];
    start.level = mean;
    start.trend = trend;
}

void HoltWinters::predict_raw_model(size_t count, double* out) const {
    double damping = 1, trend_sum = 0;
    size_t hour = t_ % kDayHours, week_hour = t_ % kWeekHours;
    for (size_t i = 0; i < count; i++) {
        damping *= p_.phi;
        trend_sum += damping;
        out[i] = level_ + trend_sum * trend_ + day_[hour] + week_[week_hour];
        if (++hour == kDayHours)
            hour = 0;
        if (++week_hour == kWeekHours)
            week_hour = 0;
    }
}

void HoltWinters::predict(size_t count, double* out) const {
    predict_raw_model(count, out);
    for (size_t i = 0; i < count; i++)
        out[i] = s_.clamp(s_.from_model(out[i]));
}

void HoltWinters::predict_model(const Series& s, size_t count, double* out) const {
    predict_raw_model(count, out);
    if (!s.non_negative)
        return;
    double floor = s.to_model(0); // predict() clamps at 0
    for (size_t i = 0; i < count; i++)
        out[i] = std::max(floor, out[i]);
}

void Integrated::predict(size_t count, double* out) const {
    increments_.predict(count, out);
    double value = values_.y[t_ - 1];
    for (size_t i = 0; i < count; i++) {
        value += out[i];
        out[i] = values_.clamp(value);
    }
}

namespace {

// The backtest error fit_holt_winters() minimizes.
double holt_winters_error(const Series& s, const HoltWintersParameters& p, size_t oldest,
                          size_t stride, const double* weight) {
    HoltWinters model(s, p);
    double predicted[kDayHours];
    double error = 0;
    for (size_t t = oldest; t < s.n; t += stride) {
        model.advance(t);
        size_t h = std::min(kDayHours, s.n - t);
        model.predict_raw_model(h, predicted);
        for (size_t i = 0; i < h; i++)
            error += weight[t + i] * std::fabs(s.z[t + i] - predicted[i]);
    }
    return error;
}

} // namespace

HoltWintersParameters fit_holt_winters(const Series& s, size_t first_origin, bool weekly) {
    struct Grid {
        double HoltWintersParameters::*parameter;
        std::array<double, 4> values;
        size_t count;
    };
    const Grid grids[] = {
        {&HoltWintersParameters::alpha, {0.01, 0.03, 0.1, 0.3}, 4},
        {&HoltWintersParameters::beta, {0, 0.05, 0.2}, 3},
        {&HoltWintersParameters::gamma, {0.02, 0.05, 0.15, 0.3}, 4},
        {&HoltWintersParameters::phi, {0.97, 1}, 2},
        {&HoltWintersParameters::omega, {0, 0.05, 0.2}, weekly ? 3u : 1u},
    };
    static constexpr size_t kMaxOrigins = 48;
    static constexpr int kRounds = 3;

    // The newest origins, evenly spaced, oldest first.
    size_t span = s.n - first_origin;
    size_t stride = (span + kMaxOrigins - 1) / kMaxOrigins;
    size_t count = (span + stride - 1) / stride;
    size_t oldest = s.n - 1 - (count - 1) * stride;

    // A log error weighs by its level: (y + offset) |dz| ~ |dy| for small dz,
    // so that the fit, like the selection, cares about the peaks.
    std::array<double, kMaxHistoryHours> weight;
    for (size_t t = 0; t < s.n; t++)
        weight[t] = s.multiplicative ? s.y[t] + s.offset : 1;

    HoltWintersParameters best{0.1, 0.05, 0.05, 0.97, 0};
    double best_error = holt_winters_error(s, best, oldest, stride, weight.data());
    for (int round = 0; round < kRounds; round++) {
        bool changed = false;
        for (const Grid& grid : grids) {
            HoltWintersParameters start = best;
            for (size_t i = 0; i < grid.count; i++) {
                HoltWintersParameters p = start;
                p.*grid.parameter = grid.values[i];
                if (p.*grid.parameter == start.*grid.parameter)
                    continue;
                double error = holt_winters_error(s, p, oldest, stride, weight.data());
                if (error < best_error) {
                    best_error = error;
                    best = p;
                    changed = true;
                }
            }
        }
        if (!changed)
            break;
    }
    return best;
}

} // namespace presplit::core::forecast_detail
