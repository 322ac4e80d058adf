// A uniform sample of at most `capacity` items of a stream whose length is
// not known in advance (Algorithm L, Li 1994): the analyzer keeps the keys of
// a bounded number of the rows a statement inserts, and of the elements of
// an `= ANY` array, whatever their number. Each item is kept with
// probability capacity / seen (all of them while seen <= capacity), so a
// kept item stands for seen / kept items.
//
// offer() is called once per item: a counter and a comparison, plus a few
// random draws and logarithms only when the item is kept (on average
// capacity * (1 + ln(seen / capacity)) times in all; none while the sample
// is not full). The random seed is
// passed in, so tests are deterministic. Trivial: it lives in the
// executor's memory.
#pragma once

#include "core/random.hpp"

#include <cstdint>
#include <type_traits>

namespace presplit::core {

class StreamSample {
public:
    static constexpr int32_t kSkip = -1;

    // Starts a new sample (capacity at least 1).
    void start(uint32_t capacity, uint64_t seed);

    // The slot (in [0, capacity)) to store the next item in, replacing what
    // it held, or kSkip to leave the item out.
    int32_t offer() {
        ++seen_;
        if (seen_ <= capacity_)
            return static_cast<int32_t>(seen_ - 1);
        if (seen_ != next_)
            return kSkip;
        return replace();
    }

    uint64_t seen() const { return seen_; }
    uint32_t kept() const { return seen_ < capacity_ ? static_cast<uint32_t>(seen_) : capacity_; }
    // How many items each kept one stands for (0 if none was offered).
    double weight() const {
        return kept() == 0 ? 0.0 : static_cast<double>(seen_) / static_cast<double>(kept());
    }

private:
    int32_t replace();
    void advance(); // draws the next item to keep after seen_

    uint64_t seen_;
    uint64_t next_; // the number (from 1) of the next item kept once the sample is full
    double w_;      // Algorithm L's W
    uint32_t capacity_;
    bool primed_; // w_ and the first skip drawn (once the sample is full)
    SplitMix64 rng_;
};

static_assert(std::is_trivial_v<StreamSample>);

} // namespace presplit::core
