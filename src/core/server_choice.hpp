// Where a predicted split puts its new upper piece (docs/prediction.md,
// "Onto other servers"): presplit.predict_servers, or the table's own list.
//
// The list is read as PostgreSQL reads a list of identifiers (search_path):
// names separated by commas, unquoted names folded to lower case, a name in
// double quotes kept as written ("" for a quote inside).
//
// The servers are tried in order of fewest targets of active plans (ties in
// the list's order): the count comes from the catalog, so the choice is the
// same after a restart and spreads the pieces over the servers as evenly as
// plans come, which a process-local round robin would not.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace presplit::core {

// nullopt: not a list of names (an empty name, an unterminated quote).
// An empty or blank text is the empty list.
std::optional<std::vector<std::string>> parse_server_list(std::string_view text);

// The servers of `list` (duplicates dropped) in the order to try them: by
// the number of active plan targets each has (`targets`, absent = 0), fewest
// first, ties in the order of the list.
std::vector<std::string> servers_to_try(const std::vector<std::string>& list,
                                        const std::map<std::string, int>& targets);

} // namespace presplit::core
