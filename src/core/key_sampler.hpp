// Where in a partition's key space the accesses go: to choose a split key that
// balances load (CockroachDB/TiKV load-based splitting) and to draw a heat
// map. One KeySampler per managed leaf partition lives in shared memory,
// under an LWLock: fixed-size, pointer-free, all zero bytes is empty.
//
// Keys are positions on the key axis as doubles; the thin layer maps the
// partition key there preserving order (integers, timestamps, dates,
// numerics; uuid and text through their sort order, see docs/analyzer.md).
// An access is a span [lo, hi], both ends inclusive (lo == hi for `key = c`;
// for `key >= a AND key < b` on integers the thin layer passes [a, b - 1]; a
// full scan is passed as the partition's bounds, or not at all), with a
// weight (rows, or 1 per statement).
//
// Where positions cannot be turned back into keys (text under a collation:
// a sort key is not invertible), the thin layer passes the span's two ends
// as real keys too (KeyEnd: the key's bytes, cut to KeyImage's size, and the
// position of what was kept); a candidate from such an access is one of the
// two ends and keeps that image, so that a suggested split is a real key.
//
// Two reservoirs, both filled by Algorithm R from the accesses (each access
// equally likely, whatever its weight), the key drawn uniformly inside the
// span (for a candidate of an access with ends: one of the two ends):
//   - 64 candidate split keys, each with decayed counters of the weight of
//     the accesses recorded since it entered: left (hi < key), right
//     (lo >= key, as a split at key puts key on the right), contained (the
//     span straddles key);
//   - 256 access points for heat().
// The random value is passed in, so tests are deterministic.
//
// Restart bias: a candidate that enters the reservoir late has counted only
// the accesses since, so absolute counters are not comparable between
// candidates, and a young candidate's shares are noisy (the argmin over 64
// candidates would favour whichever young one looks balanced by luck).
// suggest() therefore compares shares, not counts; ignores candidates that
// have counted fewer than min_samples accesses; and adds 1 / sqrt(n) to the
// score of a candidate that counted n accesses: the standard deviation of
// the measured |left - right| share of a truly balanced key, so candidates
// are ranked by a pessimistic (one-sigma) estimate of their score.
//
// Decay: decay(f) multiplies every counter, and the reservoir's count of
// accesses seen, by f. Called every T seconds with f = 0.5, load older than
// T counts half, older than 2T a quarter, and so on: a half-life of T. Since
// the count of accesses seen decays too, new accesses keep entering the
// reservoirs at the rate of the recent load, so the candidates follow a load
// that moves instead of freezing on old keys (roughly an exponentially
// decayed sample; candidates churn faster when the load is light).
//
// sizeof(KeySampler) == 6672 bytes. docs/analyzer.md has the reasoning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace presplit::core {

// A real key in its own form (for text: its bytes in the database
// encoding), kept with a candidate whose position cannot be turned back into
// a key. size 0: none. Longer keys are cut by the thin layer (at a character
// boundary) before their position is computed, so the image and its position
// agree.
struct KeyImage {
    static constexpr size_t kBytes = 31;
    uint8_t size;
    char bytes[kBytes];
};

// An end of an access as a real key: the image and its position (at or below
// the end's own position, as a cut key sorts before the whole key).
struct KeyEnd {
    double position;
    KeyImage image;
};

// One access, as the thin layer hands it over.
struct KeyAccess {
    double lo;
    double hi;
    double weight; // rows (or statements) it stands for; > 0
    bool has_ends; // candidates are taken at ends[0] (lo) or ends[1] (hi)
    KeyEnd ends[2];
};

struct SplitCandidate {
    double key;
    double left;      // weight of accesses entirely below key
    double right;     // weight of accesses entirely at or above key
    double contained; // weight of accesses whose span straddles key
    double observed;  // number of accesses counted (decayed)
    KeyImage image;   // the key itself, if it came from an access with ends
};

struct SplitSuggestion {
    bool valid;
    double key; // split here: left partition < key <= right partition
    double left_share;
    double right_share;
    double contained_share; // of the chosen candidate's counted weight
    // Accesses the chosen candidate has counted; when !valid, the most any
    // candidate has counted (how far from min_samples we are).
    uint64_t samples;
    KeyImage image; // the chosen candidate's (size 0 if it has none)
};

