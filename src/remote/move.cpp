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
#include "remote/reverse.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_foreign_server.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/snapmgr.h"
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

// The reverse direction's publication and slot there, subscription here.
ReverseTarget reverse_target(const catalog::RemoteMove& move, unsigned int server) {
    ReverseTarget target;
    target.name = reverse_name_prefix() + std::to_string(move.id);
    target.server = server;
    target.owner = move.owner;
    target.remote_table =
        pg::quote_ident(move.remote_schema) + "." + pg::quote_ident(move.remote_table);
    target.local_table = move.source.value_or(0);
    target.label = catalog::move_label(move.id);
    return target;
}

unsigned int server_oid(const catalog::RemoteMove& move) {
    return pg::call([&] { return GetForeignServerByName(move.server.c_str(), false)->serverid; });
}

// presplit.publisher_conninfo plus this database: how the subscription
// connects back. ERROR unless set and free of a password.
std::string publisher_conninfo() {
    const std::string setting = config::publisher_conninfo ? config::publisher_conninfo : "";
    if (setting.empty())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "presplit.publisher_conninfo is not set", "",
                        "Set it to how the other server reaches this one, e.g. 'host=10.0.0.1 "
                        "port=5432 user=replicator', and reload.");
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(setting.c_str(), &error);
    if (!options) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "presplit.publisher_conninfo is invalid",
                        message);
    }
    bool has_password = false, has_dbname = false;
    for (PQconninfoOption* option = options; option->keyword; ++option) {
        if (!option->val)
            continue;
        has_password |= std::string(option->keyword) == "password";
        has_dbname |= std::string(option->keyword) == "dbname";
    }
    PQconninfoFree(options);
    if (has_password || has_dbname)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "presplit.publisher_conninfo must not give a password or a dbname", "",
                        "The other server authenticates with its own passfile or certificate; "
                        "pg_presplit adds the database.");
    const std::string database =
        pg::call([] { return get_database_name(MyDatabaseId); }); // palloc'd, copied
    return setting + " dbname=" + conninfo_value(database);
}

struct Source {
    unsigned int oid = 0;
    unsigned int parent = 0;
    unsigned int owner = 0;
    std::string schema;  // unquoted
    std::string relname; // unquoted
    std::string name;    // qualified, quoted
    std::string bound;   // FOR VALUES ...
    std::string check;   // the bound as a condition on the key
    // "col type [NOT NULL]", in order.
    std::vector<std::string> column_definitions;
    std::vector<std::string> identity; // quoted
};

Source describe_source(unsigned int oid, unsigned int parent) {
    Source source;
    source.oid = oid;
    source.parent = parent;
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    const pg::Row names = spi.execute("SELECT n.nspname, c.relname, c.relowner"
                                      "  FROM pg_catalog.pg_class c"
                                      "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                      " WHERE c.oid = $1::oid",
                                      {std::to_string(oid)})
                              .rows.at(0);
    source.schema = *names[0];
    source.relname = *names[1];
    source.owner = static_cast<unsigned int>(std::stoul(*names[2]));
    source.name = pg::quote_ident(source.schema) + "." + pg::quote_ident(source.relname);
    // The primary key: the remote table's, and the replica identity that
    // publishing updates and deletes needs.
    for (const auto& row : spi.execute("SELECT pg_catalog.quote_ident(a.attname)"
                                       "  FROM pg_catalog.pg_index i, unnest(i.indkey::int2[]) "
                                       "WITH ORDINALITY k(attnum, n),"
                                       "       pg_catalog.pg_attribute a"
                                       " WHERE i.indrelid = $1::oid AND i.indisprimary"
                                       "   AND a.attrelid = i.indrelid AND a.attnum = k.attnum"
                                       " ORDER BY k.n",
                                       {std::to_string(oid)})
                               .rows)
        source.identity.push_back(*row[0]);
    source.bound = *spi.scalar("SELECT pg_catalog.pg_get_expr(relpartbound, oid)"
                               "  FROM pg_catalog.pg_class WHERE oid = $1::oid",
                               {std::to_string(oid)});
    auto columns = spi.execute("SELECT pg_catalog.quote_ident(attname),"
                               "       pg_catalog.format_type(atttypid, atttypmod), attnotnull,"
                               "       attgenerated <> ''"
                               "  FROM pg_catalog.pg_attribute"
                               " WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped"
                               " ORDER BY attnum",
                               {std::to_string(oid)});
    for (const auto& row : columns.rows) {
        if (*row[3] == "t")
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "cannot move a partition with generated columns to another server");
        source.column_definitions.push_back(*row[0] + " " + *row[1] +
                                            (*row[2] == "t" ? " NOT NULL" : ""));
    }
    // The CHECK equal to the bound: PostgreSQL's own partition constraint.
    source.check = spi.scalar("SELECT pg_catalog.pg_get_partition_constraintdef($1::oid)",
                              {std::to_string(oid)})
                       .value_or("true");
    return source;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + items[i];
    return out;
}

