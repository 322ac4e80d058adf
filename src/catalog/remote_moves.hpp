// presplit.remote_move: moves of a partition to another server
// (docs/multi_server.md). Fixed statements run as the extension, as for the
// rest of the metadata store (catalog.hpp).
#pragma once

#include "catalog/catalog.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace presplit::catalog {

struct RemoteMove {
    int64_t id = 0;
    unsigned int parent = 0;
    std::optional<unsigned int> source;
    std::string source_name; // qualified and quoted
    std::string server;
    std::string remote_schema;
    std::string remote_table;
    unsigned int owner = 0;
    std::string state;
    std::optional<unsigned int> foreign_table;
    bool replicating = true;
    // The reverse direction (remote/reverse.hpp): where it starts on the
    // other server, and whether its objects exist.
    std::optional<std::string> reverse_lsn;
    bool reversing = false;
};

// "move <id>", for messages.
std::string move_label(int64_t id);

std::optional<RemoteMove> load_move(int64_t id, bool lock);
std::optional<RemoteMove> find_active_move_for_source(unsigned int source);
int64_t insert_move(const RemoteMove& move);
// Checks the transition against the plan state machine (core::can_transition)
// and appends an event (kind remote_move, detail "from -> to[: reason]").
void set_move_state(const RemoteMove& move, const std::string& state,
                    const std::optional<std::string>& reason = std::nullopt);
void set_move_cut_over(int64_t id, unsigned int foreign_table);
void set_move_replicating(int64_t id, bool replicating);
void set_move_source_dropped(int64_t id);
// The reverse direction set up at the cutover, starting at `lsn` there.
void set_move_reverse(int64_t id, const std::string& lsn);
void set_move_reversing(int64_t id, bool reversing);
// Moves the worker has work for: before the cutover; cut over with forward
// replication still to drop, or with a reverse subscription (named
// reverse_prefix + id) that is disabled or has no worker running (its slot
// may be gone); rolled back or failed with
// reverse objects left; oldest first. None while the extension is at a
// version without presplit.remote_move.
std::vector<int64_t> moves_needing_work(const std::string& reverse_prefix);
// A move's copy in chunks (remote/chunks.hpp): nullopt: one pass, or every
// chunk folded in.
std::optional<RemoteChunks> move_chunks(int64_t id);
void set_move_chunks(int64_t id, const std::optional<RemoteChunks>& chunks);
// A move in any of those states, whether or not its apply worker runs: the
// worker keeps looking at the moves while one is open.
bool any_open_move();

} // namespace presplit::catalog
