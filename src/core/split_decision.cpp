#include "core/split_decision.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
    return buf;
}

SplitChoice refuse(std::string reason) {
    SplitChoice choice;
    choice.reason = std::move(reason);
    return choice;
}

} // namespace

const char* to_string(SplitMetric metric) {
    return metric == SplitMetric::load ? "load" : "size";
}

const char* to_string(SplitKind kind) {
    switch (kind) {
    case SplitKind::none:
        return "none";
    case SplitKind::load_balance:
        return "load";
    case SplitKind::size_quantile:
        return "size";
    case SplitKind::append_edge:
        return "append";
    }
    return "none";
}

std::optional<SplitKind> parse_split_kind(std::string_view name) {
    for (SplitKind kind : {SplitKind::none, SplitKind::load_balance, SplitKind::size_quantile,
                           SplitKind::append_edge})
        if (name == to_string(kind))
            return kind;
    return std::nullopt;
}

Crossing predict_crossing(const std::vector<ForecastPoint>& hours, int64_t first_hour_start,
                          int64_t now, double current, double threshold, double headroom) {
    Crossing crossing;
    if (!(threshold > 0))
        return crossing;
    if (!(headroom > 0 && headroom <= 1))
        headroom = 1;
    const double level = threshold * headroom;
    crossing.level = level;
    if (current >= level) {
        crossing.found = crossing.point_found = crossing.measured = true;
        crossing.already_over = current >= threshold;
        crossing.at = crossing.point_at = now;
        crossing.predicted = crossing.upper = current;
        return crossing;
    }
    for (size_t h = 0; h < hours.size(); h++) {
        int64_t starts = first_hour_start + static_cast<int64_t>(h) * 3600;
        if (starts + 3600 <= now)
            continue;
        if (!crossing.found && hours[h].upper >= level) {
            crossing.found = true;
            crossing.at = std::max(starts, now);
            crossing.hour = h;
            crossing.predicted = hours[h].predicted;
            crossing.upper = hours[h].upper;
        }
        if (hours[h].predicted >= level) {
            crossing.point_found = true;
            crossing.point_at = std::max(starts, now);
            break;
        }
    }
    return crossing;
}

HotKey dominant_key(const KeySampler& sampler) {
    size_t n = sampler.candidate_count();
    if (n == 0)
        return {};
    std::vector<double> keys(n);
    for (size_t i = 0; i < n; i++)
        keys[i] = sampler.candidate(i).key;
    std::sort(keys.begin(), keys.end());
    HotKey best{keys[0], 0};
    size_t run = 0, best_run = 0;
    for (size_t i = 0; i < n; i++) {
        run = (i > 0 && keys[i] == keys[i - 1]) ? run + 1 : 1;
        if (run > best_run) {
            best_run = run;
            best.key = keys[i];
        }
    }
    best.share = static_cast<double>(best_run) / static_cast<double>(n);
    return best;
}

SplitChoice choose_load_split(const KeySampler& sampler, const LoadSplitOptions& options) {
    HotKey hot = dominant_key(sampler);
    if (sampler.candidate_count() >= 16 && hot.share >= options.hot_key_share)
        return refuse(format("one key (%g) carries %.0f%% of the sampled accesses: no split "
                             "balances it",
                             hot.key, 100 * hot.share));
    SplitSuggestion s = sampler.suggest(options.min_samples, options.images_only);
    if (!s.valid && s.samples >= options.min_samples)
        return refuse(format("no key divides the load: every candidate key (%.0f accesses "
                             "counted) has the accesses on one side of it or spanning it",
                             static_cast<double>(s.samples)));
    if (!s.valid)
        return refuse(format("too few accesses sampled: %.0f of the %.0f a split key needs",
                             static_cast<double>(s.samples),
                             static_cast<double>(options.min_samples)));
    double sides = s.left_share + s.right_share;
    double imbalance = sides > 0 ? std::fabs(s.left_share - s.right_share) / sides : 1;
    if (imbalance > options.max_imbalance)
        return refuse(format("the best key (%g) leaves %.0f%% / %.0f%% of the load: more "
                             "unbalanced than %.0f%% allows",
                             s.key, 100 * s.left_share, 100 * s.right_share,
                             100 * options.max_imbalance));
    if (s.contained_share > options.max_contained)
        return refuse(format("%.0f%% of the accesses span the best key (%g): a split would "
                             "cut them",
                             100 * s.contained_share, s.key));
    SplitChoice choice;
    choice.kind = SplitKind::load_balance;
    choice.key = s.key;
    choice.left_share = s.left_share;
    choice.right_share = s.right_share;
    choice.image = s.image;
    choice.reason = format("key sampler: %.0f%% / %.0f%% of the load, %.0f%% spanning, %.0f "
                           "accesses counted",
                           100 * s.left_share, 100 * s.right_share, 100 * s.contained_share,
                           static_cast<double>(s.samples));
    if (hot.share >= 0.25)
        choice.reason +=
            format("; one key (%g) carries %.0f%% of the accesses", hot.key, 100 * hot.share);
    return choice;
}

