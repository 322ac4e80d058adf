#include "core/key_sampler.hpp"
#include "core/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {

// The caller gives one random value per access; splitmix64 stretches it into
// as many independent-looking values as one access needs.
using Stream = SplitMix64;

// A key uniformly inside [lo, hi]; written so that huge finite ends do not
// overflow to infinity.
double pick(double lo, double hi, double u) {
    double key = lo * (1.0 - u) + hi * u;
    return key < lo ? lo : (key > hi ? hi : key);
}

// Algorithm R over `seen` accesses (this one included): the slot to
// overwrite, or `capacity` to leave the reservoir alone.
size_t reservoir_slot(uint32_t* filled, size_t capacity, double seen, Stream* rng) {
    if (*filled < capacity)
        return (*filled)++;
    if (rng->unit() * seen < static_cast<double>(capacity))
        return static_cast<size_t>(rng->next() % capacity);
    return capacity;
}

} // namespace

size_t KeySampler::candidate_count() const {
    return candidate_count_ < kCandidates ? candidate_count_ : kCandidates;
}

size_t KeySampler::point_count() const {
    return point_count_ < kPoints ? point_count_ : kPoints;
}

SplitCandidate KeySampler::candidate(size_t i) const {
    return i < candidate_count() ? candidates_[i] : SplitCandidate{};
}

void KeySampler::record(double lo, double hi, uint64_t weight, uint64_t random) {
    KeyAccess access{};
    access.lo = lo;
    access.hi = hi;
    access.weight = static_cast<double>(weight);
    record(access, random);
}

void KeySampler::record(const KeyAccess& access, uint64_t random) {
    double lo = access.lo, hi = access.hi;
    const KeyEnd* ends = access.has_ends ? access.ends : nullptr;
    if (std::isnan(lo) || std::isnan(hi) || !(access.weight > 0) || std::isinf(access.weight))
        return;
    if (lo > hi)
        std::swap(lo, hi);
    // Keep the counts sane even if shared memory held garbage.
    if (candidate_count_ > kCandidates)
        candidate_count_ = kCandidates;
    if (point_count_ > kPoints)
        point_count_ = kPoints;

    Stream rng{random};
    seen_ += 1.0;
    if (std::isfinite(lo) && std::isfinite(hi)) {
        size_t slot = reservoir_slot(&candidate_count_, kCandidates, seen_, &rng);
        if (slot < kCandidates) {
            SplitCandidate candidate{};
            const KeyEnd* end = nullptr;
            if (ends != nullptr) {
                // ends[0] belongs to access.lo: the lower end unless the
                // span was passed reversed.
                end = &ends[(rng.next() & 1) ^ (access.lo > access.hi ? 1 : 0)];
                if (!std::isfinite(end->position) || end->image.size > KeyImage::kBytes)
                    end = nullptr; // cannot be placed: drawn as without ends
            }
            if (end != nullptr) {
                candidate.key = end->position;
                candidate.image = end->image;
            } else {
                candidate.key = pick(lo, hi, rng.unit());
            }
            candidates_[slot] = candidate;
        }
        slot = reservoir_slot(&point_count_, kPoints, seen_, &rng);
        if (slot < kPoints)
            points_[slot] = pick(lo, hi, rng.unit());
    }

    const double w = access.weight;
    for (size_t i = 0; i < candidate_count_; i++) {
        SplitCandidate& c = candidates_[i];
        if (hi < c.key)
            c.left += w;
        else if (lo >= c.key)
            c.right += w;
        else
            c.contained += w;
        c.observed += 1.0;
    }
}

void KeySampler::record_all(const KeyAccess* accesses, size_t count, uint64_t random) {
    Stream rng{random};
    for (size_t i = 0; i < count; i++)
        record(accesses[i], rng.next());
}

void KeySampler::decay(double factor) {
    if (!(factor < 1.0)) // also NaN: leave everything as it is
        return;
    if (factor < 0.0)
        factor = 0.0;
    size_t n = candidate_count();
    for (size_t i = 0; i < n; i++) {
        candidates_[i].left *= factor;
        candidates_[i].right *= factor;
        candidates_[i].contained *= factor;
        candidates_[i].observed *= factor;
    }
    seen_ *= factor;
}

