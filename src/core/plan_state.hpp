// The split plan state machine (README, the catalog paragraph of "SQL API"):
//   planned → preparing → backfilling → synced → switching → cut_over → finalized
// with a manual cutover straight from synced, and from any state before
// finalized: rolled_back, cancelled or failed. The catalog enforces it through
// presplit._is_valid_plan_transition().
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace presplit::core {

enum class PlanState {
    planned,
    preparing,
    backfilling,
    synced,
    switching,
    cut_over,
    finalized,
    rolled_back,
    cancelled,
    failed,
};

const std::array<PlanState, 10>& all_plan_states();
// The names (presplit.plan.state, the SQL functions' arguments): the only
// place they are spelled in C++.
std::string to_string(PlanState state);
std::optional<PlanState> parse_plan_state(std::string_view name);
// "planned, preparing, ..., failed", for messages.
std::string all_plan_state_names();

// finalized, rolled_back, cancelled, failed: nothing follows. The one list of
// ended plans in C++; presplit._is_terminal_plan_state is the SQL one
// (sql/04_catalog.sql checks that they agree).
bool is_terminal(PlanState state);
inline bool is_active(PlanState state) {
    return !is_terminal(state);
}

// preparing or backfilling: the worker copies the rows, then verifies the
// shadows (then synced).
inline bool in_backfill(PlanState state) {
    return state == PlanState::preparing || state == PlanState::backfilling;
}

bool can_transition(PlanState from, PlanState to);

// 0..6 along the main path; nullopt for rolled_back, cancelled and failed.
std::optional<int> main_path_position(PlanState state);

} // namespace presplit::core
