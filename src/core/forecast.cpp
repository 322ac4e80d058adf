#include "core/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/forecast_models.hpp"

#include "core/cpp_only.hpp"

namespace presplit::core {

using namespace forecast_detail;

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

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaseHorizon = kDayHours;         // MASE over horizons 1..24 h (M4)
constexpr size_t kBacktestHorizon = 2 * kDayHours; // residual quantiles up to here
// Every model is compared from the same backtest origins on, as late as
// leaves this many: after two weeks (Holt-Winters' weekly season has
// started), else after one (the week-ago model can start), else after a day.
constexpr size_t kMinBacktestHours = 3 * kDayHours;
// Fewer residuals at one horizon than this: pool the neighbouring horizons.
constexpr size_t kMinQuantileSamples = 100;
constexpr size_t kPoolCapacity = 4 * kMaxHistoryHours;
// A change of regime in a load (docs/prediction.md, *Intervals*): over 6
// hours, the median ratio of each hour to the same hour a day before is
// beyond 4x (or under 1/4); the change lasts while that median is beyond
// 1.5x. A 10 %/day growth, a weekend at half the load or a two-hour flash
// crowd stay under it.
constexpr size_t kRegimeWindow = 6;
const double kRegimeShift = std::log(4.0);
const double kRegimeSettled = std::log(1.5);
// Fewer backtest origins than this since the change: the residuals of the
// whole history are kept (the history cannot tell yet).
constexpr size_t kMinRegimeOrigins = 8;

// Everything a call needs, allocated once: its size is fixed by the caps.
struct Workspace {
    Series series;
    Series increments; // of series, additive only: y[k + 1] - y[k]
    // residual[h - 1][k]: the chosen model's error at horizon h, from its
    // k-th backtest origin, in model space (log ratio when multiplicative).
    std::array<std::array<double, kMaxHistoryHours>, kBacktestHorizon> residual;
    std::array<size_t, kBacktestHorizon> residual_count;
    std::array<double, kPoolCapacity> pool;
    std::array<double, kMaxHorizonHours> predicted;
};
// Fixed: a call needs this much on the heap (and a few kB of stack), whatever
// its input. docs/prediction.md quotes it.
static_assert(sizeof(Workspace) < 256 * 1024);

// Cleans the newest kMaxHistoryHours of history into s.y: leading NaN (hours
// before the history started) skipped, later NaN / infinities are gaps filled
// linearly between their neighbours (or with the last value at the end),
// negatives clamped to 0.
void load_series(const double* history, size_t n, Series& s) {
    size_t begin = n > kMaxHistoryHours ? n - kMaxHistoryHours : 0;
    while (begin < n && !std::isfinite(history[begin]))
        begin++;
    s.n = n - begin;
    size_t last_known = 0; // index into s.y of the last finite value
    for (size_t i = 0; i < s.n; i++) {
        double v = history[begin + i];
        if (!std::isfinite(v)) {
            s.y[i] = kNaN;
            continue;
        }
        s.y[i] = std::max(0.0, v);
        for (size_t g = last_known + 1; g < i; g++) {
            double share =
                static_cast<double>(g - last_known) / static_cast<double>(i - last_known);
            s.y[g] = s.y[last_known] + share * (s.y[i] - s.y[last_known]);
        }
        last_known = i;
    }
    for (size_t g = last_known + 1; g < s.n; g++)
        s.y[g] = s.y[last_known];
}

void prepare_model_space(Series& s) {
    double mean = 0;
    for (size_t t = 0; t < s.n; t++)
        mean += s.y[t];
    mean /= static_cast<double>(s.n);
    // 1 % of the mean: negligible at a 10x trough, keeps log(0) finite.
    s.offset = std::max(0.01 * mean, 1e-9);
    for (size_t t = 0; t < s.n; t++)
        s.z[t] = s.to_model(s.y[t]);
    for (size_t e = kDayHours; e <= s.n; e++)
        s.day_maximum[e] = *std::max_element(s.y.begin() + (e - kDayHours), s.y.begin() + e);
    if (s.n >= 2 * kWeekHours)
        start_week(s);
}

// The standard normal quantile (Acklam's rational approximation, relative
// error < 1.2e-9), for p in (0, 1).
double normal_quantile(double p) {
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                   -2.759285104469687e+02, 1.383577518672690e+02,
                                   -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                   -1.556989798598866e+02, 6.680131188771972e+01,
                                   -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                   -2.400758277161838e+00, -2.549732539343734e+00,
                                   4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                   2.445134137142996e+00, 3.754408661907416e+00};
    if (p < 0.02425) {
        double q = std::sqrt(-2 * std::log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425)
        return -normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Student's t quantile from the normal one (Cornish-Fisher; within 1 % for
// 3 degrees of freedom and more, 11 % low for 1).
double t_quantile(double p, double dof) {
    double z = normal_quantile(p), z2 = z * z;
    double g1 = (z2 + 1) * z / 4;
    double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
    double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
    double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
    return z + g1 / dof + g2 / (dof * dof) + g3 / (dof * dof * dof) + g4 / (dof * dof * dof * dof);
}

// Under two days: a line through all the hours there are, with the
// regression's prediction interval (residuals of a partial daily cycle are not
// white noise: wide, not calibrated). Under 3 hours: flat, from 0 to twice the
// largest value seen.
void forecast_short(const Series& s, size_t horizon, double coverage, Forecast& f) {
    LinearTrend trend(s, kShortHistoryHours);
    trend.advance(s.n);
    double points[kMaxHorizonHours];
    trend.predict(horizon, points);
    double largest = *std::max_element(s.y.begin(), s.y.begin() + s.n);
    double sd = trend.residual_sd();
    double t = trend.points() >= 3
                   ? t_quantile((1 + coverage) / 2, static_cast<double>(trend.points() - 2))
                   : 0;
    f.hours.resize(horizon);
    for (size_t i = 0; i < horizon; i++) {
        ForecastPoint& point = f.hours[i];
        if (trend.points() < 3) {
            point = {s.y[s.n - 1], 0, 2 * largest};
            continue;
        }
        double half = t * sd * trend.standard_error_factor(i);
        point.predicted = points[i];
        point.lower = std::max(0.0, points[i] - half);
        point.upper = std::max(points[i], points[i] + half);
    }
}

struct Band {
    double lower, upper; // residual quantiles, model space
};

// The k-th smallest (1-based) of values[0, n).
double order_statistic(double* values, size_t n, size_t k) {
    std::nth_element(values, values + (k - 1), values + n);
    return values[k - 1];
}

// How many independent residuals the count residuals of one horizon are
// worth: successive origins share most of their future (a size's errors
// are a random walk: strongly correlated), so by their lag-1
// autocorrelation rho, N (1 - rho) / (1 + rho) (AR(1)).
double effective_samples(const double* residual, size_t count) {
    if (count < 3)
        return static_cast<double>(count);
    double mean = 0;
    for (size_t k = 0; k < count; k++)
        mean += residual[k];
    mean /= static_cast<double>(count);
    double variance = 0, covariance = 0;
    for (size_t k = 0; k < count; k++) {
        variance += (residual[k] - mean) * (residual[k] - mean);
        if (k + 1 < count)
            covariance += (residual[k] - mean) * (residual[k + 1] - mean);
    }
    double rho = variance > 0 ? std::clamp(covariance / variance, 0.0, 0.98) : 0;
    return static_cast<double>(count) * (1 - rho) / (1 + rho);
}

// Residual quantiles per horizon (bands[i] for horizon i + 1) from the
// backtest: empirical, with the conformal rank ceil((N + 1) p) so that few
// residuals give a wider band, neighbouring horizons pooled while one has too
// few; widened as a normal prediction interval from N_eff samples would be
// (t quantile with N_eff - 1 degrees of freedom, times sqrt(1 + 1 / N_eff),
// over the normal quantile); then never narrowing with the horizon, and
// containing 0. Beyond the horizons the backtest reached, widened with sqrt(h).
void residual_bands(Workspace& ws, size_t horizon, double coverage, Band* bands) {
    size_t reached = 0;
    while (reached < kBacktestHorizon && ws.residual_count[reached] > 0)
        reached++;
    double tail = (1 - coverage) / 2;
    Band previous{0, 0};
    for (size_t i = 0; i < std::min(horizon, reached); i++) {
        size_t pooled = 0;
        for (size_t w = 0;; w++) {
            pooled = 0;
            size_t first = i >= w ? i - w : 0, last = std::min(reached - 1, i + w);
            for (size_t h = first; h <= last; h++) {
                size_t take = std::min(ws.residual_count[h], kPoolCapacity - pooled);
                std::copy_n(ws.residual[h].begin(), take, ws.pool.begin() + pooled);
                pooled += take;
            }
            if (pooled >= kMinQuantileSamples || (first == 0 && last == reached - 1) ||
                pooled == kPoolCapacity)
                break;
        }
        double rank = std::ceil((static_cast<double>(pooled) + 1) * (1 - tail));
        size_t upper_rank = std::min(pooled, static_cast<size_t>(std::max(1.0, rank)));
        size_t lower_rank = pooled + 1 - upper_rank;
        Band band{order_statistic(ws.pool.data(), pooled, lower_rank),
                  order_statistic(ws.pool.data(), pooled, upper_rank)};
        double n_eff = effective_samples(ws.residual[i].data(), ws.residual_count[i]);
        double widen = t_quantile(1 - tail, std::max(2.0, n_eff - 1)) *
                       std::sqrt(1 + 1 / std::max(1.0, n_eff)) / normal_quantile(1 - tail);
        band.lower *= std::max(1.0, widen);
        band.upper *= std::max(1.0, widen);
        band.lower = std::min(band.lower, previous.lower);
        band.upper = std::max(band.upper, previous.upper);
        bands[i] = previous = band;
    }
    for (size_t i = reached; i < horizon; i++) {
        double widen =
            reached > 0 ? std::sqrt(static_cast<double>(i + 1) / static_cast<double>(reached)) : 1;
        bands[i] = {previous.lower * widen, previous.upper * widen};
    }
}

// Mean absolute error (values) over horizons 1..24 from the origins
// [first, n), first >= model.warmup().
double backtest_error(Model& model, const Series& s, size_t first) {
    double predicted[kMaseHorizon];
    double sum = 0;
    size_t count = 0;
    for (size_t t = first; t < s.n; t++) {
        model.advance(t);
        size_t h = std::min(kMaseHorizon, s.n - t);
        model.predict(h, predicted);
        for (size_t i = 0; i < h; i++)
            sum += std::fabs(s.y[t + i] - predicted[i]);
        count += h;
    }
    return sum / static_cast<double>(count);
}

// The scale of an additive series' errors at origin t: the mean absolute
// hourly change over the day before (for a size, its insert rate), at least
// a tenth of that over the whole history. A growing size makes growing
// errors: its residuals are kept in this unit. 1 when multiplicative (log
// residuals are relative already).
double error_scale(const Series& s, size_t t) {
    if (s.multiplicative)
        return 1;
    double whole = 0;
    for (size_t k = 1; k < s.n; k++)
        whole += std::fabs(s.y[k] - s.y[k - 1]);
    whole /= static_cast<double>(s.n - 1);
    double day = 0;
    size_t from = t > kDayHours ? t - kDayHours : 1;
    for (size_t k = from; k < t; k++)
        day += std::fabs(s.y[k] - s.y[k - 1]);
    day /= static_cast<double>(t - from);
    return std::max({day, whole / 10, 1e-300});
}

// The model's backtest residuals from the origins [first, n), by horizon,
// in model space, in units of error_scale().
void collect_residuals(Model& model, Workspace& ws, size_t first) {
    const Series& s = ws.series;
    ws.residual_count.fill(0);
    double predicted[kBacktestHorizon];
    for (size_t t = first; t < s.n; t++) {
        model.advance(t);
        size_t h = std::min(kBacktestHorizon, s.n - t);
        model.predict_model(s, h, predicted);
        double scale = error_scale(s, t);
        for (size_t i = 0; i < h; i++)
            ws.residual[i][ws.residual_count[i]++] = (s.z[t + i] - predicted[i]) / scale;
    }
}

// The first backtest origin of a load's current regime: the hour after the
// latest change of regime (kRegimeShift) from which the day-over-day median
// ratio has settled again (kRegimeSettled), i.e. the first origin whose
// previous day is in the new regime; 0 without a change, n while the change
// lasts. Only loads (multiplicative): a size's residuals are rescaled to its
// current growth already (error_scale()).
size_t regime_origin(const Series& s) {
    if (!s.multiplicative || s.n < kDayHours + kRegimeWindow)
        return 0;
    // The median day-over-day log ratio of the window [t - kRegimeWindow, t).
    auto median_ratio = [&s](size_t t) {
        double d[kRegimeWindow];
        for (size_t i = 0; i < kRegimeWindow; i++) {
            size_t u = t - kRegimeWindow + i;
            d[i] = s.z[u] - s.z[u - kDayHours];
        }
        std::nth_element(d, d + kRegimeWindow / 2, d + kRegimeWindow);
        double upper = d[kRegimeWindow / 2];
        double lower = *std::max_element(d, d + kRegimeWindow / 2);
        return (lower + upper) / 2;
    };
    size_t change = 0; // the end of the latest window with a change, 0: none
    for (size_t t = kDayHours + kRegimeWindow; t <= s.n; t++)
        if (std::fabs(median_ratio(t)) > kRegimeShift)
            change = t;
    if (change == 0)
        return 0;
    for (size_t t = change + 1; t <= s.n; t++)
        if (std::fabs(median_ratio(t)) < kRegimeSettled)
            return t;
    return s.n;
}

// The in-sample seasonal-naive (24 h) mean absolute error: MASE's scale.
double seasonal_naive_scale(const Series& s) {
    double sum = 0;
    for (size_t t = kDayHours; t < s.n; t++)
        sum += std::fabs(s.y[t] - s.y[t - kDayHours]);
    return sum / static_cast<double>(s.n - kDayHours);
}

} // namespace

Forecast forecast_hourly(const double* history, size_t n, const ForecastOptions& options) {
    Forecast f{};
    f.model = ForecastModel::kTrendOnly;
    f.mase = kNaN;
    f.model_mase.fill(kNaN);
    size_t horizon = std::min(options.horizon_hours, kMaxHorizonHours);
    double coverage = options.interval > 0.01 && options.interval < 0.999 ? options.interval
                      : options.interval >= 0.999                         ? 0.999
                                                                          : 0.95;

    // Default-initialized (not zeroed: a quarter megabyte): everything is
    // written before it is read.
    std::unique_ptr<Workspace> ws(new Workspace);
    Series& s = ws->series;
    s.multiplicative = options.multiplicative;
    s.non_negative = true;
    load_series(history, n, s);
    f.history_hours = s.n;
    f.short_history = s.n < kShortHistoryHours;
    if (s.n == 0 || horizon == 0)
        return f;
    if (f.short_history) {
        forecast_short(s, horizon, coverage, f);
        return f;
    }
    prepare_model_space(s);
    // Additive series (sizes) are also modelled by their increments.
    bool with_increments = !s.multiplicative;
    Series& increments = ws->increments;
    if (with_increments) {
        increments.multiplicative = false;
        increments.non_negative = false;
        increments.n = s.n - 1;
        for (size_t t = 0; t + 1 < s.n; t++)
            increments.y[t] = s.y[t + 1] - s.y[t];
        prepare_model_space(increments);
    }

    size_t first = s.n >= 2 * kWeekHours + kMinBacktestHours ? 2 * kWeekHours
                   : s.n >= kWeekHours + kMinBacktestHours   ? kWeekHours
                                                             : kDayHours;
    bool with_week = first >= kWeekHours;
    bool weekly_season = first >= 2 * kWeekHours;
    if (with_increments)
        first++; // an increment needs the hour before

    LinearTrend trend(s, kTrendWindowHours);
    SeasonalNaive day(s, kDayHours), week(s, kWeekHours);
    HoltWinters holt_winters(s, fit_holt_winters(s, first, weekly_season));
    DailyPeakTrend peak_trend(s);
    // The same models of the increments (fitted only when used).
    LinearTrend increments_trend(increments, kTrendWindowHours);
    SeasonalNaive increments_day(increments, kDayHours), increments_week(increments, kWeekHours);
    HoltWinters increments_holt_winters(
        increments, with_increments ? fit_holt_winters(increments, first - 1, weekly_season)
                                    : HoltWintersParameters{});
    DailyPeakTrend increments_peak_trend(increments);
    Integrated integrated_trend(s, increments_trend), integrated_day(s, increments_day),
        integrated_week(s, increments_week), integrated_holt_winters(s, increments_holt_winters),
        integrated_peak_trend(s, increments_peak_trend);
    // In order of preference on a tie (the simpler first).
    struct Candidate {
        ForecastModel id;
        Model* model;
        bool on_increments;
    } candidates[] = {
        {ForecastModel::kSeasonalNaiveDay, &day, false},
        {ForecastModel::kSeasonalNaiveWeek, &week, false},
        {ForecastModel::kTrendOnly, &trend, false},
        {ForecastModel::kDailyPeakTrend, &peak_trend, false},
        {ForecastModel::kHoltWinters, &holt_winters, false},
        {ForecastModel::kSeasonalNaiveDay, &integrated_day, true},
        {ForecastModel::kSeasonalNaiveWeek, &integrated_week, true},
        {ForecastModel::kTrendOnly, &integrated_trend, true},
        {ForecastModel::kDailyPeakTrend, &integrated_peak_trend, true},
        {ForecastModel::kHoltWinters, &integrated_holt_winters, true},
    };

    double scale = seasonal_naive_scale(s);
    double mean = 0;
    for (size_t t = 0; t < s.n; t++)
        mean += s.y[t];
    double tie = 1e-9 * (mean / static_cast<double>(s.n) + 1e-300);
    Candidate* chosen = nullptr;
    Candidate* forced = nullptr;
    double forced_error = 0;
    double chosen_error = std::numeric_limits<double>::infinity();
    for (Candidate& c : candidates) {
        if ((c.id == ForecastModel::kSeasonalNaiveWeek && !with_week) ||
            (c.on_increments && !with_increments))
            continue;
        double error = backtest_error(*c.model, s, first);
        double& mase = f.model_mase[static_cast<size_t>(c.id)];
        if (scale > 0 && !(mase <= error / scale)) // the better of the two variants
            mase = error / scale;
        if (options.force_model == c.id && !(forced && forced_error <= error)) {
            forced = &c;
            forced_error = error;
        }
        if (error < chosen_error - tie) {
            chosen = &c;
            chosen_error = error;
        }
    }
    if (forced)
        chosen = forced;
    f.model = chosen->id;
    f.on_increments = chosen->on_increments;
    f.mase = scale > 0 ? (forced ? forced_error : chosen_error) / scale : kNaN;

    // The chosen model again: its residuals per horizon (from every origin
    // where it has settled: more than it was compared on, when it can), then
    // the forecast from the end of the history.
    // A load whose regime changed: only from the origins of the current
    // regime, when there are enough of them, and of those from where the
    // model has settled if that leaves enough (docs/prediction.md, *Intervals*).
    Model& model = *chosen->model;
    model.restart();
    size_t residual_first = std::min(s.n - 1, model.settled());
    const size_t regime = regime_origin(s);
    if (regime > 0 && s.n >= regime + kMinRegimeOrigins)
        residual_first = std::max(regime, std::min(residual_first, s.n - kMinRegimeOrigins));
    collect_residuals(model, *ws, residual_first);
    Band bands[kMaxHorizonHours];
    residual_bands(*ws, horizon, coverage, bands);
    model.advance(s.n);
    model.predict(horizon, ws->predicted.data());
    double unit = error_scale(s, s.n);
    f.hours.resize(horizon);
    for (size_t i = 0; i < horizon; i++) {
        double p = ws->predicted[i];
        double zp = s.to_model(p);
        f.hours[i].predicted = p;
        f.hours[i].lower = std::clamp(s.from_model(zp + unit * bands[i].lower), 0.0, p);
        // exp() of a huge log residual (values spanning 300 decades) overflows.
        f.hours[i].upper = std::min(std::max(p, s.from_model(zp + unit * bands[i].upper)),
                                    std::numeric_limits<double>::max());
    }
    return f;
}

std::optional<size_t> first_crossing(const Forecast& f, double threshold) {
    for (size_t h = 0; h < f.hours.size(); h++)
        if (f.hours[h].upper >= threshold)
            return h;
    return std::nullopt;
}

} // namespace presplit::core
