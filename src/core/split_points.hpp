// Which split points a source partition accepts. The thin layer compares the
// values with the partition key type's btree comparator and hands the
// results here; the rules live in one place.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace presplit::core {

// What the thin layer learnt about split point i, in the order given.
struct SplitPointFacts {
    bool is_null = false;
    // Sign of compare(point[i], point[i-1]); ignored for i == 0.
    int versus_previous = 1;
    // Sign of compare(point, lower bound), or nullopt when the source's lower
    // bound is MINVALUE; likewise for the upper bound and MAXVALUE.
    std::optional<int> versus_lower;
    std::optional<int> versus_upper;
};

enum class SplitPointProblem {
    none,
    empty,           // no split point at all
    null_point,      // a NULL element
    unsorted,        // not ascending
    duplicate,       // equal to the previous one
    not_above_lower, // at or below the source's lower bound: an empty shadow
    not_below_upper, // at or above the source's upper bound
};

struct SplitPointVerdict {
    SplitPointProblem problem = SplitPointProblem::none;
    std::size_t index = 0; // the offending point (0-based)
};

// The first problem in the order a DBA would fix them: NULLs, then order,
// then bounds.
SplitPointVerdict check_split_points(const std::vector<SplitPointFacts>& points);

} // namespace presplit::core
