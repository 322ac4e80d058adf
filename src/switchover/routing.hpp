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
// A target on another server (a split with servers) is read through its
// foreign table (plan_rewrite.hpp); such an execution counts for the remote
// channel, and is drawn only in a transaction that has not written and
// while the target's replication lag is within presplit.remote_read_max_lag
// (otherwise it reads the old channel: docs/multi_server.md).
//
// Each routed execution is timed (executor time) and counted for the channel
// that served it, or as an error if it failed (switchover/channel_stats).
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
#include "nodes/plannodes.h"
}

#include "switchover/channel_stats.hpp"

#include <cstdint>

namespace presplit::switchover {

// Planner hook, after planning: adds the new channel's tree if the statement
// reads a switching plan's source.
void prepare_routing(PlannedStmt* statement, const Query* parse, int cursor_options);

// What the ExecutorStart hook chose for a routed statement.
struct ChannelChoice {
    bool routed = false;  // the statement carries two trees (one was chosen)
    bool counted = false; // it runs (not EXPLAIN only): count it
    int64_t plan_id = 0;
    Channel channel{};
    PlannedStmt* original = nullptr; // with both trees
    PlannedStmt* chosen = nullptr;   // what the executor got
};

// ExecutorStart hook, before the executor starts: picks the tree this
// execution runs (query->plannedstmt becomes a statement with that tree).
ChannelChoice choose_channel(QueryDesc* query, int eflags);
// Once ExecutorStart has succeeded (if it fails, nothing was recorded and
// the copy goes with the query's memory).
void routed_execution_started(QueryDesc* query, const ChannelChoice& choice);
// If ExecutorStart failed (e.g. a foreign scan could not connect): counts
// the execution as an error of its channel. Only atomics.
void routed_execution_failed_to_start(const ChannelChoice& choice);
// Whether ExecutorEnd has a routed execution to count and restore.
bool is_routed_execution(QueryDesc* query);
// Before ExecutorEnd: counts the execution for its channel.
void routed_execution_ended(QueryDesc* query, double seconds);
// After ExecutorEnd: the query gets its statement back; the copy is freed.
void routed_execution_finished(QueryDesc* query);

// Called from _PG_init.
void install_routing_callbacks();

} // namespace presplit::switchover
