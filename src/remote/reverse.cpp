#include "remote/reverse.hpp"
#include "remote/replication.hpp"

#include "config.hpp"
#include "core/lag_drain.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace presplit::remote {
namespace {

using pg::Value;

std::optional<std::string> local_subscription_oid(const std::string& name) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return spi.scalar("SELECT oid::text FROM pg_catalog.pg_subscription"
                      " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                      " pg_catalog.pg_database WHERE datname = current_database())",
                      {name});
}

void bound_statements(Connection& remote) {
    remote.execute("SELECT pg_catalog.set_config('statement_timeout', $1, false)",
                   {std::to_string(config::remote_catchup_timeout_ms) + "ms"});
}

} // namespace

std::optional<std::string> reverse_unavailable(Connection& remote, const ReverseTarget& target) {
    const std::string wal_level = *remote.scalar("SELECT pg_catalog.current_setting('wal_level')");
    if (wal_level != "logical")
        return "wal_level is " + wal_level + " on the other server, not logical";
    // The subscription's apply runs as a superuser (PostgreSQL 15 lets only
    // superusers own subscriptions): on the table of an owner who is not
    // one, none of the owner's code may run on a replicated change.
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    Value user_code = spi.scalar(
        "SELECT pg_catalog.concat_ws(', ',"
        "  (SELECT 'triggers enabled for replicas' WHERE EXISTS (SELECT FROM"
        "     pg_catalog.pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal"
        "     AND tgenabled IN ('R', 'A'))),"
        "  (SELECT 'index expressions or predicates' WHERE EXISTS (SELECT FROM"
        "     pg_catalog.pg_index WHERE indrelid = $1::oid"
        "     AND (indexprs IS NOT NULL OR indpred IS NOT NULL))),"
        "  (SELECT 'CHECK constraints' WHERE EXISTS (SELECT FROM pg_catalog.pg_constraint"
        "     WHERE conrelid = $1::oid AND contype = 'c')),"
        "  (SELECT 'columns of a domain' WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a"
        "     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid WHERE a.attrelid = $1::oid"
        "     AND a.attnum > 0 AND NOT a.attisdropped AND t.typtype = 'd')))"
        " WHERE NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = $2::oid)",
        {std::to_string(target.local_table), std::to_string(target.owner)});
    if (user_code && !user_code->empty())
        return "the table has " + *user_code +
               ", which the reverse subscription would run as a superuser";
    return std::nullopt;
}

void prepare_reverse(Connection& remote, const ReverseTarget& target) {
    bound_statements(remote);
    // The publication before the slot: decoding looks it up as of each
    // change it decodes.
    if (*remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = $1)",
                       {target.name}) != "t")
        remote.execute("CREATE PUBLICATION " + target.name + " FOR TABLE ONLY " +
                       target.remote_table);
    // A slot left by an earlier try that did not commit: a new one, so that
    // decoding does not start from that try's position.
    remote.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name)"
                   "  FROM pg_catalog.pg_replication_slots"
                   " WHERE slot_name = $1 AND database = current_database() AND NOT active",
                   {target.name});
    remote.execute("SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
                   {target.name});
    if (local_subscription_oid(target.name))
        return;
    const std::string conninfo = subscription_conninfo(target.server, target.owner);
    pg::RunAsExtension as_extension; // PostgreSQL 15: only superusers subscribe
    pg::SpiSession spi;
    try {
        // create_slot = false: allowed in a transaction (the cutover's).
        // Committed asynchronously here, as the forward subscriptions there
        // (create_subscription): a flush per applied transaction kept the
        // apply behind the writes there. Its slot there confirms only what
        // is flushed here, so nothing confirmed can be lost in a crash here;
        // wait_for_reverse_catch_up flushes while it waits.
        spi.execute("CREATE SUBSCRIPTION " + target.name + " CONNECTION " +
                    pg::quote_literal(conninfo) + " PUBLICATION " + target.name +
                    " WITH (create_slot = false, slot_name = " + pg::quote_literal(target.name) +
                    ", copy_data = false, enabled = false, synchronous_commit = 'off')");
    } catch (const pg::PgError& error) {
        // Without the statement's text (the error's context): it holds the
        // user mapping's password.
        throw pg::Error(error.sqlstate(), "could not create the subscription " + target.name +
                                              " of " + target.label + ": " + error.what());
    }
}

std::string reverse_start_lsn(Connection& remote) {
    return *remote.scalar("SELECT pg_catalog.pg_current_wal_lsn()::text");
}

bool start_reverse(const ReverseTarget& target, const std::string& lsn) {
    const std::optional<std::string> subscription = local_subscription_oid(target.name);
    if (!subscription)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "the subscription " + target.name + " of " + target.label + " is gone");
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    // The subscription's origin (named by PostgreSQL "pg_<oid>"): its worker
    // asks the server to stream from there.
    const std::string origin = "pg_" + *subscription;
    const bool behind =
        *spi.scalar("SELECT coalesce(pg_catalog.pg_replication_origin_progress($1, false)"
                    "                < $2::pg_lsn, true)::text",
                    {origin, lsn}) == "true";
    if (behind)
        spi.execute("SELECT pg_catalog.pg_replication_origin_advance($1, $2::pg_lsn)",
                    {origin, lsn});
    spi.execute("ALTER SUBSCRIPTION " + target.name + " ENABLE");
    return behind;
}

void wait_for_reverse_catch_up(Connection& remote, const ReverseTarget& target) {
    wait_for_reverse_catch_up({ReverseWait{&remote, &target}});
}