// --- checks that change nothing --------------------------------------------

void require_local_prerequisites(const Source& source) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    if (*spi.scalar("SELECT pg_catalog.current_setting('wal_level')") != "logical")
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "wal_level must be logical to move a partition to another server", "",
                        "Set wal_level = logical (and max_replication_slots, max_wal_senders) "
                        "and restart the server.");
    if (*spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_index"
                    " WHERE indrelid = $1::oid AND indisunique)",
                    {std::to_string(source.parent)}) == "t")
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "cannot move a partition of a table with a unique index on the "
                        "partitioned table to another server",
                        "PostgreSQL cannot attach a foreign table to such a table.",
                        "Define the primary key on each partition instead of the parent.");
    if (*spi.scalar("SELECT partstrat FROM pg_catalog.pg_partitioned_table"
                    " WHERE partrelid = $1::oid",
                    {std::to_string(source.parent)}) != "r")
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "partition " + source.name + " is not a RANGE partition", "",
                        "move_partition moves partitions of RANGE-partitioned tables.");
    // Publishing UPDATE and DELETE needs a replica identity (the primary
    // key), or the writers' statements fail; the remote table gets it too.
    if (source.identity.empty())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "partition " + source.name + " has no primary key",
                        "Logical replication needs one to publish updates and deletes.",
                        "Add a primary key to the partition.");
}

// The foreign server: it exists, uses postgres_fdw, the owner may use it and
// has a user mapping. Returns its OID.
unsigned int require_server(const std::string& name, unsigned int owner) {
    struct Found {
        Oid oid;
        bool postgres_fdw;
        bool usage;
    };
    const Found found = pg::call([&] {
        Found f{InvalidOid, false, false};
        ForeignServer* server = GetForeignServerByName(name.c_str(), true);
        if (!server)
            return f;
        f.oid = server->serverid;
        f.postgres_fdw = strcmp(GetForeignDataWrapper(server->fdwid)->fdwname, "postgres_fdw") == 0;
        f.usage = pg_foreign_server_aclcheck(server->serverid, owner, ACL_USAGE) == ACLCHECK_OK;
        return f;
    });
    if (!OidIsValid(found.oid))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, "server \"" + name + "\" does not exist", "",
                        "Create it with CREATE SERVER ... FOREIGN DATA WRAPPER postgres_fdw.");
    if (!found.postgres_fdw)
        throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE,
                        "server \"" + name + "\" does not use postgres_fdw", "",
                        "Partitions move only to servers of the postgres_fdw wrapper.");
    if (!found.usage)
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "the table's owner has no USAGE privilege on server \"" + name + "\"", "",
                        "GRANT USAGE ON FOREIGN SERVER to the table's owner.");
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    if (*spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_user_mapping"
                    " WHERE umserver = $1::oid AND umuser IN ($2::oid, 0))",
                    {std::to_string(found.oid), std::to_string(owner)}) != "t")
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "no user mapping for the table's owner on server \"" + name + "\"", "",
                        "CREATE USER MAPPING FOR the table's owner SERVER " +
                            pg::quote_ident(name) + " OPTIONS (user '...', password '...').");
    return found.oid;
}

