// The predictive shard manager on a simulated clock (issue 13, section 5): the
// analyzer's structures (LoadHistory, KeySampler), the forecasts and the
// decision core (off-peak windows, split choice, copy schedule, policy) driven
// minute by minute through synthetic workloads, with two baselines side by
// side: the same policy on seasonal-naive forecasts, and a reactive splitter
// (CockroachDB-like: the threshold held 10 s, then copy at once). Prints the
// measures of section 6 as a markdown table. No PostgreSQL.
//
//   presplit_simulate [--seeds N] [--scenario NAME] [--events] [--window HH:MM-HH:MM,...]
//                     [--headroom F] [--interval F] [--horizon HOURS]
//                     [--early-start|--latest-start] [--windows-only] [--still-range]
//                     [--no-handoff]
//
// --events prints every decision's event, each day's off-peak windows and
// each crossing; --still-range splits at today's middle of the load even when
// it moves (as before core/range_drift); --no-handoff forecasts each partition
// from its own history only, also the one a moving hot range enters (as
// before core/range_handoff); the other switches override the policy's
// defaults.
// docs/prediction.md explains the scenarios, the measures and the results.
#include "core/copy_schedule.hpp"
#include "core/forecast.hpp"
#include "core/key_sampler.hpp"
#include "core/load_history.hpp"
#include "core/offpeak.hpp"
#include "core/prediction_policy.hpp"
#include "core/random.hpp"
#include "core/range_drift.hpp"
#include "core/range_handoff.hpp"
#include "core/split_decision.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace presplit::core;

namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr double kPi = 3.14159265358979323846;
// Monday 2026-01-05 00:00 UTC; the simulated server runs in UTC.
constexpr int64_t kStart = 1767571200;
constexpr int kHistoryDays = 14; // before the evaluation starts
constexpr int kEvalDays = 8;     // decisions and measures
constexpr int kTailDays = 2;     // outcomes of the last plans
constexpr int kDays = kHistoryDays + kEvalDays + kTailDays;
constexpr int64_t kEvalStart = kStart + kHistoryDays * kDaySeconds;
constexpr int64_t kEvalEnd = kEvalStart + kEvalDays * kDaySeconds;
constexpr int64_t kEnd = kStart + kDays * kDaySeconds;
constexpr int64_t kRoundSeconds = 10 * kMinute;
constexpr int64_t kDecayPeriod = 600; // presplit.analyzer_key_half_life default
constexpr int kSamplesPerMinute = 32; // accesses recorded into the key samplers
constexpr double kLoadThreshold = 1000;
constexpr double kKeySpace = 1e6;

double normal(SplitMix64& rng) {
    double u1 = rng.unit(), u2 = rng.unit();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
}

double day_of(int64_t t) {
    return static_cast<double>(t - kStart) / kDaySeconds;
}

// ---------------------------------------------------------------------------
// The world: partitions with a load (statements/s) and a key distribution.

enum class Keys { uniform, drifting, hot_key, append, shared_range };

struct PartitionSpec {
    const char* name;
    double base;        // mean rate at day 0 (statements/s)
    double peak_trough; // daily peak / trough ratio (1: no daily cycle)
    double weekend;     // factor on Saturdays and Sundays (1: none)
    double growth;      // per day, compounded
    double noise;       // hourly multiplicative noise (sd)
    Keys keys = Keys::uniform;
    double flash_day = -1; // a flash crowd starts then (fractional day), 2 h, x flash_factor
    double flash_factor = 1;
    // Size: bytes at day 0 and bytes per inserted row; the share of
    // statements that insert a row.
    double bytes0 = 2e9;
    double insert_share = 0.0;
    double row_bytes = 200;
    double size_threshold = 0; // 0: off
    double load_threshold = kLoadThreshold;
    // Keys::shared_range: neighbouring partitions [lo, hi) of one table (the
    // same `table` > 0) share a hot range of hot_base statements/s at day 0
    // (the same cycle and growth as the partition's own base load, uniform
    // over [lo, hi)), a normal spread of sd hot_sd keys whose middle is at
    // hot_centre0 on day 0 and moves hot_per_day keys a day; each partition
    // has the part of it inside its bounds. Other partitions: [0, kKeySpace).
    double lo = 0, hi = kKeySpace;
    int table = 0;
    double hot_base = 0, hot_centre0 = 0, hot_per_day = 0, hot_sd = 1;
};

struct Scenario {
    const char* name;
    const char* what;
    bool daily_cycle; // counted for the MASE target
    std::vector<PartitionSpec> partitions;
};

// Share of a shared hot range inside the partition at time t.
double hot_inside(const PartitionSpec& p, int64_t t) {
    double centre = p.hot_centre0 + p.hot_per_day * day_of(t);
    auto below = [&](double x) { return 0.5 * std::erfc(-(x - centre) / p.hot_sd / std::sqrt(2)); };
    return below(p.hi) - below(p.lo);
}

// Expected (noise-free) rate of a partition at time t.
double expected_rate(const PartitionSpec& p, int64_t t) {
    double d = day_of(t);
    double hour = std::fmod(d, 1.0) * 24;
    double a = (p.peak_trough - 1) / (p.peak_trough + 1);
    double daily = 1 - a * std::cos(2 * kPi * (hour - 4) / 24); // trough 04:00, peak 16:00
    int weekday = static_cast<int>(std::floor(d)) % 7;          // 0 = Monday
    double week = weekday >= 5 ? p.weekend : 1;
    double rate = p.base * daily * week * std::pow(1 + p.growth, d);
    if (p.hot_base > 0)
        rate += p.hot_base * hot_inside(p, t) * daily * week * std::pow(1 + p.growth, d);
    if (p.flash_day >= 0 && d >= p.flash_day && d < p.flash_day + 2.0 / 24)
        rate *= p.flash_factor;
    return rate;
}

