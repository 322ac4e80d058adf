// The new channel's plan tree for read routing (routing.hpp): in a copy of
// the statement's plan, every scan of the source reads the shadows instead --
// the same scan on the one shadow its quals leave (constraint refutation, as
// partition pruning would do), or an Append of the same scan on each shadow,
// in key order -- with the scan's Vars mapped to the shadows' columns and
// range table entries, and indexes replaced by the shadows' matching ones.
// Scans that cannot be redirected fail the rewrite: the statement is then
// not routed.
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
    bool swapped = false; // some scan now reads the shadows
    bool failed = false;  // a scan of the source that cannot be redirected
};

// Redirects the source's scans in node's tree (a copy: changed in place)
// and returns its new root; parent is node's parent (nullptr at the root).
// PostgreSQL node code: runs inside pg::call.
Plan* redirect(Plan* node, Plan* parent, Rewrite& rewrite);

// The highest plan_node_id in node's tree.
int max_plan_node_id(Plan* node);

} // namespace presplit::switchover