void require_remote_prerequisites(Connection& remote, const std::string& server,
                                  const Source& source) {
    if (std::stoi(*remote.scalar("SELECT pg_catalog.current_setting('server_version_num')")) <
        150000)
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "server \"" + server + "\" runs PostgreSQL older than 15", "",
                        "Partitions move only to PostgreSQL 15 or later.");
    if (*remote.scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user") !=
        "t")
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "the user mapping's role is not a superuser on server \"" + server + "\"",
                        "PostgreSQL 15 lets only superusers create subscriptions.",
                        "Map the table's owner to a superuser of the other server.");
    if (*remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                       {source.schema}) != "t")
        throw pg::Error(ERRCODE_UNDEFINED_SCHEMA,
                        "schema \"" + source.schema + "\" does not exist on server \"" + server +
                            "\"",
                        "", "Create it there first.");
    if (*remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_class c"
                       "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                       " WHERE n.nspname = $1 AND c.relname = $2)",
                       {source.schema, source.relname}) == "t")
        throw pg::Error(ERRCODE_DUPLICATE_TABLE,
                        "relation " + source.name + " already exists on server \"" + server + "\"",
                        "", "Drop or rename it there, or move another partition.");
}

// --- replication -------------------------------------------------------------

bool remote_subscription_exists(Connection& remote, int64_t id) {
    return *remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_subscription"
                          " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                          " pg_catalog.pg_database WHERE datname = current_database()))",
                          {replication_name(id)}) == "t";
}

void sleep_ms(long ms) {
    pg::call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    });
}

// Drops the subscription (which drops its slots on this server), whatever
// slot is left (the remote could not reach us), and the publication.
void drop_replication(Connection& remote, const catalog::RemoteMove& move) {
    const std::string name = replication_name(move.id);
    // The slots this server may hold for the subscription: its own and its
    // table synchronisation's (pg_<subscription oid>_sync_...).
    auto literal = [](const std::string& text) { // for LIKE: '_' is a wildcard
        std::string escaped;
        for (char c : text)
            escaped += (c == '_' ? std::string("\\_") : std::string(1, c));
        return escaped;
    };
    std::vector<std::string> slots{literal(name)};
    if (Value subscription = remote.scalar("SELECT oid::text FROM pg_catalog.pg_subscription"
                                           " WHERE subname = $1",
                                           {name})) {
        slots.push_back(literal("pg_" + *subscription + "_sync_") + "%");
        try {
            // Drops its slots here too, over its own connection.
            remote.execute("DROP SUBSCRIPTION " + name);
        } catch (const pg::Error&) {
            // It could not reach this server: detach it from its slot and
            // drop that here.
            remote.execute("ALTER SUBSCRIPTION " + name + " DISABLE");
            remote.execute("ALTER SUBSCRIPTION " + name + " SET (slot_name = NONE)");
            remote.execute("DROP SUBSCRIPTION " + name);
        }
    }
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        for (const std::string& pattern : slots) {
            // A walsender may take a moment to exit after its subscriber went.
            for (int i = 0; i < 500; ++i) {
                Value active = spi.scalar("SELECT bool_or(active)::text FROM"
                                          " pg_catalog.pg_replication_slots"
                                          " WHERE slot_name LIKE $1",
                                          {pattern});
                if (!active)
                    break;
                if (*active == "false") {
                    spi.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name)"
                                "  FROM pg_catalog.pg_replication_slots WHERE slot_name LIKE $1",
                                {pattern});
                    break;
                }
                sleep_ms(20);
            }
        }
    }
    if (move.source) {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("DROP PUBLICATION IF EXISTS " + name);
    }
}