// A key of an access at time t (reads and updates; inserts for append).
double draw_key(const PartitionSpec& p, int64_t t, SplitMix64& rng) {
    switch (p.keys) {
    case Keys::uniform:
        return std::floor(rng.uniform(0, kKeySpace));
    case Keys::drifting: {
        // 70 % in a hot range (sd 3 % of the keys) whose centre moves through
        // the key space, 6 % of it per day.
        if (rng.unit() < 0.3)
            return std::floor(rng.uniform(0, kKeySpace));
        double centre = std::fmod(0.1 + 0.06 * day_of(t), 1.0) * kKeySpace;
        double k = centre + normal(rng) * 0.03 * kKeySpace;
        return std::floor(std::min(std::max(k, 0.0), kKeySpace - 1));
    }
    case Keys::hot_key:
        return rng.unit() < 0.7 ? 4242 : std::floor(rng.uniform(0, kKeySpace));
    case Keys::append:
        // Keys are seconds: inserts at now, reads over the last 7 days.
        return static_cast<double>(t);
    case Keys::shared_range: {
        double hot = p.hot_base * hot_inside(p, t);
        if (rng.unit() * (p.base + hot) < hot) {
            double centre = p.hot_centre0 + p.hot_per_day * day_of(t);
            for (int tries = 0; tries < 100; tries++) {
                double k = std::floor(centre + normal(rng) * p.hot_sd);
                if (k >= p.lo && k < p.hi)
                    return k;
            }
        }
        return std::floor(rng.uniform(p.lo, p.hi));
    }
    }
    return 0;
}

double draw_insert_key(const PartitionSpec& p, int64_t t, SplitMix64& rng) {
    if (p.keys == Keys::append)
        return static_cast<double>(t) - rng.uniform(0, 60);
    return draw_key(p, t, rng);
}

