#include "remote/move.hpp"

#include "api/plan_access.hpp"
#include "catalog/catalog.hpp"
#include "catalog/remote_moves.hpp"
#include "config.hpp"
#include "migration/layout.hpp"
#include "migration/split_request.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/connection.hpp"
#include "remote/replication.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_foreign_server.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/wait_event.h"
#include "libpq-fe.h"
}

namespace presplit::remote {
namespace {

using pg::Value;

// The publication, the subscription and its slot.
std::string replication_name(int64_t id) {
    return "presplit_move_" + std::to_string(id);
}

// --- replication (remote/replication.hpp) -----------------------------------

void drop_replication(Connection& remote, const catalog::RemoteMove& move) {
    drop_replication(remote, replication_name(move.id), move.owner, move.source.has_value());
}

void wait_for_remote_catch_up(const catalog::RemoteMove& move) {
    wait_for_catch_up(replication_name(move.id), move.server, catalog::move_label(move.id));
}

constexpr const char* kMoving = "move a partition to another server";

std::string remote_table_name(const catalog::RemoteMove& move) {
    return pg::quote_ident(move.remote_schema) + "." + pg::quote_ident(move.remote_table);
}

// Verification under one cut: the source locked SHARE (writers wait), the
// remote caught up to the lock, then count and checksum on both sides.
bool verify(Connection& remote, const catalog::RemoteMove& move) {
    // By OID: the partition may have been renamed since the move began.
    const std::string source = pg::qualified_relation_name(*move.source);
    {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)",
                    {std::to_string(config::cutover_lock_timeout_ms) + "ms"});
        spi.execute("LOCK TABLE ONLY " + source + " IN SHARE MODE");
    }
    wait_for_remote_catch_up(move);
    const std::vector<std::string> local = local_summary(move.owner, "ONLY " + source + " AS t");
    const std::vector<std::string> there = remote_summary(remote, remote_table_name(move));
    const std::string detail = "here " + local[0] + " rows (checksum " + local[1] +
                               "), on server \"" + move.server + "\" " + there[0] +
                               " rows (checksum " + there[1] + ")";
    if (local == there) {
        catalog::log_event(std::nullopt, move.source_name, "remote_move_verified",
                           catalog::move_label(move.id) + ": " + detail);
        return true;
    }
    catalog::set_move_state(move, "failed", "verification failed: " + detail);
    drop_replication(remote, move);
    catalog::set_move_replicating(move.id, false);
    remote.execute("DROP TABLE IF EXISTS " + remote_table_name(move));
    return false;
}

std::string foreign_table_relname(const catalog::RemoteMove& move) {
    const std::string suffix = "_move_" + std::to_string(move.id);
    std::string relname = move.remote_table;
    if (relname.size() + suffix.size() > NAMEDATALEN - 1)
        relname.resize(NAMEDATALEN - 1 - suffix.size());
    return relname + suffix;
}

// Under ACCESS EXCLUSIVE on the parent and the source, once the remote has
// applied everything: the source detached, a foreign table attached.
void cut_over(const catalog::RemoteMove& move) {
    const Source source = describe_source(*move.source, move.parent, kMoving);
    migration::PlanLayout layout;
    layout.plan.parent = move.parent;
    layout.plan.source = *move.source;
    // plan.state left at its default: lock_order takes the source before
    // the shadows (there are none), as for any plan not yet cut over.
    layout.source = source.name;
    layout.table_owner = source.owner;
    const instr_time started = pg::now();
    const switchover::LockReport lock =
        switchover::lock_exclusively(layout, true, "cutover of " + catalog::move_label(move.id));
    const instr_time locked = pg::now();
    wait_for_remote_catch_up(move);
    const double catch_up_ms = pg::elapsed_ms(locked);
    const std::string parent = pg::qualified_relation_name(move.parent);
    const std::string foreign_relname = foreign_table_relname(move);
    const std::string foreign_table =
        pg::quote_ident(source.schema) + "." + pg::quote_ident(foreign_relname);
    unsigned int foreign_oid = 0;
    {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + source.name);
        spi.execute("CREATE FOREIGN TABLE " + foreign_table + " (" +
                    join(source.column_definitions) + ") SERVER " + pg::quote_ident(move.server) +
                    " OPTIONS (schema_name " + pg::quote_literal(move.remote_schema) +
                    ", table_name " + pg::quote_literal(move.remote_table) + ")");
        spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + foreign_table + " " +
                    source.bound);
        foreign_oid = static_cast<unsigned int>(
            std::stoul(*spi.scalar("SELECT c.oid FROM pg_catalog.pg_class c"
                                   "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                   " WHERE n.nspname = $1 AND c.relname = $2",
                                   {source.schema, foreign_relname})));
    }
    catalog::set_move_cut_over(move.id, foreign_oid);
    catalog::set_move_state(move, "cut_over");
    char held[128];
    snprintf(held, sizeof held,
             "%.1f ms to lock, held %.1f ms (%.1f ms of it waiting for the server to catch up)",
             pg::elapsed_ms(started) - pg::elapsed_ms(locked), pg::elapsed_ms(locked), catch_up_ms);
    catalog::log_event(std::nullopt, move.source_name, "remote_cutover",
                       catalog::move_label(move.id) + ": " + std::to_string(lock.tries) +
                           " tries, " + held);
}

