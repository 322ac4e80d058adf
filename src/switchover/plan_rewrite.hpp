// The new channel's plan tree for read routing (routing.hpp): in a copy of
// the statement's plan, every scan of the source reads the shadows instead --
// the same scan on the one shadow its quals leave (constraint refutation, as
// partition pruning would do), or an Append of the same scan on each shadow,
// in key order -- with the scan's Vars mapped to the shadows' columns and
// range table entries, and indexes replaced by the shadows' matching ones.
// Scans that cannot be redirected fail the rewrite: the statement is then
// not routed. A target on another server is read by a foreign scan of its
// foreign table, planned on its own by the planner (postgres_fdw's paths),
// with the scan's conditions and output: only for scans whose conditions
// take no executor parameters or subplans, and -- as a foreign scan returns
// rows in no particular order -- only index scans whose order nobody needs.
#pragma once

extern "C" {
#include "postgres.h"
#include "nodes/plannodes.h"
}

#include "switchover/route_shapes.hpp"

#include <vector>

namespace presplit::switchover {

// One switching plan's scans of its source, redirected to its shadows.
struct Rewrite {
    RouteShape* shape;
    std::vector<Index> source_rtis; // range table entries of the source
    std::vector<Index> shadow_rtis; // the shadows' entries, appended to the range table
    int next_plan_node_id;
    // Nothing in the statement needs rows in an order (order_free_statement):
    // a foreign scan may stand in for an index scan.
    bool unordered_statement = false;
    bool swapped = false; // some scan now reads the shadows
    bool failed = false;  // a scan of the source that cannot be redirected
    bool remote = false;  // some scan reads a target on another server
};

// Redirects the source's scans in node's tree (a copy: changed in place)
// and returns its new root; parent is node's parent (nullptr at the root).
// PostgreSQL node code: runs inside pg::call.
Plan* redirect(Plan* node, Plan* parent, Rewrite& rewrite);

// Whether no part of the statement needs rows in an order: no ORDER BY,
// DISTINCT, grouping, window or set operation in it or any subquery, and
// no plan node that consumes ordered input (merge join, merge append,
// unique, group, sorted aggregate, incremental sort, gather merge, window,
// and any limit: a subquery's ORDER BY served by an index leaves no trace
// but its Limit once planned).
// PostgreSQL node code: runs inside pg::call.
bool order_free_statement(const Query* parse, PlannedStmt* statement);

// The highest plan_node_id in node's tree.
int max_plan_node_id(Plan* node);

} // namespace presplit::switchover
