// splitmix64: a tiny, fast, well-mixed generator. Deterministic for a given
// seed, so the key sampler's tests are reproducible; the analyzer seeds one
// per backend.
#pragma once

#include <cstdint>

namespace presplit::core {

struct SplitMix64 {
    static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

    uint64_t state;

    // splitmix64's output function: a bijection of 64-bit values.
    static uint64_t mix(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Stream k of a family of independent runs (k = 0, 1, 2, ...). The state
    // advances by kGamma per draw, so seeding run k with k * kGamma would give
    // run 0's stream shifted by k draws; here the state is k mixed, far from
    // every other run's path.
    static SplitMix64 stream(uint64_t k) { return SplitMix64{mix(k + kGamma)}; }

    uint64_t next() { return mix(state += kGamma); }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
};

} // namespace presplit::core