class KeySampler {
public:
    static constexpr size_t kCandidates = 64;
    static constexpr size_t kPoints = 256;

    // Records an access to [lo, hi] (swapped if lo > hi) of the given weight.
    // `random` is a uniformly random 64-bit value, fresh for each call.
    // Ignored: NaN ends, weight 0. A span with an infinite end is counted but
    // not sampled (no key can be drawn from it).
    void record(double lo, double hi, uint64_t weight, uint64_t random);
    void record_point(double key, uint64_t weight, uint64_t random) {
        record(key, key, weight, random);
    }
    // The same for an access that may carry its ends as real keys.
    void record(const KeyAccess& access, uint64_t random);
    // Several accesses, each with its own random value drawn from `random`.
    void record_all(const KeyAccess* accesses, size_t count, uint64_t random);

    // Multiplies all counters by factor (clamped to [0, 1]).
    void decay(double factor);

    // Among candidates that counted at least min_samples accesses and have
    // load on both sides, the one minimizing
    //     (|left - right| + contained) / (left + right + contained) + 1 / sqrt(observed)
    // The first term is the CockroachDB rule: splitting at k leaves
    // left + contained on one side and right + contained on the other, and
    // max of the two = (total + |left - right| + contained) / 2, so this
    // minimizes the load of the busier side. The second is the restart-bias
    // correction above. Ties go to more samples, then the lower key.
    // valid == false if there is none. Whether the balance is good enough to
    // act on (CockroachDB: |l - r| / (l + r) < 0.25 and contained < 50%) is
    // the caller's decision, from the shares. With images_only, candidates
    // without an image are passed over (where positions are not keys).
    //
    // When no candidate qualifies -- keys that only grow (appends): each
    // candidate has counted only the accesses after it entered, all above
    // it -- the access points decide instead: the candidate that splits
    // them most evenly (shares of points below and at or above it; contained
    // 0, as points are not spans), if the points stand for at least
    // min_samples accesses (as many as there are, or as the decayed count of
    // accesses seen if lower). A single hot key still gives none, and so does
    // a candidate whose accesses mostly span it (scans: a split cuts them).
    SplitSuggestion suggest(uint64_t min_samples, bool images_only = false) const;

    // Sampled access points in [lo, hi), counted into `buckets` equal-width
    // buckets (counts[0..buckets) is overwritten). Returns the number counted,
    // which is the sum of counts: at most kPoints. 0 if counts is null,
    // buckets is 0, or [lo, hi) is empty or not finite.
    size_t heat(double lo, double hi, size_t buckets, uint64_t* counts) const;
    // The same between given edges (ascending): counts[i] is the number of
    // points in [edges[i], edges[i + 1]), for i < edge_count - 1.
    size_t heat_between(const double* edges, size_t edge_count, uint64_t* counts) const;

    void reset();

    // For status views and tests.
    size_t candidate_count() const;
    SplitCandidate candidate(size_t i) const; // zeros if i >= candidate_count()
    size_t point_count() const;
    double accesses() const { return seen_; } // decayed count of recorded accesses

private:
    SplitSuggestion suggest_from_points(uint64_t min_samples, bool images_only) const;

    // Same access for every member (standard layout), no default member
    // initializers (trivial: memset is the constructor). `KeySampler s{}`.
    SplitCandidate candidates_[kCandidates];
    double points_[kPoints];
    double seen_;              // accesses offered to the reservoirs, decayed
    uint32_t candidate_count_; // filled slots, <= kCandidates
    uint32_t point_count_;     // filled slots, <= kPoints
};

static_assert(std::is_standard_layout_v<KeyImage> && std::is_trivial_v<KeyImage>);
static_assert(sizeof(KeyImage) == 32);
static_assert(std::is_standard_layout_v<KeyAccess> && std::is_trivial_v<KeyAccess>);
static_assert(std::is_standard_layout_v<SplitCandidate> && std::is_trivial_v<SplitCandidate>);
static_assert(std::is_standard_layout_v<SplitSuggestion> && std::is_trivial_v<SplitSuggestion>);
static_assert(std::is_standard_layout_v<KeySampler>);
static_assert(std::is_trivially_copyable_v<KeySampler>);
static_assert(std::is_trivial_v<KeySampler>, "zero bytes must be a valid KeySampler");
static_assert(sizeof(KeySampler) == 6672, "update the comment above and docs/analyzer.md");

} // namespace presplit::core