// Waits until the subscription confirmed every change of this server's WAL
// up to now: under a lock that stops writes to the source, all of its
// changes; before taking one, the lag, so that the lock waits only for what
// is written meanwhile.
// ERROR 55P03 after presplit.remote_catchup_timeout.
void wait_for_remote_catch_up(const catalog::RemoteMove& move) {
    // Flushed now rather than by the WAL writer's next round, so that the
    // walsender sends it at once (an asynchronous commit's record too).
    const std::string lsn = pg::call([] {
        const XLogRecPtr insert = GetXLogInsertRecPtr();
        XLogFlush(insert);
        char text[32];
        snprintf(text, sizeof text, "%X/%X", static_cast<uint32>(insert >> 32),
                 static_cast<uint32>(insert));
        return pstrdup(text);
    });
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    const instr_time started = pg::now();
    for (;;) {
        Value done = spi.scalar("SELECT confirmed_flush_lsn >= $2::pg_lsn"
                                "  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                                {replication_name(move.id), lsn});
        if (!done)
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "the replication slot of " + catalog::move_label(move.id) + " is gone");
        if (*done == "t")
            return;
        if (pg::elapsed_ms(started) > config::remote_catchup_timeout_ms)
            throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                            "server \"" + move.server + "\" has not applied the changes up to " +
                                lsn + " within presplit.remote_catchup_timeout",
                            "", "The step is retried at a later round.");
        sleep_ms(10);
    }
}

// Before a lock: waits, without it, until the subscription keeps up -- a
// round of wait_for_remote_catch_up (everything up to the position when it
// began) that takes at most presplit.cutover_lock_timeout -- so that under
// the lock only about that much is left to wait for. ERROR 55P03 after
// presplit.remote_catchup_timeout in all: the other server applies more
// slowly than this one writes (the step is retried at a later round).
void drain_remote_lag(const catalog::RemoteMove& move) {
    const instr_time started = pg::now();
    for (;;) {
        const instr_time round = pg::now();
        wait_for_remote_catch_up(move);
        const double round_ms = pg::elapsed_ms(round);
        if (round_ms <= config::cutover_lock_timeout_ms)
            return;
        if (pg::elapsed_ms(started) > config::remote_catchup_timeout_ms) {
            char took[32];
            snprintf(took, sizeof took, "%.0f ms", round_ms);
            throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                            "server \"" + move.server +
                                "\" does not keep up with the changes here within "
                                "presplit.remote_catchup_timeout",
                            std::string("Its last catch-up took ") + took +
                                ", more than presplit.cutover_lock_timeout.",
                            "The step is retried at a later round.");
        }
    }
}

std::string remote_table_name(const catalog::RemoteMove& move) {
    return pg::quote_ident(move.remote_schema) + "." + pg::quote_ident(move.remote_table);
}

const char* kSummary = "SELECT count(*), coalesce(sum(pg_catalog.hashtextextended(t::text, 0)),"
                       " 0)::text FROM ONLY ";

// What take_cut returns: the snapshot here (registered; the caller
// unregisters it), and for the event how it went.
struct Cut {
    SnapshotData* here = nullptr;
    double lock_held_ms = 0;
    int tries = 0;
};

// The cut a verification compares at (docs/multi_server.md,
// "Verification"). Under SHARE on the source, taken with the cutover's
// bounded retry -- it waits for every transaction that wrote the source and
// keeps new writes out, so nothing of the source changes while it is held:
// a snapshot here, the other server caught up to this server's WAL position,
// and a REPEATABLE READ transaction there whose first statement takes its
// snapshot; then the lock is released at once, in the middle of the
// worker's transaction, which keeps the snapshot (registered here, open
// there) for the scans. The remote is left in its transaction. An error
// (the other server lags) ends the worker's transaction, and the lock.
Cut take_cut(Connection& remote, const catalog::RemoteMove& move, const std::string& source) {
    migration::PlanLayout layout;
    layout.plan.source = *move.source;
    layout.source = source;
    layout.table_owner = move.owner;
    // The lag drained first, without the lock.
    drain_remote_lag(move);
    Cut cut;
    cut.tries =
        switchover::lock_shared(layout, "verification of " + catalog::move_label(move.id)).tries;
    const instr_time locked = pg::now();
    cut.here = pg::call([] { return RegisterSnapshot(GetLatestSnapshot()); });
    wait_for_remote_catch_up(move);
    remote.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    remote.execute("SELECT 1");
    pg::call([&] { UnlockRelationOid(*move.source, ShareLock); });
    cut.lock_held_ms = pg::elapsed_ms(locked);
    return cut;
}

