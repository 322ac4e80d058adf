// Weighted read routing. While a plan is switching, a read-only statement
// whose plan scans the source partition (through the managed parent or by
// name) is routed per execution:
//
//   planning   the statement is planned as usual (the old channel). The
//              planner hook then builds a second plan tree, the new
//              channel: a copy in which every scan of the source reads the
//              shadows instead -- the same scan on the one shadow its quals
//              leave (constraint refutation, as partition pruning would do),
//              or an Append of the same scan on each shadow, in key order.
//              Both trees travel in the PlannedStmt (a marker Result node
//              holding them), so cached and prepared plans keep them; the
//              shadows join the range table, so the plan cache locks them
//              and a cutover or rollback invalidates the plan.
//   execution  the ExecutorStart hook draws the channel, with the new
//              channel's weight, once per execution (every execution of a
//              prepared statement or PL/pgSQL cached plan draws again; all
//              scans and subplans of one execution agree), and only if the
//              statement's snapshot sees the plan switching (an older one
//              may predate complete shadows). The executor then initializes
//              and runs only the chosen tree: routing costs a draw, not a
//              second plan's worth of work.
//
// Not routed (they keep reading the source): statements that write or lock
// rows (anything but a plain SELECT, FOR UPDATE/SHARE, data-modifying WITH),
// cursors (WHERE CURRENT OF needs the table's own scan), parallel plans,
// scans that read system columns or whole rows, scans other than sequential,
// index, index-only and bitmap scans, index scans whose order matters over
// several shadows unless the index leads with the partition key, expression
// or partial indexes, plans reading two switching plans' sources, background
// workers (pg_presplit's own worker reads the source), and everything while
// presplit.routing is off. Privileges: the statement's own checks are
// unchanged (on the parent or the partition named); the shadows check none.
//
// Each routed execution is timed (executor time) and counted for the channel
// that served it, or as an error if it failed (switchover/channel_stats).
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
#include "nodes/plannodes.h"
}

namespace presplit::switchover {

// Planner hook, after planning: adds the new channel's tree if the statement
// reads a switching plan's source.
void prepare_routing(PlannedStmt* statement, int cursor_options);

// ExecutorStart hook, before the executor starts: picks the tree this
// execution runs (replacing query->plannedstmt by one with that tree).
// Returns true if the execution reads a switching plan's range (then the
// hooks time it and call routed_execution_started once the executor exists).
bool choose_channel(QueryDesc* query, int eflags);
void routed_execution_started(QueryDesc* query);
void routed_execution_ended(QueryDesc* query, double seconds);
// At transaction abort.
void forget_routed_executions();

// Called from _PG_init.
void install_routing_callbacks();

} // namespace presplit::switchover
