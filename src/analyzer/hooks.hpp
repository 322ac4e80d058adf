// Planner and executor hooks. They chain to the hooks installed before
// pg_presplit (or the standard_* functions) and, for now, only pass through:
// the query pattern analyzer and the switchover's routing build on them.
#pragma once

namespace presplit::analyzer {

// Called from _PG_init, while shared_preload_libraries is processed.
void install_hooks();

} // namespace presplit::analyzer
