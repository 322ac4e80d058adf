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
#include "remote/chunks.hpp"
#include "remote/connection.hpp"
#include "remote/replication.hpp"
#include "remote/reverse.hpp"
#include "remote/warmup.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
}

namespace presplit::remote {
namespace {

using pg::Value;

constexpr const char* kMoving = "move a partition to another server";

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

// --- replication -------------------------------------------------------------

std::string remote_table_name(const catalog::RemoteMove& move) {
    return pg::quote_ident(move.remote_schema) + "." + pg::quote_ident(move.remote_table);
}

// Drops the subscription (which drops its slots on this server), whatever
// slot is left (the remote could not reach us), and the publication; a
// running chunk's too.
void drop_replication(Connection& remote, const catalog::RemoteMove& move) {
    drop_replication(remote, chunk_name(replication_name(move.id)), move.owner,
                     /*drop_publication=*/move.source.has_value());
    drop_replication(remote, replication_name(move.id), move.owner,
                     /*drop_publication=*/move.source.has_value());
}

// The partition's copy to the other server in chunks (remote/chunks.hpp),
// for the partition `source` (its bound as `check`); nullopt when its table
// is partitioned by an expression (copied in one pass).
std::optional<ChunkedCopy> chunked_copy(const catalog::RemoteMove& move, const Source& source) {
    ChunkedCopy copy;
    copy.name = replication_name(move.id);
    copy.server = move.server;
    copy.owner = move.owner;
    copy.source_oid = source.oid;
    copy.source = source.name;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        const pg::QueryResult key =
            spi.execute("SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)"
                        "  FROM pg_catalog.pg_partitioned_table p"
                        "  JOIN pg_catalog.pg_attribute a"
                        "    ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
                        " WHERE p.partrelid = $1::oid AND p.partnatts = 1",
                        {std::to_string(source.parent)});
        if (key.rows.empty())
            return std::nullopt;
        copy.key_column = *key.rows[0][0];
        copy.key_type = *key.rows[0][1];
    }
    copy.key = pg::quote_ident(copy.key_column);
    copy.condition = source.check;
    copy.remote_table = remote_table_name(move);
    copy.label = catalog::move_label(move.id);
    copy.relation = move.source_name;
    const int64_t id = move.id;
    copy.load = [id] { return catalog::move_chunks(id); };
    copy.store = [id](const std::optional<catalog::RemoteChunks>& chunks) {
        catalog::set_move_chunks(id, chunks);
    };
    return copy;
}

// The move's subscription has applied every change here up to now
// (wait_for_catch_up); the server's position after it, when it flushed there.
// `mark`: mark_local_wal() under the cutover's lock.
std::optional<std::string> wait_for_remote_catch_up(Connection& remote,
                                                    const catalog::RemoteMove& move,
                                                    const std::string& mark) {
    return wait_for_catch_up({CatchUpTarget{replication_name(move.id), move.server,
                                            catalog::move_label(move.id), &remote}},
                             mark)
        .front();
}

// The lag drained without a lock (drain_lag).
Drained drain_remote_lag(Connection& remote, const catalog::RemoteMove& move) {
    return drain_lag(replication_name(move.id), move.server, catalog::move_label(move.id), &remote);
}

// Verification under one cut (take_cut), the scans of both sides after the
// lock is released: writers wait only for the cut, not for the scans.
bool verify(Connection& remote, const catalog::RemoteMove& move) {
    // By OID: the partition may have been renamed since the move began.
    const std::string source = pg::qualified_relation_name(*move.source);
    const Cut cut = take_cut(remote, replication_name(move.id), move.server,
                             catalog::move_label(move.id), *move.source, source, move.owner);
    const std::vector<std::string> local =
        local_summary(move.owner, "ONLY " + source + " AS t", cut.here);
    pg::call([&] { UnregisterSnapshot(cut.here); });
    const std::vector<std::string> there = remote_summary(remote, remote_table_name(move));
    remote.execute("COMMIT");
    const std::string detail = "here " + local[0] + " rows (checksum " + local[1] +
                               "), on server \"" + move.server + "\" " + there[0] +
                               " rows (checksum " + there[1] + ")";
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
    const Source source = describe_source(*move.source, move.parent, kMoving);
    // The sessions using the table open their connections there while the
    // objects below are prepared (remote/warmup.hpp).
    CutoverWarmup warmup(move.parent, *move.source, {server_oid(move.server)});
    // The reverse direction, prepared before the lock (remote objects, the
    // subscription here, disabled: the worker starts it once this commits).
    const ReverseTarget reverse = reverse_target(move, server_oid(move.server));
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
    const std::string parent = pg::qualified_relation_name(move.parent);
    const std::string foreign_relname = foreign_table_relname(move);
    const std::string foreign_table =
        pg::quote_ident(source.schema) + "." + pg::quote_ident(foreign_relname);
    unsigned int foreign_oid = 0;
    {
        // The foreign table before the lock: a new relation, locked by
        // nothing the writers hold (attached under the lock).
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("CREATE FOREIGN TABLE " + foreign_table + " (" +
                    join(source.column_definitions) + ") SERVER " + pg::quote_ident(move.server) +
                    " OPTIONS (schema_name " + pg::quote_literal(move.remote_schema) +
                    ", table_name " + pg::quote_literal(move.remote_table) + ")");
        foreign_oid = static_cast<unsigned int>(
            std::stoul(*spi.scalar("SELECT c.oid FROM pg_catalog.pg_class c"
                                   "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                   " WHERE n.nspname = $1 AND c.relname = $2",
                                   {source.schema, foreign_relname})));
    }
    // The rest of the warm-up; then the lag drained last, without the lock
    // (writes go on during the verification's scans), so that only what is
    // written while the lock is taken is left for the wait under it; the
    // announcement withdrawn right before the lock.
    warmup.wait();
    const Drained drained = drain_remote_lag(remote, move);
    warmup.withdraw();
    const instr_time started = pg::now();
    const switchover::LockReport lock =
        switchover::lock_exclusively(layout, true, "cutover of " + catalog::move_label(move.id));
    const instr_time locked = pg::now();
    pg::StepTimes steps; // under the lock, for the event
    // Writers wait for the lock: every change of the source is in the WAL
    // up to this mark. The other server catches up with it while the
    // catalog is changed here; the cutover commits only once it has
    // (wait_for_remote_catch_up below).
    const std::string mark = mark_local_wal();
    steps.step("the mark");
    if (!no_reverse) {
        // Nothing applied here from now on (by the reverse subscription) is
        // published there again. Decoding reads the publication as of each
        // change: what committed before this commits is still sent.
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER PUBLICATION " + replication_name(move.id) + " DROP TABLE " +
                    source.name);
        steps.step("publication");
    }
    {
        pg::RunAsTableOwner as_owner(move.owner);
        pg::SpiSession spi;
        spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + source.name);
        steps.step("detach");
        // NOT VALID (no scan here): a rollback validates it before its lock
        // and then attaches the source without a scan.
        spi.execute("ALTER TABLE " + source.name + " ADD CONSTRAINT " +
                    migration::old_bound_constraint_name() + " CHECK (" + source.check +
                    ") NOT VALID");
        steps.step("check");
        spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + foreign_table + " " +
                    source.bound);
        steps.step("attach");
    }
    catalog::set_move_cut_over(move.id, foreign_oid);
    catalog::set_move_state(move, "cut_over");
    steps.step("catalog");
    const std::optional<std::string> flushed_at = wait_for_remote_catch_up(remote, move, mark);
    const double catch_up_ms = pg::elapsed_ms(locked);
    steps.step("the rest of the wait");
    if (!no_reverse) {
        // Everything from here is there: the other way starts at the
        // server's position now (read in the wait's flush there, past every
        // change it applied).
        catalog::set_move_reverse(move.id, flushed_at ? *flushed_at : reverse_start_lsn(remote));
        steps.step("reverse start");
    }
    char held[256];
    snprintf(held, sizeof held,
             "%.1f ms to lock, held %.1f ms (the server caught up %.1f ms after the lock, the "
             "catalog changed meanwhile); the lag drained before it in %d round%s, %.1f ms, the "
             "last %.1f ms",
             pg::elapsed_ms(started) - pg::elapsed_ms(locked), pg::elapsed_ms(locked), catch_up_ms,
             drained.rounds, drained.rounds == 1 ? "" : "s", drained.total_ms,
             drained.last_round_ms);
    catalog::log_event(std::nullopt, move.source_name, "remote_cutover",
                       catalog::move_label(move.id) + ": " + std::to_string(lock.tries) +
                           " tries, " + held + "; under the lock: " + steps.summary() + "; " +
                           warmup.summary());
    if (no_reverse)
        catalog::log_event(std::nullopt, move.source_name, "remote_reverse_unavailable",
                           catalog::move_label(move.id) + ": " + *no_reverse +
                               "; rollback_move is refused");
}

