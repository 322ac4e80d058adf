#include "catalog/catalog.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace presplit::catalog {
namespace {

// State saved while the store is accessed; restored by end_store_access, or
// by the transaction abort after an ERROR.
struct StoreAccess {
    Oid saved_user;
    int saved_security_context;
    int guc_nest_level;
};

StoreAccess begin_store_access() {
    StoreAccess access{};
    GetUserIdAndSecContext(&access.saved_user, &access.saved_security_context);
    SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
                           access.saved_security_context | SECURITY_LOCAL_USERID_CHANGE);
    // The caller's search_path must not pick operators or functions for the
    // statements run here.
    access.guc_nest_level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "pg_presplit: SPI_connect failed");
    return access;
}

void end_store_access(const StoreAccess& access) {
    SPI_finish();
    AtEOXact_GUC(true, access.guc_nest_level);
    SetUserIdAndSecContext(access.saved_user, access.saved_security_context);
}

// Runs one fixed statement; returns the number of rows processed.
uint64 execute(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls,
               int expected) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
    if (rc != expected)
        elog(ERROR, "pg_presplit: metadata statement failed (%s): %s", SPI_result_code_string(rc),
             sql);
    return SPI_processed;
}

} // namespace

void require_extension() {
    if (!OidIsValid(get_extension_oid("pg_presplit", true)))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("extension \"pg_presplit\" is not installed in this database"),
                        errhint("Run CREATE EXTENSION pg_presplit.")));
}

bool is_managed(Oid parent) {
    StoreAccess access = begin_store_access();
    Oid types[] = {REGCLASSOID};
    Datum values[] = {ObjectIdGetDatum(parent)};
    uint64 rows = execute("SELECT 1 FROM presplit.managed_table WHERE parent = $1", 1, types,
                          values, nullptr, SPI_OK_SELECT);
    end_store_access(access);
    return rows > 0;
}

void insert_managed_table(const ManagedTableRow& row) {
    StoreAccess access = begin_store_access();
    Oid types[] = {REGCLASSOID, NAMEOID, REGTYPEOID, NAMEARRAYOID, REGROLEOID};
    Datum values[] = {ObjectIdGetDatum(row.parent), CStringGetDatum(row.key_column),
                      ObjectIdGetDatum(row.key_type), row.identity_columns,
                      ObjectIdGetDatum(row.managed_by)};
    NameData key_column;
    namestrcpy(&key_column, row.key_column);
    values[1] = NameGetDatum(&key_column);
    execute("INSERT INTO presplit.managed_table"
            " (parent, key_column, key_type, identity_columns, managed_by)"
            " VALUES ($1, $2, $3, $4, $5)",
            5, types, values, nullptr, SPI_OK_INSERT);
    end_store_access(access);
}

void delete_managed_table(Oid parent) {
    StoreAccess access = begin_store_access();
    Oid types[] = {REGCLASSOID};
    Datum values[] = {ObjectIdGetDatum(parent)};
    execute("DELETE FROM presplit.managed_table WHERE parent = $1", 1, types, values, nullptr,
            SPI_OK_DELETE);
    end_store_access(access);
}

ActivePlan find_active_plan(Oid parent) {
    StoreAccess access = begin_store_access();
    Oid types[] = {REGCLASSOID};
    Datum values[] = {ObjectIdGetDatum(parent)};
    ActivePlan plan{};
    uint64 rows = execute("SELECT id, source::oid, state FROM presplit.plan"
                          " WHERE parent = $1"
                          "   AND state NOT IN ('finalized', 'rolled_back', 'cancelled', 'failed')"
                          " ORDER BY id LIMIT 1",
                          1, types, values, nullptr, SPI_OK_SELECT);
    if (rows > 0) {
        HeapTuple tuple = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        plan.found = true;
        plan.id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
        plan.source = DatumGetObjectId(SPI_getbinval(tuple, desc, 2, &isnull));
        namestrcpy(&plan.state, TextDatumGetCString(SPI_getbinval(tuple, desc, 3, &isnull)));
    }
    end_store_access(access);
    return plan;
}

void log_event(int64 plan_id, const char* relation, const char* kind, const char* detail) {
    StoreAccess access = begin_store_access();
    Oid types[] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[] = {Int64GetDatum(plan_id), CStringGetTextDatum(relation ? relation : ""),
                      CStringGetTextDatum(kind), CStringGetTextDatum(detail ? detail : "")};
    char nulls[] = {plan_id == 0 ? 'n' : ' ', relation ? ' ' : 'n', ' ', detail ? ' ' : 'n', 0};
    execute("INSERT INTO presplit.event (plan_id, relation, kind, detail) VALUES ($1, $2, $3, $4)",
            4, types, values, nulls, SPI_OK_INSERT);
    end_store_access(access);
}

} // namespace presplit::catalog
