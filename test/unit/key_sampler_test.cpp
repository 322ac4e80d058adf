#include "core/key_sampler.hpp"
#include "core/random.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

KeySampler zeroed() {
    KeySampler s;
    std::memset(static_cast<void*>(&s), 0, sizeof(s));
    return s;
}

uint64_t sum(const std::vector<uint64_t>& v) {
    uint64_t total = 0;
    for (uint64_t x : v)
        total += x;
    return total;
}

} // namespace

TEST(KeySampler, ZeroInitializedIsEmpty) {
    KeySampler s = zeroed();
    EXPECT_EQ(s.candidate_count(), 0u);
    EXPECT_EQ(s.point_count(), 0u);
    EXPECT_EQ(s.accesses(), 0.0);
    SplitSuggestion suggestion = s.suggest(0);
    EXPECT_FALSE(suggestion.valid);
    EXPECT_EQ(suggestion.samples, 0u);
    std::vector<uint64_t> counts(10, 99);
    EXPECT_EQ(s.heat(0, 1000, counts.size(), counts.data()), 0u);
    EXPECT_EQ(sum(counts), 0u);
    s.decay(0.5); // harmless
    s.record_point(42, 1, 7);
    EXPECT_EQ(s.candidate_count(), 1u);
    EXPECT_EQ(s.candidate(0).key, 42.0);
    EXPECT_EQ(s.candidate(0).right, 1.0); // a split at 42 puts 42 on the right
}

TEST(KeySampler, CountersFollowTheSpans) {
    KeySampler s{};
    s.record_point(50, 1, 1); // candidate 0 is key 50 (a point is its own key)
    s.record(10, 20, 2, 2);   // entirely below 50
    s.record(40, 60, 4, 3);   // straddles 50
    s.record(60, 40, 8, 4);   // the same, reversed
    s.record(50, 80, 16, 5);  // starts at 50: right
    s.record(10, 50, 32, 6);  // ends at 50: straddles (reads 50 and below)
    s.record(70, 80, 64, 7);  // entirely above
    SplitCandidate c = s.candidate(0);
    EXPECT_EQ(c.key, 50.0);
    EXPECT_EQ(c.left, 2.0);
    EXPECT_EQ(c.contained, 4.0 + 8.0 + 32.0);
    EXPECT_EQ(c.right, 1.0 + 16.0 + 64.0);
    EXPECT_EQ(c.observed, 7.0);
    // Keys drawn from a span lie inside it; each candidate counted from its own access on.
    EXPECT_GE(s.candidate(1).key, 10.0);
    EXPECT_LE(s.candidate(1).key, 20.0);
    EXPECT_EQ(s.candidate(1).observed, 6.0);
    EXPECT_EQ(s.candidate(6).observed, 1.0);
    EXPECT_EQ(s.candidate_count(), 7u);
    EXPECT_EQ(s.point_count(), 7u);
    EXPECT_EQ(s.accesses(), 7.0);
}

TEST(KeySampler, IgnoresWhatItCannotPlace) {
    KeySampler s{};
    double nan = std::numeric_limits<double>::quiet_NaN();
    double inf = std::numeric_limits<double>::infinity();
    s.record(nan, 5, 1, 1);
    s.record(1, nan, 1, 2);
    s.record_point(3, 0, 3); // weight 0
    EXPECT_EQ(s.accesses(), 0.0);
    s.record_point(10, 1, 4);
    s.record(-inf, 5, 3, 5); // counted, not sampled
    s.record(20, inf, 5, 6);
    EXPECT_EQ(s.candidate_count(), 1u);
    EXPECT_EQ(s.point_count(), 1u);
    EXPECT_EQ(s.candidate(0).left, 3.0);
    EXPECT_EQ(s.candidate(0).right, 1.0 + 5.0);
    EXPECT_EQ(s.accesses(), 3.0);
}

// Tolerances of the statistical tests below. The split key can only be one
// of the 64 candidates, a uniform sample of the accessed keys: under uniform
// load the candidate nearest the median is 8 keys (0.8%) away at the median,
// 21 at p90, and the chance none lies within 50 is 0.9^64 ~ 0.1%; the chosen
// candidate's shares are then about key / range away from 0.5, plus counting
// noise (sd 0.5 / sqrt(n), 0.005 for n = 10^4). Measured with these exact
// loads over 3000 seeds, the largest errors were: uniform key 71, share
// 0.076; skewed key 8.6, share 0.068; range scans key 60, contained 0.026,
// |left - right| 0.116. The tolerances sit just above those, so the tests
// check the method's resolution, not one lucky seed.