// Count and checksum of `table` in rows written in the canonical text form,
// the same on both sides: in `snapshot` here, in the remote's transaction
// there.
pg::Row summary_here(const catalog::RemoteMove& move, const std::string& table,
                     SnapshotData* snapshot) {
    pg::RunAsTableOwner as_owner(move.owner);
    pg::CanonicalTextFormat canonical;
    pg::SpiSession spi;
    spi.execute("SELECT pg_catalog.set_config('TimeZone', 'UTC', true)");
    return spi.execute_in_snapshot(kSummary + table + " AS t", snapshot).rows.at(0);
}

void set_canonical_text_format(Connection& remote) {
    remote.execute("SELECT pg_catalog.set_config('DateStyle', 'ISO, YMD', false),"
                   " pg_catalog.set_config('IntervalStyle', 'postgres', false),"
                   " pg_catalog.set_config('extra_float_digits', '3', false),"
                   " pg_catalog.set_config('TimeZone', 'UTC', false)");
}

// Verification under one cut (take_cut), the scans of both sides after the
// lock is released: writers wait only for the cut, not for the scans.
bool verify(Connection& remote, const catalog::RemoteMove& move) {
    // By OID: the partition may have been renamed since the move began.
    const std::string source = pg::qualified_relation_name(*move.source);
    set_canonical_text_format(remote);
    const Cut cut = take_cut(remote, move, source);
    const pg::Row local = summary_here(move, source, cut.here);
    pg::call([&] { UnregisterSnapshot(cut.here); });
    const pg::Row there = remote.execute(kSummary + remote_table_name(move) + " AS t").at(0);
    remote.execute("COMMIT");
    const std::string detail = "here " + *local[0] + " rows (checksum " + *local[1] +
                               "), on server \"" + move.server + "\" " + *there[0] +
                               " rows (checksum " + *there[1] + ")";
    if (local == there) {
        char held[96];
        snprintf(held, sizeof held, "; the cut: %d tries, the lock held %.1f ms", cut.tries,
                 cut.lock_held_ms);
        catalog::log_event(std::nullopt, move.source_name, "remote_move_verified",
                           catalog::move_label(move.id) + ": " + detail + held);
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
void cut_over(Connection& remote, const catalog::RemoteMove& move) {
    const Source source = describe_source(*move.source, move.parent);
    // The reverse direction, prepared before the lock (remote objects, the
    // subscription here, disabled: the worker starts it once this commits).
    const ReverseTarget reverse = reverse_target(move, server_oid(move));
    const std::optional<std::string> no_reverse = reverse_unavailable(remote, reverse);
    if (!no_reverse)
        prepare_reverse(remote, reverse);
    migration::PlanLayout layout;
    layout.plan.parent = move.parent;
    layout.plan.source = *move.source;
    // plan.state left at its default: lock_order takes the source before
    // the shadows (there are none), as for any plan not yet cut over.
    layout.source = source.name;
    layout.table_owner = source.owner;
    // The lag drained first, without the lock (writes go on during the
    // verification's scans).
    drain_remote_lag(move);
    const instr_time started = pg::now();
    const switchover::LockReport lock =
        switchover::lock_exclusively(layout, true, "cutover of " + catalog::move_label(move.id));
    const instr_time locked = pg::now();
    wait_for_remote_catch_up(move);
    const double catch_up_ms = pg::elapsed_ms(locked);
    std::optional<std::string> reverse_lsn;
    if (!no_reverse) {
        // Everything from here is there: the other way starts at the
        // server's position now, and nothing applied here from now on (by
        // the reverse subscription) is published here again.
        reverse_lsn = reverse_start_lsn(remote);
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER PUBLICATION " + replication_name(move.id) + " DROP TABLE " +
                    source.name);
    }
    const std::string parent = pg::qualified_relation_name(move.parent);
    const std::string foreign_relname = foreign_table_relname(move);
    const std::string foreign_table =
        pg::quote_ident(source.schema) + "." + pg::quote_ident(foreign_relname);
    unsigned int foreign_oid = 0;
    {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + source.name);
        // NOT VALID (no scan here): a rollback validates it before its lock
        // and then attaches the source without a scan.
        spi.execute("ALTER TABLE " + source.name + " ADD CONSTRAINT " +
                    migration::old_bound_constraint_name() + " CHECK (" + source.check +
                    ") NOT VALID");
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
    if (reverse_lsn)
        catalog::set_move_reverse(move.id, *reverse_lsn);
    catalog::set_move_state(move, "cut_over");
    char held[128];
    snprintf(held, sizeof held,
             "%.1f ms to lock, held %.1f ms (%.1f ms of it waiting for the server to catch up)",
             pg::elapsed_ms(started) - pg::elapsed_ms(locked), pg::elapsed_ms(locked), catch_up_ms);
    catalog::log_event(std::nullopt, move.source_name, "remote_cutover",
                       catalog::move_label(move.id) + ": " + std::to_string(lock.tries) +
                           " tries, " + held);
    if (no_reverse)
        catalog::log_event(std::nullopt, move.source_name, "remote_reverse_unavailable",
                           catalog::move_label(move.id) + ": " + *no_reverse +
                               "; rollback_move is refused");
}

// The forward direction broken (docs/multi_server.md, "Faults"): a disabled
// subscription there is enabled again; a slot gone here fails the move.
// Returns whether the move failed.
bool repair_forward(Connection& remote, const catalog::RemoteMove& move) {
    const std::string name = replication_name(move.id);
    bool slot_here = false;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        slot_here = *spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_replication_slots"
                                " WHERE slot_name = $1)",
                                {name}) == "t";
    }
    if (!slot_here) {
        catalog::set_move_state(move, "failed",
                                "the replication slot " + name + " here was dropped");
        drop_replication(remote, move);
        // What a cutover that did not commit may have left there.
        drop_reverse_publication(remote, reverse_target(move, server_oid(move)));
        catalog::set_move_replicating(move.id, false);
        remote.execute("DROP TABLE IF EXISTS " + remote_table_name(move));
        return true;
    }
    if (remote.scalar("SELECT subenabled::text FROM pg_catalog.pg_subscription"
                      " WHERE subname = $1",
                      {name}) == Value("false")) {
        remote.execute("ALTER SUBSCRIPTION " + name + " ENABLE");
        catalog::log_event(std::nullopt, move.source_name, "remote_move_repaired",
                           catalog::move_label(move.id) + ": the subscription " + name +
                               " on server \"" + move.server + "\" was disabled: enabled again");
    }
    return false;
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