SplitSuggestion KeySampler::suggest(uint64_t min_samples, bool images_only) const {
    SplitSuggestion best{};
    double best_score = 0, best_observed = 0, most_observed = 0;
    size_t n = candidate_count();
    for (size_t i = 0; i < n; i++) {
        const SplitCandidate& c = candidates_[i];
        if (c.observed > most_observed)
            most_observed = c.observed;
        double total = c.left + c.right + c.contained;
        // A split with nothing on one side moves no load.
        if (c.observed < static_cast<double>(min_samples) || !(c.left > 0) || !(c.right > 0) ||
            (images_only && (c.image.size == 0 || c.image.size > KeyImage::kBytes)))
            continue;
        double score =
            (std::fabs(c.left - c.right) + c.contained) / total + 1.0 / std::sqrt(c.observed);
        bool better = !best.valid || score < best_score ||
                      (score == best_score && (c.observed > best_observed ||
                                               (c.observed == best_observed && c.key < best.key)));
        if (!better)
            continue;
        best.valid = true;
        best.key = c.key;
        best.left_share = c.left / total;
        best.right_share = c.right / total;
        best.contained_share = c.contained / total;
        best.image = c.image;
        best_score = score;
        best_observed = c.observed;
    }
    best.samples = static_cast<uint64_t>(best.valid ? best_observed : most_observed);
    if (best.valid)
        return best;
    SplitSuggestion from_points = suggest_from_points(min_samples, images_only);
    return from_points.valid ? from_points : best;
}

SplitSuggestion KeySampler::suggest_from_points(uint64_t min_samples, bool images_only) const {
    SplitSuggestion best{};
    const size_t points = point_count();
    // The points stand for the accesses seen: after decay, for fewer.
    const double evidence = std::min(static_cast<double>(points), seen_);
    if (!(evidence > 0) || evidence < static_cast<double>(min_samples))
        return best;
    double sorted[kPoints];
    std::copy(points_, points_ + points, sorted);
    std::sort(sorted, sorted + points);
    double best_gap = 0;
    for (size_t i = 0; i < candidate_count(); i++) {
        const SplitCandidate& c = candidates_[i];
        if (images_only && (c.image.size == 0 || c.image.size > KeyImage::kBytes))
            continue;
        // Points stand in for counters that are all on one side (appends),
        // not for accesses that span the key (scans): a split would cut those.
        if (c.contained > c.left + c.right)
            continue;
        const auto below =
            static_cast<size_t>(std::lower_bound(sorted, sorted + points, c.key) - sorted);
        const size_t above = points - below; // a split at key puts key on the right
        if (below == 0 || above == 0)
            continue;
        const double gap = std::fabs(static_cast<double>(below) - static_cast<double>(above));
        if (best.valid && (gap > best_gap || (gap == best_gap && c.key >= best.key)))
            continue;
        best.valid = true;
        best.key = c.key;
        best.left_share = static_cast<double>(below) / static_cast<double>(points);
        best.right_share = static_cast<double>(above) / static_cast<double>(points);
        best.contained_share = 0;
        best.image = c.image;
        best.samples = static_cast<uint64_t>(evidence);
        best_gap = gap;
    }
    return best;
}

size_t KeySampler::heat(double lo, double hi, size_t buckets, uint64_t* counts) const {
    if (counts == nullptr || buckets == 0)
        return 0;
    for (size_t b = 0; b < buckets; b++)
        counts[b] = 0;
    double width = hi - lo;
    if (!(lo < hi) || !std::isfinite(width))
        return 0;
    size_t counted = 0;
    size_t n = point_count();
    for (size_t i = 0; i < n; i++) {
        double p = points_[i];
        if (!(p >= lo && p < hi))
            continue;
        auto b = static_cast<size_t>((p - lo) / width * static_cast<double>(buckets));
        counts[b < buckets ? b : buckets - 1]++; // rounding at the top edge
        counted++;
    }
    return counted;
}

size_t KeySampler::heat_between(const double* edges, size_t edge_count, uint64_t* counts) const {
    if (edges == nullptr || counts == nullptr || edge_count < 2)
        return 0;
    const size_t buckets = edge_count - 1;
    for (size_t b = 0; b < buckets; b++)
        counts[b] = 0;
    size_t counted = 0;
    size_t n = point_count();
    for (size_t i = 0; i < n; i++) {
        double p = points_[i];
        if (!(p >= edges[0] && p < edges[buckets]))
            continue;
        // The last edge at or below p (edges ascending).
        size_t first = 0, last = buckets; // p in [edges[first], edges[last])
        while (last - first > 1) {
            size_t middle = first + (last - first) / 2;
            if (p >= edges[middle])
                first = middle;
            else
                last = middle;
        }
        counts[first]++;
        counted++;
    }
    return counted;
}

void KeySampler::reset() {
    std::memset(static_cast<void*>(this), 0, sizeof(*this));
}

} // namespace presplit::core
