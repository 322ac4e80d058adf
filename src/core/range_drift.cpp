#include "core/range_drift.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace presplit::core {

namespace {

bool bounded(double lo, double hi) {
    return std::isfinite(lo) && std::isfinite(hi) && hi > lo && hi - lo < 1e300;
}

} // namespace

void observe_range(RangeTrack* track, int64_t at, double key, double lo, double hi,
                   const DriftOptions& options) {
    if (!std::isfinite(key))
        return;
    if (track->count > 0 && bounded(lo, hi)) {
        // Off the path by a good part of the partition: the range left and
        // another one came (or the load changed shape); fit afresh.
        const RangeMotion m = range_motion(*track, at, options);
        const uint32_t last = (track->next + RangeTrack::kPoints - 1) % RangeTrack::kPoints;
        const double expected = m.moving ? m.at_now : track->key[last];
        if (std::fabs(key - expected) > options.jump_fraction * (hi - lo)) {
            track->count = 0;
            track->next = 0;
            track->restarts++;
        }
    }
    track->at[track->next] = at;
    track->key[track->next] = key;
    track->next = (track->next + 1) % RangeTrack::kPoints;
    if (track->count < RangeTrack::kPoints)
        track->count++;
}

RangeMotion range_motion(const RangeTrack& track, int64_t now, const DriftOptions& options) {
    RangeMotion m;
    // Least squares of key on time (hours from now, for the conditioning).
    double n = 0, st = 0, sk = 0;
    int64_t first = 0, last = 0;
    for (uint32_t i = 0; i < track.count; i++) {
        if (track.at[i] < now - options.fit_seconds || track.at[i] > now)
            continue;
        const double t = static_cast<double>(track.at[i] - now) / 3600;
        n++;
        st += t;
        sk += track.key[i];
        first = n == 1 ? track.at[i] : std::min(first, track.at[i]);
        last = n == 1 ? track.at[i] : std::max(last, track.at[i]);
    }
    m.points = static_cast<size_t>(n);
    if (m.points < std::max<size_t>(options.min_points, 3) ||
        last - first < options.min_span_seconds)
        return m;
    const double mt = st / n, mk = sk / n;
    double sxx = 0, sxy = 0;
    for (uint32_t i = 0; i < track.count; i++) {
        if (track.at[i] < now - options.fit_seconds || track.at[i] > now)
            continue;
        const double dt = static_cast<double>(track.at[i] - now) / 3600 - mt;
        sxx += dt * dt;
        sxy += dt * (track.key[i] - mk);
    }
    if (sxx <= 0)
        return m;
    const double slope = sxy / sxx; // keys per hour
    const double intercept = mk - slope * mt;
    double sse = 0;
    for (uint32_t i = 0; i < track.count; i++) {
        if (track.at[i] < now - options.fit_seconds || track.at[i] > now)
            continue;
        const double t = static_cast<double>(track.at[i] - now) / 3600;
        const double r = track.key[i] - (intercept + slope * t);
        sse += r * r;
    }
    const double se = std::sqrt(sse / (n - 2) / sxx);
    m.t_value =
        se > 0 ? std::fabs(slope) / se : (slope != 0 ? std::numeric_limits<double>::infinity() : 0);
    m.at_now = intercept;
    m.per_second = slope / 3600;
    m.moving = slope != 0 && m.t_value >= options.min_t;
    return m;
}

double range_shift(const RangeMotion& motion, int64_t now, int64_t target, double lo, double hi) {
    if (!motion.moving || target <= now)
        return 0;
    const double there = motion.key_at(target, now);
    if (!(there > lo && there < hi))
        return 0;
    return there - motion.at_now;
}

int64_t range_leaves_at(const RangeMotion& motion, int64_t now, int64_t until, double lo,
                        double hi) {
    if (!motion.moving || motion.per_second == 0)
        return 0;
    const double edge = motion.per_second > 0 ? hi : lo;
    if (!std::isfinite(edge) || std::fabs(edge) >= 1e300)
        return 0;
    const double seconds = (edge - motion.at_now) / motion.per_second;
    if (seconds < 0 || seconds > static_cast<double>(until - now))
        return 0;
    return now + static_cast<int64_t>(seconds);
}

int64_t aim_time(const Crossing& crossing, int64_t plan_crossing, int64_t now,
                 const DriftOptions& options) {
    const int64_t at = crossing.found ? crossing.at : plan_crossing;
    return std::max(at, now) + options.aim_after_crossing;
}

SplitChoice aim_load_split(const SplitChoice& now_choice, const RangeMotion& motion, int64_t now,
                           int64_t target, double lo, double hi) {
    if (now_choice.kind != SplitKind::load_balance || now_choice.image.size != 0)
        return now_choice;
    const double shift = range_shift(motion, now, target, lo, hi);
    if (shift == 0) {
        const int64_t leaves = range_leaves_at(motion, now, target, lo, hi);
        if (leaves == 0)
            return now_choice;
        SplitChoice here = now_choice;
        char text[160];
        std::snprintf(text, sizeof text,
                      "; the load's middle moves %+.4g keys an hour and leaves the partition in "
                      "%.1f h: split where it is now",
                      motion.per_second * 3600, static_cast<double>(leaves - now) / 3600);
        here.reason += text;
        return here;
    }
    SplitChoice aimed = now_choice;
    aimed.key = std::floor(motion.at_now + shift);
    if (!(aimed.key > lo && aimed.key < hi))
        return now_choice;
    char text[160];
    std::snprintf(text, sizeof text,
                  "; the load's middle moves %+.4g keys an hour: split where it will be %.1f h "
                  "from now",
                  motion.per_second * 3600, static_cast<double>(target - now) / 3600);
    aimed.reason += text;
    return aimed;
}

double load_split_drift(const KeySampler& sampler, double plan_key, double shift, double lo,
                        double hi) {
    const double share = share_below_points(sampler, plan_key - shift, lo, hi);
    return std::isnan(share) ? share : std::fabs(share - 0.5);
}

} // namespace presplit::core
