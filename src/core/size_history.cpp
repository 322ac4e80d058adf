#include "core/size_history.hpp"

#include "core/cpp_only.hpp"

#include <cmath>

namespace presplit::core {
namespace {

int64_t hour_of(int64_t seconds) {
    int64_t q = seconds / SizeHistory::kHourSeconds;
    return seconds % SizeHistory::kHourSeconds < 0 ? q - 1 : q;
}

size_t slot_of(int64_t hour) {
    const auto ring = static_cast<int64_t>(SizeHistory::kHours);
    int64_t r = hour % ring;
    return static_cast<size_t>(r < 0 ? r + ring : r);
}

} // namespace

void SizeHistory::record(int64_t now_seconds, int64_t rows, int64_t bytes) {
    if (now_seconds <= 0)
        return;
    slots_[slot_of(hour_of(now_seconds))] = SizeSample{now_seconds, rows, bytes};
}

size_t SizeHistory::hour_series(int64_t now_seconds, SizeSample* out, size_t n) const {
    if (out == nullptr)
        return 0;
    const size_t count = n < kHours ? n : kHours;
    const int64_t newest = hour_of(now_seconds);
    for (size_t i = 0; i < count; i++) {
        const int64_t hour = newest - static_cast<int64_t>(count - 1 - i);
        const SizeSample& slot = slots_[slot_of(hour)];
        out[i] = slot.at_seconds > 0 && hour_of(slot.at_seconds) == hour ? slot : SizeSample{};
    }
    return count;
}

SizeSample SizeHistory::latest(int64_t now_seconds) const {
    const int64_t newest = hour_of(now_seconds);
    for (int64_t hour = newest; hour > newest - static_cast<int64_t>(kHours); hour--) {
        const SizeSample& slot = slots_[slot_of(hour)];
        if (slot.at_seconds > 0 && hour_of(slot.at_seconds) == hour)
            return slot;
    }
    return SizeSample{};
}

void SizeHistory::inherit(const SizeHistory& from, double share, int64_t until_seconds) {
    if (!(share > 0.0 && share <= 1.0))
        return;
    auto part = [share](int64_t v) {
        return v < 0 ? v : static_cast<int64_t>(std::llround(static_cast<double>(v) * share));
    };
    for (size_t i = 0; i < kHours; i++) {
        const SizeSample& sample = from.slots_[i];
        SizeSample& mine = slots_[i];
        if (sample.at_seconds <= 0 || sample.at_seconds >= until_seconds ||
            (mine.at_seconds > 0 && hour_of(mine.at_seconds) >= hour_of(sample.at_seconds)))
            continue;
        mine = SizeSample{sample.at_seconds, part(sample.rows), part(sample.bytes)};
    }
}

} // namespace presplit::core
