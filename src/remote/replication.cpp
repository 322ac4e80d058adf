#include "remote/replication.hpp"

#include "config.hpp"
#include "core/lag_drain.hpp"
#include "migration/layout.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "postgres.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
#include "libpq-fe.h"
}

#include <cstring>

namespace presplit::remote {
namespace {

using pg::Value;

// For LIKE: '_' is a wildcard.
std::string like_literal(const std::string& text) {
    std::string escaped;
    for (char c : text)
        escaped += (c == '_' ? std::string("\\_") : std::string(1, c));
    return escaped;
}

const char* kSummary = "SELECT count(*), coalesce(sum(pg_catalog.hashtextextended(t::text, 0)),"
                       " 0)::text FROM ";

} // namespace

const char* const kAppliedBeyond =
    "SELECT coalesce(bool_and(st.received_lsn > $2::pg_lsn AND NOT EXISTS ("
    "         SELECT FROM pg_catalog.pg_subscription_rel r"
    "          WHERE r.srsubid = su.oid AND r.srsubstate <> 'r')), false)::text"
    "  FROM pg_catalog.pg_subscription su"
    "  JOIN pg_catalog.pg_stat_subscription st ON st.subid = su.oid"
    " WHERE su.subname = $1 AND st.relid IS NULL AND su.subdbid ="
    "       (SELECT oid FROM pg_catalog.pg_database"
    "         WHERE datname = pg_catalog.current_database())";

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

Source describe_source(unsigned int oid, unsigned int parent, const std::string& what) {
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
    // The other valid indexes, rebuilt column by column (no name, no table:
    // the remote table has its own).
    for (const auto& row :
         spi.execute("SELECT i.indisunique,"
                     "       'USING ' || am.amname || ' (' ||"
                     "       (SELECT string_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k, true),"
                     "                          ', ' ORDER BY k)"
                     "          FROM generate_series(1, i.indnkeyatts) k) || ')' ||"
                     "       coalesce(' WHERE ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid),"
                     "                '')"
                     "  FROM pg_catalog.pg_index i"
                     "  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
                     "  JOIN pg_catalog.pg_am am ON am.oid = c.relam"
                     " WHERE i.indrelid = $1::oid AND NOT i.indisprimary AND i.indisvalid"
                     " ORDER BY i.indexrelid",
                     {std::to_string(oid)})
             .rows)
        source.other_indexes.push_back({*row[0] == "t", *row[1]});
    // Empty once detached (a split's cutover reads the columns after that).
    source.bound = spi.scalar("SELECT pg_catalog.pg_get_expr(relpartbound, oid)"
                              "  FROM pg_catalog.pg_class WHERE oid = $1::oid",
                              {std::to_string(oid)})
                       .value_or("");
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
                            "cannot " + what + ": the partition has generated columns");
        source.column_definitions.push_back(*row[0] + " " + *row[1] +
                                            (*row[2] == "t" ? " NOT NULL" : ""));
    }
    // The CHECK equal to the bound: PostgreSQL's own partition constraint.
    source.check = spi.scalar("SELECT pg_catalog.pg_get_partition_constraintdef($1::oid)",
                              {std::to_string(oid)})
                       .value_or("true");
    return source;
}

std::vector<std::string> create_index_statements(const Source& source, const std::string& table) {
    std::vector<std::string> statements;
    for (const Source::Index& index : source.other_indexes)
        statements.push_back(std::string("CREATE ") + (index.unique ? "UNIQUE " : "") +
                             "INDEX ON " + table + " " + index.definition);
    return statements;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + items[i];
    return out;
}

void require_local_prerequisites(const Source& source, const std::string& what) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    if (*spi.scalar("SELECT pg_catalog.current_setting('wal_level')") != "logical")
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "wal_level must be logical to " + what, "",
                        "Set wal_level = logical (and max_replication_slots, max_wal_senders) "
                        "and restart the server.");
    if (*spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_index"
                    " WHERE indrelid = $1::oid AND indisunique)",
                    {std::to_string(source.parent)}) == "t")
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "cannot " + what + ": there is a unique index on the partitioned table",
                        "PostgreSQL cannot attach a foreign table to a table with a unique "
                        "index (its uniqueness could not be enforced on the other server).",
                        "Drop the primary key or unique index of the partitioned table and define "
                        "it on each partition instead (ALTER TABLE partition ADD PRIMARY KEY).");
    if (*spi.scalar("SELECT partstrat FROM pg_catalog.pg_partitioned_table"
                    " WHERE partrelid = $1::oid",
                    {std::to_string(source.parent)}) != "r")
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "partition " + source.name + " is not a RANGE partition", "",
                        "pg_presplit moves partitions of RANGE-partitioned tables.");
    // Publishing UPDATE and DELETE needs a replica identity (the primary
    // key), or the writers' statements fail; the remote table gets it too.
    if (source.identity.empty())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "partition " + source.name + " has no primary key",
                        "Logical replication needs one to publish updates and deletes.",
                        "Add a primary key to the partition.");
}

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

