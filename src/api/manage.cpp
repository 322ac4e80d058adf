// presplit.manage(regclass) and presplit.unmanage(regclass).
// Every check runs before anything is written; the parent stays locked
// (SHARE UPDATE EXCLUSIVE: no concurrent DDL, manage or unmanage) until the
// end of the transaction.
#include "catalog/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/relation.hpp"

extern "C" {
#include "access/relation.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(presplit_manage);
PG_FUNCTION_INFO_V1(presplit_unmanage);
}

namespace presplit {
namespace {

Oid required_relation_argument(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("parent must not be NULL")));
    return PG_GETARG_OID(0);
}

Datum manage(FunctionCallInfo fcinfo) {
    Oid relid = required_relation_argument(fcinfo);
    catalog::require_extension();
    Relation rel = pg::open_existing_relation(relid, ShareUpdateExclusiveLock);
    pg::require_owner(rel);
    pg::RangeKey key = pg::require_range_partitioned_root(rel);
    if (catalog::is_managed(relid))
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
                        errmsg("table \"%s\" is already managed by pg_presplit",
                               RelationGetRelationName(rel))));
    catalog::ManagedTableRow row{};
    row.parent = relid;
    row.key_column = NameStr(key.name);
    row.key_type = key.type;
    row.identity_columns = pg::identity_columns(rel, key);
    row.managed_by = GetUserId();
    catalog::insert_managed_table(row);
    catalog::log_event(0, pg::qualified_name(rel), "managed", nullptr);
    relation_close(rel, NoLock);
    PG_RETURN_VOID();
}

Datum unmanage(FunctionCallInfo fcinfo) {
    Oid relid = required_relation_argument(fcinfo);
    catalog::require_extension();
    Relation rel = pg::open_existing_relation(relid, ShareUpdateExclusiveLock);
    pg::require_owner(rel);
    if (!catalog::is_managed(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("table \"%s\" is not managed by pg_presplit",
                               RelationGetRelationName(rel))));
    catalog::ActivePlan plan = catalog::find_active_plan(relid);
    if (plan.found)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("table \"%s\" has an active split plan", RelationGetRelationName(rel)),
                 errdetail("Split plan %lld of partition \"%s\" is in state %s.",
                           static_cast<long long>(plan.id), get_rel_name(plan.source),
                           NameStr(plan.state)),
                 errhint("Wait until the plan has finished, or cancel it, then retry.")));
    catalog::delete_managed_table(relid);
    catalog::log_event(0, pg::qualified_name(rel), "unmanaged", nullptr);
    relation_close(rel, NoLock);
    PG_RETURN_VOID();
}

} // namespace
} // namespace presplit

Datum presplit_manage(PG_FUNCTION_ARGS) {
    return presplit::pg::guarded<presplit::manage>(fcinfo);
}
Datum presplit_unmanage(PG_FUNCTION_ARGS) {
    return presplit::pg::guarded<presplit::unmanage>(fcinfo);
}
