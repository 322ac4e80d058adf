#include "core/plan_state.hpp"

#include "core/cpp_only.hpp"

namespace presplit::core {
namespace {

constexpr std::array<std::string_view, 10> kNames = {
    "planned",  "preparing", "backfilling", "synced",    "switching",
    "cut_over", "finalized", "rolled_back", "cancelled", "failed",
};

} // namespace

const std::array<PlanState, 10>& all_plan_states() {
    static const std::array<PlanState, 10> states = {
        PlanState::planned,   PlanState::preparing, PlanState::backfilling, PlanState::synced,
        PlanState::switching, PlanState::cut_over,  PlanState::finalized,   PlanState::rolled_back,
        PlanState::cancelled, PlanState::failed,
    };
    return states;
}

std::string to_string(PlanState state) {
    return std::string(kNames[static_cast<size_t>(state)]);
}

std::optional<PlanState> parse_plan_state(std::string_view name) {
    for (PlanState state : all_plan_states())
        if (kNames[static_cast<size_t>(state)] == name)
            return state;
    return std::nullopt;
}

std::string all_plan_state_names() {
    std::string names;
    for (std::string_view name : kNames)
        names += (names.empty() ? "" : ", ") + std::string(name);
    return names;
}

bool is_terminal(PlanState state) {
    return state == PlanState::finalized || state == PlanState::rolled_back ||
           state == PlanState::cancelled || state == PlanState::failed;
}

std::optional<int> main_path_position(PlanState state) {
    if (state == PlanState::rolled_back || state == PlanState::cancelled ||
        state == PlanState::failed)
        return std::nullopt;
    return static_cast<int>(state);
}

bool can_transition(PlanState from, PlanState to) {
    if (is_terminal(from))
        return false;
    if (to == PlanState::rolled_back || to == PlanState::cancelled || to == PlanState::failed)
        return true;
    if (from == PlanState::synced && to == PlanState::cut_over)
        return true; // manual cutover without a ramp
    if ((from == PlanState::synced || from == PlanState::switching) && to == PlanState::backfilling)
        return true; // a remote target re-synced: its replication was lost after verification
    auto from_position = main_path_position(from);
    auto to_position = main_path_position(to);
    return from_position && to_position && *to_position == *from_position + 1;
}

} // namespace presplit::core