std::vector<Scenario> scenarios() {
    // Rates at day 0 chosen so that each growing partition's daily peak
    // crosses 1000/s on a given day of the evaluation (~day 15-20).
    auto grower = [](const char* name, double ratio, double growth, double cross_day,
                     double noise) {
        PartitionSpec p{};
        p.name = name;
        p.peak_trough = ratio;
        p.weekend = 1;
        p.growth = growth;
        p.noise = noise;
        double a = (ratio - 1) / (ratio + 1);
        p.base = kLoadThreshold / (1 + a) / std::pow(1 + growth, cross_day);
        return p;
    };
    auto filler = [](const char* name, double ratio, double peak_share, double noise) {
        PartitionSpec p{};
        p.name = name;
        p.peak_trough = ratio;
        p.weekend = 1;
        p.growth = 0;
        p.noise = noise;
        double a = (ratio - 1) / (ratio + 1);
        p.base = peak_share * kLoadThreshold / (1 + a);
        return p;
    };
    auto fillers = [&](double ratio, double noise) {
        return std::vector<PartitionSpec>{filler("f1", ratio, 0.45, noise),
                                          filler("f2", ratio, 0.6, noise),
                                          filler("f3", ratio, 0.75, noise)};
    };
    auto with = [](std::vector<PartitionSpec> v, std::vector<PartitionSpec> more) {
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    std::vector<Scenario> s;
    s.push_back({"daily2x", "daily cycle 2x, growth 5 %/day, noise 5 %", true,
                 with({grower("g1", 2, 0.05, 15.6, 0.05), grower("g2", 2, 0.05, 17.3, 0.05),
                       grower("g3", 2, 0.05, 19.1, 0.05)},
                      fillers(2, 0.05))});
    s.push_back({"daily10x", "daily cycle 10x, growth 5 %/day, noise 5 %", true,
                 with({grower("g1", 10, 0.05, 15.6, 0.05), grower("g2", 10, 0.05, 17.3, 0.05),
                       grower("g3", 10, 0.05, 19.1, 0.05)},
                      fillers(10, 0.05))});
    {
        auto parts = with({grower("g1", 4, 0.04, 15.6, 0.05), grower("g2", 4, 0.04, 17.3, 0.05),
                           grower("g3", 4, 0.04, 18.2, 0.05)},
                          fillers(4, 0.05));
        for (auto& p : parts)
            p.weekend = 0.5;
        s.push_back(
            {"weekly", "daily 4x, weekends at 50 %, growth 4 %/day, noise 5 %", true, parts});
    }
    s.push_back({"noise10", "daily cycle 3x, growth 5 %/day, noise 10 %", true,
                 with({grower("g1", 3, 0.05, 15.6, 0.10), grower("g2", 3, 0.05, 17.3, 0.10),
                       grower("g3", 3, 0.05, 19.1, 0.10)},
                      fillers(3, 0.10))});
    {
        auto parts = fillers(3, 0.05);
        PartitionSpec flash = filler("flash", 3, 0.6, 0.05);
        flash.flash_day = 17 + 11.0 / 24; // 11:00 on day 17, 2 h at 3x
        flash.flash_factor = 3;
        parts.insert(parts.begin(), flash);
        s.push_back({"flash_crowd",
                     "daily 3x, no growth; one partition gets 3x for 2 h, unannounced", true,
                     parts});
    }
    {
        auto parts = with({grower("g1", 3, 0.05, 16.4, 0.05), grower("g2", 3, 0.05, 18.2, 0.05)},
                          fillers(3, 0.05));
        parts[0].keys = parts[1].keys = Keys::drifting;
        s.push_back({"drifting",
                     "hot range (70 % of the load) moving 6 % of the keys a day, growth", true,
                     parts});
    }
    {
        auto parts = with({grower("g1", 3, 0.05, 16.4, 0.05)}, fillers(3, 0.05));
        parts[0].keys = Keys::hot_key;
        s.push_back({"hot_key", "one key carries 70 % of a growing partition's load", true, parts});
    }
    {
        // An append-only time series: size grows by the inserts and crosses
        // 10 GB; its load stays below the load threshold.
        auto parts = fillers(3, 0.05);
        PartitionSpec ts = filler("ts", 3, 0.5, 0.05);
        ts.keys = Keys::append;
        ts.insert_share = 1;
        ts.row_bytes = 10;
        // mean rate 0.5 * 1000 / 1.5 = 333/s -> 333 * 86400 * 10 = 0.29 GB/day,
        // from 4.96 GB (a size history that is positive from its first day)
        ts.bytes0 = 10e9 - 17.5 * 333.3 * 86400 * 10;
        ts.size_threshold = 10e9;
        parts.insert(parts.begin(), ts);
        PartitionSpec sz = filler("sz", 3, 0.5, 0.05);
        sz.insert_share = 1;
        sz.row_bytes = 20; // 0.58 GB/day from 8.94 GB
        sz.bytes0 = 20e9 - 19.2 * 333.3 * 86400 * 20;
        sz.size_threshold = 20e9; // uniform inserts: a size split at the median
        parts.insert(parts.begin() + 1, sz);
        s.push_back({"append_size",
                     "append-only time series and a uniformly growing table cross "
                     "their size thresholds (10 GB, 20 GB)",
                     true, parts});
    }
    // Two tables of two neighbouring partitions each; a hot range (peak
    // 600/s, sd 30 000 keys) moves through the keys and crosses from one
    // partition into the next in the evaluation: upwards in t (its middle at
    // the bound on day 16.0), downwards in u (day 18.5). The partition it
    // leaves peaks at 200 + 600/s, the one it enters at 500/s before and
    // 1100/s once it is in: only the entered one crosses. No growth. At 6 %
    // of a partition's keys a day (as `drifting`; 5 % in u) and at twice that.
    auto neighbours = [&](const char* name, const char* what, double per_day) {
        auto part = [&](const char* pname, int table, double lo, double own_peak, double cross_day,
                        double speed) {
            PartitionSpec p = filler(pname, 3, own_peak / kLoadThreshold, 0.05);
            p.keys = Keys::shared_range;
            p.table = table;
            p.lo = lo;
            p.hi = lo + kKeySpace;
            double a = (3.0 - 1) / (3.0 + 1);
            p.hot_base = 600 / (1 + a);
            p.hot_per_day = speed;
            p.hot_centre0 = kKeySpace - cross_day * speed;
            p.hot_sd = 30000;
            return p;
        };
        const double up = per_day, down = -per_day * 5 / 6;
        s.push_back(
            {name,
             what,
             true,
             {part("t1", 1, 0, 200, 16, up), part("t2", 1, kKeySpace, 500, 16, up),
              part("u1", 2, 0, 500, 18.5, down), part("u2", 2, kKeySpace, 200, 18.5, down)}});
    };
    neighbours("neighbours",
               "a hot range (600/s at peak) moves 6 % of a partition's keys a day into the "
               "neighbour, which then crosses; two tables, upwards and downwards",
               60000);
    neighbours("neighbours_fast", "the same at 12 % of a partition's keys a day", 120000);
    s.push_back({"steady", "flat load at 50-75 % of the threshold, noise 5 %: nothing to do", false,
                 fillers(1, 0.05)});
    {
        auto parts = fillers(3, 0.05);
        PartitionSpec d = grower("d1", 3, -0.03, 0, 0.05); // peak 1000/s on day 0
        d.name = "d1";
        parts.insert(parts.begin(), d);
        PartitionSpec e = grower("d2", 3, -0.02, 6, 0.05);
        parts.insert(parts.begin() + 1, e);
        s.push_back({"declining",
                     "two partitions over the threshold weeks ago, now declining "
                     "2-3 %/day: nothing to do",
                     true, parts});
    }
    return s;
}

// ---------------------------------------------------------------------------
// A strategy's view of one partition and its plan.

struct Plan {
    size_t partition;
    int64_t created;
    int64_t cancelled = 0;
    bool drift_cancel = false;
    bool served = false; // the partition crossed while the plan was active
    SplitKind kind;
    double key;
    double bytes_outside = 0; // copied outside the strategy's windows before any crossing
};

struct PartState {
    PartitionTrack track{};
    RangeTrack range{};      // the load split key, hourly: a moving hot range
    HandoffMemory handoff{}; // that range itself (range_handoff)
    std::optional<PlanState> plan;
    size_t plan_index = 0; // into Strategy::plans
    double plan_key = 0;
    double remaining = 0;
    bool copying = false;
    bool reactive_copy = false; // after the crossing: copy at once, anywhere
    bool done = false;          // crossed and split: out of the game
    int64_t synced_at = 0;
    SplitKind split_kind = SplitKind::none; // the split made at the crossing
    double split_key = 0;
    std::vector<ForecastPoint> load_fc, size_fc;
    std::vector<ForecastPoint> own_load_fc; // from its own history, before hand-offs
    Handoff incoming; // a neighbour's range entering within the forecast (this hour's)
    int64_t last_no_crossing_cancel = 0;
};

struct Outcome {
    int needed = 0;         // partitions that crossed in the evaluation
    int refused_needed = 0; // of which no split helps (one hot key)
    int synced_before = 0;  // of the others, synced before the crossing
    double bytes = 0;       // copied, all plans
    double bytes_offpeak = 0;
    double bytes_in_windows = 0;
    double bytes_outside = 0;          // by predicted plans outside their windows
    double bytes_outside_unneeded = 0; // ... by plans that turned out not needed
    int plans = 0;
    int unneeded = 0;
    int judged = 0; // plans old enough to judge
    int flaps = 0;
    int replans = 0;
    std::vector<double> busier; // next-day share of the busier half after load splits
    std::vector<double> lead_h; // hours from synced to the crossing
    // Forecast accuracy (load of every partition): per origin MASE, h1 APE.
    std::vector<double> mase, ape1;
    int late_verdicts = 0; // "cannot make it" at plan creation
};

// Settings under study (command line).
struct Knobs {
    double headroom = PolicyOptions{}.headroom;
    double interval = kPredictionInterval;
    bool start_early = CopyOptions{}.start_early;
    bool outside_windows = CopyOptions{}.outside_windows; // --windows-only: false
    int64_t horizon_hours = 24;
    bool follow_range = true; // aim load splits along a moving hot range
    bool handoff = true;      // hand a moving range's load to the partition it enters
};
Knobs knobs;

struct Strategy {
    const char* name;
    bool reactive;
    std::optional<ForecastModel> model; // nullopt: choose by backtest
    std::vector<PartState> parts;
    std::vector<Plan> plans;
    std::vector<TimeWindow> windows;
    Outcome out;
    PolicyOptions policy;
};

struct Truth {
    int64_t crossing = 0; // first minute at or over a threshold in the evaluation
    SplitMetric metric = SplitMetric::load;
};

struct World {
    const Scenario& sc;
    SplitMix64 rng;
    std::vector<LoadHistory> history;
    std::vector<KeySampler> sampler, inserts;
    std::vector<double> size;
    std::vector<std::vector<double>> hourly_rate; // per partition, actual, per hour since kStart
    std::vector<std::vector<double>> hourly_size; // bytes at the end of each hour
    std::vector<double> server_hourly;
    std::vector<double> hour_noise;
    std::vector<Truth> truth;
    std::vector<bool> quiet_hour; // by the noise-free server load of each day
    double copy_rate;             // bytes/s, the same for every plan
    bool print_events;
    std::vector<DailyWindow> fixed; // presplit.maintenance_window, if given

    World(const Scenario& s, uint64_t seed, bool events, std::vector<DailyWindow> fixed_windows)
        : sc(s), rng(SplitMix64::stream(seed)), print_events(events),
          fixed(std::move(fixed_windows)) {
        size_t n = sc.partitions.size();
        history.assign(n, LoadHistory{});
        sampler.assign(n, KeySampler{});
        inserts.assign(n, KeySampler{});
        for (auto& h : history)
            h.reset();
        for (auto& k : sampler)
            k.reset();
        for (auto& k : inserts)
            k.reset();
        truth.assign(n, Truth{});
        hourly_rate.assign(n, {});
        hourly_size.assign(n, {});
        for (const auto& p : sc.partitions)
            size.push_back(p.bytes0);
        // Copying a 2 GB partition takes about 1.5 h.
        copy_rate = 2e9 / 5400;
        // Quiet hours by the noise-free server load, day by day (local = UTC).
        for (int d = 0; d < kDays; d++) {
            double loads[24], lo = 1e300, hi = 0;
            for (int h = 0; h < 24; h++) {
                int64_t t = kStart + d * kDaySeconds + h * kHour + 1800;
                loads[h] = 0;
                for (const auto& p : sc.partitions) {
                    PartitionSpec calm = p;
                    calm.flash_day = -1;
                    loads[h] += expected_rate(calm, t);
                }
                lo = std::min(lo, loads[h]);
                hi = std::max(hi, loads[h]);
            }
            for (int h = 0; h < 24; h++)
                quiet_hour.push_back(hi - lo <= 0.1 * hi || loads[h] <= lo + 0.3 * (hi - lo));
        }
    }

    bool quiet(int64_t t) const {
        size_t h = static_cast<size_t>((t - kStart) / kHour);
        return h < quiet_hour.size() && quiet_hour[h];
    }
};

// The histogram bounds of a partition's keys (what pg_stats would give).
std::vector<double> size_bounds(const PartitionSpec& p, int64_t now) {
    std::vector<double> b;
    if (p.keys == Keys::append) {
        // Rows arrive at a rate following the daily cycle; approximate as uniform in time.
        double lo = static_cast<double>(kStart) - 30.0 * kDaySeconds;
        for (int i = 0; i <= 100; i++)
            b.push_back(lo + (static_cast<double>(now) - lo) * i / 100.0);
    } else {
        for (int i = 0; i <= 100; i++)
            b.push_back(p.lo + (p.hi - p.lo) * i / 100.0);
    }
    return b;
}

double mase_of(const std::vector<double>& actual, size_t origin,
               const std::vector<ForecastPoint>& fc, size_t horizon) {
    // Scale: in-sample seasonal naive (lag 24) over the history before origin.
    double scale = 0;
    size_t count = 0;
    size_t from = origin > 24 * 21 ? origin - 24 * 21 : 0;
    for (size_t i = from + 24; i < origin; i++) {
        scale += std::fabs(actual[i] - actual[i - 24]);
        count++;
    }
    if (count == 0 || scale <= 0)
        return std::numeric_limits<double>::quiet_NaN();
    scale /= static_cast<double>(count);
    double err = 0;
    for (size_t h = 0; h < horizon; h++)
        err += std::fabs(actual[origin + h] - fc[h].predicted);
    return err / static_cast<double>(horizon) / scale;
}

void print_event(const World& w, const Strategy& s, size_t i, const Decision& d) {
    if (!w.print_events || !d.emit)
        return;
    std::printf("  [%s %s day %.2f] %s %s: %s\n", w.sc.name, s.name, day_of(d.event.at),
                w.sc.partitions[i].name, to_string(d.action), d.event.reason.c_str());
}

// One round of the predictive (or seasonal-naive) strategy.
void predictor_round(World& w, Strategy& s, int64_t now, bool new_hour) {
    size_t n = w.sc.partitions.size();
    int64_t hour_start = now / kHour * kHour;
    if (new_hour) {
        // Forecast the server's load and every partition's load (and size).
        ForecastOptions fo;
        fo.horizon_hours = 48;
        fo.interval = knobs.interval;
        fo.force_model = s.model;
        size_t hours = static_cast<size_t>((now - kStart) / kHour);
        size_t first = hours > kMaxHistoryHours ? hours - kMaxHistoryHours : 0;
        Forecast server = forecast_hourly(w.server_hourly.data() + first, hours - first, fo);
        if (!w.fixed.empty())
            s.windows = expand_daily_windows(w.fixed, now, now + 4 * kDaySeconds, 0);
        else
            s.windows = predict_offpeak_windows(server.hours, hour_start, now,
                                                now + 4 * kDaySeconds, OffpeakOptions{});
        if (w.print_events && now % kDaySeconds == 0) {
            std::printf("  [%s %s day %.2f] windows:", w.sc.name, s.name, day_of(now));
            for (const TimeWindow& tw : s.windows)
                std::printf(" %.2f-%.2f", day_of(tw.starts), day_of(tw.ends));
            std::printf("\n");
        }
        for (size_t i = 0; i < n; i++) {
            PartState& ps = s.parts[i];
            if (ps.done)
                continue;
            const PartitionSpec& p = w.sc.partitions[i];
            if (knobs.follow_range) {
                SplitChoice middle = choose_load_split(w.sampler[i], LoadSplitOptions{});
                if (middle.kind == SplitKind::load_balance)
                    observe_range(&ps.range, now, middle.key, p.lo, p.hi);
            }
            Forecast f = forecast_hourly(w.hourly_rate[i].data() + first, hours - first, fo);
            ps.load_fc = f.hours;
            if (w.sc.partitions[i].size_threshold > 0) {
                ForecastOptions so = fo;
                so.multiplicative = false;
                so.horizon_hours = kMaxHorizonHours; // as the manager: a big copy's nights
                Forecast z = forecast_hourly(w.hourly_size[i].data() + first, hours - first, so);
                ps.size_fc = z.hours;
            }
        }
        // A moving hot range about to cross into a neighbouring partition of
        // the same table: its load goes from this forecast to the neighbour's.
        for (PartState& ps : s.parts) {
            ps.own_load_fc = ps.load_fc;
            ps.incoming = Handoff{};
        }
        if (knobs.handoff && knobs.follow_range) {
            std::vector<HandoffPartition> parts(n);
            for (size_t i = 0; i < n; i++) {
                const PartitionSpec& p = w.sc.partitions[i];
                HandoffPartition& hp = parts[i];
                hp.table = static_cast<uint64_t>(p.table);
                hp.active = !s.parts[i].done;
                hp.lo = p.lo;
                hp.hi = p.hi;
                hp.sampler = &w.sampler[i];
                hp.memory = &s.parts[i].handoff;
                hp.own = s.parts[i].own_load_fc;
            }
            hand_off_ranges(&parts, hour_start, now);
            for (size_t i = 0; i < n; i++) {
                s.parts[i].load_fc = std::move(parts[i].adjusted);
                s.parts[i].incoming = std::move(parts[i].incoming);
            }
        }
    }

    // Assess every partition, then decide in order of predicted crossing.
    struct Item {
        size_t i;
        Assessment a;
        double drift;
    };
    std::vector<Item> items;
    for (size_t i = 0; i < n; i++) {
        PartState& ps = s.parts[i];
        const PartitionSpec& p = w.sc.partitions[i];
        if (ps.done || ps.reactive_copy) // crossed: the reactive path has it
            continue;
        int64_t covered = 0;
        LoadCounters last = w.history[i].last_seconds(now, 600, &covered);
        double current = covered > 0 ? static_cast<double>(last.statements()) / covered : 0;
        // A moving hot range: the split where the load's middle will be the
        // day after the crossing, and the drift judged along its path.
        const RangeMotion motion = range_motion(ps.range, now);
        const Crossing load_crossing = predict_crossing(ps.load_fc, hour_start, now, current,
                                                        p.load_threshold, s.policy.headroom);
        const int64_t aim = aim_time(load_crossing, ps.track.last_crossing_at, now);
        MetricInput load{&ps.load_fc, current, p.load_threshold,
                         aim_load_split(choose_load_split(w.sampler[i], LoadSplitOptions{}), motion,
                                        now, aim, p.lo, p.hi)};
        // The crossing comes with a neighbour's range (its own history sees
        // none, or a later one): split where that load will be.
        if (std::optional<SplitChoice> entering =
                incoming_split(ps.incoming, load_crossing, ps.own_load_fc, w.sampler[i], hour_start,
                               now, current, p.load_threshold, s.policy.headroom, aim, p.lo, p.hi))
            load.split = *entering;
        std::vector<double> bounds = size_bounds(p, now);
        MetricInput size{&ps.size_fc, w.size[i], p.size_threshold, choose_size_split(bounds)};
        SplitChoice append;
        if (p.insert_share > 0)
            append =
                choose_append_split(w.inserts[i], bounds.front(), bounds.back(), AppendOptions{});
        Item it{i, assess_partition(load, size, append, hour_start, now, s.policy.headroom), 0};
        if (ps.plan) {
            if (ps.incoming.found)
                it.drift = 0; // the load it was planned for is still in the neighbour
            else if (ps.track.plan_kind == SplitKind::load_balance)
                it.drift = load_split_drift(w.sampler[i], ps.plan_key,
                                            range_shift(motion, now, aim, p.lo, p.hi), p.lo, p.hi);
            else if (ps.track.plan_kind == SplitKind::size_quantile)
                it.drift = std::fabs(share_below_bounds(bounds, ps.plan_key) - 0.5);
            if (std::isnan(it.drift))
                it.drift = 0;
        }
        items.push_back(it);
    }
    std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
        int64_t a = x.a.crossing.found ? x.a.crossing.at : INT64_MAX;
        int64_t b = y.a.crossing.found ? y.a.crossing.at : INT64_MAX;
        return a < b;
    });
    for (const Item& it : items) {
        PartState& ps = s.parts[it.i];
        size_t active = 0;
        double shadow = 0;
        for (size_t j = 0; j < n; j++)
            if (j != it.i && s.parts[j].plan && !s.parts[j].done) {
                active++;
                shadow += w.size[j];
            }
        RoundInput in;
        in.now = now;
        in.mode = PredictMode::prepare;
        in.assessment = it.a;
        in.plan_state = ps.plan;
        in.plan_key = ps.plan_key;
        in.source_bytes = w.size[it.i];
        in.bytes_remaining = ps.remaining;
        in.copy_bytes_per_second = w.copy_rate;
        in.drift = it.drift;
        in.windows = &s.windows;
        in.predicted_plans = active;
        in.shadow_bytes = shadow;
        Decision d = decide_round(&ps.track, in, s.policy);
        print_event(w, s, it.i, d);
        switch (d.action) {
        case Action::create_plan:
            ps.plan = PlanState::planned;
            ps.plan_key = it.a.split.key;
            ps.remaining = w.size[it.i];
            ps.copying = false;
            ps.plan_index = s.plans.size();
            s.plans.push_back(Plan{it.i, now, 0, false, false, it.a.split.kind, it.a.split.key});
            if (now - ps.last_no_crossing_cancel < 2 * kDaySeconds &&
                ps.last_no_crossing_cancel != 0)
                s.out.flaps++;
            if (!d.schedule.in_windows()) // too little window time
                s.out.late_verdicts++;
            break;
        case Action::copy:
            ps.plan = PlanState::backfilling;
            ps.copying = true;
            break;
        case Action::hold_copy:
            ps.copying = false;
            break;
        case Action::cancel_plan: {
            Plan& plan = s.plans[ps.plan_index];
            plan.cancelled = now;
            plan.drift_cancel = d.event.reason.find("drifted") != std::string::npos;
            if (plan.drift_cancel)
                s.out.replans++;
            else
                ps.last_no_crossing_cancel = now;
            ps.plan.reset();
            ps.copying = false;
            break;
        }
        default:
            break;
        }
    }
}

