#include "core/split_points.hpp"

#include <gtest/gtest.h>

using presplit::core::check_split_points;
using presplit::core::SplitPointFacts;
using presplit::core::SplitPointProblem;

namespace {

// A point inside the bounds unless told otherwise.
SplitPointFacts point(int versus_previous, std::optional<int> versus_lower = 1,
                      std::optional<int> versus_upper = -1) {
    SplitPointFacts facts;
    facts.versus_previous = versus_previous;
    facts.versus_lower = versus_lower;
    facts.versus_upper = versus_upper;
    return facts;
}

} // namespace

TEST(SplitPoints, AcceptsAscendingPointsInsideTheBounds) {
    auto verdict = check_split_points({point(1), point(1), point(1)});
    EXPECT_EQ(verdict.problem, SplitPointProblem::none);
}

TEST(SplitPoints, RejectsAnEmptyList) {
    EXPECT_EQ(check_split_points({}).problem, SplitPointProblem::empty);
}

TEST(SplitPoints, ReportsNullsFirst) {
    std::vector<SplitPointFacts> points{point(1), point(-1), point(1)};
    points[2].is_null = true;
    auto verdict = check_split_points(points);
    EXPECT_EQ(verdict.problem, SplitPointProblem::null_point);
    EXPECT_EQ(verdict.index, 2u);
}

TEST(SplitPoints, RejectsDuplicatesAndDescendingPoints) {
    auto duplicate = check_split_points({point(1), point(0)});
    EXPECT_EQ(duplicate.problem, SplitPointProblem::duplicate);
    EXPECT_EQ(duplicate.index, 1u);
    auto unsorted = check_split_points({point(1), point(1), point(-1)});
    EXPECT_EQ(unsorted.problem, SplitPointProblem::unsorted);
    EXPECT_EQ(unsorted.index, 2u);
}

TEST(SplitPoints, RejectsPointsOnOrOutsideTheBounds) {
    auto on_lower = check_split_points({point(1, 0)});
    EXPECT_EQ(on_lower.problem, SplitPointProblem::not_above_lower);
    auto below_lower = check_split_points({point(1, -1)});
    EXPECT_EQ(below_lower.problem, SplitPointProblem::not_above_lower);
    auto on_upper = check_split_points({point(1, 1, 0)});
    EXPECT_EQ(on_upper.problem, SplitPointProblem::not_below_upper);
    auto above_upper = check_split_points({point(1), point(1, 1, 1)});
    EXPECT_EQ(above_upper.problem, SplitPointProblem::not_below_upper);
    EXPECT_EQ(above_upper.index, 1u);
}

TEST(SplitPoints, UnboundedSidesAcceptAnything) {
    auto verdict = check_split_points({point(1, std::nullopt, std::nullopt)});
    EXPECT_EQ(verdict.problem, SplitPointProblem::none);
}