// Rollback after the cutover: once this server has applied every change
// made there (the writes that go there stopped by the lock on the parent and
// the foreign table), the foreign table detached and the kept source
// attached again -- without a scan: its CHECK equal to the bound is
// validated before the lock. The reverse direction (its subscription here
// too: stopping its worker would lengthen the lock, and nothing writes there
// any more) and the table there are dropped by the worker after the commit,
// so that no data there goes before this server has it for good.
void roll_back_cut_over(const catalog::RemoteMove& move) {
    if (!move.reversing || !move.source || !move.foreign_table)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        catalog::move_label(move.id) + " has no reverse direction",
                        "Changes made on server \"" + move.server +
                            "\" since the cutover do not flow back here.",
                        "The events remote_reverse_unavailable or remote_reverse_lost say why. "
                        "finalize_move ends the move; move_partition cannot move it back yet.");
    const unsigned int server = server_oid(move);
    Connection remote(server, move.owner);
    const ReverseTarget reverse = reverse_target(move, server);
    const std::string source = pg::qualified_relation_name(*move.source);
    const std::string foreign_table = pg::qualified_relation_name(*move.foreign_table);
    std::string bound;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        bound = *spi.scalar("SELECT pg_catalog.pg_get_expr(relpartbound, oid)"
                            "  FROM pg_catalog.pg_class WHERE oid = $1::oid",
                            {std::to_string(*move.foreign_table)});
    }
    {
        // The scan, before the lock (it does not block the reverse apply).
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER TABLE " + source + " VALIDATE CONSTRAINT " +
                    migration::old_bound_constraint_name());
    }
    // The parent, with the cutover's bounded retry (writers through it wait
    // from then on); then the foreign table, which LOCK TABLE refuses, for
    // writers that name it.
    migration::PlanLayout layout;
    layout.plan.parent = move.parent;
    layout.plan.source = move.parent;
    layout.source = pg::qualified_relation_name(move.parent);
    layout.table_owner = move.owner;
    const instr_time started = pg::now();
    const switchover::LockReport lock = switchover::lock_exclusively(
        layout, /*with_parent=*/false, "rollback of " + catalog::move_label(move.id));
    pg::call([&] { LockRelationOid(*move.foreign_table, AccessExclusiveLock); });
    const instr_time locked = pg::now();
    wait_for_reverse_catch_up(remote, reverse);
    const double catch_up_ms = pg::elapsed_ms(locked);
    {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        const std::string parent = pg::qualified_relation_name(move.parent);
        spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + foreign_table);
        spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + source + " " + bound);
        spi.execute("ALTER TABLE " + source + " DROP CONSTRAINT " +
                    migration::old_bound_constraint_name());
        spi.execute("DROP FOREIGN TABLE " + foreign_table);
    }
    if (move.replicating) {
        drop_replication(remote, move);
        catalog::set_move_replicating(move.id, false);
    }
    catalog::set_move_state(move, "rolled_back", "rollback_move after the cutover");
    char held[128];
    snprintf(held, sizeof held,
             "%.1f ms to lock, held %.1f ms (%.1f ms of it waiting for this server to catch up)",
             pg::elapsed_ms(started) - pg::elapsed_ms(locked), pg::elapsed_ms(locked), catch_up_ms);
    catalog::log_event(std::nullopt, move.source_name, "remote_rollback",
                       catalog::move_label(move.id) + ": " + std::to_string(lock.tries) +
                           " tries, " + held);
}

} // namespace