// Uniform point lookups over [0, 1000): the split lands near the median.
TEST(KeySampler, UniformLoadSplitsInTheMiddle) {
    KeySampler s{};
    SplitMix64 rng{12345};
    for (int i = 0; i < 20000; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    EXPECT_EQ(s.candidate_count(), KeySampler::kCandidates);
    SplitSuggestion suggestion = s.suggest(100);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_NEAR(suggestion.key, 500, 75);
    EXPECT_NEAR(suggestion.left_share, 0.5, 0.08);
    EXPECT_NEAR(suggestion.right_share, 0.5, 0.08);
    EXPECT_EQ(suggestion.contained_share, 0.0);
    EXPECT_GE(suggestion.samples, 100u);
    EXPECT_LE(suggestion.samples, 20000u);
}

// 90% of the accesses in [0, 100), 10% spread over [100, 1000): half the load
// lies below 100 * 0.5 / 0.9 ~ 55.6, so the split is inside [0, 100), which
// is where the load is (a split by rows or by key range would be near 500).
TEST(KeySampler, SkewedLoadSplitsInsideTheHotRange) {
    KeySampler s{};
    SplitMix64 rng{2024};
    for (int i = 0; i < 20000; i++) {
        double key = rng.unit() < 0.9 ? rng.uniform(0, 100) : rng.uniform(100, 1000);
        s.record_point(std::floor(key), 1, rng.next());
    }
    SplitSuggestion suggestion = s.suggest(100);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_GE(suggestion.key, 0.0);
    EXPECT_LT(suggestion.key, 100.0);
    EXPECT_NEAR(suggestion.key, 55.6, 10); // one key here is 0.9% of the load
    EXPECT_NEAR(suggestion.left_share, 0.5, 0.08);
}

// Range scans [a, a + 100] with a uniform in [0, 900): a key near 500 is
// straddled by 100 / 900 ~ 11% of the scans, and the split stays balanced.
TEST(KeySampler, RangeScansAreCountedAsContained) {
    KeySampler s{};
    SplitMix64 rng{7};
    for (int i = 0; i < 20000; i++) {
        double a = std::floor(rng.uniform(0, 900));
        s.record(a, a + 100, 1, rng.next());
    }
    SplitSuggestion suggestion = s.suggest(100);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_NEAR(suggestion.key, 500, 75);
    EXPECT_NEAR(suggestion.contained_share, 0.111, 0.03);
    EXPECT_NEAR(suggestion.left_share, suggestion.right_share, 0.12);
    EXPECT_NEAR(suggestion.left_share + suggestion.right_share + suggestion.contained_share, 1.0,
                1e-12);
}

// suggest() is the argmin of (|left - right| + contained) / total +
// 1 / sqrt(observed) over the candidates with enough samples and load on both
// sides: checked by brute force on a mix of points and scans of all widths.
TEST(KeySampler, SuggestMinimizesTheDocumentedScore) {
    KeySampler s{};
    SplitMix64 rng{31};
    for (int i = 0; i < 5000; i++) {
        double a = rng.uniform(0, 1000);
        double width = rng.unit() < 0.5 ? 0 : rng.uniform(0, 400);
        s.record(a, a + width, 1 + rng.next() % 5, rng.next());
    }
    for (uint64_t min_samples : {0, 100, 1000, 4000}) {
        double best_score = 2;
        double best_key = -1;
        for (size_t i = 0; i < s.candidate_count(); i++) {
            SplitCandidate c = s.candidate(i);
            if (c.observed < static_cast<double>(min_samples) || c.left == 0 || c.right == 0)
                continue;
            double score =
                (std::fabs(c.left - c.right) + c.contained) / (c.left + c.right + c.contained) +
                1 / std::sqrt(c.observed);
            if (score < best_score) {
                best_score = score;
                best_key = c.key;
            }
        }
        SplitSuggestion suggestion = s.suggest(min_samples);
        ASSERT_EQ(suggestion.valid, best_key >= 0) << min_samples;
        if (suggestion.valid) {
            EXPECT_EQ(suggestion.key, best_key) << min_samples;
            EXPECT_GE(suggestion.samples, min_samples);
        }
    }
}

// A key that balances better but cuts many scans loses to one that balances
// worse and cuts none: splitting at k leaves left + contained on one side and
// right + contained on the other, and the rule minimizes the busier side.
TEST(KeySampler, ContainedWeighsAgainstACandidate) {
    KeySampler s{};
    s.record_point(100, 1, 1);  // candidate 0: key 100
    s.record_point(200, 10, 2); // candidate 1: key 200
    for (int i = 0; i < 10; i++) {
        s.record(150, 250, 4, 3); // straddles 200
        s.record(0, 50, 6, 4);    // below both
        s.record(300, 350, 4, 5); // above both
    }
    SplitCandidate a = s.candidate(0), b = s.candidate(1);
    ASSERT_EQ(a.key, 100.0);
    ASSERT_EQ(b.key, 200.0);
    // 100: 60 | 91, nothing cut: 31 / 151 = 0.21 (+ 1 / sqrt(32)), busier side 91.
    EXPECT_EQ(a.left, 60.0);
    EXPECT_EQ(a.right, 1.0 + 10.0 + 40.0 + 40.0);
    EXPECT_EQ(a.contained, 0.0);
    // 200: 60 | 50, 40 cut: (10 + 40) / 150 = 0.33 (+ 1 / sqrt(31)), busier side 100.
    EXPECT_EQ(b.left, 60.0);
    EXPECT_EQ(b.right, 10.0 + 40.0);
    EXPECT_EQ(b.contained, 40.0);
    // The other candidates were drawn inside the spans: those in [0, 50] have
    // nothing on their left, those in [300, 350] nothing on their right, and
    // those in [150, 250] are cut like 200 with less balance.
    SplitSuggestion suggestion = s.suggest(10);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_EQ(suggestion.key, 100.0);
    EXPECT_EQ(suggestion.contained_share, 0.0);
    EXPECT_NEAR(suggestion.left_share, 60.0 / 151.0, 1e-12);
}

TEST(KeySampler, HotSingleKeyGivesNoSuggestion) {
    KeySampler s{};
    SplitMix64 rng{99};
    for (int i = 0; i < 5000; i++)
        s.record_point(777, 1, rng.next());
    SplitSuggestion suggestion = s.suggest(100);
    EXPECT_FALSE(suggestion.valid); // every split leaves all the load on one side
    EXPECT_GE(suggestion.samples, 100u);
}

TEST(KeySampler, MinSamplesIsRespected) {
    KeySampler s{};
    SplitMix64 rng{5};
    for (int i = 0; i < 50; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 1, rng.next());
    SplitSuggestion too_few = s.suggest(51);
    EXPECT_FALSE(too_few.valid);
    EXPECT_EQ(too_few.samples, 50u); // the first candidate has counted all 50
    SplitSuggestion enough = s.suggest(40);
    ASSERT_TRUE(enough.valid);
    EXPECT_GE(enough.samples, 40u);
}

TEST(KeySampler, DecayHalvesTheCounters) {
    KeySampler s{};
    SplitMix64 rng{11};
    for (int i = 0; i < 1000; i++)
        s.record_point(std::floor(rng.uniform(0, 1000)), 3, rng.next());
    std::vector<SplitCandidate> before;
    for (size_t i = 0; i < s.candidate_count(); i++)
        before.push_back(s.candidate(i));
    SplitSuggestion suggestion = s.suggest(0);
    s.decay(0.5);
    EXPECT_EQ(s.accesses(), 500.0);
    for (size_t i = 0; i < before.size(); i++) {
        SplitCandidate c = s.candidate(i);
        EXPECT_EQ(c.key, before[i].key);
        EXPECT_EQ(c.left, before[i].left / 2);
        EXPECT_EQ(c.right, before[i].right / 2);
        EXPECT_EQ(c.contained, before[i].contained / 2);
        EXPECT_EQ(c.observed, before[i].observed / 2);
    }
    // Shares do not change; the evidence (samples) halves.
    SplitSuggestion decayed = s.suggest(0);
    EXPECT_EQ(decayed.key, suggestion.key);
    EXPECT_DOUBLE_EQ(decayed.left_share, suggestion.left_share);
    EXPECT_EQ(decayed.samples, suggestion.samples / 2);
    // Out-of-range factors: >= 1 and NaN do nothing, < 0 clears.
    s.decay(1.5);
    s.decay(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(s.accesses(), 500.0);
    s.decay(-1);
    EXPECT_EQ(s.accesses(), 0.0);
    EXPECT_FALSE(s.suggest(0).valid);
}

// After decay, new load replaces old load: the split follows a hot spot that moved.
TEST(KeySampler, DecayLetsTheSplitFollowTheLoad) {
    KeySampler s{};
    SplitMix64 rng{3};
    for (int i = 0; i < 20000; i++)
        s.record_point(std::floor(rng.uniform(0, 100)), 1, rng.next());
    for (int period = 0; period < 10; period++) {
        s.decay(0.5);
        for (int i = 0; i < 2000; i++)
            s.record_point(std::floor(rng.uniform(800, 900)), 1, rng.next());
    }
    SplitSuggestion suggestion = s.suggest(100);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_GE(suggestion.key, 800.0);
    EXPECT_LT(suggestion.key, 900.0);
}

TEST(KeySampler, HeatCountsSumToTheSamples) {
    KeySampler s{};
    SplitMix64 rng{17};
    for (int i = 0; i < 100; i++)
        s.record_point(rng.uniform(0, 1000), 1, rng.next());
    std::vector<uint64_t> counts(10);
    EXPECT_EQ(s.heat(0, 1000, counts.size(), counts.data()), 100u);
    EXPECT_EQ(sum(counts), 100u);

    for (int i = 0; i < 5000; i++) {
        double key = rng.unit() < 0.9 ? rng.uniform(0, 100) : rng.uniform(100, 1000);
        s.record_point(key, 1, rng.next());
    }
    EXPECT_EQ(s.point_count(), KeySampler::kPoints);
    EXPECT_EQ(s.heat(0, 1000, counts.size(), counts.data()), KeySampler::kPoints);
    EXPECT_EQ(sum(counts), KeySampler::kPoints);
    // 90% of 256 is 230, with a binomial sd of 4.8: more than 200 is safe.
    EXPECT_GT(counts[0], 200u);
    // A narrower window counts only what falls inside it, and still sums.
    size_t inside = s.heat(0, 100, 4, counts.data());
    EXPECT_EQ(sum(std::vector<uint64_t>(counts.begin(), counts.begin() + 4)), inside);
    EXPECT_LT(inside, KeySampler::kPoints);
    EXPECT_GT(inside, 200u);
    // Degenerate requests.
    EXPECT_EQ(s.heat(5, 5, 4, counts.data()), 0u);
    EXPECT_EQ(s.heat(0, 1000, 0, counts.data()), 0u);
    EXPECT_EQ(s.heat(0, 1000, 4, nullptr), 0u);
}

TEST(KeySampler, HeatPutsTheTopEdgeInTheLastBucket) {
    KeySampler s{};
    s.record_point(0, 1, 1);
    s.record_point(std::nextafter(1.0, 0.0), 1, 2);
    s.record_point(1.0, 1, 3); // outside [0, 1)
    uint64_t counts[3];
    EXPECT_EQ(s.heat(0, 1, 3, counts), 2u);
    EXPECT_EQ(counts[0], 1u);
    EXPECT_EQ(counts[1], 0u);
    EXPECT_EQ(counts[2], 1u);
}

TEST(KeySampler, ResetEmptiesEverything) {
    KeySampler s{};
    SplitMix64 rng{1};
    for (int i = 0; i < 1000; i++)
        s.record_point(rng.uniform(0, 10), 1, rng.next());
    s.reset();
    EXPECT_EQ(s.candidate_count(), 0u);
    EXPECT_EQ(s.point_count(), 0u);
    EXPECT_EQ(s.accesses(), 0.0);
    EXPECT_FALSE(s.suggest(0).valid);
    KeySampler z = zeroed();
    EXPECT_EQ(std::memcmp(&s, &z, sizeof(s)), 0);
}

TEST(KeySampler, SameRandomValuesSameState) {
    KeySampler a{}, b{};
    SplitMix64 ra{42}, rb{42};
    for (int i = 0; i < 3000; i++) {
        a.record(ra.uniform(0, 500), ra.uniform(500, 1000), 2, ra.next());
        b.record(rb.uniform(0, 500), rb.uniform(500, 1000), 2, rb.next());
    }
    EXPECT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
}

namespace {

KeyImage image_of(const char* text) {
    KeyImage image{};
    image.size = static_cast<uint8_t>(std::strlen(text));
    std::memcpy(image.bytes, text, image.size);
    return image;
}

std::string text_of(const KeyImage& image) {
    return std::string(image.bytes, image.size);
}

// A point access at `position` whose key is `text`.
KeyAccess point_with_image(double position, const char* text, uint64_t weight) {
    KeyAccess access{};
    access.lo = access.hi = position;
    access.weight = weight;
    access.has_ends = true;
    access.ends[0] = access.ends[1] = KeyEnd{position, image_of(text)};
    return access;
}

} // namespace

// Accesses with ends: a candidate is one of the two ends, with its image,
// and a suggestion carries the chosen candidate's image.
TEST(KeySampler, CandidatesOfAccessesWithEndsAreRealKeys) {
    KeySampler s{};
    KeyAccess span{};
    span.lo = 10;
    span.hi = 20;
    span.weight = 1;
    span.has_ends = true;
    // The image of an end may sit below it (a cut key sorts first).
    span.ends[0] = KeyEnd{10, image_of("ten")};
    span.ends[1] = KeyEnd{19.5, image_of("nineteen and a half")};
    SplitMix64 rng{7};
    for (int i = 0; i < 64; i++)
        s.record(span, rng.next());
    int low = 0, high = 0;
    for (size_t i = 0; i < s.candidate_count(); i++) {
        SplitCandidate c = s.candidate(i);
        if (c.key == 10) {
            EXPECT_EQ(text_of(c.image), "ten");
            low++;
        } else {
            EXPECT_EQ(c.key, 19.5);
            EXPECT_EQ(text_of(c.image), "nineteen and a half");
            high++;
        }
    }
    EXPECT_EQ(low + high, 64);
    EXPECT_GT(low, 10); // either end, about half each
    EXPECT_GT(high, 10);
    // A reversed span keeps each end with its image.
    KeySampler r{};
    std::swap(span.lo, span.hi);
    std::swap(span.ends[0], span.ends[1]);
    for (int i = 0; i < 16; i++)
        r.record(span, rng.next());
    for (size_t i = 0; i < r.candidate_count(); i++) {
        SplitCandidate c = r.candidate(i);
        EXPECT_EQ(text_of(c.image), c.key == 10 ? "ten" : "nineteen and a half");
    }
    // Heat points are still drawn inside the span.
    uint64_t counts[2];
    EXPECT_EQ(r.heat(10, 20.5, 2, counts), 16u);

    // Two hot keys: the split is the upper one, and comes back as its image.
    KeySampler hot{};
    for (int i = 0; i < 400; i++) {
        hot.record(point_with_image(100, "apple", 1), rng.next());
        hot.record(point_with_image(200, "banana", 1), rng.next());
    }
    SplitSuggestion suggestion = hot.suggest(20);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_EQ(suggestion.key, 200);
    EXPECT_EQ(text_of(suggestion.image), "banana");
    EXPECT_NEAR(suggestion.left_share, 0.5, 0.05);
}

// Ends that cannot be placed (not finite, an image size out of range) give
// a candidate drawn inside the span, without an image; accesses without
// ends have none either.
TEST(KeySampler, EndsThatCannotBePlacedAreIgnored) {
    KeySampler s{};
    KeyAccess access{};
    access.lo = 1;
    access.hi = 2;
    access.weight = 1;
    access.has_ends = true;
    access.ends[0] = KeyEnd{std::numeric_limits<double>::infinity(), image_of("x")};
    access.ends[1] = access.ends[0];
    s.record(access, 1);
    access.ends[0] = access.ends[1] = KeyEnd{1.5, image_of("y")};
    access.ends[0].image.size = access.ends[1].image.size = 200;
    s.record(access, 2);
    s.record(1, 2, 1, 3);
    ASSERT_EQ(s.candidate_count(), 3u);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(s.candidate(i).image.size, 0u);
        EXPECT_GE(s.candidate(i).key, 1.0);
        EXPECT_LE(s.candidate(i).key, 2.0);
    }
}

// images_only: a candidate without an image is never the suggestion, even
// when it balances best.
TEST(KeySampler, ImagesOnlyPassesOverCandidatesWithoutOne) {
    KeySampler s{};
    SplitMix64 rng{8};
    s.record_point(500, 1, rng.next()); // candidate 0: no image, the balanced split
    s.record(point_with_image(900, "nine hundred", 1), rng.next());
    for (int i = 0; i < 20; i++) { // 62 accesses in all: no candidate is replaced
        s.record_point(100, 3, rng.next());
        s.record_point(700, 2, rng.next());
        s.record_point(950, 1, rng.next());
    }
    SplitSuggestion any = s.suggest(20);
    ASSERT_TRUE(any.valid);
    EXPECT_EQ(any.key, 500);
    EXPECT_EQ(any.image.size, 0u);
    SplitSuggestion real = s.suggest(20, true);
    ASSERT_TRUE(real.valid);
    EXPECT_EQ(real.key, 900);
    EXPECT_EQ(text_of(real.image), "nine hundred");
}

// record_all: the same as one record per access with the random values it
// draws from its seed, so a statement's accesses go in at once.
TEST(KeySampler, RecordAllRecordsEachAccess) {
    std::vector<KeyAccess> accesses;
    for (int i = 0; i < 100; i++)
        accesses.push_back(point_with_image(i, "k", 2));
    KeySampler all{}, one_by_one{};
    all.record_all(accesses.data(), accesses.size(), 99);
    SplitMix64 rng{99};
    for (const KeyAccess& access : accesses)
        one_by_one.record(access, rng.next());
    EXPECT_EQ(std::memcmp(&all, &one_by_one, sizeof(all)), 0);
    EXPECT_EQ(all.accesses(), 100.0);
    all.record_all(nullptr, 0, 1); // nothing
    EXPECT_EQ(all.accesses(), 100.0);
}

TEST(KeySampler, HeatBetweenGivenEdges) {
    KeySampler s{};
    SplitMix64 rng{5};
    for (double key : {0.0, 1.0, 5.0, 9.9, 10.0, 10.5, 20.0, 99.0})
        s.record_point(key, 1, rng.next());
    const double edges[] = {1.0, 5.0, 10.0, 20.0};
    uint64_t counts[3] = {9, 9, 9};
    // [1, 5): 1; [5, 10): 5, 9.9; [10, 20): 10, 10.5; 0, 20 and 99 outside.
    EXPECT_EQ(s.heat_between(edges, 4, counts), 5u);
    EXPECT_EQ(counts[0], 1u);
    EXPECT_EQ(counts[1], 2u);
    EXPECT_EQ(counts[2], 2u);
    EXPECT_EQ(s.heat_between(edges, 1, counts), 0u); // no bucket
    EXPECT_EQ(s.heat_between(nullptr, 4, counts), 0u);
    // Agrees with equal-width heat on equal-width edges.
    const double even[] = {0.0, 25.0, 50.0, 75.0, 100.0};
    uint64_t between[4], width[4];
    EXPECT_EQ(s.heat_between(even, 5, between), s.heat(0, 100, 4, width));
    for (int b = 0; b < 4; b++)
        EXPECT_EQ(between[b], width[b]);
}

// Appends: keys that only grow. Every candidate counts only the accesses
// after it entered, all of them above it, so none has load on both sides;
// the access points (a uniform sample of the accesses) place the split at
// their middle instead. 10 000 appends: the points, and so the split, are
// spread uniformly over [0, 10 000); the candidate nearest the middle of 256
// points is within a few hundred keys of 5 000, and splits the points about
// evenly.
TEST(KeySampler, AppendsSplitInTheMiddleOfThePoints) {
    KeySampler s{};
    SplitMix64 rng{77};
    for (int key = 0; key < 10000; key++)
        s.record_point(key, 1, rng.next());
    for (size_t i = 0; i < s.candidate_count(); i++)
        EXPECT_EQ(s.candidate(i).left, 0.0); // nothing after a candidate lies below it
    SplitSuggestion suggestion = s.suggest(100);
    ASSERT_TRUE(suggestion.valid);
    EXPECT_NEAR(suggestion.key, 5000, 1000);
    EXPECT_NEAR(suggestion.left_share, 0.5, 0.05);
    EXPECT_NEAR(suggestion.right_share, 0.5, 0.05);
    EXPECT_EQ(suggestion.contained_share, 0.0);
    EXPECT_EQ(suggestion.samples, KeySampler::kPoints);
    // Not on fewer points than min_samples.
    KeySampler few{};
    for (int key = 0; key < 50; key++)
        few.record_point(key, 1, rng.next());
    EXPECT_FALSE(few.suggest(51).valid);
    EXPECT_TRUE(few.suggest(50).valid);
    // Where positions are not keys, the split is a candidate with an image.
    KeySampler text{};
    for (int key = 0; key < 1000; key++)
        text.record(point_with_image(key, key % 2 ? "odd" : "even", 1), rng.next());
    SplitSuggestion real = text.suggest(100, true);
    ASSERT_TRUE(real.valid);
    EXPECT_EQ(text_of(real.image), static_cast<int>(real.key) % 2 ? "odd" : "even");
    EXPECT_NEAR(real.left_share, 0.5, 0.1);
}
