// Per-partition load over time, the input of the forecasts (trend and daily
// cycle). One LoadHistory per managed leaf partition lives in shared memory,
// under an LWLock, fed by the planner/executor hooks: it is a fixed-size,
// pointer-free struct, and all zero bytes (memset) is a valid empty history.
//
// Time is always passed in (Unix seconds), never read here: tests simulate it.
// Buckets are aligned to whole UTC minutes and hours (bucket m holds seconds
// [60 m, 60 m + 60)). Two rings:
//   - 180 minute buckets: the last 3 hours, for rates and short-term trend;
//   - 504 hour buckets:   the last 21 days, for the daily cycle and the trend.
// sizeof(LoadHistory) == 27432 bytes (LoadCounters is 40 bytes: 684 of them,
// plus the newest bucket indexes and the start time): about 27 MB for 1000
// managed partitions. docs/analyzer.md has the reasoning.
//
// Clock going backwards (e.g. an NTP step): add() puts the counters into the
// newest bucket of each ring, and queries at a time before the newest bucket
// are answered as of the end of the newest bucket. Nothing is lost or moved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace presplit::core {

// What a set of statements did. reads/writes count statements; the thin
// layer decides what a "write" is (INSERT/UPDATE/DELETE/MERGE on the leaf).
struct LoadCounters {
    uint64_t reads;
    uint64_t writes;
    uint64_t rows_read;
    uint64_t rows_written;
    uint64_t time_us; // executor time spent on the partition, microseconds

    LoadCounters& operator+=(const LoadCounters& other) {
        reads += other.reads;
        writes += other.writes;
        rows_read += other.rows_read;
        rows_written += other.rows_written;
        time_us += other.time_us;
        return *this;
    }
    uint64_t statements() const { return reads + writes; }
    bool is_zero() const {
        return reads == 0 && writes == 0 && rows_read == 0 && rows_written == 0 && time_us == 0;
    }
};

inline LoadCounters operator+(LoadCounters a, const LoadCounters& b) {
    return a += b;
}
bool operator==(const LoadCounters& a, const LoadCounters& b);
inline bool operator!=(const LoadCounters& a, const LoadCounters& b) {
    return !(a == b);
}

class LoadHistory {
public:
    static constexpr int64_t kMinuteSeconds = 60;
    static constexpr int64_t kHourSeconds = 3600;
    static constexpr size_t kMinuteBuckets = 180;   // 3 hours
    static constexpr size_t kHourBuckets = 21 * 24; // 21 days
    // Longest window last_seconds() answers from minute buckets.
    static constexpr int64_t kMinuteWindowSeconds = kMinuteBuckets * kMinuteSeconds;

    // Adds what happened at now_seconds to the totals and to the bucket of
    // now in each ring, first clearing the buckets that time skipped over.
    void add(int64_t now_seconds, const LoadCounters& counters);

    // Everything added since the last reset (or since zero-initialization).
    LoadCounters total() const { return total_; }
    // Whether anything was added since the last reset, and when the first add was.
    bool empty() const { return !started_; }
    int64_t started_seconds() const { return started_seconds_; }

    // The sum of the whole buckets covering the last window_seconds up to
    // now: the ceil(window / bucket) most recent buckets, the current
    // (partial) one included. Minute buckets for windows up to 180 minutes,
    // hour buckets beyond (capped at 21 days). So the result covers between
    // window - bucket + 1 and window seconds of real time, exactly window
    // when now is the last second of a bucket; *covered_seconds (if given)
    // receives the span actually covered, oldest bucket start to the end of
    // second now. window_seconds <= 0 gives zeros and covered 0.
    LoadCounters last_seconds(int64_t now_seconds, int64_t window_seconds,
                              int64_t* covered_seconds = nullptr) const;

    // One counter of last_seconds() divided by the seconds it covers, e.g.
    // rate_per_second(now, 600, &LoadCounters::writes). 0 when nothing is covered.
    double rate_per_second(int64_t now_seconds, int64_t window_seconds,
                           uint64_t LoadCounters::*counter) const;

    // Writes the min(n, ring size) most recent buckets, oldest first, into
    // out; the last one is the bucket holding now (still partial), buckets
    // time skipped over or that predate the ring are zero. Returns how many
    // were written. Use started_seconds() to tell "no load" from "no data".
    size_t minute_series(int64_t now_seconds, LoadCounters* out, size_t n) const;
    size_t hour_series(int64_t now_seconds, LoadCounters* out, size_t n) const;

    // Statements per second (reads and writes) of each complete hour before
    // now, oldest first: the hour ring less the hour holding now (still
    // partial), 503 hours. Hours that ended before the first add are
    // NaN -- no data, not no load -- and the hour of the first add counts
    // from that add. The forecasts' input (core/forecast.hpp).
    std::vector<double> hourly_statement_rates(int64_t now_seconds) const;

    void reset();

    // A partition made by a split (or a move) continues its source's
    // history instead of starting without one: adds `share` of each of
    // from's buckets that began before until_seconds (the cutover) to this
    // history (its total grows by what the hour buckets got), and moves its
    // start back to from's. Buckets this ring no
    // longer holds (older than its newest by a whole ring) are skipped.
    // Does nothing unless 0 < share <= 1 and from has data. docs/analyzer.md,
    // "Partitions made by a split".
    void inherit(const LoadHistory& from, double share, int64_t until_seconds);

private:
    // All members have the same access, so the struct stays standard-layout;
    // no default member initializers, so it stays trivial (memset is its
    // constructor). Value-initialize (`LoadHistory h{}`) on the stack.
    LoadCounters total_;
    LoadCounters minutes_[kMinuteBuckets]; // slot = minute index mod 180
    LoadCounters hours_[kHourBuckets];     // slot = hour index mod 504
    int64_t newest_minute_;                // floor(t / 60) of the newest minute bucket
    int64_t newest_hour_;                  // floor(t / 3600) of the newest hour bucket
    int64_t started_seconds_;              // first add() since reset
    bool started_;
};

static_assert(std::is_standard_layout_v<LoadCounters> && std::is_trivial_v<LoadCounters>);
static_assert(std::is_standard_layout_v<LoadHistory>);
static_assert(std::is_trivially_copyable_v<LoadHistory>);
static_assert(std::is_trivial_v<LoadHistory>, "zero bytes must be a valid LoadHistory");
static_assert(sizeof(LoadCounters) == 40);
static_assert(sizeof(LoadHistory) == 27432, "update the comment above and docs/analyzer.md");

} // namespace presplit::core