double share_below_bounds(const std::vector<double>& bounds, double key) {
    size_t n = bounds.size();
    if (n < 2)
        return std::numeric_limits<double>::quiet_NaN();
    if (key <= bounds.front())
        return 0;
    if (key > bounds.back())
        return 1;
    auto it = std::lower_bound(bounds.begin(), bounds.end(), key); // first bound >= key
    size_t i = static_cast<size_t>(it - bounds.begin());           // 1..n-1
    double lo = bounds[i - 1], hi = bounds[i];
    double inside = hi > lo ? (key - lo) / (hi - lo) : 0;
    return (static_cast<double>(i - 1) + inside) / static_cast<double>(n - 1);
}

SplitChoice choose_size_split(const std::vector<double>& bounds, double fraction) {
    size_t n = bounds.size();
    if (n < 2)
        return refuse("no key distribution yet (ANALYZE the partition)");
    if (!(fraction > 0 && fraction < 1))
        fraction = 0.5;
    double position = fraction * static_cast<double>(n - 1);
    auto i = static_cast<size_t>(position);
    if (i >= n - 1)
        i = n - 2;
    double key = bounds[i] + (bounds[i + 1] - bounds[i]) * (position - static_cast<double>(i));
    if (!(key > bounds.front()))
        return refuse(format("one key (%g) holds more than %.0f%% of the rows: no split "
                             "divides them",
                             bounds.front(), 100 * fraction));
    SplitChoice choice;
    choice.kind = SplitKind::size_quantile;
    choice.key = key;
    choice.left_share = share_below_bounds(bounds, key);
    choice.right_share = 1 - choice.left_share;
    choice.reason = format("key distribution: %.0f%% of the rows below the key (%.0f bounds)",
                           100 * choice.left_share, static_cast<double>(n));
    return choice;
}

double share_below_points(const KeySampler& sampler, double key, double lo, double hi) {
    uint64_t below = 0, above = 0;
    size_t in_range = 0;
    if (key > lo)
        in_range += sampler.heat(lo, key, 1, &below);
    if (key < hi)
        in_range += sampler.heat(key, hi, 1, &above);
    if (in_range == 0)
        return std::numeric_limits<double>::quiet_NaN();
    return static_cast<double>(below) / static_cast<double>(in_range);
}

SplitChoice choose_append_split(const KeySampler& inserts, double min_key, double max_key,
                                const AppendOptions& options) {
    if (!(max_key > min_key))
        return refuse("the partition holds fewer than two distinct keys");
    double edge = max_key - options.edge_fraction * (max_key - min_key);
    double top = max_key + options.key_step;
    uint64_t total = 0, at_edge = 0;
    size_t counted = inserts.heat(min_key, top, 1, &total);
    // Inserts above max_key (after it was measured) are at the edge too.
    uint64_t beyond = 0;
    double far = top + (max_key - min_key);
    counted += inserts.heat(top, far, 1, &beyond);
    inserts.heat(edge, top, 1, &at_edge);
    if (counted < options.min_points)
        return refuse(format("too few inserts sampled: %.0f of %.0f", static_cast<double>(counted),
                             static_cast<double>(options.min_points)));
    double share = static_cast<double>(at_edge + beyond) / static_cast<double>(counted);
    if (share < options.min_share)
        return refuse(format("no append hot spot: %.0f%% of the sampled inserts in the top "
                             "%.0f%% of the keys",
                             100 * share, 100 * options.edge_fraction));
    SplitChoice choice;
    choice.kind = SplitKind::append_edge;
    choice.key = max_key + options.key_step;
    choice.left_share = 1 - share;
    choice.right_share = share;
    choice.reason = format("append hot spot: %.0f%% of the sampled inserts in the top %.0f%% of "
                           "the keys; split above the largest key (%g) so that the new rows go "
                           "to the new partition",
                           100 * share, 100 * options.edge_fraction, max_key);
    return choice;
}

Assessment assess_partition(const MetricInput& load, const MetricInput& size,
                            const SplitChoice& append, int64_t first_hour_start, int64_t now,
                            double headroom) {
    Assessment result;
    bool have = false;
    for (SplitMetric metric : {SplitMetric::load, SplitMetric::size}) {
        const MetricInput& in = metric == SplitMetric::load ? load : size;
        if (!(in.threshold > 0))
            continue;
        static const std::vector<ForecastPoint> kNone;
        Crossing c = predict_crossing(in.forecast ? *in.forecast : kNone, first_hour_start, now,
                                      in.current, in.threshold, headroom);
        bool earlier = c.found && (!have || !result.crossing.found || c.at < result.crossing.at);
        if (!have || earlier) {
            result.metric = metric;
            result.crossing = c;
            result.current = in.current;
            result.threshold = in.threshold;
            result.split = append.ok() ? append : in.split;
            have = true;
        }
    }
    return result;
}

} // namespace presplit::core