void wait_for_reverse_catch_up(const std::vector<ReverseWait>& waits) {
    // The forward wait's test the other way (wait_for_catch_up): each
    // server's WAL end, then a flushed commit there (flush_remote_wal) -- a
    // record past that position, so that its walsender sends it on (as a
    // keepalive at least) at once. Once the apply here received a
    // message beyond the position, it applied every transaction the server
    // committed up to it; one flush here then makes them durable.
    std::vector<std::string> lsns;
    for (const ReverseWait& wait : waits) {
        lsns.push_back(*wait.remote->scalar("SELECT pg_catalog.pg_current_wal_insert_lsn()::text"));
        // A statement of its own: its records come after the position read.
        flush_remote_wal(*wait.remote);
        if (!wait.remote->scalar("SELECT 1 FROM pg_catalog.pg_replication_slots"
                                 " WHERE slot_name = $1",
                                 {wait.target->name}))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "the replication slot " + wait.target->name + " of " +
                                wait.target->label + " is gone from the other server");
    }
    std::vector<bool> done(waits.size(), false);
    std::size_t left = waits.size();
    const instr_time started = pg::now();
    for (;;) {
        for (std::size_t i = 0; i < waits.size(); ++i) {
            if (done[i])
                continue;
            const ReverseTarget& target = *waits[i].target;
            if (!reverse_subscription_enabled(target))
                throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                "the subscription " + target.name + " of " + target.label +
                                    " is disabled or gone",
                                "",
                                "Just after the cutover the worker starts it within a round: "
                                "try again then.");
            bool applied = false;
            {
                pg::RunAsExtension as_extension;
                pg::SpiSession spi;
                applied = spi.scalar(kAppliedBeyond, {target.name, lsns[i]}) == Value("true");
            }
            if (applied) {
                done[i] = true;
                --left;
            } else if (pg::elapsed_ms(started) > config::remote_catchup_timeout_ms) {
                throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                                "this server has not applied the other server's changes up to " +
                                    lsns[i] + " within presplit.remote_catchup_timeout",
                                "", "Try again later.");
            }
        }
        if (left == 0)
            break;
        pg::sleep_on_latch(1);
    }
    // The apply here commits asynchronously: durable from here on.
    flush_local_wal();
}

void drain_reverse_lag(const std::vector<ReverseWait>& waits) {
    const instr_time started = pg::now();
    core::LagDrain drain(config::cutover_lock_timeout_ms, config::remote_catchup_timeout_ms);
    for (;;) {
        const instr_time round = pg::now();
        wait_for_reverse_catch_up(waits);
        const double round_ms = pg::elapsed_ms(round);
        const core::DrainAction action = drain.after_round(round_ms, pg::elapsed_ms(started));
        if (action == core::DrainAction::lock)
            return;
        if (action == core::DrainAction::give_up) {
            char took[32];
            snprintf(took, sizeof took, "%.0f ms", round_ms);
            throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                            "this server does not keep up with the other server's changes "
                            "within presplit.remote_catchup_timeout",
                            std::string("Its last catch-up took ") + took +
                                ", more than presplit.cutover_lock_timeout.",
                            "Try again later.");
        }
    }
}

void drop_reverse_subscription(const ReverseTarget& target) {
    if (!local_subscription_oid(target.name))
        return;
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    // Without its slot (dropping it would need a statement of its own,
    // outside any transaction): drop_reverse_publication drops that.
    spi.execute("ALTER SUBSCRIPTION " + target.name + " DISABLE");
    spi.execute("ALTER SUBSCRIPTION " + target.name + " SET (slot_name = NONE)");
    spi.execute("DROP SUBSCRIPTION " + target.name);
}

void drop_reverse_publication(Connection& remote, const ReverseTarget& target) {
    bound_statements(remote);
    // The walsender of a subscription being dropped may linger: ended.
    for (int i = 0; i < 500; ++i) {
        Value active = remote.scalar("SELECT active::text FROM pg_catalog.pg_replication_slots"
                                     " WHERE slot_name = $1",
                                     {target.name});
        if (!active)
            break;
        if (*active == "false") {
            remote.execute("SELECT pg_catalog.pg_drop_replication_slot($1)", {target.name});
            break;
        }
        remote.execute("SELECT pg_catalog.pg_terminate_backend(active_pid)"
                       "  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                       {target.name});
        pg::sleep_on_latch(20);
    }
    remote.execute("DROP PUBLICATION IF EXISTS " + target.name);
}

bool reverse_subscription_enabled(const ReverseTarget& target) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return spi.scalar("SELECT subenabled::text FROM pg_catalog.pg_subscription"
                      " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                      " pg_catalog.pg_database WHERE datname = current_database())",
                      {target.name}) == Value("true");
}

std::optional<std::string> reverse_lost(Connection& remote, const ReverseTarget& target) {
    Value slot;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        slot = spi.scalar("SELECT coalesce(subslotname::text, '') FROM pg_catalog.pg_subscription"
                          " WHERE subname = $1 AND subdbid = (SELECT oid FROM"
                          " pg_catalog.pg_database WHERE datname = current_database())",
                          {target.name});
    }
    if (!slot)
        return "the subscription " + target.name + " here is gone";
    // Detached from its slot (ALTER SUBSCRIPTION ... SET (slot_name =
    // NONE)): it can neither stream nor be enabled again.
    if (*slot != target.name)
        return "the subscription " + target.name + " here was detached from its replication slot";
    if (!remote.scalar("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                       {target.name}))
        return "the replication slot " + target.name + " on the other server is gone";
    return std::nullopt;
}

} // namespace presplit::remote