unsigned int server_oid(const std::string& name) {
    return pg::call([&] { return GetForeignServerByName(name.c_str(), false)->serverid; });
}

void require_remote_prerequisites(Connection& remote, const std::string& server,
                                  const std::string& schema, const std::string& relname) {
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
                       {schema}) != "t")
        throw pg::Error(ERRCODE_UNDEFINED_SCHEMA,
                        "schema \"" + schema + "\" does not exist on server \"" + server + "\"", "",
                        "Create it there first.");
    if (*remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_class c"
                       "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                       " WHERE n.nspname = $1 AND c.relname = $2)",
                       {schema, relname}) == "t")
        throw pg::Error(ERRCODE_DUPLICATE_TABLE,
                        "relation " + pg::quote_ident(schema) + "." + pg::quote_ident(relname) +
                            " already exists on server \"" + server + "\"",
                        "", "Drop or rename it there, or move another partition.");
}

bool remote_subscription_exists(Connection& remote, const std::string& name) {
    return *remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_subscription"
                          " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                          " pg_catalog.pg_database WHERE datname = current_database()))",
                          {name}) == "t";
}

void create_subscription(Connection& remote, const std::string& name, bool copy_data,
                         bool enabled) {
    // Creating the slot waits for every transaction here that has an xid:
    // bounded, so that a long transaction here delays the step (a retry at
    // the next round), not the worker.
    remote.execute("SELECT pg_catalog.set_config('statement_timeout', $1, false)",
                   {std::to_string(config::remote_catchup_timeout_ms) + "ms"});
    if (!remote_subscription_exists(remote, name))
        remote.execute("CREATE SUBSCRIPTION " + name + " CONNECTION " +
                       pg::quote_literal(publisher_conninfo()) + " PUBLICATION " + name +
                       // Committed synchronously there during the initial
                       // copy: its table sync drops its slot here before its
                       // SYNCDONE state commits, so an asynchronous commit
                       // lost in a crash there leaves it streaming from a
                       // slot that is gone, for ever. initial_sync_done
                       // switches to asynchronous commits after it.
                       (copy_data ? " WITH (synchronous_commit = 'on'"
                                  : " WITH (create_slot = false, copy_data = false,"
                                    " synchronous_commit = 'off'") +
                       (enabled ? ")" : ", enabled = false)"));
    remote.execute("SELECT pg_catalog.set_config('statement_timeout', '0', false)");
}

bool local_slot_exists(const std::string& name) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return *spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_replication_slots"
                       " WHERE slot_name = $1)",
                       {name}) == "t";
}

void drop_inactive_local_slot(const std::string& name) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    spi.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name)"
                "  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND NOT active",
                {name});
}

bool publication_here(const std::string& name) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return *spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = $1)",
                       {name}) == "t";
}

std::optional<bool> local_slot_active(const std::string& name) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    const Value active = spi.scalar("SELECT active::text FROM pg_catalog.pg_replication_slots"
                                    " WHERE slot_name = $1",
                                    {name});
    if (!active)
        return std::nullopt;
    return *active == "true";
}

std::optional<std::string> remote_subscription_lost(Connection& remote, const std::string& name,
                                                    const std::string& server) {
    const Value slot = remote.scalar("SELECT coalesce(subslotname::text, '')"
                                     "  FROM pg_catalog.pg_subscription"
                                     " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                                     " pg_catalog.pg_database WHERE datname = current_database())",
                                     {name});
    const std::string subscription = "the subscription " + name + " on server \"" + server + "\"";
    if (!slot)
        return subscription + " was gone";
    if (*slot != name)
        return subscription + " was detached from its replication slot (slot_name = " +
               (slot->empty() ? "NONE" : *slot) + ")";
    return std::nullopt;
}

bool enable_remote_subscription(Connection& remote, const std::string& name) {
    if (remote.scalar("SELECT subenabled::text FROM pg_catalog.pg_subscription"
                      " WHERE subname = $1",
                      {name}) != Value("false"))
        return false;
    remote.execute("ALTER SUBSCRIPTION " + name + " ENABLE");
    return true;
}

