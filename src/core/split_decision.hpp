// Which partition needs a split, when and where: the predictive shard
// manager's reading of one partition's forecasts and key statistics.
//
//   - When: the first forecast hour whose UPPER bound reaches the threshold
//     (load in statements/s, size in bytes; 0 = off), or now if the measured
//     value already has.
//   - Where, for load: the key sampler's suggestion (CockroachDB's rule),
//     refused with the reason when one key carries most of the sampled
//     accesses (no split helps), when too few accesses were counted, or when
//     the best key leaves the halves too unbalanced or cuts too many scans.
//   - Where, for size: a quantile (the median) of the partition's key
//     distribution, given as equal-frequency histogram bounds (pg_stats).
//   - Where, for an append hot spot (most recent inserts at the right edge of
//     the occupied keys): just above the current largest key, so that every
//     row already there stays left and the future inserts go to the new
//     partition.
// Pure functions; keys are positions on the analyzer's key axis (doubles).
// docs/prediction.md has the reasoning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/forecast.hpp"
#include "core/key_sampler.hpp"

namespace presplit::core {

enum class SplitMetric { load, size };
const char* to_string(SplitMetric metric); // "load", "size"

struct Crossing {
    bool found = false;        // within the forecast (or already over)
    bool already_over = false; // the measured value is at or above the threshold now
    bool measured = false;     // found from the measured value (>= level), not the forecast
    int64_t at = 0;            // start of the first hour whose upper bound reaches it; now if over
    size_t hour = 0;           // index into the forecast
    double predicted = 0;      // the forecast at that hour (point and upper bound)
    double upper = 0;
    double level = 0; // headroom x threshold: what the upper bound was compared with
    // The same for the point forecast (stronger evidence: the hysteresis
    // after a cancellation asks for it).
    bool point_found = false;
    int64_t point_at = 0;
};

// The level acted on is headroom x threshold (headroom in (0, 1]: act before
// the threshold itself, as the threshold is on short-term rates and the
// forecast on hourly means); already_over compares the measured value with
// the threshold itself, and a measured value at or above the level gives a
// crossing now. threshold <= 0 (off) or NaN gives found == false. hours[i]
// covers [first_hour_start + 3600 i, + 3600); hours that ended before now are
// skipped.
Crossing predict_crossing(const std::vector<ForecastPoint>& hours, int64_t first_hour_start,
                          int64_t now, double current, double threshold, double headroom = 1.0);

enum class SplitKind {
    none,          // refused, see the reason
    load_balance,  // from the key sampler
    size_quantile, // from the key distribution
    append_edge,   // just above the largest key
};
const char* to_string(SplitKind kind); // "none", "load", "size", "append"
// The names to_string gives (presplit.plan.split_kind); nullopt for another.
std::optional<SplitKind> parse_split_kind(std::string_view name);

struct SplitChoice {
    SplitKind kind = SplitKind::none;
    double key = 0;        // left partition < key <= right partition
    double left_share = 0; // expected share of the load (or rows) left of key
    double right_share = 0;
    std::string reason; // why this key, or why none
    KeyImage image;     // load_balance: the chosen candidate's key, where positions are not keys
    bool ok() const { return kind != SplitKind::none; }
};

struct LoadSplitOptions {
    uint64_t min_samples = 100;  // CockroachDB: 100
    double max_imbalance = 0.25; // |left - right| / (left + right), CockroachDB: 0.25
    double max_contained = 0.5;  // share of accesses spanning the key, CockroachDB: 0.5
    bool images_only = false;    // only candidates with a key image (text keys)
    double hot_key_share = 0.5;  // one key with this share of the sampled accesses: refuse
};

// The key that most sampled candidates share, and that share (of the
// candidates, which the sampler draws one per access: the share of accesses
// that went to exactly that key). share == 0 when the sampler is empty.
struct HotKey {
    double key = 0;
    double share = 0;
};
HotKey dominant_key(const KeySampler& sampler);

SplitChoice choose_load_split(const KeySampler& sampler, const LoadSplitOptions& options);

// bounds: ascending, equal-frequency histogram bounds of the partition's keys
// (each adjacent pair holds the same number of rows); fraction: the share of
// rows to leave left (0.5: the median), interpolated linearly inside a bucket.
// Refused when fewer than two bounds, or when the key would leave the left
// side empty (one key holds the rows).
SplitChoice choose_size_split(const std::vector<double>& bounds, double fraction = 0.5);

// Share of the rows below key, from the same bounds (linear inside a bucket).
double share_below_bounds(const std::vector<double>& bounds, double key);

struct AppendOptions {
    double edge_fraction = 0.05; // the top 5 % of the occupied key range is the edge
    double min_share = 0.8;      // of the sampled inserts there: an append hot spot
    size_t min_points = 32;      // sampled inserts needed to tell
    double key_step = 1;         // the next key after max_key (1 for integers)
};

// From a sampler fed with the partition's inserted keys (its access points),
// whether the inserts go to the right edge of [min_key, max_key] (the keys
// the partition holds), and if so the split just above max_key.
SplitChoice choose_append_split(const KeySampler& inserts, double min_key, double max_key,
                                const AppendOptions& options);

// Share of the sampled access points of [lo, hi) that lie below key (NaN if
// none lie in [lo, hi)): how a planned load split would divide today's load.
double share_below_points(const KeySampler& sampler, double key, double lo, double hi);

// One partition's assessment: the earliest crossing of the metrics that are
// on, and the split for it. An append hot spot wins over the metric's own
// choice (a balanced split of today's hot keys is useless tomorrow).
struct MetricInput {
    const std::vector<ForecastPoint>* forecast = nullptr; // null: metric not forecast
    double current = 0;
    double threshold = 0; // 0: off
    SplitChoice split;    // choose_load_split / choose_size_split
};

struct Assessment {
    SplitMetric metric = SplitMetric::load;
    Crossing crossing;
    SplitChoice split;
    double current = 0;
    double threshold = 0;
};

Assessment assess_partition(const MetricInput& load, const MetricInput& size,
                            const SplitChoice& append, int64_t first_hour_start, int64_t now,
                            double headroom);

} // namespace presplit::core
