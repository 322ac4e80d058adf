// The state of a remote target's copy in chunks (docs/multi_server.md, "The
// remote copy in chunks"; the worker's side is remote/chunks.hpp), kept as a
// text array in the catalog: {F} (the target's subscription holds the rows
// below F), {F, U} (a chunk from F below U is copying; U NULL: to the end of
// the target's range), {F, U, 'folded'} (that chunk's fold committed, its
// subscription still to be let go). Pure: keys are their text forms.
#pragma once

#include <optional>
#include <string>

namespace presplit::core {

struct RemoteChunks {
    std::string copied_below;
    bool chunk_running = false;
    std::optional<std::string> chunk_below; // nullopt: to the end
    bool folded = false;                    // (only with chunk_running)
};

// What array_out prints for the state (nullopt: no state, stored as NULL),
// and back. parse_remote_chunks returns nullopt for a malformed array.
std::optional<std::string> format_remote_chunks(const std::optional<RemoteChunks>& chunks);
std::optional<RemoteChunks> parse_remote_chunks(const std::string& stored);

// The state after the chunk's fold is finished: the rows below its end held
// by the target's subscription, or none after the last chunk.
std::optional<RemoteChunks> after_fold(const RemoteChunks& chunks);

} // namespace presplit::core
