// Hourly forecasts of one series (a partition's load in statements/s, or its
// size in bytes) for the next hours, with a prediction interval: the input of
// the predictive shard manager (which partition crosses a threshold, when).
//
// Several models are fitted to the history and the one with the best rolling
// backtest (MASE over horizons 1..24 h, against the in-sample seasonal-naive
// scale as in M4) is kept; its interval comes from the same backtest's
// residuals, per horizon (a load's, after a change of regime, from the
// origins of its current regime only). Additive series (sizes) are also modelled by their
// hourly increments, added to the last value. Under kShortHistoryHours of
// history there is no daily cycle to learn: a linear trend of the recent
// hours only, flagged short_history. docs/prediction.md ("Forecast models") has the reasoning and
// the measured errors and costs.
//
// Bounded: the history is capped at kMaxHistoryHours (the newest hours are
// kept), the horizon at kMaxHorizonHours, the smoothing-parameter search is
// over fixed grids; the working memory of a call does not grow with anything else.
// Pure: no clock, no state between calls (re-forecast every round).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

namespace presplit::core {

enum class ForecastModel {
    kTrendOnly,         // linear trend of the recent hours (also the short-history fallback)
    kSeasonalNaiveDay,  // the same hour a day ago
    kSeasonalNaiveWeek, // the same hour a week ago
    kHoltWinters,    // level + trend + daily (and weekly) season, on log values if multiplicative
    kDailyPeakTrend, // linear trend of the daily maxima, shaped by the daily profile
};
constexpr size_t kForecastModelCount = 5;

// "trend", "seasonal_naive_day", "seasonal_naive_week", "holt_winters",
// "daily_peak_trend": the names the SQL views show.
const char* model_name(ForecastModel model);

constexpr size_t kMaxHistoryHours = 21 * 24; // the analyzer's hour ring
constexpr size_t kMaxHorizonHours = 7 * 24;
constexpr size_t kShortHistoryHours = 2 * 24; // below: trend only

struct ForecastPoint {
    double predicted;
    double lower; // [lower, upper] covers the actual value with probability ~interval
    double upper;
};

// The interval the predictive manager acts on by default
// (presplit.prediction_interval, and the simulator's): its upper bound sees a
// crossing early enough to sync a split in time. docs/prediction.md,
// *Results*, has the trade-off against 0.95 (more plans not needed).
constexpr double kPredictionInterval = 0.99;

struct ForecastOptions {
    size_t horizon_hours = 48; // capped at kMaxHorizonHours
    double interval = 0.95;    // nominal coverage of [lower, upper], in (0, 1)
    // Seasonal amplitude proportional to the level (peaks and troughs scale
    // together: load); false for additive series (sizes), which are then
    // also modelled by their hourly increments (see Forecast::on_increments).
    // Values are clamped at 0 from below either way (loads and sizes are
    // never negative).
    bool multiplicative = true;
    // Use this model instead of choosing by backtest (baselines, tests),
    // provided the backtest could evaluate it (model_mase not NaN: a week and
    // three days of history for kSeasonalNaiveWeek, two days for the others);
    // otherwise the choice is made as usual. Additive series: the better of
    // its two variants (values, increments).
    std::optional<ForecastModel> force_model;
};

struct Forecast {
    ForecastModel model;
    // Backtest MASE of the chosen model (horizons 1..24 h); NaN when no
    // backtest was possible (short history, or a zero scale).
    double mase;
    // Backtest MASE of every model by its enum value; NaN when not evaluated.
    std::array<double, kForecastModelCount> model_mase;
    size_t history_hours; // hours used (NaN-prefix skipped, capped at kMaxHistoryHours)
    bool short_history;   // history_hours < kShortHistoryHours: trend only
    // hours[0] is the hour after the last complete one; horizon_hours entries
    // (none when the history is empty).
    std::vector<ForecastPoint> hours;
    // Additive series only: the model forecast the hourly increments, added
    // to the last value (a size: the sum of its inserts), as the backtest
    // preferred. model_mase holds the better of the two variants.
    bool on_increments;
};

// history: hourly values, oldest first; the last element is the last COMPLETE
// hour. Leading NaN mark hours before the history started and are skipped;
// a NaN after the first value is treated as a gap (filled from its neighbours).
// Only the newest kMaxHistoryHours values are read.
Forecast forecast_hourly(const double* history, size_t n, const ForecastOptions& options);

// The first index into f.hours whose UPPER bound reaches threshold (>=): the
// manager acts on the upper bound, not the point forecast. nullopt if none.
std::optional<size_t> first_crossing(const Forecast& f, double threshold);

} // namespace presplit::core