std::string reverse_name_prefix() {
    return "presplit_back_";
}

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
    const Source source = describe_source(source_oid, request.parent);
    require_local_prerequisites(source);
    const unsigned int server = require_server(server_name, source.owner);
    (void)publisher_conninfo(); // checked now, used by the worker
    Connection remote(server, source.owner);
    require_remote_prerequisites(remote, server_name, source);

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
        // Creating the slot waits for every transaction here that has an
        // xid: bounded, so that a long transaction here delays the move (a
        // retry at the next round), not the worker.
        remote.execute("SELECT pg_catalog.set_config('statement_timeout', $1, false)",
                       {std::to_string(config::remote_catchup_timeout_ms) + "ms"});
        if (!remote_subscription_exists(remote, id))
            remote.execute("CREATE SUBSCRIPTION " + replication_name(id) + " CONNECTION " +
                           pg::quote_literal(publisher_conninfo()) + " PUBLICATION " +
                           replication_name(id) +
                           // Flushed at each commit: the slot's confirmed
                           // position (what the cutover waits for) then
                           // follows the apply at once, not the remote WAL
                           // writer's rounds, and nothing it confirmed can be
                           // lost in a crash of the remote.
                           " WITH (synchronous_commit = 'on')");
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
        if (!remote_subscription_exists(remote, id)) {
            catalog::set_move_state(*move, "failed", "the subscription on the server is gone");
            drop_replication(remote, *move);
            catalog::set_move_replicating(id, false);
            remote.execute("DROP TABLE IF EXISTS " + remote_table_name(*move));
            return true;
        }
        if (repair_forward(remote, *move))
            return true;
        Value sync = remote.scalar("SELECT r.srsubstate FROM pg_catalog.pg_subscription_rel r"
                                   "  JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid"
                                   " WHERE s.subname = $1",
                                   {replication_name(id)});
        if (sync != Value("r") || config::backfill_paused)
            return false; // the initial copy runs, or presplit.backfill_paused holds us
        if (!verify(remote, *move))
            return true;
        catalog::set_move_state(*move, "synced");
        return true;
    }
    if (move->state == "synced") {
        if (config::backfill_paused)
            return false;
        if (repair_forward(remote, *move))
            return true;
        cut_over(remote, *move);
        return true;
    }
    const ReverseTarget reverse = reverse_target(*move, server);
    if (move->state == "cut_over" && move->reversing) {
        // Its subscription here is disabled (not started yet, or by
        // someone), or has no worker running: the slot there may be gone.
        const std::optional<std::string> lost = reverse_lost(remote, reverse);
        const bool enabled = reverse_subscription_enabled(reverse);
        if (lost) {
            drop_reverse_subscription(reverse);
            drop_reverse_publication(remote, reverse);
            catalog::set_move_reversing(id, false);
            catalog::log_event(std::nullopt, move->source_name, "remote_reverse_lost",
                               catalog::move_label(id) + ": " + *lost +
                                   "; rollback_move is refused");
            return true;
        }
        if (!enabled) {
            const bool first = start_reverse(reverse, *move->reverse_lsn);
            catalog::log_event(
                std::nullopt, move->source_name,
                first ? "remote_reverse" : "remote_reverse_repaired",
                catalog::move_label(id) + ": " +
                    (first ? "changes on server \"" + move->server + "\" flow back from " +
                                 *move->reverse_lsn
                           : "the subscription " + reverse.name + " was disabled: enabled again"));
            return true;
        }
        // Its worker is starting, or the other server is down: the forward
        // direction's objects may still go.
    }
    if (move->state == "cut_over" && move->replicating) {
        drop_replication(remote, *move);
        catalog::set_move_replicating(id, false);
        return true;
    }
    if ((move->state == "rolled_back" || move->state == "failed") && move->reversing) {
        // Rolled back after the cutover: what is left there.
        drop_reverse_subscription(reverse);
        drop_reverse_publication(remote, reverse);
        remote.execute("DROP TABLE IF EXISTS " + remote_table_name(*move));
        catalog::set_move_reversing(id, false);
        return true;
    }
    return false;
}

