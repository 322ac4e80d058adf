// The partition a moving hot range enters. Each partition is forecast from
// its own history, and a neighbour has no history of a load that is still in
// the partition next to it: when a tracked range (core/range_drift) will
// cross the partition's bound within the forecast, the load it will bring is
// added to the neighbour's forecast hour by hour, and taken off the source's,
// with the time its middle crosses and a split key where its load will be
// (docs/prediction.md, *The partition a range enters*).
//
// Assumed, and said in the reason: the range moves on at the tracked
// constant speed and keeps its width (a normal spread of the measured
// standard deviation) and its load (the share of the source's forecast it
// had when last measured whole, by hour, the last day repeated). Pure
// functions; RangeSnapshot is fixed-size and pointer-free (zero bytes: none),
// like RangeTrack, and is kept beside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/forecast.hpp"
#include "core/key_sampler.hpp"
#include "core/range_drift.hpp"
#include "core/split_decision.hpp"

namespace presplit::core {

struct HandoffOptions {
    size_t buckets = 50; // the heat map the range is measured on
    double window_fraction =
        0.2;                 // of [lo, hi): the range's load is counted this close to its middle
    size_t min_points = 100; // sampled access points in [lo, hi) needed
    double min_share = 0.2;  // a range with less of the load is not handed over
    double whole_sds = 2;    // measured whole while its middle is this many sd inside
    int64_t max_age_seconds = 48 * 3600; // a snapshot older than this is not carried forward
    double min_entering = 0.1; // handed over when this part of it enters within the forecast
};

// A hot range measured on a partition's sampled access points: the load above
// the background (the median bucket of the heat map) within window_fraction
// of `near` (the tracked middle of the load).
struct RangeShape {
    bool found = false;
    double centre = 0;  // the middle of the range's excess load (keys)
    double sd = 0;      // its standard deviation (keys; at least one bucket's width / sqrt(12))
    double share = 0;   // of the partition's sampled load
    std::string reason; // why none, when !found
};
RangeShape range_shape(const KeySampler& sampler, double near, double lo, double hi,
                       const HandoffOptions& options = {});

// The range as last measured whole. Near the bound the part already past is
// no longer in the source's sampled accesses (its middle, width and share
// would all read low), so the last whole measurement is carried forward.
struct RangeSnapshot {
    static constexpr size_t kHours = 48;
    int64_t at; // when measured; 0: none
    int64_t first_hour_start;
    double centre;
    double per_second;
    double sd;
    double share;
    ForecastPoint load[kHours]; // the range's load by hour from first_hour_start
};
static_assert(std::is_trivial_v<RangeSnapshot> && std::is_standard_layout_v<RangeSnapshot>,
              "zero bytes must be an empty RangeSnapshot");

// Takes a new snapshot when the range moves and its middle is at least
// whole_sds deviations inside [lo, hi) on the side it moves to; forgets it
// when the range is measured whole and still. Otherwise (near the bound, or
// no range measured) the old one stays. `source` is the partition's own load
// forecast by hour from first_hour_start.
void remember_range(RangeSnapshot* snapshot, const RangeShape& shape, const RangeMotion& motion,
                    const std::vector<ForecastPoint>& source, int64_t first_hour_start, int64_t now,
                    double lo, double hi, const HandoffOptions& options = {});

struct Handoff {
    bool found = false;
    bool upward = true; // into the partition above hi (else the one below lo)
    int64_t enters_at =
        0;            // the range's middle reaches the bound (may be past, or beyond the forecast)
    double bound = 0; // hi or lo
    double sd = 0;
    double share = 0;
    double per_second = 0;
    // Per hour from first_hour_start (the source's forecast hours): the load
    // that will have entered the neighbour since now (to add to its
    // forecast, which has what entered before), and what the source will
    // have lost since now (to take off its forecast), with their intervals;
    // the range's whole load and its middle at each hour.
    int64_t first_hour_start = 0;
    std::vector<ForecastPoint> into;
    std::vector<ForecastPoint> leaving;
    std::vector<double> range_load;
    std::vector<double> middle;
    double past_now = 0;       // the part of it past the bound now
    double middle_now = 0;     // its middle now
    double range_load_now = 0; // its whole load now
    std::string reason;        // why none, or what is handed over (numbers)
};

// The hand-off of a source partition [lo, hi) over `hours` forecast hours
// from first_hour_start. Found when a snapshot under max_age_seconds old
// says at least min_entering more of the range passes the bound in those
// hours.
Handoff range_handoff(const RangeSnapshot& snapshot, int64_t first_hour_start, size_t hours,
                      int64_t now, double lo, double hi, const HandoffOptions& options = {});

// Adds (sign +1) or takes off (sign -1) a hand-off's hours to a forecast,
// hour by hour over their common length; values stay at or above 0 and the
// interval keeps the point inside.
void apply_handoff(std::vector<ForecastPoint>* forecast, const std::vector<ForecastPoint>& hours,
                   double sign);

// The split a neighbour [lo, hi) gets from the range entering it: the middle
// of its load at `target` (its crossing plus aim_after_crossing) — its own
// load (`own_forecast` at target less the part of the range already in,
// spread as its sampled accesses are today without that part, which is
// range_load_now x past_now of its load_now; evenly without any) and the
// part of the range inside it then — found by bisection, strictly inside
// [lo, hi). None when too little of the range is inside at target.
SplitChoice handoff_split(const Handoff& handoff, const KeySampler& here, double load_now,
                          double own_forecast, int64_t now, int64_t target, double lo, double hi);

// One round's hand-offs between the partitions of the tables (the glue the
// server's manager and the simulator share). What a partition keeps from
// round to round: the range's own middle, hourly (a range entering from above
// moves the load's middle up while it moves down), and the range as last
// measured whole. Fixed size, pointer-free; zero bytes: nothing yet.
struct HandoffMemory {
    RangeTrack hot;
    RangeSnapshot whole;
};
static_assert(std::is_trivial_v<HandoffMemory> && std::is_standard_layout_v<HandoffMemory>,
              "zero bytes must be an empty HandoffMemory");

struct HandoffPartition {
    // In.
    uint64_t table = 0;    // partitions of one table share it; 0: none (takes no part)
    bool active = true;    // false: neither measured nor handed to (still a neighbour)
    double lo = 0, hi = 0; // its span on the key axis (finite: numbers and times only)
    const KeySampler* sampler = nullptr;
    HandoffMemory* memory = nullptr;
    std::vector<ForecastPoint> own; // its load forecast from its own history
    // Out: `own` with what leaves it and what enters it, and the range
    // entering it (found), if any.
    std::vector<ForecastPoint> adjusted;
    Handoff incoming;
};

// Measures each active partition's hot range (range_shape around the middle
// of its sampled load, observed into memory->hot, remember_range into
// memory->whole), and hands a range found moving over (range_handoff) to the
// partition of the same table whose bound is the source's bound in its
// direction: taken off the source's forecast, added to the neighbour's.
// `first_hour_start`: the forecasts' first hour.
void hand_off_ranges(std::vector<HandoffPartition>* partitions, int64_t first_hour_start,
                     int64_t now, const HandoffOptions& options = {});

// The split of a partition [lo, hi) a range enters (`incoming`, found), when
// the hand-off brings its crossing: `crossing` (on its adjusted forecast)
// comes from the forecast, and `own` (its own forecast alone) crosses later
// or not at all. Then the split is handoff_split at `aim`, with its own
// forecast's load then; else nullopt.
std::optional<SplitChoice> incoming_split(const Handoff& incoming, const Crossing& crossing,
                                          const std::vector<ForecastPoint>& own,
                                          const KeySampler& here, int64_t first_hour_start,
                                          int64_t now, double current, double threshold,
                                          double headroom, int64_t aim, double lo, double hi);

} // namespace presplit::core
