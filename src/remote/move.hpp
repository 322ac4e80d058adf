// Moving a whole partition to a postgres_fdw server (docs/multi_server.md):
//   move_partition   checks everything, creates the publication and the
//                    remote table (state preparing);
//   advance_move     the worker's step: the subscription (backfilling), the
//                    verification under one cut (synced), the cutover
//                    (cut_over), then dropping replication;
//   roll_back_move   before the cutover: replication and the remote table go;
//                    after it: the kept source attached again once the
//                    reverse direction (remote/reverse.hpp) caught up;
//   finalize_move    after it: replication (both ways) and the old partition go.
// Replication objects are all named presplit_move_<id> (publication,
// subscription, slot), those of the reverse direction presplit_back_<id>, so
// that a step that failed half-way finds them again.
#pragma once

#include <cstdint>
#include <string>

namespace presplit::remote {

// The reverse direction's objects are named this plus the move's id.
std::string reverse_name_prefix();

// The caller's privileges on the source are checked (migration::validate_source).
int64_t move_partition(unsigned int source, const std::string& server);

// One step of the move, in the worker's transaction. Returns whether it
// changed the move's state.
bool advance_move(int64_t id);

// The caller must have the privileges of the table's owner (checked here).
void roll_back_move(int64_t id);
void finalize_move(int64_t id, bool drop_old);

} // namespace presplit::remote
