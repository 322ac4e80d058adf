// splitmix64: a tiny, fast, well-mixed generator. Deterministic for a given
// seed, so the key sampler's tests are reproducible; the analyzer seeds one
// per backend.
#pragma once

#include <cstdint>

namespace presplit::core {

struct SplitMix64 {
    uint64_t state;

    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
};

} // namespace presplit::core
