#include "core/plan_state.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

using namespace presplit::core;

namespace {

// Every allowed transition, written out independently of the implementation
// (synced or switching back to backfilling: a remote target re-synced).
const std::set<std::pair<std::string, std::string>> kAllowed = {
    {"planned", "preparing"},  {"preparing", "backfilling"}, {"backfilling", "synced"},
    {"synced", "switching"},   {"synced", "cut_over"},       {"switching", "cut_over"},
    {"cut_over", "finalized"}, {"synced", "backfilling"},    {"switching", "backfilling"},
};
const std::set<std::string> kSideExits = {"rolled_back", "cancelled", "failed"};
const std::set<std::string> kTerminal = {"finalized", "rolled_back", "cancelled", "failed"};

} // namespace

TEST(PlanState, EveryPairMatchesTheTable) {
    int allowed = 0;
    for (PlanState from : all_plan_states()) {
        for (PlanState to : all_plan_states()) {
            std::string f(to_string(from)), t(to_string(to));
            bool expected = !kTerminal.count(f) && (kAllowed.count({f, t}) || kSideExits.count(t));
            EXPECT_EQ(can_transition(from, to), expected) << f << " -> " << t;
            allowed += expected;
        }
    }
    EXPECT_EQ(allowed, 9 + 6 * 3); // main path, manual cutover, re-syncs; side exits from 6 states
}

TEST(PlanState, NamesRoundTrip) {
    for (PlanState state : all_plan_states())
        EXPECT_EQ(parse_plan_state(to_string(state)), state);
}

TEST(PlanState, UnknownNamesAreRejected) {
    EXPECT_FALSE(parse_plan_state(""));
    EXPECT_FALSE(parse_plan_state("Synced"));
    EXPECT_FALSE(parse_plan_state("done"));
    EXPECT_FALSE(parse_plan_state("synced "));
}

TEST(PlanState, TerminalAndActive) {
    for (PlanState state : all_plan_states()) {
        bool terminal = kTerminal.count(std::string(to_string(state))) > 0;
        EXPECT_EQ(is_terminal(state), terminal) << to_string(state);
        EXPECT_EQ(is_active(state), !terminal);
    }
}

TEST(PlanState, MainPathPositions) {
    EXPECT_EQ(main_path_position(PlanState::planned), 0);
    EXPECT_EQ(main_path_position(PlanState::synced), 3);
    EXPECT_EQ(main_path_position(PlanState::finalized), 6);
    EXPECT_FALSE(main_path_position(PlanState::failed));
    EXPECT_FALSE(main_path_position(PlanState::cancelled));
    EXPECT_FALSE(main_path_position(PlanState::rolled_back));
}

TEST(PlanState, NamesAsTheCatalogSpellsThem) {
    EXPECT_EQ(to_string(PlanState::cut_over), "cut_over");
    EXPECT_EQ(all_plan_state_names(), "planned, preparing, backfilling, synced, switching, "
                                      "cut_over, finalized, rolled_back, cancelled, failed");
}

TEST(PlanState, BackfillIsPreparingAndBackfilling) {
    const std::set<std::string> backfill = {"preparing", "backfilling"};
    for (PlanState state : all_plan_states())
        EXPECT_EQ(in_backfill(state), backfill.count(to_string(state)) > 0) << to_string(state);
}
