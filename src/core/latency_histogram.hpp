// Latency histograms of the switchover's channels: geometric buckets, four
// per doubling (each about 19% wide) from 1 microsecond up to about 17
// seconds. Counts live in shared memory as plain counters; these functions
// only map latencies to buckets and summarize counts. Pure logic.
#pragma once

#include <array>
#include <cstdint>

namespace presplit::core {

constexpr int kLatencyBuckets = 96;

// The bucket a latency (microseconds) is counted in: 0 below 1 us, the last
// bucket for everything beyond the range.
int latency_bucket(double microseconds);

using LatencyCounts = std::array<uint64_t, kLatencyBuckets>;

struct LatencySummary {
    uint64_t statements = 0;
    double mean_ms = 0;
    // The q-quantile, as the geometric middle of its bucket (within ~10%).
    double p95_ms = 0;
};

// Latency (ms) below which a fraction q of the counted statements fall; 0
// when nothing was counted.
double latency_quantile_ms(const LatencyCounts& counts, double q);

// counts - earlier, bucket by bucket (counters only grow; a bucket that
// shrank, e.g. after a reset, counts as 0).
LatencyCounts subtract(const LatencyCounts& counts, const LatencyCounts& earlier);

} // namespace presplit::core