// Next-day share of the busier half after a load split at key at time t.
double busier_half(World& w, size_t i, double key, int64_t t) {
    const PartitionSpec& p = w.sc.partitions[i];
    SplitMix64 rng{0x5eed ^ static_cast<uint64_t>(t)};
    double left = 0, total = 0;
    for (int64_t u = t; u < t + kDaySeconds; u += 10 * kMinute) {
        double r = expected_rate(p, u);
        for (int k = 0; k < 20; k++) {
            double x = draw_key(p, u, rng);
            total += r;
            if (x < key)
                left += r;
        }
    }
    double share = total > 0 ? left / total : 0.5;
    return std::max(share, 1 - share);
}

void run(World& w, std::vector<Strategy>& strategies) {
    size_t n = w.sc.partitions.size();
    // Each partition's hourly noise factor, drawn once per hour.
    std::vector<double> noise(n, 1.0);
    std::vector<double> minute_sum(n, 0.0);
    std::vector<double> size_at_cross(n, 0);
    double server_sum = 0;
    // Forecasts kept for the accuracy measures: (strategy, partition, origin hour) -> 24 points.
    struct Kept {
        size_t strategy, partition, origin;
        std::vector<ForecastPoint> fc;
    };
    std::vector<Kept> kept;

    for (int64_t t = kStart; t < kEnd; t += kMinute) {
        bool new_hour = t % kHour == 0;
        if (new_hour) {
            for (size_t i = 0; i < n; i++)
                noise[i] = std::max(0.2, 1 + w.sc.partitions[i].noise * normal(w.rng));
        }
        if (t % kDecayPeriod == 0)
            for (size_t i = 0; i < n; i++) {
                w.sampler[i].decay(0.5);
                w.inserts[i].decay(0.5);
            }
        // The predictor's rounds (before this minute's load: it sees the past).
        if (t >= kEvalStart - kDaySeconds && t % kRoundSeconds == 0) {
            for (size_t si = 0; si < strategies.size(); si++) {
                Strategy& s = strategies[si];
                if (s.reactive)
                    continue;
                predictor_round(w, s, t, new_hour);
                if (new_hour && t >= kEvalStart && t < kEvalEnd && (t / kHour) % 6 == 0)
                    for (size_t i = 0; i < n; i++)
                        if (!s.parts[i].done && !s.parts[i].reactive_copy &&
                            s.parts[i].load_fc.size() >= 24)
                            kept.push_back(
                                {si, i, static_cast<size_t>((t - kStart) / kHour),
                                 std::vector<ForecastPoint>(s.parts[i].load_fc.begin(),
                                                            s.parts[i].load_fc.begin() + 24)});
            }
        }
        // This minute's load.
        double server_minute = 0;
        for (size_t i = 0; i < n; i++) {
            const PartitionSpec& p = w.sc.partitions[i];
            double rate = expected_rate(p, t + 30) * noise[i] * (1 + 0.02 * normal(w.rng));
            if (rate < 0)
                rate = 0;
            double statements = rate * 60;
            uint64_t count = static_cast<uint64_t>(std::llround(statements));
            LoadCounters c{};
            c.reads = static_cast<uint64_t>(std::llround(statements * (1 - p.insert_share)));
            c.writes = count - std::min(count, c.reads);
            c.rows_written = c.writes;
            w.history[i].add(t, c);
            uint64_t weight = std::max<uint64_t>(1, count / kSamplesPerMinute);
            for (int k = 0; k < kSamplesPerMinute; k++) {
                double key =
                    p.insert_share > 0 ? draw_insert_key(p, t, w.rng) : draw_key(p, t, w.rng);
                w.sampler[i].record_point(key, weight, w.rng.next());
                if (p.insert_share > 0)
                    w.inserts[i].record_point(key, weight, w.rng.next());
            }
            w.size[i] += static_cast<double>(c.writes) * p.row_bytes;
            minute_sum[i] += rate;
            server_minute += rate;

            // The truth: the first minute over a threshold in the evaluation.
            bool over =
                rate >= p.load_threshold || (p.size_threshold > 0 && w.size[i] >= p.size_threshold);
            if (over && t >= kEvalStart && t < kEvalEnd && w.truth[i].crossing == 0) {
                w.truth[i].crossing = t;
                w.truth[i].metric =
                    rate >= p.load_threshold ? SplitMetric::load : SplitMetric::size;
                size_at_cross[i] = w.size[i];
                SplitChoice now_choice = choose_load_split(w.sampler[i], LoadSplitOptions{});
                for (Strategy& s : strategies) {
                    PartState& ps = s.parts[i];
                    if (ps.plan && !s.reactive) {
                        ps.split_kind = ps.track.plan_kind;
                        ps.split_key = ps.plan_key;
                    } else if (now_choice.ok()) {
                        ps.split_kind = now_choice.kind;
                        ps.split_key = now_choice.key;
                    }
                    bool splittable = w.truth[i].metric == SplitMetric::size || now_choice.ok();
                    if (s.reactive) {
                        // Held 10 s, then copy at once (if the sampler finds a key).
                        if (!splittable) {
                            ps.done = true;
                            continue;
                        }
                        ps.plan = PlanState::backfilling;
                        ps.remaining = w.size[i];
                        ps.reactive_copy = ps.copying = true;
                        s.out.plans++;
                        continue;
                    }
                    bool synced = ps.plan && ps.remaining <= 0;
                    if (w.print_events)
                        std::printf("  [%s %s day %.2f] %s CROSSED %s (%.0f/s, %.3g bytes): %s\n",
                                    w.sc.name, s.name, day_of(t), p.name,
                                    to_string(w.truth[i].metric), rate, w.size[i],
                                    synced    ? "synced"
                                    : ps.plan ? ("copy not finished, " +
                                                 std::to_string(ps.remaining) + " bytes left")
                                                    .c_str()
                                              : "no plan");
                    if (ps.plan)
                        s.plans[ps.plan_index].served = true;
                    if (synced) {
                        ps.done = true;
                        ps.copying = false;
                        s.out.lead_h.push_back(static_cast<double>(t - ps.synced_at) / kHour);
                    } else if (!ps.plan && !splittable) {
                        ps.done = true; // no split helps: nothing to copy
                    } else {
                        // Not ready: from now on a reactive split (the DBA's
                        // split_partition) copies at once.
                        if (!ps.plan) {
                            ps.plan = PlanState::backfilling;
                            ps.remaining = w.size[i];
                        }
                        ps.reactive_copy = ps.copying = true;
                    }
                }
            }
        }
        server_sum += server_minute;

        // Copies progress through this minute.
        for (Strategy& s : strategies)
            for (size_t i = 0; i < n; i++) {
                PartState& ps = s.parts[i];
                if (!ps.copying || ps.remaining <= 0)
                    continue;
                double bytes = std::min(ps.remaining, w.copy_rate * 60);
                ps.remaining -= bytes;
                s.out.bytes += bytes;
                if (w.quiet(t))
                    s.out.bytes_offpeak += bytes;
                if (window_at(s.windows, t) != kNoWindow && !ps.reactive_copy) {
                    s.out.bytes_in_windows += bytes;
                } else if (!ps.reactive_copy) {
                    s.out.bytes_outside += bytes;
                    s.plans[ps.plan_index].bytes_outside += bytes;
                }
                if (ps.remaining <= 0) {
                    ps.copying = false;
                    ps.plan = PlanState::synced;
                    ps.synced_at = t;
                    if (ps.reactive_copy)
                        ps.done = true;
                }
            }

        if ((t + kMinute) % kHour == 0) {
            for (size_t i = 0; i < n; i++) {
                w.hourly_rate[i].push_back(minute_sum[i] / 60);
                w.hourly_size[i].push_back(w.size[i]);
                minute_sum[i] = 0;
            }
            w.server_hourly.push_back(server_sum / 60);
            server_sum = 0;
        }
    }

    // Outcomes.
    for (size_t si = 0; si < strategies.size(); si++) {
        Strategy& s = strategies[si];
        Outcome& o = s.out;
        for (size_t i = 0; i < n; i++) {
            const Truth& tr = w.truth[i];
            if (tr.crossing == 0)
                continue;
            const PartitionSpec& p = w.sc.partitions[i];
            bool refused = p.keys == Keys::hot_key && tr.metric == SplitMetric::load;
            o.needed++;
            if (refused) {
                o.refused_needed++;
                continue;
            }
            const PartState& ps = s.parts[i];
            if (!s.reactive && ps.done && !ps.reactive_copy)
                o.synced_before++;
            // The split takes effect at the crossing (synced) or when the
            // copy started then ends: the next day's balance of a load split.
            if (tr.metric == SplitMetric::load && ps.split_kind == SplitKind::load_balance) {
                int64_t at = ps.reactive_copy ? ps.synced_at : tr.crossing;
                if (at > 0)
                    o.busier.push_back(busier_half(w, i, ps.split_key, at));
            }
        }
        if (!s.reactive) {
            for (const Plan& plan : s.plans) {
                o.plans++;
                if (plan.created > kEvalEnd - kDaySeconds && !plan.served && !plan.cancelled)
                    continue; // too young to judge
                o.judged++;
                if (!plan.served && !plan.drift_cancel) {
                    o.unneeded++;
                    o.bytes_outside_unneeded += plan.bytes_outside;
                }
            }
        }
    }
    // Forecast accuracy.
    for (const Kept& k : kept) {
        const auto& actual = w.hourly_rate[k.partition];
        if (k.origin + 24 > actual.size())
            continue;
        double m = mase_of(actual, k.origin, k.fc, 24);
        if (!std::isnan(m))
            strategies[k.strategy].out.mase.push_back(m);
        double a = actual[k.origin];
        if (a > 0)
            strategies[k.strategy].out.ape1.push_back(std::fabs(a - k.fc[0].predicted) / a);
    }
}

