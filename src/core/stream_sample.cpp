#include "core/stream_sample.hpp"

#include <cmath>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {

// Uniform in (0, 1): never 0, so its logarithm is finite.
double open_unit(SplitMix64& rng) {
    return (static_cast<double>(rng.next() >> 11) + 0.5) * 0x1.0p-53;
}

} // namespace

void StreamSample::start(uint32_t capacity, uint64_t seed) {
    seen_ = 0;
    capacity_ = capacity == 0 ? 1 : capacity;
    rng_ = SplitMix64{seed};
    // The first skip is drawn when the sample is full (most statements
    // never fill it): until then the next item past it goes to replace().
    primed_ = false;
    w_ = 0;
    next_ = static_cast<uint64_t>(capacity_) + 1;
}

void StreamSample::advance() {
    // Items skipped before the next one kept: geometric with parameter w_.
    const double skip = std::floor(std::log(open_unit(rng_)) / std::log1p(-w_));
    constexpr double kFar = static_cast<double>(std::numeric_limits<uint64_t>::max() / 2);
    next_ = skip < kFar - static_cast<double>(next_) ? next_ + static_cast<uint64_t>(skip) + 1
                                                     : std::numeric_limits<uint64_t>::max();
}

int32_t StreamSample::replace() {
    if (!primed_) {
        primed_ = true;
        w_ = std::exp(std::log(open_unit(rng_)) / capacity_);
        next_ = capacity_;
        advance();
        if (seen_ != next_)
            return kSkip;
    }
    const auto slot = static_cast<int32_t>(rng_.next() % capacity_);
    w_ *= std::exp(std::log(open_unit(rng_)) / capacity_);
    advance();
    return slot;
}

} // namespace presplit::core