void roll_back_move(int64_t id) {
    const catalog::RemoteMove move = owned_move(id);
    if (move.state == "cut_over") {
        roll_back_cut_over(move);
        return;
    }
    if (move.state != "preparing" && move.state != "backfilling" && move.state != "synced")
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        catalog::move_label(id) + " is " + move.state, "",
                        "Only a move before its cutover, or cut over and not finalized, can be "
                        "rolled back.");
    const unsigned int server =
        pg::call([&] { return GetForeignServerByName(move.server.c_str(), false)->serverid; });
    Connection remote(server, move.owner);
    drop_replication(remote, move);
    // What a cutover that did not commit may have left there.
    drop_reverse_publication(remote, reverse_target(move, server));
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
    if (move.replicating || move.reversing) {
        const unsigned int server = server_oid(move);
        Connection remote(server, move.owner);
        if (move.replicating) {
            drop_replication(remote, move);
            catalog::set_move_replicating(id, false);
        }
        if (move.reversing) {
            const ReverseTarget reverse = reverse_target(move, server);
            drop_reverse_subscription(reverse);
            drop_reverse_publication(remote, reverse);
            catalog::set_move_reversing(id, false);
        }
    }
    if (drop_old && move.source) {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("DROP TABLE " + pg::qualified_relation_name(*move.source));
    } else if (move.source) {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER TABLE " + pg::qualified_relation_name(*move.source) +
                    " DROP CONSTRAINT IF EXISTS " + migration::old_bound_constraint_name());
    }
    if (drop_old)
        catalog::set_move_source_dropped(id);
    catalog::set_move_state(move, "finalized");
}

} // namespace presplit::remote
