// The marker: both channels' trees in one plan node, so that the PlannedStmt
// carries them through plan caches and prepared statements.
//
// A Result node never has an inner plan; this one holds the new channel's
// tree as its outer plan and the old channel's as its inner plan, with the
// plan id in its (never evaluated) one-time filter, a call of
// presplit._route_new(plan). The ExecutorStart hook replaces it by one of the
// two before the executor sees it; _route_new refuses to run if something
// evaluates it anyway.
#pragma once

extern "C" {
#include "postgres.h"
#include "nodes/plannodes.h"
#include "nodes/primnodes.h"
}

#include <cstdint>

namespace presplit::switchover {

// presplit._route_new(bigint), or InvalidOid if the extension is not there.
Oid route_function();

// The marker holding both trees (PostgreSQL node code: inside pg::call).
Plan* make_marker(Plan* new_tree, Plan* old_tree, Oid function, int64_t plan_id, bool remote);

// Every ExecutorStart asks (inline: the hook's path for every statement).
inline bool is_marker(Plan* node) {
    return node != nullptr && IsA(node, Result) && node->righttree != nullptr;
}

inline int64_t marker_plan_id(Plan* node) {
    auto* qual = reinterpret_cast<List*>(reinterpret_cast<Result*>(node)->resconstantqual);
    auto* call = linitial_node(FuncExpr, qual);
    return DatumGetInt64(linitial_node(Const, call->args)->constvalue);
}

// Whether the new channel's trees read a target on another server.
inline bool marker_reads_remote(Plan* node) {
    return list_length(reinterpret_cast<List*>(reinterpret_cast<Result*>(node)->resconstantqual)) >
           1;
}

} // namespace presplit::switchover
