// Weighted read routing (design.md, "Weighted read routing"). While a plan is
// switching, a read-only statement that reads the managed parent or the
// source partition gets that relation replaced, before planning, by
//
//   SELECT cols FROM parent WHERE <key outside the source's range>     -- always
//   UNION ALL SELECT cols FROM parent WHERE <key in range>  AND NOT presplit._route_new(plan)
//   UNION ALL SELECT cols FROM shadow_1 WHERE presplit._route_new(plan)
//   ...
//
// (for the source named directly, only the last two kinds of arm). The gates
// are pseudo-constant, so each arm is skipped or run as a whole, and
// partition pruning and constraint exclusion still pick the arms a key
// condition needs. _route_new draws the channel once per execution (per
// executor instance: all arms and subqueries of one execution agree; every
// execution of a prepared or cached plan draws again), with probability
// equal to the new channel's weight, and only if the statement's snapshot
// sees the plan switching (an older snapshot may predate complete shadows).
//
// Never routed: statements that write or lock rows (anything but a plain
// SELECT, FOR UPDATE/SHARE anywhere, data-modifying WITH), cursors (WHERE
// CURRENT OF needs the table's own scan), relations used with system
// columns, whole-row references, TABLESAMPLE or row-level security, ONLY of
// the parent, statements in background workers (pg_presplit's own worker
// reads the source), and everything while presplit.routing is off.
//
// Each routed execution is timed (executor time) and counted for the channel
// that served it, or as an error if it failed (switchover/channel_stats).
#pragma once

extern "C" {
#include "postgres.h"
#include "nodes/parsenodes.h"
}

namespace presplit::switchover {

// Planner hook, before planning: rewrites the query in place.
void route_reads(Query* parse, int cursor_options);

// Executor hooks. Whether an execution reads a relation of the new channel
// (then the hooks time it), and its start and end.
bool reads_new_channel(List* range_table);
void routed_execution_started(MemoryContext execution);
void routed_execution_ended(MemoryContext execution, double seconds);
// At transaction abort.
void forget_routed_executions();

// Called from _PG_init.
void install_routing_callbacks();

} // namespace presplit::switchover
