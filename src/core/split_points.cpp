#include "core/split_points.hpp"

#include "core/cpp_only.hpp"

namespace presplit::core {

SplitPointVerdict check_split_points(const std::vector<SplitPointFacts>& points) {
    if (points.empty())
        return {SplitPointProblem::empty, 0};
    for (std::size_t i = 0; i < points.size(); ++i)
        if (points[i].is_null)
            return {SplitPointProblem::null_point, i};
    for (std::size_t i = 1; i < points.size(); ++i) {
        if (points[i].versus_previous == 0)
            return {SplitPointProblem::duplicate, i};
        if (points[i].versus_previous < 0)
            return {SplitPointProblem::unsorted, i};
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
        if (points[i].versus_lower && *points[i].versus_lower <= 0)
            return {SplitPointProblem::not_above_lower, i};
        if (points[i].versus_upper && *points[i].versus_upper >= 0)
            return {SplitPointProblem::not_below_upper, i};
    }
    return {};
}

} // namespace presplit::core
