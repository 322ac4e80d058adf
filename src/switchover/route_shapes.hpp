// What a switching plan's shadows look like to the planner, for read routing
// (routing.hpp): per shadow its relation, column mapping (source attno ->
// shadow attno) and key range; per plan the partition key's type, operator
// family and bound operators, and the shadows' indexes matching each source
// index (filled on demand by route_indexes). Built once per plan and backend
// in CacheMemoryContext, so planning a routed statement costs no catalog
// reads; rebuilt when the routes change or a relcache invalidation touches a
// routed relation.
#pragma once

extern "C" {
#include "postgres.h"
#include "access/attnum.h"
#include "nodes/pg_list.h"
}

#include "catalog/routes.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace presplit::switchover {

struct ShadowShape {
    Oid relid = InvalidOid;
    std::vector<AttrNumber> attno; // source attno -> shadow attno (index 0 unused)
    bool has_lower = false, has_upper = false;
    Datum lower = 0, upper = 0; // in the cache's memory context
    List* column_names = NIL;   // for the range table entry (EXPLAIN)
    std::string name;
    // A target on another server, read through its foreign table with the
    // reading user's own user mapping, as after the cutover.
    bool remote = false;
    Oid server = InvalidOid; // the foreign table's
};

struct RouteShape {
    int64_t plan_id = 0;
    Oid source = InvalidOid;
    AttrNumber key_attno = InvalidAttrNumber; // in the source
    Oid key_type = InvalidOid;                // the column's type
    int32 key_typmod = -1;
    // The partition key's operator family, its input type and collation:
    // what the partition bounds mean, and so what refutation must use.
    Oid key_opfamily = InvalidOid, key_opcintype = InvalidOid, key_collation = InvalidOid;
    Oid key_ge = InvalidOid, key_lt = InvalidOid; // its >= and < operators
    std::vector<ShadowShape> shadows;             // in key order
    // source index -> the matching index of each shadow (empty: none)
    std::vector<std::pair<Oid, std::vector<Oid>>> indexes;
    bool usable = false;
};

// The shape of route's plan: cached, or built (needs a transaction). The
// pointer lives until the next call (which may rebuild the cache).
const RouteShape* shape_of(const catalog::Route& route);

// Whether the current user has a user mapping (its own or PUBLIC) for the
// server of each of the shape's remote targets: postgres_fdw needs one to
// read them (a syscache lookup per remote target).
bool current_user_can_read_remote(const RouteShape& shape);

// Called from install_routing_callbacks: marks the cache stale when a routed
// relation's relcache entry is invalidated.
void install_shape_invalidation();

} // namespace presplit::switchover