void drop_replication(Connection& remote, const std::string& name, unsigned int owner,
                      bool drop_publication) {
    // The slots this server may hold for the subscription: its own and its
    // table synchronisation's (pg_<subscription oid>_sync_...).
    std::vector<std::string> slots{like_literal(name)};
    if (Value subscription = remote.scalar("SELECT oid::text FROM pg_catalog.pg_subscription"
                                           " WHERE subname = $1",
                                           {name})) {
        slots.push_back(like_literal("pg_" + *subscription + "_sync_") + "%");
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
                pg::sleep_on_latch(20);
            }
        }
    }
    if (drop_publication) {
        pg::RunAsTableOwner as_owner(owner);
        pg::SpiSession spi;
        spi.execute("DROP PUBLICATION IF EXISTS " + name);
    }
}

namespace {

// Whether the subscription `name` there has applied every change here up to
// `lsn` (kAppliedBeyond).
bool applied_there(Connection& remote, const std::string& name, const std::string& lsn) {
    return remote.scalar(kAppliedBeyond, {name, lsn}) == Value("true");
}

} // namespace

std::string flush_remote_wal(Connection& remote) {
    // An xid alone is not enough: a transaction that wrote no WAL before
    // its commit record commits asynchronously whatever synchronous_commit
    // says (RecordTransactionCommit). The logical message is that WAL; no
    // subscription of ours receives it (pgoutput sends messages only when
    // asked).
    // The insert position, read last: past every commit there before this
    // statement (and past its message; its commit record changes no table).
    return *remote
                .execute("SELECT pg_catalog.set_config('synchronous_commit', 'on', true),"
                         " pg_catalog.pg_current_xact_id(),"
                         " pg_catalog.pg_logical_emit_message(false, 'pg_presplit', ''),"
                         " pg_catalog.pg_current_wal_insert_lsn()::text")
                .at(0)
                .at(3);
}

std::optional<std::string> wait_for_catch_up(const std::string& name, const std::string& server,
                                             const std::string& label, Connection* remote) {
    return wait_for_catch_up({CatchUpTarget{name, server, label, remote}}).front();
}

std::vector<std::optional<std::string>>
wait_for_catch_up(const std::vector<CatchUpTarget>& targets) {
    return wait_for_catch_up(targets, mark_local_wal());
}

std::vector<std::optional<std::string>> wait_for_catch_up(const std::vector<CatchUpTarget>& targets,
                                                          const std::string& lsn) {
    // Why this loses nothing confirmed (docs/multi_server.md, "The wait at
    // the cutover"): the position is this server's WAL end, flushed, with a
    // record after it, so that the walsender reads past it and sends at
    // least a keepalive beyond it. Once the apply there received a message
    // beyond it, every transaction here up to it was applied and committed
    // there (in WAL order, one message after the other); a flushed commit
    // there (flush_remote_wal) then makes them durable, so a crash of either server
    // after the caller commits loses none of them. The slot's
    // confirmed_flush_lsn (the old test, still accepted) moves only when the
    // apply worker next reports, after its own flush: tens of ms.
    std::vector<bool> done(targets.size(), false);
    std::vector<std::optional<std::string>> flushed_at(targets.size());
    std::size_t left = targets.size();
    const instr_time started = pg::now();
    for (;;) {
        for (std::size_t i = 0; i < targets.size(); ++i) {
            if (done[i])
                continue;
            const CatchUpTarget& target = targets[i];
            Value confirmed;
            {
                pg::RunAsExtension as_extension;
                pg::SpiSession spi;
                confirmed = spi.scalar("SELECT confirmed_flush_lsn >= $2::pg_lsn"
                                       "  FROM pg_catalog.pg_replication_slots"
                                       " WHERE slot_name = $1",
                                       {target.name, lsn});
            }
            if (!confirmed)
                throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                "the replication slot of " + target.label + " is gone");
            if (*confirmed != "t" && target.remote &&
                applied_there(*target.remote, target.name, lsn)) {
                flushed_at[i] = flush_remote_wal(*target.remote);
                confirmed = Value("t");
            }
            if (*confirmed == "t") {
                done[i] = true;
                --left;
            } else if (pg::elapsed_ms(started) > config::remote_catchup_timeout_ms) {
                throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                                "server \"" + target.server +
                                    "\" has not applied the changes up to " + lsn +
                                    " within presplit.remote_catchup_timeout",
                                "", "The step is retried at a later round.");
            }
        }
        if (left == 0)
            return flushed_at;
        pg::sleep_on_latch(1);
    }
}

std::string mark_local_wal() {
    return pg::call([]() -> const char* {
        const XLogRecPtr insert = GetXLogInsertRecPtr();
        // Not sent to subscribers (pgoutput sends messages only when asked),
        // but the walsender reads it: a record past `insert`.
        const XLogRecPtr mark = LogLogicalMessage("pg_presplit", "", 0, false);
        XLogFlush(mark);
        char text[32];
        snprintf(text, sizeof text, "%X/%X", static_cast<uint32>(insert >> 32),
                 static_cast<uint32>(insert));
        return pstrdup(text);
    });
}

