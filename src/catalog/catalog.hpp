// The metadata store (schema presplit, created by the extension script).
// Thin PostgreSQL code: call inside pg::call.
//
// The tables are not readable or writable by PUBLIC. The SQL functions check
// that the caller owns the table first; then these functions read and write
// the store as the bootstrap superuser, with a safe search_path, running only
// the fixed statements below (and the store's own triggers).
#pragma once

extern "C" {
#include "postgres.h"
}

namespace presplit::catalog {

// ERROR (55000) unless CREATE EXTENSION pg_presplit ran in this database.
void require_extension();

bool is_managed(Oid parent);

struct ManagedTableRow {
    Oid parent;
    const char* key_column;
    Oid key_type;
    Datum identity_columns; // name[]
    Oid managed_by;
};
void insert_managed_table(const ManagedTableRow& row);
void delete_managed_table(Oid parent);

// The active (non-terminal) plan of any partition of parent, if one exists.
struct ActivePlan {
    bool found;
    int64 id;
    Oid source;
    NameData state;
};
ActivePlan find_active_plan(Oid parent);

// Appends to presplit.event. plan_id 0 means "no plan"; detail may be NULL.
void log_event(int64 plan_id, const char* relation, const char* kind, const char* detail);

} // namespace presplit::catalog
