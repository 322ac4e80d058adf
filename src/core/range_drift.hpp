// A hot key range moving through the key space (today's busy accounts, a
// window of ids sliding forward): the key of a partition's load split (the
// middle of its sampled load) is observed every hour and fitted by least
// squares over the last day. When it moves steadily, a predicted load split
// is aimed where the middle of the load will be after the crossing, not
// where it is now, and its drift is judged against that path: a split at
// today's middle is out of tolerance within a day and is re-planned again
// and again (docs/prediction.md, *A moving hot range*).
//
// RangeTrack is fixed-size and pointer-free (zero bytes is empty), like
// PartitionTrack; losing it (a restart) only means a few hours of
// observations before a motion is seen again. Pure functions otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/key_sampler.hpp"
#include "core/split_decision.hpp"

namespace presplit::core {

struct RangeTrack {
    static constexpr size_t kPoints = 48; // two days of hourly observations
    int64_t at[kPoints];
    double key[kPoints];
    uint32_t count;    // valid points, at most kPoints
    uint32_t next;     // ring position of the next point
    uint32_t restarts; // jumps seen (the track started over)
};
static_assert(std::is_trivial_v<RangeTrack> && std::is_standard_layout_v<RangeTrack>,
              "zero bytes must be an empty RangeTrack");

struct DriftOptions {
    int64_t fit_seconds = 24 * 3600;        // points this recent are fitted
    size_t min_points = 6;                  // at least this many
    int64_t min_span_seconds = 5 * 3600;    // spanning at least this long
    double min_t = 4;                       // |slope| / its standard error: a motion, not noise
    double jump_fraction = 0.15;            // of [lo, hi): a new point this far off the fit
                                            // starts the track over (the range left, another came)
    int64_t aim_after_crossing = 12 * 3600; // a split serves the day after the crossing
};

// What the track says now.
struct RangeMotion {
    bool moving = false;
    double per_second = 0; // keys per second (the fitted slope)
    double at_now = 0;     // the fitted key now
    size_t points = 0;     // fitted
    double t_value = 0;    // |slope| / its standard error
    double key_at(int64_t t, int64_t now) const {
        return at_now + per_second * static_cast<double>(t - now);
    }
};

// Adds the load split key observed at `at` (at most one per hour is meant;
// times ascending). [lo, hi) is the partition's span on the key axis (either
// end may be infinite: then no jump is judged).
void observe_range(RangeTrack* track, int64_t at, double key, double lo, double hi,
                   const DriftOptions& options = {});

RangeMotion range_motion(const RangeTrack& track, int64_t now, const DriftOptions& options = {});

// How far the middle of the load moves from now to target: 0 when it does
// not move, or when it would have left [lo, hi) by then (a split at a
// key outside the partition helps nobody; the partition keeps today's).
double range_shift(const RangeMotion& motion, int64_t now, int64_t target, double lo, double hi);

// When the fitted key leaves [lo, hi), searching up to `until`; 0: not moving,
// or not before then. Said in the events: the range passes to the neighbour.
int64_t range_leaves_at(const RangeMotion& motion, int64_t now, int64_t until, double lo,
                        double hi);

// The time a split made now should suit: the predicted crossing (else the
// plan's last predicted crossing, else now) plus aim_after_crossing.
int64_t aim_time(const Crossing& crossing, int64_t plan_crossing, int64_t now,
                 const DriftOptions& options = {});

// A load split (choose_load_split) aimed at where the middle of the load will
// be at `target` (the crossing plus aim_after_crossing). Only numeric axes:
// a candidate with a key image (text keys) is a real key and stays. Anything
// but a load split, or a range that does not move, is returned unchanged; a
// range that leaves [lo, hi) before target keeps its key, and its reason
// says when it leaves.
SplitChoice aim_load_split(const SplitChoice& now_choice, const RangeMotion& motion, int64_t now,
                           int64_t target, double lo, double hi);

// The drift of a planned load split at plan_key: |share of today's sampled
// load below plan_key - shift - 1/2|, where shift is range_shift() to the
// plan's target (0: the plain drift from today's middle). NaN when no sampled
// access lies in [lo, hi).
double load_split_drift(const KeySampler& sampler, double plan_key, double shift, double lo,
                        double hi);

} // namespace presplit::core