std::string flush_local_wal() {
    return pg::call([]() -> const char* {
        // Not XLogFlush(GetXLogInsertRecPtr()): at a page boundary the insert
        // position is past the next page's header, not written yet, and
        // XLogFlush fails ("xlog flush request ... is not satisfied"). A
        // record's end is always a valid target, and after every record
        // inserted before it.
        const XLogRecPtr end = LogLogicalMessage("pg_presplit", "", 0, false);
        XLogFlush(end);
        char text[32];
        snprintf(text, sizeof text, "%X/%X", static_cast<uint32>(end >> 32),
                 static_cast<uint32>(end));
        return pstrdup(text);
    });
}

Drained drain_lag(const std::string& name, const std::string& server, const std::string& label,
                  Connection* remote) {
    const instr_time started = pg::now();
    core::LagDrain drain(config::cutover_lock_timeout_ms, config::remote_catchup_timeout_ms);
    for (;;) {
        const instr_time round = pg::now();
        wait_for_catch_up(name, server, label, remote);
        const double round_ms = pg::elapsed_ms(round);
        const core::DrainAction action = drain.after_round(round_ms, pg::elapsed_ms(started));
        if (action == core::DrainAction::lock)
            return Drained{drain.rounds(), round_ms, pg::elapsed_ms(started)};
        if (action == core::DrainAction::give_up) {
            char took[32];
            snprintf(took, sizeof took, "%.0f ms", round_ms);
            throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                            "server \"" + server +
                                "\" does not keep up with the changes here within "
                                "presplit.remote_catchup_timeout",
                            std::string("Its last catch-up took ") + took +
                                ", more than presplit.cutover_lock_timeout.",
                            "The step is retried at a later round.");
        }
    }
}

Cut take_cut(Connection& remote, const std::string& name, const std::string& server,
             const std::string& label, unsigned int source_oid, const std::string& source,
             unsigned int owner) {
    migration::PlanLayout layout;
    layout.plan.source = source_oid;
    layout.source = source;
    layout.table_owner = owner;
    drain_lag(name, server, label, &remote);
    Cut cut;
    cut.tries = switchover::lock_shared(layout, "verification of " + label).tries;
    const instr_time locked = pg::now();
    cut.here = pg::call([] { return RegisterSnapshot(GetLatestSnapshot()); });
    wait_for_catch_up(name, server, label, &remote);
    remote.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    remote.execute("SELECT 1");
    pg::call([&] { UnlockRelationOid(source_oid, ShareLock); });
    cut.lock_held_ms = pg::elapsed_ms(locked);
    return cut;
}

bool initial_sync_done(Connection& remote, const std::string& name) {
    const Value state = remote.scalar("SELECT r.srsubstate::text || s.subsynccommit"
                                      "  FROM pg_catalog.pg_subscription_rel r"
                                      "  JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid"
                                      " WHERE s.subname = $1",
                                      {name});
    if (!state || state->empty() || (*state)[0] != 'r')
        return false;
    // Copied: from now on the apply commits asynchronously there. A flush per
    // applied transaction made it several times slower than the writes here
    // (docs/multi_server.md, "Apply throughput"). The slot still confirms
    // only what is flushed there, so nothing it confirmed can be lost in a
    // crash of the remote; wait_for_catch_up flushes there rather than wait
    // for its WAL writer.
    if (state->substr(1) != "off")
        remote.execute("ALTER SUBSCRIPTION " + name + " SET (synchronous_commit = 'off')");
    return true;
}

std::vector<std::string> local_summary(unsigned int owner, const std::string& from,
                                       SnapshotData* snapshot) {
    pg::RunAsTableOwner as_owner(owner);
    pg::CanonicalTextFormat canonical;
    pg::SpiSession spi;
    spi.execute("SELECT pg_catalog.set_config('TimeZone', 'UTC', true)");
    const pg::Row row = (snapshot ? spi.execute_in_snapshot(kSummary + from, snapshot)
                                  : spi.execute(kSummary + from))
                            .rows.at(0);
    return {*row[0], *row[1]};
}

std::vector<std::string> remote_summary(Connection& remote, const std::string& table) {
    remote.execute("SELECT pg_catalog.set_config('DateStyle', 'ISO, YMD', false),"
                   " pg_catalog.set_config('IntervalStyle', 'postgres', false),"
                   " pg_catalog.set_config('extra_float_digits', '3', false),"
                   " pg_catalog.set_config('TimeZone', 'UTC', false)");
    const pg::Row row = remote.execute(kSummary + table + " AS t").at(0);
    return {*row[0], *row[1]};
}

} // namespace presplit::remote
