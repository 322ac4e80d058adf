#include "core/load_history.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

bool operator==(const LoadCounters& a, const LoadCounters& b) {
    return a.reads == b.reads && a.writes == b.writes && a.rows_read == b.rows_read &&
           a.rows_written == b.rows_written && a.time_us == b.time_us;
}

namespace {

// Floor division and a non-negative modulo: times before 1970 (or a
// simulated clock near 0) still map to the right bucket and slot.
int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

size_t slot_of(int64_t index, size_t ring) {
    int64_t r = index % static_cast<int64_t>(ring);
    return static_cast<size_t>(r < 0 ? r + static_cast<int64_t>(ring) : r);
}

// One ring of `ring` buckets of `width` seconds; `newest` is the bucket index
// of the newest bucket. Buckets newer than newest have never been written
// (zero); those older than newest - ring + 1 have been overwritten.
struct Ring {
    LoadCounters* buckets;
    size_t ring;
    int64_t width;
    int64_t* newest;

    // Moves newest forward to the bucket of now, clearing the skipped ones.
    // Never moves backwards: returns the bucket to add into.
    LoadCounters& bucket_for(int64_t now_seconds) const {
        int64_t index = floor_div(now_seconds, width);
        if (index > *newest) {
            // Difference of two floor-divided int64 values: no overflow for
            // width >= 2; compare as unsigned to keep huge gaps huge.
            uint64_t gap = static_cast<uint64_t>(index) - static_cast<uint64_t>(*newest);
            if (gap >= ring) {
                std::memset(static_cast<void*>(buckets), 0, ring * sizeof(LoadCounters));
            } else {
                for (int64_t i = *newest + 1; i <= index; i++)
                    buckets[slot_of(i, ring)] = LoadCounters{};
            }
            *newest = index;
        }
        return buckets[slot_of(*newest, ring)];
    }
};

struct ConstRing {
    const LoadCounters* buckets;
    size_t ring;
    int64_t width;
    int64_t newest;

    // The bucket index that "now" stands for in a query, and the seconds of
    // it that have elapsed (through the end of second now). A query before
    // the newest bucket is answered as of the end of the newest bucket.
    void current(int64_t now_seconds, int64_t* index, int64_t* elapsed) const {
        int64_t i = floor_div(now_seconds, width);
        if (i < newest) {
            *index = newest;
            *elapsed = width;
        } else {
            int64_t into = now_seconds % width; // seconds since the bucket began
            *index = i;
            *elapsed = (into < 0 ? into + width : into) + 1;
        }
    }

    // Bucket `index`, or zeros if the ring does not hold it.
    LoadCounters at(int64_t index) const {
        if (index > newest || static_cast<uint64_t>(newest) - static_cast<uint64_t>(index) >= ring)
            return LoadCounters{};
        return buckets[slot_of(index, ring)];
    }

    // The k most recent buckets ending at now (k <= ring).
    LoadCounters sum(int64_t now_seconds, size_t k, int64_t* covered) const {
        int64_t index, elapsed;
        current(now_seconds, &index, &elapsed);
        LoadCounters result{};
        for (size_t j = 0; j < k; j++)
            result += at(index - static_cast<int64_t>(j));
        *covered = k == 0 ? 0 : static_cast<int64_t>(k - 1) * width + elapsed;
        return result;
    }

    size_t series(int64_t now_seconds, LoadCounters* out, size_t n) const {
        if (out == nullptr)
            return 0;
        size_t k = n < ring ? n : ring;
        int64_t index, elapsed;
        current(now_seconds, &index, &elapsed);
        for (size_t j = 0; j < k; j++)
            out[j] = at(index - static_cast<int64_t>(k - 1 - j));
        return k;
    }
};

size_t buckets_for(int64_t window_seconds, int64_t width, size_t ring) {
    uint64_t k = static_cast<uint64_t>(window_seconds / width + (window_seconds % width != 0));
    return k < ring ? static_cast<size_t>(k) : ring;
}

} // namespace

void LoadHistory::add(int64_t now_seconds, const LoadCounters& counters) {
    if (!started_) {
        started_ = true;
        started_seconds_ = now_seconds;
    }
    total_ += counters;
    Ring{minutes_, kMinuteBuckets, kMinuteSeconds, &newest_minute_}.bucket_for(now_seconds) +=
        counters;
    Ring{hours_, kHourBuckets, kHourSeconds, &newest_hour_}.bucket_for(now_seconds) += counters;
}

LoadCounters LoadHistory::last_seconds(int64_t now_seconds, int64_t window_seconds,
                                       int64_t* covered_seconds) const {
    int64_t covered = 0;
    LoadCounters result{};
    if (window_seconds > 0) {
        if (window_seconds <= kMinuteWindowSeconds) {
            ConstRing ring{minutes_, kMinuteBuckets, kMinuteSeconds, newest_minute_};
            result = ring.sum(
                now_seconds, buckets_for(window_seconds, kMinuteSeconds, kMinuteBuckets), &covered);
        } else {
            ConstRing ring{hours_, kHourBuckets, kHourSeconds, newest_hour_};
            result = ring.sum(now_seconds, buckets_for(window_seconds, kHourSeconds, kHourBuckets),
                              &covered);
        }
    }
    if (covered_seconds != nullptr)
        *covered_seconds = covered;
    return result;
}

