// Every hook pg_presplit installs, in one place: the shared-memory hooks, the
// planner, executor and utility hooks, and the cache invalidation callbacks.
// Each hook chains to the one installed before pg_presplit (or the standard_*
// function) and calls the components in turn:
//   shared memory   each component requests and attaches its own part
//                   (analyzer statistics, channel statistics, worker state)
//   planner         switchover routing adds the new channel's plan tree
//   executor        the analyzer records statements on managed tables;
//                   switchover routing picks a channel and times it
//   utility         the analyzer records COPY FROM into managed tables
#pragma once

namespace presplit {

// Called from _PG_init, while shared_preload_libraries is processed.
void install_hooks();

} // namespace presplit