double mean(const std::vector<double>& v) {
    if (v.empty())
        return std::numeric_limits<double>::quiet_NaN();
    double s = 0;
    for (double x : v)
        s += x;
    return s / static_cast<double>(v.size());
}

double median(std::vector<double> v) {
    if (v.empty())
        return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string pct(double num, double den) {
    if (den <= 0)
        return "–";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f %%", 100 * num / den);
    return buf;
}

std::string num(double x, const char* fmt = "%.2f") {
    if (std::isnan(x))
        return "–";
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, x);
    return buf;
}

void merge(Outcome& into, const Outcome& o) {
    into.needed += o.needed;
    into.refused_needed += o.refused_needed;
    into.synced_before += o.synced_before;
    into.bytes += o.bytes;
    into.bytes_offpeak += o.bytes_offpeak;
    into.bytes_in_windows += o.bytes_in_windows;
    into.bytes_outside += o.bytes_outside;
    into.bytes_outside_unneeded += o.bytes_outside_unneeded;
    into.plans += o.plans;
    into.unneeded += o.unneeded;
    into.judged += o.judged;
    into.flaps += o.flaps;
    into.replans += o.replans;
    into.late_verdicts += o.late_verdicts;
    into.lead_h.insert(into.lead_h.end(), o.lead_h.begin(), o.lead_h.end());
    into.busier.insert(into.busier.end(), o.busier.begin(), o.busier.end());
    into.mase.insert(into.mase.end(), o.mase.begin(), o.mase.end());
    into.ape1.insert(into.ape1.end(), o.ape1.begin(), o.ape1.end());
}