// The forward direction lost before the cutover (docs/multi_server.md,
// "Faults"): its slot here gone, or its subscription there gone or detached
// from that slot (remote_subscription_lost); the changes since are lost to
// the table there. Re-synced, as a split's remote target is
// (remote/split.hpp): what is left of the subscription and the slot here
// dropped, the table there emptied and copied again by a new subscription,
// verified again. Creating the slot waits for every transaction here that
// has an xid: call it before this transaction writes anything. Returns what
// was lost ("... was gone").
std::optional<std::string> resync_forward(Connection& remote, const catalog::RemoteMove& move) {
    const std::string name = replication_name(move.id);
    const bool slot_here = local_slot_exists(name);
    const std::optional<std::string> lost_there =
        remote_subscription_lost(remote, name, move.server);
    if (slot_here && !lost_there)
        return std::nullopt;
    drop_replication(remote, name, move.owner, /*drop_publication=*/false);
    remote.execute("TRUNCATE " + remote_table_name(move));
    // A running chunk's rows went with it: it is copied again.
    drop_replication(remote, chunk_name(name), move.owner, /*drop_publication=*/false);
    create_subscription(remote, name);
    return !slot_here ? "the replication slot " + name + " here was gone" : *lost_there;
}

// A disabled subscription there is enabled again.
void repair_forward(Connection& remote, const catalog::RemoteMove& move) {
    const std::string name = replication_name(move.id);
    if (enable_remote_subscription(remote, name)) {
        catalog::log_event(std::nullopt, move.source_name, "remote_move_repaired",
                           catalog::move_label(move.id) + ": the subscription " + name +
                               " on server \"" + move.server + "\" was disabled: enabled again");
    }
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
    const unsigned int server = server_oid(move.server);
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
    // The reverse direction's lag drained first, without the lock.
    drain_reverse_lag({ReverseWait{&remote, &reverse}});
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
    // More than presplit.remote_copy_chunk_rows rows: copied in chunks, the
    // subscription starting with the first.
    const std::optional<ChunkedCopy> copy = chunked_copy(move, source);
    const std::optional<std::string> first_end = copy ? first_chunk_end(*copy) : std::nullopt;
    if (first_end)
        catalog::set_move_chunks(move.id,
                                 catalog::RemoteChunks{*first_end, false, std::nullopt, false});
    {
        // As the owner: CREATE PUBLICATION ... FOR TABLE needs the table's
        // owner (and CREATE on the database). The bound as a row filter
        // changes no row but makes the initial sync a COPY (SELECT ...),
        // which runs through the executor here and so can be paced
        // (remote/copy_throttle.hpp).
        pg::RunAsTableOwner as_owner(source.owner);
        pg::SpiSession spi;
        spi.execute("CREATE PUBLICATION " + replication_name(move.id) + " FOR TABLE ONLY " +
                    source.name + " WHERE (" +
                    (first_end ? chunk_filter(*copy, std::nullopt, first_end) : source.check) +
                    ")");
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
    const unsigned int server = server_oid(move->server);
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
    if (move->state == "backfilling" || move->state == "synced") {
        if (const std::optional<std::string> lost = resync_forward(remote, *move)) {
            move = catalog::load_move(id, /*lock=*/true);
            if (move->state != "backfilling" && move->state != "synced") { // rolled back meanwhile
                drop_replication(remote, *move);
                return false;
            }
            if (move->state == "synced")
                catalog::set_move_state(*move, "backfilling", "re-sync: " + *lost);
            catalog::log_event(std::nullopt, move->source_name, "remote_move_resync",
                               catalog::move_label(id) + ": " + *lost +
                                   "; the table there emptied and copied again");
            return true;
        }
    }
    // Its chunks (remote/chunks.hpp), before this transaction writes
    // anything (a chunk's subscription creates a slot); a copied chunk is
    // folded in even while presplit.backfill_paused holds new ones.
    std::optional<ChunkedCopy> copy;
    if (move->state == "backfilling" && move->source && catalog::move_chunks(id))
        copy = chunked_copy(*move, describe_source(*move->source, move->parent, kMoving));
    if (copy) {
        bool wrote_here = false;
        const ChunkStep step = advance_chunks(
            *copy, !config::backfill_paused, [](double) { return true; }, &wrote_here);
        if (step == ChunkStep::acted)
            return true;
        if (step == ChunkStep::subscribed) {
            move = catalog::load_move(id, /*lock=*/true);
            if (move->state != "backfilling") { // rolled back meanwhile
                drop_replication(remote, *move);
                return false;
            }
            return true;
        }
        if (step == ChunkStep::waiting)
            return false;
    }
    move = catalog::load_move(id, /*lock=*/true);
    if (move->state == "backfilling") {
        repair_forward(remote, *move);
        if (!initial_sync_done(remote, replication_name(id)) || config::backfill_paused ||
            catalog::move_chunks(id))
            return false; // the copy runs, or presplit.backfill_paused holds us
        if (!verify(remote, *move))
            return true;
        catalog::set_move_state(*move, "synced");
        return true;
    }
    if (move->state == "synced") {
        if (config::backfill_paused)
            return false;
        repair_forward(remote, *move);
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
    const unsigned int server = server_oid(move.server);
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
    // Last, once everything here that can fail (the DROP TABLE waits for
    // the partition's lock) has succeeded: what is dropped on the other
    // server stays dropped if this transaction aborts, and a move whose
    // reverse direction is gone can no longer be rolled back.
    if (move.replicating || move.reversing) {
        const unsigned int server = server_oid(move.server);
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
}

} // namespace presplit::remote
