#include "core/range_handoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace presplit::core {

namespace {

constexpr size_t kMaxBuckets = 256;

// The normal distribution's share below z.
double normal_below(double z) {
    return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

// Share of a normal spread (middle x, deviation sd) inside [a, b).
double inside(double x, double sd, double a, double b) {
    return normal_below((b - x) / sd) - normal_below((a - x) / sd);
}

bool bounded(double lo, double hi) {
    return std::isfinite(lo) && std::isfinite(hi) && hi > lo && hi - lo < 1e300;
}

} // namespace

RangeShape range_shape(const KeySampler& sampler, double near, double lo, double hi,
                       const HandoffOptions& options) {
    RangeShape shape;
    const size_t buckets = std::clamp<size_t>(options.buckets, 3, kMaxBuckets);
    if (!bounded(lo, hi) || !std::isfinite(near)) {
        shape.reason = "the partition's key range is not bounded";
        return shape;
    }
    uint64_t counts[kMaxBuckets];
    const size_t total = sampler.heat(lo, hi, buckets, counts);
    if (total < options.min_points) {
        shape.reason = "too few sampled accesses";
        return shape;
    }
    // The background: the median bucket (a range covers a few buckets).
    uint64_t sorted[kMaxBuckets];
    std::copy(counts, counts + buckets, sorted);
    std::nth_element(sorted, sorted + buckets / 2, sorted + buckets);
    const double background = static_cast<double>(sorted[buckets / 2]);
    const double width = (hi - lo) / static_cast<double>(buckets);
    const double window = options.window_fraction * (hi - lo);
    double excess = 0, sum = 0, sum2 = 0;
    for (size_t b = 0; b < buckets; b++) {
        const double mid = lo + (static_cast<double>(b) + 0.5) * width;
        if (std::fabs(mid - near) > window)
            continue;
        const double e = static_cast<double>(counts[b]) - background;
        if (e <= 0)
            continue;
        excess += e;
        sum += e * mid;
        sum2 += e * mid * mid;
    }
    shape.share = excess / static_cast<double>(total);
    if (excess <= 0 || shape.share < options.min_share) {
        char text[96];
        std::snprintf(text, sizeof text, "no hot range: %.0f %% of the load above the background",
                      100 * shape.share);
        shape.reason = text;
        return shape;
    }
    shape.centre = sum / excess;
    const double variance = std::max(0.0, sum2 / excess - shape.centre * shape.centre);
    // A bucket's width is the resolution: a range inside one bucket has the
    // spread of a uniform one over it.
    shape.sd = std::max(std::sqrt(variance), width / std::sqrt(12.0));
    shape.found = true;
    return shape;
}

void remember_range(RangeSnapshot* snapshot, const RangeShape& shape, const RangeMotion& motion,
                    const std::vector<ForecastPoint>& source, int64_t first_hour_start, int64_t now,
                    double lo, double hi, const HandoffOptions& options) {
    if (!shape.found)
        return; // nothing measured: the last snapshot stays (until too old)
    const double margin = options.whole_sds * shape.sd;
    if (!motion.moving || motion.per_second == 0) {
        if (shape.centre - lo >= margin && hi - shape.centre >= margin)
            *snapshot = RangeSnapshot{}; // whole and still: nothing moves on
        return;
    }
    const double ahead = motion.per_second > 0 ? hi - shape.centre : shape.centre - lo;
    const double behind = motion.per_second > 0 ? shape.centre - lo : hi - shape.centre;
    if (!(ahead >= margin) || !(behind >= margin))
        return; // part of it is outside: the last whole measurement stays
    RangeSnapshot s{};
    s.at = now;
    s.first_hour_start = first_hour_start;
    s.centre = shape.centre;
    s.per_second = motion.per_second;
    s.sd = shape.sd;
    s.share = shape.share;
    const size_t n = std::min(source.size(), RangeSnapshot::kHours);
    for (size_t i = 0; i < RangeSnapshot::kHours; i++) {
        // A short forecast repeats its last day (or its last hour).
        size_t k = i;
        while (k >= n && n > 0)
            k = k >= 24 && n > 24 ? k - 24 : n - 1;
        const ForecastPoint f = n > 0 ? source[k] : ForecastPoint{0, 0, 0};
        s.load[i] = {shape.share * f.predicted, shape.share * f.lower, shape.share * f.upper};
    }
    *snapshot = s;
}

Handoff range_handoff(const RangeSnapshot& snapshot, int64_t first_hour_start, size_t hours,
                      int64_t now, double lo, double hi, const HandoffOptions& options) {
    Handoff h;
    char text[320];
    if (snapshot.at == 0 || snapshot.per_second == 0 || !(snapshot.sd > 0)) {
        h.reason = "no moving hot range measured";
        return h;
    }
    if (now - snapshot.at > options.max_age_seconds) {
        std::snprintf(text, sizeof text, "the moving range was last measured whole %.1f h ago",
                      static_cast<double>(now - snapshot.at) / 3600);
        h.reason = text;
        return h;
    }
    h.upward = snapshot.per_second > 0;
    h.bound = h.upward ? hi : lo;
    if (!std::isfinite(h.bound) || std::fabs(h.bound) >= 1e300) {
        h.reason = "no neighbour that way (the partition is unbounded there)";
        return h;
    }
    h.sd = snapshot.sd;
    h.share = snapshot.share;
    h.per_second = snapshot.per_second;
    h.first_hour_start = first_hour_start;
    const double to_bound = (h.bound - snapshot.centre) / snapshot.per_second;
    h.enters_at = snapshot.at + static_cast<int64_t>(std::ceil(to_bound));
    auto middle_at = [&](int64_t t) {
        return snapshot.centre + snapshot.per_second * static_cast<double>(t - snapshot.at);
    };
    auto past = [&](double x) {
        const double below = normal_below((h.bound - x) / h.sd);
        return h.upward ? 1 - below : below;
    };
    auto load_at = [&](int64_t t) {
        int64_t k = std::max<int64_t>(0, (t - snapshot.first_hour_start) / 3600);
        const auto n = static_cast<int64_t>(RangeSnapshot::kHours);
        if (k >= n)
            k = n - 24 + (k - n) % 24; // the last day again
        return snapshot.load[k];
    };
    const double x_now = middle_at(now);
    h.middle_now = x_now;
    h.range_load_now = load_at(now).predicted;
    h.past_now = past(x_now);
    const double inside_now = inside(x_now, h.sd, lo, hi);
    double most = 0;
    h.into.resize(hours);
    h.leaving.resize(hours);
    h.range_load.resize(hours);
    h.middle.resize(hours);
    for (size_t i = 0; i < hours; i++) {
        const int64_t t = std::max(first_hour_start + static_cast<int64_t>(i) * 3600 + 1800, now);
        const double x = middle_at(t);
        const ForecastPoint r = load_at(t);
        const double gained = std::max(0.0, past(x) - h.past_now);
        const double lost = std::max(0.0, inside_now - inside(x, h.sd, lo, hi));
        most = std::max(most, gained);
        h.into[i] = {r.predicted * gained, r.lower * gained, r.upper * gained};
        h.leaving[i] = {r.predicted * lost, r.lower * lost, r.upper * lost};
        h.range_load[i] = r.predicted;
        h.middle[i] = x;
    }
    const double hours_to_bound = static_cast<double>(h.enters_at - now) / 3600;
    char when[96];
    if (hours_to_bound >= 0)
        std::snprintf(when, sizeof when, "reaches this partition's bound %.10g in %.1f h", h.bound,
                      hours_to_bound);
    else
        std::snprintf(when, sizeof when, "passed this partition's bound %.10g %.1f h ago", h.bound,
                      -hours_to_bound);
    if (most < options.min_entering) {
        std::snprintf(text, sizeof text,
                      "the moving range's middle %s: %.0f %% more of it enters within the forecast",
                      when, 100 * most);
        h.reason = text;
        h.into.clear();
        h.leaving.clear();
        h.range_load.clear();
        h.middle.clear();
        return h;
    }
    h.found = true;
    std::snprintf(text, sizeof text,
                  "a hot range of the partition %s (%.0f %% of its load, sd %.4g keys, as measured "
                  "%.1f h ago) moves %+.4g keys an hour and its middle %s, %.0f %% of it here now "
                  "(assumed: constant speed, width and load)",
                  h.upward ? "below" : "above", 100 * h.share, h.sd,
                  static_cast<double>(now - snapshot.at) / 3600, h.per_second * 3600, when,
                  100 * h.past_now);
    h.reason = text;
    return h;
}

void apply_handoff(std::vector<ForecastPoint>* forecast, const std::vector<ForecastPoint>& hours,
                   double sign) {
    const size_t n = std::min(forecast->size(), hours.size());
    for (size_t i = 0; i < n; i++) {
        ForecastPoint& f = (*forecast)[i];
        f.predicted = std::max(0.0, f.predicted + sign * hours[i].predicted);
        f.lower = std::max(0.0, f.lower + sign * hours[i].lower);
        f.upper = std::max(0.0, f.upper + sign * hours[i].upper);
        f.lower = std::min(f.lower, f.predicted);
        f.upper = std::max(f.upper, f.predicted);
    }
}

SplitChoice handoff_split(const Handoff& handoff, const KeySampler& here, double load_now,
                          double own_forecast, int64_t now, int64_t target, double lo, double hi) {
    SplitChoice choice;
    if (!handoff.found || handoff.into.empty() || !bounded(lo, hi)) {
        choice.reason =
            handoff.found ? "no split point: the partition is not bounded" : handoff.reason;
        return choice;
    }
    target = std::max(target, now);
    const double hours_ahead = static_cast<double>(target - now) / 3600;
    // The range at target (the forecast hour it falls in, or the last one):
    // its middle, and its load inside this partition.
    const int64_t hour = (target - handoff.first_hour_start) / 3600;
    const size_t i = static_cast<size_t>(
        std::clamp<int64_t>(hour, 0, static_cast<int64_t>(handoff.into.size()) - 1));
    const double x = handoff.middle[i];
    const double range_here = inside(x, handoff.sd, lo, hi);
    const double range_load = handoff.range_load[i] * range_here;
    char text[448];
    if (!(range_load > 0) || range_here < 0.01) {
        std::snprintf(
            text, sizeof text,
            "%s; too little of it is inside this partition %.1f h from now: no split point",
            handoff.reason.c_str(), hours_ahead);
        choice.reason = text;
        return choice;
    }
    // Its own forecast has the part of the range that is in already.
    const double own = std::isfinite(own_forecast)
                           ? std::max(0.0, own_forecast - handoff.range_load[i] * handoff.past_now)
                           : 0.0;
    // Its sampled accesses today hold the part of the range that is in (a
    // share q of its load now): taken out, they show its own load's spread.
    const double range_in_now = inside(handoff.middle_now, handoff.sd, lo, hi);
    const double q =
        load_now > 0 && range_in_now > 1e-9
            ? std::clamp(handoff.range_load_now * handoff.past_now / load_now, 0.0, 0.9)
            : 0.0;
    // The share of the partition's load below k at target.
    auto below = [&](double k) {
        double own_below = share_below_points(here, k, lo, hi);
        if (std::isnan(own_below))
            own_below = (k - lo) / (hi - lo);
        else if (q > 0)
            own_below = std::clamp(
                (own_below - q * inside(handoff.middle_now, handoff.sd, lo, k) / range_in_now) /
                    (1 - q),
                0.0, 1.0);
        const double range_below = inside(x, handoff.sd, lo, k) / range_here;
        return (own * own_below + range_load * range_below) / (own + range_load);
    };
    double a = lo, b = hi;
    for (int step = 0; step < 60 && b - a > 0.5; step++) {
        const double m = a + (b - a) / 2;
        (below(m) < 0.5 ? a : b) = m;
    }
    const double key = std::floor(a + (b - a) / 2);
    if (!(key > lo && key < hi)) {
        std::snprintf(text, sizeof text, "%s; no split point strictly inside this partition",
                      handoff.reason.c_str());
        choice.reason = text;
        return choice;
    }
    choice.kind = SplitKind::load_balance;
    choice.key = key;
    choice.left_share = below(key);
    choice.right_share = 1 - choice.left_share;
    std::snprintf(text, sizeof text,
                  "the middle of this partition's load %.1f h from now (its own %.4g/s and "
                  "%.4g/s of a hot range whose middle will be at %.10g), from the neighbour's "
                  "range: %s",
                  hours_ahead, own, range_load, std::floor(x), handoff.reason.c_str());
    choice.reason = text;
    return choice;
}

void hand_off_ranges(std::vector<HandoffPartition>* partitions, int64_t first_hour_start,
                     int64_t now, const HandoffOptions& options) {
    std::vector<HandoffPartition>& parts = *partitions;
    for (HandoffPartition& p : parts) {
        p.adjusted = p.own;
        p.incoming = Handoff{};
    }
    for (HandoffPartition& p : parts) {
        if (p.table == 0 || !p.active || p.memory == nullptr || p.sampler == nullptr)
            continue;
        const SplitChoice middle = choose_load_split(*p.sampler, LoadSplitOptions{});
        if (middle.kind == SplitKind::load_balance) {
            const RangeShape shape = range_shape(*p.sampler, middle.key, p.lo, p.hi, options);
            if (shape.found)
                observe_range(&p.memory->hot, now, shape.centre, p.lo, p.hi);
            remember_range(&p.memory->whole, shape, range_motion(p.memory->hot, now), p.own,
                           first_hour_start, now, p.lo, p.hi, options);
        }
        const Handoff h = range_handoff(p.memory->whole, first_hour_start, p.own.size(), now, p.lo,
                                        p.hi, options);
        if (!h.found)
            continue;
        for (HandoffPartition& q : parts) {
            if (&q == &p || q.table != p.table || (h.upward ? q.lo != p.hi : q.hi != p.lo))
                continue;
            apply_handoff(&p.adjusted, h.leaving, -1);
            if (q.active) {
                apply_handoff(&q.adjusted, h.into, +1);
                q.incoming = h;
            }
        }
    }
}

std::optional<SplitChoice> incoming_split(const Handoff& incoming, const Crossing& crossing,
                                          const std::vector<ForecastPoint>& own,
                                          const KeySampler& here, int64_t first_hour_start,
                                          int64_t now, double current, double threshold,
                                          double headroom, int64_t aim, double lo, double hi) {
    if (!incoming.found || !crossing.found || crossing.measured)
        return std::nullopt;
    const Crossing alone =
        predict_crossing(own, first_hour_start, now, current, threshold, headroom);
    if (alone.found && alone.at <= crossing.at)
        return std::nullopt; // its own history has the crossing as soon
    const size_t hour = static_cast<size_t>(std::max<int64_t>(0, aim - first_hour_start) / 3600);
    const double own_load = own.empty() ? 0 : own[std::min(hour, own.size() - 1)].predicted;
    return handoff_split(incoming, here, current, own_load, now, aim, lo, hi);
}

} // namespace presplit::core
