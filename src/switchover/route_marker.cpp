#include "switchover/route_marker.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(presplit_route_new);
}

#include <string>

namespace presplit::switchover {

Oid route_function() {
    return pg::call([] {
        Oid schema = get_namespace_oid("presplit", true);
        Oid argument = INT8OID;
        return OidIsValid(schema) ? GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
                                                    CStringGetDatum("_route_new"),
                                                    PointerGetDatum(buildoidvector(&argument, 1)),
                                                    ObjectIdGetDatum(schema))
                                  : InvalidOid;
    });
}

Plan* make_marker(Plan* new_tree, Plan* old_tree, Oid function, int64_t plan_id, bool remote) {
    Result* marker = makeNode(Result);
    Const* plan = makeConst(INT8OID, -1, InvalidOid, sizeof(int64), Int64GetDatum(plan_id), false,
                            FLOAT8PASSBYVAL);
    marker->resconstantqual = reinterpret_cast<Node*>(list_make1(makeFuncExpr(
        function, BOOLOID, list_make1(plan), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL)));
    if (remote)
        marker->resconstantqual = reinterpret_cast<Node*>(
            lappend(reinterpret_cast<List*>(marker->resconstantqual), makeBoolConst(true, false)));
    Plan* plan_node = &marker->plan;
    *plan_node = *old_tree; // costs, targetlist (never used: replaced before execution)
    plan_node->type = T_Result;
    plan_node->lefttree = new_tree;
    plan_node->righttree = old_tree;
    plan_node->initPlan = NIL;
    return plan_node;
}

} // namespace presplit::switchover

// presplit._route_new(plan bigint): marks routed plans (see routing.hpp); the
// executor hook replaces the node that holds it before anything evaluates
// it. Evaluated, something ran the plan without that hook: refuse.
extern "C" Datum presplit_route_new(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&]() -> Datum {
        throw presplit::pg::Error(ERRCODE_INTERNAL_ERROR,
                                  "split plan " + std::to_string(PG_GETARG_INT64(0)) +
                                      ": a routed plan ran without pg_presplit's executor hook",
                                  "", "Set presplit.routing = off for this session.");
    });
}
