#include "core/latency_histogram.hpp"

#include <cmath>

#include "core/cpp_only.hpp"

namespace presplit::core {

constexpr double kBucketsPerDoubling = 4.0;

int latency_bucket(double microseconds) {
    if (!(microseconds >= 1.0)) // also NaN
        return 0;
    const double position = std::floor(std::log2(microseconds) * kBucketsPerDoubling) + 1;
    return position >= kLatencyBuckets - 1 ? kLatencyBuckets - 1 : static_cast<int>(position);
}

double latency_quantile_ms(const LatencyCounts& counts, double q) {
    uint64_t total = 0;
    for (uint64_t count : counts)
        total += count;
    if (total == 0)
        return 0;
    // The rank of the quantile, 1-based: the smallest rank with rank >= q * total.
    const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    int bucket = 0;
    for (; bucket < kLatencyBuckets - 1; ++bucket) {
        seen += counts[bucket];
        if (seen >= rank && seen > 0)
            break;
    }
    if (bucket == 0)
        return 0.5 / 1000.0; // below 1 us
    // Bucket b holds [2^((b-1)/4), 2^(b/4)) us.
    const double middle_us = std::exp2((bucket - 0.5) / kBucketsPerDoubling);
    return middle_us / 1000.0;
}

LatencyCounts subtract(const LatencyCounts& counts, const LatencyCounts& earlier) {
    LatencyCounts difference{};
    for (int i = 0; i < kLatencyBuckets; ++i)
        difference[i] = counts[i] >= earlier[i] ? counts[i] - earlier[i] : 0;
    return difference;
}

} // namespace presplit::core
