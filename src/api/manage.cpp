// presplit.manage(regclass), presplit.unmanage(regclass),
// presplit.set_split_thresholds(regclass, float8, text) and
// presplit.set_predict_servers(regclass, name[]).
// Every check runs before anything is written, the caller's ownership before
// any lock; the parent stays locked (SHARE UPDATE EXCLUSIVE: no concurrent
// DDL, manage or unmanage) until the end of the transaction.
#include "analyzer/managed_set.hpp"
#include "api/arguments.hpp"
#include "catalog/catalog.hpp"
#include "core/text_array.hpp"
#include "pg/guard.hpp"
#include "pg/relation.hpp"
#include "remote/replication.hpp"

#include <cmath>
#include <optional>

extern "C" {
#include "access/relation.h"
#include "catalog/objectaddress.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(presplit_manage);
PG_FUNCTION_INFO_V1(presplit_set_predict_servers);
PG_FUNCTION_INFO_V1(presplit_set_split_thresholds);
PG_FUNCTION_INFO_V1(presplit_unmanage);
}

namespace presplit {
namespace {

// ERROR 42501 unless the caller owns relid (42P01 if there is no such
// relation), checked before the lock: a non-owner must neither wait for
// another owner's table nor make its sessions wait. open_existing_relation
// and require_owner check again under the lock.
void require_owner_before_locking(Oid relid) {
    pg::call([&] {
        if (!pg_class_ownercheck(relid, GetUserId())) {
            const char* name = get_rel_name(relid);
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
                           name ? name : "");
        }
    });
}

Datum manage(FunctionCallInfo fcinfo) {
    Oid relid = api::required_oid(fcinfo, 0, "parent");
    catalog::require_extension();
    require_owner_before_locking(relid);
    Relation rel =
        pg::call([&] { return pg::open_existing_relation(relid, ShareUpdateExclusiveLock); });
    pg::call([&] { pg::require_owner(rel); });
    pg::RangeKey key = pg::call([&] { return pg::require_range_partitioned_root(rel); });
    if (catalog::find_managed_table(relid))
        throw pg::Error(ERRCODE_DUPLICATE_OBJECT, "table \"" + api::relation_name(relid) +
                                                      "\" is already managed by pg_presplit");
    List* identity = pg::call([&] { return pg::identity_columns(rel, key); });
    core::TextArray identity_columns;
    ListCell* cell;
    foreach (cell, identity)
        identity_columns.emplace_back(static_cast<const char*>(lfirst(cell)));
    catalog::insert_managed_table(relid, NameStr(key.name), key.type,
                                  core::format_text_array(identity_columns),
                                  pg::call([] { return GetUserId(); }));
    catalog::log_event(std::nullopt, pg::qualified_relation_name(relid), "managed");
    analyzer::managed_tables_changed();
    pg::call([&] { relation_close(rel, NoLock); });
    PG_RETURN_VOID();
}

Datum unmanage(FunctionCallInfo fcinfo) {
    Oid relid = api::required_oid(fcinfo, 0, "parent");
    catalog::require_extension();
    require_owner_before_locking(relid);
    Relation rel =
        pg::call([&] { return pg::open_existing_relation(relid, ShareUpdateExclusiveLock); });
    pg::call([&] { pg::require_owner(rel); });
    if (!catalog::find_managed_table(relid))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, "table \"" + api::relation_name(relid) +
                                                      "\" is not managed by pg_presplit");
    if (auto plan = catalog::find_active_plan_for_parent(relid))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "table \"" + api::relation_name(relid) + "\" has an active split plan",
                        "Split plan " + std::to_string(plan->id) + " of partition \"" +
                            api::relation_name(plan->source) + "\" is in state " +
                            core::to_string(plan->state) + ".",
                        "Wait until the plan has finished, or cancel it with presplit.cancel(" +
                            std::to_string(plan->id) + "), then retry.");
    catalog::delete_managed_table(relid);
    catalog::log_event(std::nullopt, pg::qualified_relation_name(relid), "unmanaged");
    analyzer::managed_tables_changed();
    pg::call([&] { relation_close(rel, NoLock); });
    PG_RETURN_VOID();
}

} // namespace
} // namespace presplit