void print_row(const char* scenario, const char* strategy, const Outcome& o, bool reactive) {
    int helpable = o.needed - o.refused_needed;
    std::string needed = std::to_string(o.needed);
    if (o.refused_needed)
        needed += " (" + std::to_string(o.refused_needed) + " no split helps)";
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", scenario,
                strategy, reactive ? "–" : num(median(o.mase)).c_str(),
                reactive ? "–" : num(100 * mean(o.ape1), "%.1f %%").c_str(), needed.c_str(),
                pct(o.synced_before, helpable).c_str(),
                reactive ? "–" : num(median(o.lead_h), "%.0f h").c_str(),
                pct(o.bytes_offpeak, o.bytes).c_str(),
                reactive ? "–" : pct(o.bytes_in_windows, o.bytes).c_str(),
                reactive ? std::to_string(o.plans).c_str()
                         : (std::to_string(o.plans) + " / " + pct(o.unneeded, o.judged)).c_str(),
                reactive ? "–"
                         : (std::to_string(o.flaps) + " / " + std::to_string(o.replans)).c_str(),
                num(100 * median(o.busier), "%.0f %%").c_str(),
                reactive ? "–" : std::to_string(o.late_verdicts).c_str());
}

} // namespace

int main(int argc, char** argv) {
    int seeds = 3;
    std::string only;
    bool events = false;
    std::vector<DailyWindow> fixed;
    for (int a = 1; a < argc; a++) {
        if (!std::strcmp(argv[a], "--seeds") && a + 1 < argc) {
            seeds = std::atoi(argv[++a]);
        } else if (!std::strcmp(argv[a], "--scenario") && a + 1 < argc) {
            only = argv[++a];
        } else if (!std::strcmp(argv[a], "--headroom") && a + 1 < argc) {
            knobs.headroom = std::atof(argv[++a]);
        } else if (!std::strcmp(argv[a], "--interval") && a + 1 < argc) {
            knobs.interval = std::atof(argv[++a]);
        } else if (!std::strcmp(argv[a], "--horizon") && a + 1 < argc) {
            knobs.horizon_hours = std::atoi(argv[++a]);
        } else if (!std::strcmp(argv[a], "--early-start")) {
            knobs.start_early = true;
        } else if (!std::strcmp(argv[a], "--latest-start")) {
            knobs.start_early = false;
        } else if (!std::strcmp(argv[a], "--windows-only")) {
            knobs.outside_windows = false;
        } else if (!std::strcmp(argv[a], "--still-range")) {
            knobs.follow_range = false;
        } else if (!std::strcmp(argv[a], "--no-handoff")) {
            knobs.handoff = false;
        } else if (!std::strcmp(argv[a], "--events")) {
            events = true;
        } else if (!std::strcmp(argv[a], "--window") && a + 1 < argc) {
            MaintenanceWindowParse p = parse_maintenance_window(argv[++a]);
            if (!p.ok) {
                std::fprintf(stderr, "--window: %s\nhint: %s\n", p.error.c_str(), p.hint.c_str());
                return 2;
            }
            fixed = p.windows;
        } else {
            std::fprintf(
                stderr,
                "usage: %s [--seeds N] [--scenario NAME] [--events] [--window "
                "HH:MM-HH:MM,...] [--headroom F] [--interval F] [--horizon HOURS] "
                "[--early-start|--latest-start] [--windows-only] [--still-range] [--no-handoff]\n",
                argv[0]);
            return 2;
        }
    }
    auto started = std::chrono::steady_clock::now();
    std::printf("%d days of history, %d days evaluated (+%d for outcomes), %d seed(s), rounds "
                "every %lld min, mode prepare, load threshold %.0f/s; windows: %s; horizon %lld h, "
                "headroom %.2f, interval %.2f, copy starts %s, %s; load splits %s%s\n\n",
                kHistoryDays, kEvalDays, kTailDays, seeds,
                static_cast<long long>(kRoundSeconds / 60), kLoadThreshold,
                fixed.empty() ? "predicted" : format_maintenance_window(fixed).c_str(),
                static_cast<long long>(knobs.horizon_hours), knobs.headroom, knobs.interval,
                knobs.start_early ? "at the first window" : "at the latest start",
                knobs.outside_windows ? "the shortfall of late copies outside the windows"
                                      : "copies inside the windows only",
                knobs.follow_range ? "follow a moving hot range" : "at today's middle",
                knobs.follow_range && knobs.handoff
                    ? ", and its load is forecast into the partition it enters"
                    : "");
    std::printf("| scenario | strategy | MASE h1-24 (median) | MAPE h1 | needed splits | synced "
                "before crossing | synced ahead (median) | bytes copied off-peak | bytes copied in "
                "predicted windows | plans / unneeded | flaps / re-plans | "
                "busier half next day (median) | cannot make it |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    const char* names[] = {"predictive", "seasonal naive", "reactive"};
    Outcome totals[3], daily_totals[3];
    for (const Scenario& sc : scenarios()) {
        if (!only.empty() && only != sc.name)
            continue;
        Outcome sums[3];
        for (int seed = 1; seed <= seeds; seed++) {
            World w(sc, static_cast<uint64_t>(seed), events, fixed);
            std::vector<Strategy> strategies(3);
            for (int k = 0; k < 3; k++) {
                strategies[k].name = names[k];
                strategies[k].reactive = k == 2;
                if (k == 1)
                    strategies[k].model = ForecastModel::kSeasonalNaiveDay;
                strategies[k].parts.assign(sc.partitions.size(), PartState{});
                strategies[k].policy.copy.start_granularity_seconds = kRoundSeconds;
                strategies[k].policy.copy.start_early = knobs.start_early;
                strategies[k].policy.copy.outside_windows = knobs.outside_windows;
                strategies[k].policy.horizon_seconds = knobs.horizon_hours * kHour;
                strategies[k].policy.headroom = knobs.headroom;
            }
            run(w, strategies);
            for (int k = 0; k < 3; k++)
                merge(sums[k], strategies[k].out);
        }
        for (int k = 0; k < 3; k++) {
            print_row(sc.name, names[k], sums[k], k == 2);
            merge(totals[k], sums[k]);
            if (sc.daily_cycle)
                merge(daily_totals[k], sums[k]);
        }
        std::fflush(stdout);
    }
    for (int k = 0; k < 3; k++)
        print_row("**all**", names[k], totals[k], k == 2);
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("\nMASE h1-24 over the daily-cycle scenarios: predictive %s (mean %s), seasonal "
                "naive %s (mean %s); MAPE h1 %s vs %s\n",
                num(median(daily_totals[0].mase)).c_str(), num(mean(daily_totals[0].mase)).c_str(),
                num(median(daily_totals[1].mase)).c_str(), num(mean(daily_totals[1].mase)).c_str(),
                num(100 * mean(daily_totals[0].ape1), "%.1f %%").c_str(),
                num(100 * mean(daily_totals[1].ape1), "%.1f %%").c_str());
    for (int k = 0; k < 2; k++)
        std::printf("%s: %.3g GB copied outside its windows before a crossing (%s of all bytes "
                    "copied), %.3g GB of it by plans not needed\n",
                    names[k], totals[k].bytes_outside / 1e9,
                    pct(totals[k].bytes_outside, totals[k].bytes).c_str(),
                    totals[k].bytes_outside_unneeded / 1e9);
    std::printf("took %.0f s\n", elapsed);
    return 0;
}
