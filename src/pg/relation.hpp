// Checks and facts about user relations. Thin PostgreSQL code: every
// function may ereport, so call them inside pg::call.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/rel.h"
}

namespace presplit::pg {

// The single column a table is RANGE-partitioned by.
struct RangeKey {
    AttrNumber attnum;
    Oid type;
    NameData name;
};

// Opens relid with lockmode; ERROR (42P01) if it no longer exists.
Relation open_existing_relation(Oid relid, LOCKMODE lockmode);

// ERROR (42501) unless the current user owns rel or is a superuser.
void require_owner(Relation rel);

// ERROR unless rel is the root of a partition tree, partitioned by RANGE on a
// single plain column: what pg_presplit can manage.
RangeKey require_range_partitioned_root(Relation rel);

// The columns that identify a row of rel, as a List of C strings: those of
// the primary key, else of the narrowest unique, immediate, non-partial index
// without expressions whose columns are all NOT NULL; on a partitioned table
// without one (PostgreSQL attaches no foreign table under a unique index),
// the one every leaf partition has, if they agree and it holds the key.
// ERROR (55000) if none.
List* identity_columns(Relation rel, const RangeKey& key);

// "schema.table", quoted as needed; palloc'd.
char* qualified_name(Relation rel);

} // namespace presplit::pg