catalog::RemoteMove owned_move(int64_t id) {
    auto move = catalog::load_move(id, /*lock=*/false);
    if (!move)
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, catalog::move_label(id) + " does not exist");
    if (!api::has_owner_privileges(move->parent))
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "must be owner of the table of " + catalog::move_label(id));
    return *catalog::load_move(id, /*lock=*/true);
}

} // namespace

int64_t move_partition(unsigned int source_oid, const std::string& server_name) {
    const migration::SplitRequest request =
        migration::validate_source(source_oid, /*managed_only=*/false);
    if (catalog::find_active_plan_for_source(source_oid))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "partition has an active split plan", "",
                        "Wait for it to end, or cancel it.");
    if (catalog::find_active_move_for_source(source_oid))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "partition is already being moved", "",
                        "See presplit.remote_moves; rollback_move ends a move.");
    const Source source = describe_source(source_oid, request.parent, kMoving);
    require_local_prerequisites(source, kMoving);
    const unsigned int server = require_server(server_name, source.owner);
    (void)publisher_conninfo(); // checked now, used by the worker
    Connection remote(server, source.owner);
    require_remote_prerequisites(remote, server_name, source.schema, source.relname);

    catalog::RemoteMove move;
    move.parent = request.parent;
    move.source = source_oid;
    move.source_name = source.name;
    move.server = server_name;
    move.remote_schema = source.schema;
    move.remote_table = source.relname;
    move.owner = source.owner;
    move.id = catalog::insert_move(move);
    {
        // As the owner: CREATE PUBLICATION ... FOR TABLE needs the table's
        // owner (and CREATE on the database).
        pg::RunAsTableOwner as_owner(source.owner);
        pg::SpiSession spi;
        spi.execute("CREATE PUBLICATION " + replication_name(move.id) + " FOR TABLE ONLY " +
                    source.name);
    }
    // Last, so that any error before leaves the remote as it was.
    std::vector<std::string> definitions = source.column_definitions;
    definitions.push_back("PRIMARY KEY (" + join(source.identity) + ")");
    definitions.push_back("CONSTRAINT presplit_bound CHECK (" + source.check + ")");
    remote.execute("CREATE TABLE " + remote_table_name(move) + " (" + join(definitions) + ")");
    return move.id;
}

bool advance_move(int64_t id) {
    auto move = catalog::load_move(id, /*lock=*/false);
    if (!move)
        return false;
    const unsigned int server =
        pg::call([&] { return GetForeignServerByName(move->server.c_str(), false)->serverid; });
    Connection remote(server, move->owner);
    if (move->state == "preparing") {
        // Before this transaction writes anything: creating the slot waits
        // for every transaction with an xid (docs/multi_server.md).
        create_subscription(remote, replication_name(id));
        move = catalog::load_move(id, /*lock=*/true);
        if (move->state != "preparing") { // rolled back meanwhile
            drop_replication(remote, *move);
            return false;
        }
        catalog::set_move_state(*move, "backfilling");
        return true;
    }
    move = catalog::load_move(id, /*lock=*/true);
    if (move->state == "backfilling") {
        if (!remote_subscription_exists(remote, replication_name(id))) {
            catalog::set_move_state(*move, "failed", "the subscription on the server is gone");
            drop_replication(remote, *move);
            catalog::set_move_replicating(id, false);
            remote.execute("DROP TABLE IF EXISTS " + remote_table_name(*move));
            return true;
        }
        if (!initial_sync_done(remote, replication_name(id)) || config::backfill_paused)
            return false; // the initial copy runs, or presplit.backfill_paused holds us
        if (!verify(remote, *move))
            return true;
        catalog::set_move_state(*move, "synced");
        return true;
    }
    if (move->state == "synced") {
        if (config::backfill_paused)
            return false;
        cut_over(*move);
        return true;
    }
    if (move->state == "cut_over" && move->replicating) {
        drop_replication(remote, *move);
        catalog::set_move_replicating(id, false);
        return true;
    }
    return false;
}

void roll_back_move(int64_t id) {
    const catalog::RemoteMove move = owned_move(id);
    if (move.state != "preparing" && move.state != "backfilling" && move.state != "synced")
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        catalog::move_label(id) + " is " + move.state, "",
                        "Only a move before its cutover can be rolled back.");
    const unsigned int server =
        pg::call([&] { return GetForeignServerByName(move.server.c_str(), false)->serverid; });
    Connection remote(server, move.owner);
    drop_replication(remote, move);
    catalog::set_move_replicating(id, false);
    remote.execute("DROP TABLE IF EXISTS " + remote_table_name(move));
    catalog::set_move_state(move, "rolled_back", "rollback_move");
}

void finalize_move(int64_t id, bool drop_old) {
    const catalog::RemoteMove move = owned_move(id);
    if (move.state != "cut_over")
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        catalog::move_label(id) + " is " + move.state, "",
                        "Only a cut-over move can be finalized.");
    if (move.replicating) {
        const unsigned int server =
            pg::call([&] { return GetForeignServerByName(move.server.c_str(), false)->serverid; });
        Connection remote(server, move.owner);
        drop_replication(remote, move);
        catalog::set_move_replicating(id, false);
    }
    if (drop_old && move.source) {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("DROP TABLE " + pg::qualified_relation_name(*move.source));
    }
    if (drop_old)
        catalog::set_move_source_dropped(id);
    catalog::set_move_state(move, "finalized");
}

} // namespace presplit::remote
