// Per-partition size over time, the input of the growth forecast: the
// pg_presplit worker samples each managed partition's rows and bytes (every
// hour by default) and records them here. One SizeHistory per managed leaf
// partition lives in shared memory next to its LoadHistory (and is saved
// with it): fixed-size, pointer-free, all zero bytes is empty.
//
// A ring of 504 hourly slots (21 days, as LoadHistory's hour ring), slot =
// hour index mod 504. Each slot holds the last sample taken in its hour and
// when it was taken; a slot is that hour's only if its sample's time falls in
// that hour, so nothing has to be cleared when hours are skipped (the worker
// was down, the clock jumped): a skipped hour simply has no sample. Times are
// Unix seconds, passed in (tests simulate them); a sample time must be > 0
// (0 marks an empty slot). A clock going backwards puts a sample into the
// slot of its own hour, replacing whatever that slot held.
//
// sizeof(SizeHistory) == 12096 bytes. docs/analyzer.md has the reasoning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace presplit::core {

struct SizeSample {
    int64_t at_seconds; // when it was taken; 0: no sample
    int64_t rows;       // estimated rows; -1: unknown
    int64_t bytes;      // total bytes: the table, its indexes and TOAST
};

class SizeHistory {
public:
    static constexpr int64_t kHourSeconds = 3600;
    static constexpr size_t kHours = 21 * 24; // 504

    // Records a sample taken at now_seconds (ignored unless > 0) into the
    // slot of its hour, replacing an earlier sample of the same hour.
    void record(int64_t now_seconds, int64_t rows, int64_t bytes);

    // Writes the samples of the min(n, 504) most recent hours up to the hour
    // of now, oldest first, one per hour: an hour without a sample gives a
    // SizeSample of zeros (at_seconds == 0). Returns how many were written.
    size_t hour_series(int64_t now_seconds, SizeSample* out, size_t n) const;

    // The newest sample of the last 504 hours up to the hour of now;
    // at_seconds == 0 if there is none.
    SizeSample latest(int64_t now_seconds) const;

    // A partition made by a split continues its source's size history
    // (LoadHistory::inherit): from's samples taken before until_seconds,
    // rows and bytes times share, into the slots that hold no newer sample.
    // Does nothing unless 0 < share <= 1.
    void inherit(const SizeHistory& from, double share, int64_t until_seconds);

private:
    // Trivial (memset is the constructor): `SizeHistory h{}` on the stack.
    SizeSample slots_[kHours]; // slot = hour index mod 504
};

static_assert(std::is_standard_layout_v<SizeSample> && std::is_trivial_v<SizeSample>);
static_assert(std::is_standard_layout_v<SizeHistory>);
static_assert(std::is_trivial_v<SizeHistory>, "zero bytes must be a valid SizeHistory");
static_assert(sizeof(SizeHistory) == 12096, "update the comment above and docs/analyzer.md");

} // namespace presplit::core
