#include "core/forecast.hpp"

#include <cmath>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

const char* model_name(ForecastModel model) {
    switch (model) {
    case ForecastModel::kTrendOnly:
        return "trend";
    case ForecastModel::kSeasonalNaiveDay:
        return "seasonal_naive_day";
    case ForecastModel::kSeasonalNaiveWeek:
        return "seasonal_naive_week";
    case ForecastModel::kHoltWinters:
        return "holt_winters";
    case ForecastModel::kDailyPeakTrend:
        return "daily_peak_trend";
    }
    return "unknown";
}

// Stub (interface first): the last value, flat, with no interval.
Forecast forecast_hourly(const double* history, size_t n, const ForecastOptions& options) {
    Forecast f{};
    f.model = ForecastModel::kTrendOnly;
    f.mase = std::numeric_limits<double>::quiet_NaN();
    f.model_mase.fill(std::numeric_limits<double>::quiet_NaN());
    size_t first = 0;
    while (first < n && std::isnan(history[first]))
        first++;
    f.history_hours = n - first;
    f.short_history = f.history_hours < kShortHistoryHours;
    if (f.history_hours == 0)
        return f;
    double last = history[n - 1];
    size_t horizon =
        options.horizon_hours < kMaxHorizonHours ? options.horizon_hours : kMaxHorizonHours;
    f.hours.assign(horizon, ForecastPoint{last, last, last});
    return f;
}

std::optional<size_t> first_crossing(const Forecast& f, double threshold) {
    for (size_t h = 0; h < f.hours.size(); h++)
        if (f.hours[h].upper >= threshold)
            return h;
    return std::nullopt;
}

} // namespace presplit::core
