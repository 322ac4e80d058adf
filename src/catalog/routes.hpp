// The switching plans, as the planner and executor hooks need them: which
// relations to route, to which shadows, with what weight. A per-backend cache
// of presplit.plan / shadow / channel / managed_table, read directly (no SPI:
// it runs inside planner and executor hooks) with the latest snapshot, and
// reloaded when a plan's state or weights change anywhere: the change
// invalidates presplit.plan's relcache entry, which every backend receives
// once it commits, by COMMIT or COMMIT PREPARED (catalog/table_watch.hpp).
#pragma once

extern "C" {
#include "postgres.h"
#include "access/transam.h"
}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace presplit::catalog {

struct RouteShadow {
    Oid relid = InvalidOid;
    // A target on another server: relid is its foreign table, created not
    // attached when the plan starts switching (remote/split.hpp).
    bool remote = false;
    std::optional<std::string> lower; // key type's text form; nullopt: MINVALUE
    std::optional<std::string> upper; // nullopt: MAXVALUE
};

struct Route {
    int64_t plan_id = 0;
    Oid parent = InvalidOid;
    Oid source = InvalidOid;
    std::string key_column; // unquoted
    Oid key_type = InvalidOid;
    std::vector<RouteShadow> shadows; // in key order; together they cover the source
    int new_weight = 0;               // percent of reads the new channel serves
    // xmin of the plan row as read: a snapshot that does not see it may
    // predate the shadows being complete, so it must read the old channel.
    TransactionId plan_row_xmin = InvalidTransactionId;
};

// Brings the cache up to date (needs a transaction); a check for pending
// invalidations (an unlocked flag read) when nothing changed.
void refresh_routes();

// Increases whenever the cache is reloaded, for caches built from routes.
uint64_t routes_version();

bool any_routes();
const Route* find_route(int64_t plan_id);
// The route of a switching plan whose parent or source is relid.
const Route* find_route_for_relation(Oid relid);

// Whether relid is a shadow of a switching plan.
bool is_new_channel_relation(Oid relid);

// For writers of plan states and channel weights: every backend reloads its
// routes once this transaction commits (this one from its next command on).
void routes_changed();

// Called from _PG_init.
void install_routes_callbacks();

} // namespace presplit::catalog