namespace presplit {
namespace {

// A managed table's own thresholds for the predictive manager; NULL leaves
// (or puts back) the setting's value. The size is read as pg_size_bytes
// reads it ('10GB', '500 MB', bytes).
Datum set_split_thresholds(FunctionCallInfo fcinfo) {
    Oid relid = api::required_oid(fcinfo, 0, "parent");
    catalog::require_extension();
    require_owner_before_locking(relid);
    std::optional<double> load;
    if (!PG_ARGISNULL(1)) {
        load = PG_GETARG_FLOAT8(1);
        if (!(*load >= 0) || std::isinf(*load))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "load_threshold must be a finite number >= 0", "",
                            "It is statements per second on one partition (0: no load "
                            "threshold for this table; NULL: presplit.split_load_threshold).");
    }
    std::optional<int64_t> size;
    if (!PG_ARGISNULL(2)) {
        size = pg::call(
            [&] { return DatumGetInt64(DirectFunctionCall1(pg_size_bytes, PG_GETARG_DATUM(2))); });
        if (*size < 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "size_threshold must not be negative",
                            "",
                            "Give a size such as '10GB' (0: no size threshold for this table; "
                            "NULL: presplit.split_size_threshold).");
    }
    Relation rel =
        pg::call([&] { return pg::open_existing_relation(relid, ShareUpdateExclusiveLock); });
    pg::call([&] { pg::require_owner(rel); });
    pg::call([&] { relation_close(rel, NoLock); });
    if (!catalog::find_managed_table(relid))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "table \"" + api::relation_name(relid) + "\" is not managed by pg_presplit",
                        "",
                        "Thresholds are set on a managed (parent) table; register one with "
                        "presplit.manage(parent).");
    catalog::set_split_thresholds(relid, load, size);
    return static_cast<Datum>(0);
}

// A managed table's own presplit.predict_servers; NULL leaves (or puts
// back) the setting's value, '{}' keeps its predicted splits here. Each
// server must be one the table's owner could split onto now (it exists, uses
// postgres_fdw, the owner may use it and has a user mapping); what only the
// other server can tell is checked when a plan is made (docs/prediction.md).
Datum set_predict_servers(FunctionCallInfo fcinfo) {
    Oid relid = api::required_oid(fcinfo, 0, "parent");
    catalog::require_extension();
    require_owner_before_locking(relid);
    std::optional<std::vector<std::string>> servers;
    if (!PG_ARGISNULL(1)) {
        servers.emplace();
        for (const auto& server : api::name_array(fcinfo, 1, "servers")) {
            if (!server)
                throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "servers must not contain NULL", "",
                                "Name postgres_fdw servers; '{}' keeps the table's predicted "
                                "splits on this server, NULL uses presplit.predict_servers.");
            servers->push_back(*server);
        }
    }
    Relation rel =
        pg::call([&] { return pg::open_existing_relation(relid, ShareUpdateExclusiveLock); });
    pg::call([&] { pg::require_owner(rel); });
    const Oid owner = pg::call([&] { return rel->rd_rel->relowner; });
    pg::call([&] { relation_close(rel, NoLock); });
    if (!catalog::find_managed_table(relid))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "table \"" + api::relation_name(relid) + "\" is not managed by pg_presplit",
                        "",
                        "Servers are set on a managed (parent) table; register one with "
                        "presplit.manage(parent).");
    if (servers)
        for (const std::string& server : *servers)
            (void)remote::require_server(server, owner);
    catalog::set_predict_servers(relid, servers);
    return static_cast<Datum>(0);
}

} // namespace
} // namespace presplit

Datum presplit_set_predict_servers(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::set_predict_servers(fcinfo); });
}

Datum presplit_set_split_thresholds(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::set_split_thresholds(fcinfo); });
}

Datum presplit_manage(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::manage(fcinfo); });
}
Datum presplit_unmanage(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::unmanage(fcinfo); });
}