double LoadHistory::rate_per_second(int64_t now_seconds, int64_t window_seconds,
                                    uint64_t LoadCounters::*counter) const {
    int64_t covered = 0;
    LoadCounters sum = last_seconds(now_seconds, window_seconds, &covered);
    if (covered <= 0 || counter == nullptr)
        return 0.0;
    return static_cast<double>(sum.*counter) / static_cast<double>(covered);
}

size_t LoadHistory::minute_series(int64_t now_seconds, LoadCounters* out, size_t n) const {
    return ConstRing{minutes_, kMinuteBuckets, kMinuteSeconds, newest_minute_}.series(now_seconds,
                                                                                      out, n);
}

size_t LoadHistory::hour_series(int64_t now_seconds, LoadCounters* out, size_t n) const {
    return ConstRing{hours_, kHourBuckets, kHourSeconds, newest_hour_}.series(now_seconds, out, n);
}

std::vector<double> LoadHistory::hourly_statement_rates(int64_t now_seconds) const {
    std::vector<LoadCounters> buckets(kHourBuckets + 1);
    const size_t n = hour_series(now_seconds, buckets.data(), buckets.size());
    std::vector<double> rates;
    if (n < 2 || !started_)
        return rates;
    rates.reserve(n - 1);
    const int64_t current_hour = floor_div(now_seconds, kHourSeconds);
    for (size_t i = 0; i + 1 < n; ++i) {
        const int64_t hour = current_hour - static_cast<int64_t>(n - 1 - i);
        const int64_t hour_end = (hour + 1) * kHourSeconds;
        if (hour_end <= started_seconds_) {
            rates.push_back(std::numeric_limits<double>::quiet_NaN());
            continue;
        }
        const int64_t covered = std::min<int64_t>(
            kHourSeconds, hour_end - std::max(hour * kHourSeconds, started_seconds_));
        rates.push_back(static_cast<double>(buckets[i].reads + buckets[i].writes) /
                        static_cast<double>(covered));
    }
    return rates;
}

namespace {

LoadCounters scaled(const LoadCounters& c, double share) {
    auto part = [share](uint64_t v) {
        return static_cast<uint64_t>(std::llround(static_cast<double>(v) * share));
    };
    return LoadCounters{part(c.reads), part(c.writes), part(c.rows_read), part(c.rows_written),
                        part(c.time_us)};
}

// Adds share of from's buckets that began before until_seconds into to,
// oldest first, moving to's newest bucket forward where from's is newer;
// returns what it added.
LoadCounters inherit_ring(const ConstRing& from, const Ring& to, double share,
                          int64_t until_seconds) {
    LoadCounters added{};
    const int64_t last = std::min(from.newest, floor_div(until_seconds - 1, from.width));
    for (int64_t index = from.newest - static_cast<int64_t>(from.ring) + 1; index <= last;
         ++index) {
        const LoadCounters bucket = from.at(index);
        if (bucket.is_zero())
            continue;
        const LoadCounters part = scaled(bucket, share);
        if (index > *to.newest)
            to.bucket_for(index * to.width) += part;
        else if (static_cast<uint64_t>(*to.newest) - static_cast<uint64_t>(index) < to.ring)
            to.buckets[slot_of(index, to.ring)] += part;
        else
            continue;
        added += part;
    }
    return added;
}

} // namespace

void LoadHistory::inherit(const LoadHistory& from, double share, int64_t until_seconds) {
    if (!(share > 0.0 && share <= 1.0) || !from.started_ || from.started_seconds_ >= until_seconds)
        return;
    if (!started_) {
        // An empty ring's newest index means nothing yet: start it at from's
        // oldest bucket, so that bucket_for() moves it forward from there.
        newest_minute_ = from.newest_minute_ - static_cast<int64_t>(kMinuteBuckets);
        newest_hour_ = from.newest_hour_ - static_cast<int64_t>(kHourBuckets);
    }
    inherit_ring(ConstRing{from.minutes_, kMinuteBuckets, kMinuteSeconds, from.newest_minute_},
                 Ring{minutes_, kMinuteBuckets, kMinuteSeconds, &newest_minute_}, share,
                 until_seconds);
    total_ +=
        inherit_ring(ConstRing{from.hours_, kHourBuckets, kHourSeconds, from.newest_hour_},
                     Ring{hours_, kHourBuckets, kHourSeconds, &newest_hour_}, share, until_seconds);
    started_seconds_ =
        started_ ? std::min(started_seconds_, from.started_seconds_) : from.started_seconds_;
    started_ = true;
}

void LoadHistory::reset() {
    std::memset(static_cast<void*>(this), 0, sizeof(*this));
}

} // namespace presplit::core
