#include "remote/split.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/retry_backoff.hpp"
#include "core/text_array.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/chunks.hpp"
#include "remote/connection.hpp"
#include "remote/replication.hpp"
#include "remote/snapshot_copy.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "postgres.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <map>
#include <set>

namespace presplit::remote {
namespace {

constexpr const char* kSplitting = "split a partition onto another server";

// The table of a remote target on its server: named like the source, as
// logical replication applies a published table's changes to the table of
// the same name (so a server takes one target of a split).
std::string remote_table(const migration::PlanLayout& layout) {
    return pg::quote_ident(layout.source_schema) + "." + pg::quote_ident(layout.source_relname);
}

std::string target_condition(const migration::PlanLayout& layout,
                             const migration::ShadowLayout& shadow, const std::string& prefix) {
    return migration::range_condition(layout.key, layout.key_type, shadow.row.lower_value,
                                      shadow.row.upper_value, prefix);
}

std::string target_label(const migration::PlanLayout& layout,
                         const migration::ShadowLayout& shadow) {
    return catalog::plan_label(layout.plan.id) + ", target " + std::to_string(shadow.row.ordinal) +
           " on server \"" + *shadow.row.server + "\"";
}

std::string name_of(const migration::PlanLayout& layout, const migration::ShadowLayout& shadow) {
    return split_replication_name(layout.plan.id, shadow.row.ordinal);
}

ReverseTarget reverse_target(const migration::PlanLayout& layout,
                             const migration::ShadowLayout& shadow) {
    ReverseTarget target;
    target.name = split_reverse_name(layout.plan.id, shadow.row.ordinal);
    target.server = server_oid(*shadow.row.server);
    target.owner = layout.table_owner;
    target.remote_table = remote_table(layout);
    target.local_table = layout.plan.source;
    target.label = target_label(layout, shadow);
    return target;
}

RemoteReverse::Target connect_reverse(const migration::PlanLayout& layout,
                                      const migration::ShadowLayout& shadow) {
    RemoteReverse::Target target;
    target.ordinal = shadow.row.ordinal;
    target.reverse = reverse_target(layout, shadow);
    target.remote = std::make_unique<Connection>(target.reverse.server, layout.table_owner);
    return target;
}

// The foreign table of a remote target here: named like a local shadow.
std::string foreign_table_of(const migration::PlanLayout& layout,
                             const migration::ShadowLayout& shadow) {
    return pg::quote_ident(layout.source_schema) + "." +
           pg::quote_ident(migration::shadow_table_name(layout.source_relname, layout.plan.id,
                                                        shadow.row.ordinal));
}

// Creates the remote target's foreign table unless it exists; its OID.
unsigned int ensure_foreign_table(const migration::PlanLayout& layout,
                                  const migration::ShadowLayout& shadow, const Source& source,
                                  pg::SpiSession& spi) {
    const std::string foreign_table = foreign_table_of(layout, shadow);
    if (auto oid = spi.scalar("SELECT to_regclass($1)::oid", {foreign_table}))
        return static_cast<unsigned int>(std::stoul(*oid));
    spi.execute("CREATE FOREIGN TABLE " + foreign_table + " (" + join(source.column_definitions) +
                ") SERVER " + pg::quote_ident(*shadow.row.server) + " OPTIONS (schema_name " +
                pg::quote_literal(layout.source_schema) + ", table_name " +
                pg::quote_literal(layout.source_relname) + ")");
    return static_cast<unsigned int>(
        std::stoul(*spi.scalar("SELECT $1::regclass::oid", {foreign_table})));
}

// The target's copy, in chunks or one pass (remote/chunks.hpp).
ChunkedCopy chunked_copy(const migration::PlanLayout& layout,
                         const migration::ShadowLayout& shadow) {
    ChunkedCopy copy;
    copy.name = name_of(layout, shadow);
    copy.server = *shadow.row.server;
    copy.owner = layout.table_owner;
    copy.source_oid = layout.plan.source;
    copy.source = layout.source;
    copy.key = layout.key;
    copy.key_column = layout.key_column;
    copy.key_type = layout.key_type;
    copy.condition = target_condition(layout, shadow, "");
    copy.remote_table = remote_table(layout);
    copy.label = target_label(layout, shadow);
    copy.plan_id = layout.plan.id;
    copy.relation = layout.source;
    const int64_t plan_id = layout.plan.id;
    const int ordinal = shadow.row.ordinal;
    copy.load = [plan_id, ordinal] { return catalog::remote_chunks(plan_id, ordinal); };
    copy.store = [plan_id, ordinal](const std::optional<catalog::RemoteChunks>& chunks) {
        catalog::set_remote_chunks(plan_id, ordinal, chunks);
    };
    return copy;
}

} // namespace

std::string split_replication_name(int64_t plan_id, int ordinal) {
    return "presplit_split_" + std::to_string(plan_id) + "_" + std::to_string(ordinal);
}

std::string split_reverse_name(int64_t plan_id, int ordinal) {
    return "presplit_back_split_" + std::to_string(plan_id) + "_" + std::to_string(ordinal);
}

bool has_remote_targets(const migration::PlanLayout& layout) {
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server)
            return true;
    return false;
}

void check_remote_targets(const migration::SplitRequest& request) {
    if (request.servers.empty())
        return;
    const size_t targets = request.split_points.size() + 1;
    if (request.servers.size() != targets)
        throw pg::Error(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                        "servers must name one server (or NULL) per target",
                        std::to_string(request.split_points.size()) + " split points make " +
                            std::to_string(targets) + " targets; servers has " +
                            std::to_string(request.servers.size()) + " elements.",
                        "Pass NULL for a target that stays on this server, e.g. servers => "
                        "ARRAY[NULL, 'node2'].");
    if (!catalog::has_shadow_servers())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "pg_presplit's catalog is older than this library", "",
                        "Run ALTER EXTENSION pg_presplit UPDATE to split onto other servers.");
    const Source source = describe_source(request.source, request.parent, kSplitting);
    std::set<std::string> seen;
    std::vector<std::pair<std::string, unsigned int>> servers; // name, OID
    for (const auto& server : request.servers) {
        if (!server)
            continue;
        if (!seen.insert(*server).second)
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "server \"" + *server + "\" is given for more than one target",
                            "A remote target's table is named like the source partition, as "
                            "logical replication needs: a server takes one target of a split.",
                            "Split in two steps, or send the targets to different servers.");
        servers.emplace_back(*server, require_server(*server, source.owner));
    }
    require_local_prerequisites(source, kSplitting);
    // The row filters are on the key: PostgreSQL publishes updates and
    // deletes through a row filter only on replica identity columns.
    if (std::find(source.identity.begin(), source.identity.end(),
                  pg::quote_ident(request.key_column)) == source.identity.end())
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "the partition key \"" + request.key_column +
                            "\" is not part of the primary key of " + source.name,
                        "Each remote target is published with a row filter on the key, which "
                        "PostgreSQL allows only on the columns of the replica identity.",
                        "Include the key in the partition's primary key.");
    (void)publisher_conninfo(); // checked now, used by the worker
    for (const auto& [name, oid] : servers) {
        Connection remote(oid, source.owner);
        require_remote_prerequisites(remote, name, source.schema, source.relname);
    }
}

void create_remote_targets(const migration::PlanLayout& layout) {
    if (!has_remote_targets(layout))
        return;
    const Source source = describe_source(layout.plan.source, layout.plan.parent, kSplitting);
    // A range of more than presplit.remote_copy_chunk_rows rows is copied in
    // chunks: the target's subscription starts with the first.
    std::map<int, std::string> first_chunk_ends;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server)
            if (std::optional<std::string> end = first_chunk_end(chunked_copy(layout, shadow))) {
                first_chunk_ends[shadow.row.ordinal] = *end;
                catalog::set_remote_chunks(layout.plan.id, shadow.row.ordinal,
                                           catalog::RemoteChunks{*end, false, std::nullopt, false});
            }
    {
        // As the owner: CREATE PUBLICATION ... FOR TABLE needs the table's
        // owner (and CREATE on the database). The row filter is the
        // target's range (its first chunk); PostgreSQL 15 turns an update
        // that moves a row into or out of it into an insert or a delete.
        pg::RunAsTableOwner as_owner(layout.table_owner);
        pg::SpiSession spi;
        for (const auto& shadow : layout.shadows) {
            if (!shadow.row.server)
                continue;
            const auto first_end = first_chunk_ends.find(shadow.row.ordinal);
            spi.execute("CREATE PUBLICATION " + name_of(layout, shadow) + " FOR TABLE ONLY " +
                        layout.source + " WHERE (" +
                        chunk_filter(chunked_copy(layout, shadow), std::nullopt,
                                     first_end == first_chunk_ends.end()
                                         ? std::nullopt
                                         : std::optional<std::string>(first_end->second)) +
                        ")");
        }
    }
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        std::vector<std::string> definitions = source.column_definitions;
        definitions.push_back("PRIMARY KEY (" + join(source.identity) + ")");
        definitions.push_back("CONSTRAINT presplit_bound CHECK (" + layout.key +
                              " IS NOT NULL AND " + target_condition(layout, shadow, "") + ")");
        Connection remote(server_oid(*shadow.row.server), layout.table_owner);
        remote.execute("CREATE TABLE " + remote_table(layout) + " (" + join(definitions) + ")");
        for (const std::string& statement : create_index_statements(source, remote_table(layout)))
            remote.execute(statement);
        catalog::log_event(layout.plan.id, layout.source, "remote_target",
                           target_label(layout, shadow) + ": table " + remote_table(layout) +
                               " created there, publication " + name_of(layout, shadow) + " here" +
                               (first_chunk_ends.count(shadow.row.ordinal)
                                    ? "; copied in chunks of " +
                                          std::to_string(config::remote_copy_chunk_rows) +
                                          " rows (presplit.remote_copy_chunk_rows)"
                                    : ""));
    }
}

bool remote_copy_would_start(const migration::PlanLayout& layout) {
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server && !local_slot_exists(name_of(layout, shadow)))
            return true;
    return false;
}

namespace {

void log_table_sync_started(const migration::PlanLayout& layout,
                            const migration::ShadowLayout& shadow, const std::string& note) {
    catalog::log_event(layout.plan.id, layout.source, "remote_copy_started",
                       target_label(layout, shadow) + ": subscription " + name_of(layout, shadow) +
                           " created there; its initial table sync copies the rows now "
                           "(paced by presplit.backfill_max_rows_per_second)" +
                           (note.empty() ? "" : "; " + note));
}

} // namespace

Subscribing subscribe_remote_targets(const migration::PlanLayout& layout,
                                     const std::string& start_note,
                                     std::vector<SnapshotCopy>* by_snapshot) {
    struct Subscribed {
        const migration::ShadowLayout* shadow;
        std::optional<std::string> resync; // what was lost ("... was gone"), when copied again
    };
    std::vector<Subscribed> created;
    std::vector<const migration::ShadowLayout*> enabled;
    Subscribing done = Subscribing::nothing;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        const std::string name = name_of(layout, shadow);
        // Streaming: its subscription there is there, with this slot.
        const std::optional<bool> slot_active = local_slot_active(name);
        if (slot_active && *slot_active)
            continue;
        Connection remote(server_oid(*shadow.row.server), layout.table_owner);
        done = Subscribing::looked;
        std::optional<std::string> resync;
        if (slot_active) {
            // A slot here that nothing streams from: its subscription there
            // gone, or detached from the slot (slot_name = NONE), is lost
            // (the slot would hold WAL for nothing, the changes since are
            // lost to the table there); disabled, it is enabled again;
            // otherwise its worker is starting.
            resync = remote_subscription_lost(remote, name, *shadow.row.server);
            if (!resync) {
                if (enable_remote_subscription(remote, name))
                    enabled.push_back(&shadow);
                continue;
            }
            drop_replication(remote, name, layout.table_owner, /*drop_publication=*/false);
        } else if (remote_subscription_exists(remote, name)) {
            // Its subscription there without its slot here (dropped by hand,
            // or lost): the changes since are lost to it.
            drop_replication(remote, name, layout.table_owner, /*drop_publication=*/false);
            resync = "the replication slot " + name + " here was gone";
        } else if (remote.scalar("SELECT EXISTS (SELECT FROM " + remote_table(layout) + ")") ==
                   "t") {
            // The subscription gone and rows left there.
            resync = "the subscription " + name + " there was gone";
        }
        // Re-synced: the table there emptied, copied again by a new
        // subscription, and verified again.
        if (resync) {
            remote.execute("TRUNCATE " + remote_table(layout));
            // A running chunk's rows went with it: its chunk is copied again
            // (advance_remote_chunks), and meanwhile adds nothing.
            drop_chunk_subscription(remote, chunked_copy(layout, shadow));
        }
        if (by_snapshot && config::remote_copy_by_snapshot) {
            by_snapshot->push_back({shadow.row.ordinal, resync, start_note});
            continue;
        }
        create_subscription(remote, name);
        created.push_back({&shadow, resync});
    }
    // Created only once the plan's copy runs (presplit.backfill_paused off,
    // a predicted plan's copy released inside its window): from here
    // PostgreSQL's table sync copies at its own pace. Written after the last
    // one: a catalog write gives this transaction an xid, which the next
    // slot's creation would wait for.
    const std::map<int, std::string> phases = catalog::progress_phases(layout.plan.id);
    for (const Subscribed& subscribed : created) {
        const migration::ShadowLayout& shadow = *subscribed.shadow;
        const auto phase = phases.find(shadow.row.ordinal);
        if (phase != phases.end() && phase->second == "done")
            catalog::set_progress(layout.plan.id, shadow.row.ordinal, "waiting", 0);
        if (subscribed.resync)
            catalog::log_event(layout.plan.id, layout.source, "remote_target_resync",
                               target_label(layout, shadow) + ": " + *subscribed.resync +
                                   "; the table there emptied and copied again");
        log_table_sync_started(layout, shadow, start_note);
    }
    for (const migration::ShadowLayout* shadow : enabled)
        catalog::log_event(layout.plan.id, layout.source, "remote_target_repaired",
                           target_label(layout, *shadow) + ": the subscription " +
                               name_of(layout, *shadow) + " there was disabled: enabled again");
    return created.empty() && enabled.empty() && (!by_snapshot || by_snapshot->empty())
               ? done
               : Subscribing::acted;
}

namespace {

const migration::ShadowLayout& remote_shadow(const migration::PlanLayout& layout, int ordinal) {
    for (const auto& shadow : layout.shadows)
        if (shadow.row.ordinal == ordinal && shadow.row.server)
            return shadow;
    throw pg::Error(ERRCODE_INTERNAL_ERROR, "split plan " + std::to_string(layout.plan.id) +
                                                " has no target " + std::to_string(ordinal) +
                                                " on another server");
}

} // namespace

std::string remote_target_replication(const migration::PlanLayout& layout, int ordinal) {
    return name_of(layout, remote_shadow(layout, ordinal));
}

void announce_remote_copy(const migration::PlanLayout& layout, const SnapshotCopy& copy) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, copy.ordinal);
    const std::string name = name_of(layout, shadow);
    const std::string label = target_label(layout, shadow);
    if (copy.resync)
        catalog::log_event(layout.plan.id, layout.source, "remote_target_resync",
                           label + ": " + *copy.resync +
                               "; the table there emptied and copied again");
    catalog::log_event(layout.plan.id, layout.source, "remote_copy_started",
                       label + ": the rows copied now under the snapshot of the replication slot " +
                           name +
                           " made here, with COPY into the table there (paced by "
                           "presplit.backfill_max_rows_per_second), then the "
                           "subscription " +
                           name + " created there on that slot" +
                           (copy.start_note.empty() ? "" : "; " + copy.start_note));
}

RemoteCopyDone copy_remote_target(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                                  const std::function<void()>& between_batches) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, copy.ordinal);
    const std::string name = name_of(layout, shadow);
    // The source locked first, before anything there: a cancel that holds
    // it exclusively and waits for the table there would otherwise wait for
    // this transaction there while it waits for the cancel here, a cycle
    // across two servers that no deadlock detector sees. Held to the end,
    // as the copy's scan would hold it.
    pg::call([&] { LockRelationOid(layout.plan.source, AccessShareLock); });
    pg::StepTimes times;
    Connection remote(server_oid(*shadow.row.server), layout.table_owner);
    // No timeout of that role's cuts a long (paced) copy short; dates read
    // there as written here.
    remote.execute("SELECT pg_catalog.set_config('statement_timeout', '0', false),"
                   " pg_catalog.set_config('lock_timeout', '0', false),"
                   " pg_catalog.set_config('idle_in_transaction_session_timeout', '0', false),"
                   " pg_catalog.set_config('DateStyle', 'ISO, YMD', false),"
                   " pg_catalog.set_config('IntervalStyle', 'postgres', false)");
    // One transaction there. The subscription first: it fails at once when
    // that server cannot reach this one, before any row is sent. The chunks'
    // subscription (prepare_remote_copy) enabled in it too. At its commit,
    // the rows in, the launcher there starts both apply workers in one pass.
    remote.execute("BEGIN");
    create_subscription(remote, name, /*copy_data=*/false);
    times.step("the subscription");
    RemoteCopyDone done;
    done.rows = copy_published_rows(name, layout.plan.source, layout.table_owner, layout.source,
                                    remote, remote_table(layout), between_batches);
    times.step("the copy");
    done.chunks_enabled = enable_remote_subscription(remote, chunk_name(name));
    remote.execute("COMMIT");
    times.step("the commit there");
    done.times = times.summary();
    return done;
}

void finish_remote_copy(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                        const RemoteCopyDone& done) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, copy.ordinal);
    const std::string name = name_of(layout, shadow);
    const std::map<int, std::string> phases = catalog::progress_phases(layout.plan.id);
    const auto phase = phases.find(shadow.row.ordinal);
    if (phase != phases.end() && phase->second == "done")
        catalog::set_progress(layout.plan.id, shadow.row.ordinal, "waiting", 0);
    catalog::log_event(layout.plan.id, layout.source, "remote_copy_done",
                       target_label(layout, shadow) + ": " + std::to_string(done.rows) +
                           " rows copied; the subscription " + name +
                           " created there on its slot, without a copy" +
                           (done.chunks_enabled ? ", and " + chunk_name(name) + " enabled" : "") +
                           " (" + done.times + ")");
}

void subscribe_by_table_sync(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                             const std::string& why) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, copy.ordinal);
    const std::string name = name_of(layout, shadow);
    Connection remote(server_oid(*shadow.row.server), layout.table_owner);
    create_subscription(remote, name);
    // Made for the copy by snapshot: the table sync wants it running.
    (void)enable_remote_subscription(remote, chunk_name(name));
    if (copy.resync)
        catalog::log_event(layout.plan.id, layout.source, "remote_target_resync",
                           target_label(layout, shadow) + ": " + *copy.resync +
                               "; the table there emptied and copied again");
    log_table_sync_started(layout, shadow,
                           copy.start_note.empty() ? why : copy.start_note + "; " + why);
}

void prepare_remote_copy(const migration::PlanLayout& layout, int ordinal) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, ordinal);
    Connection remote(server_oid(*shadow.row.server), layout.table_owner);
    prepare_chunk_subscription(chunked_copy(layout, shadow), remote);
}

void abandon_remote_copy(const migration::PlanLayout& layout, int ordinal) {
    const migration::ShadowLayout& shadow = remote_shadow(layout, ordinal);
    const std::string name = name_of(layout, shadow);
    // Here first: these slots hold WAL, and the other server may be what
    // failed. The chunks' one was made disabled for this copy
    // (prepare_remote_copy); a subscription left there without its slot is
    // made again by the next try.
    drop_inactive_local_slot(name);
    drop_inactive_local_slot(chunk_name(name));
    Connection remote(server_oid(*shadow.row.server), layout.table_owner);
    drop_replication(remote, name, layout.table_owner, /*drop_publication=*/false);
    drop_chunk_subscription(remote, chunked_copy(layout, shadow));
}

ChunkStep advance_remote_chunks(const migration::PlanLayout& layout, bool may_start,
                                const std::function<bool(double rows)>& chunk_fits) {
    ChunkStep result = ChunkStep::none;
    bool wrote_here = false;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        const ChunkStep step =
            advance_chunks(chunked_copy(layout, shadow), may_start, chunk_fits, &wrote_here);
        if (step == ChunkStep::acted || step == ChunkStep::subscribed)
            return step;
        if (step == ChunkStep::waiting)
            result = step;
    }
    return result;
}

bool remote_chunks_left(const migration::PlanLayout& layout) {
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server && chunks_left(chunked_copy(layout, shadow)))
            return true;
    return false;
}

RemoteCheck verify_next_remote_target(const migration::PlanLayout& layout) {
    const std::map<int, std::string> phases = catalog::progress_phases(layout.plan.id);
    const migration::ShadowLayout* next = nullptr;
    for (const auto& shadow : layout.shadows) {
        auto phase = phases.find(shadow.row.ordinal);
        if (shadow.row.server && (phase == phases.end() || phase->second != "done")) {
            next = &shadow;
            break;
        }
    }
    if (!next)
        return RemoteCheck::none;
    const std::string name = name_of(layout, *next);
    if (remote_chunks_left(layout))
        return RemoteCheck::waiting;
    Connection remote(server_oid(*next->row.server), layout.table_owner);
    if (!initial_sync_done(remote, name))
        return RemoteCheck::waiting;
    // The cut, as a move's verification takes it (take_cut): writers wait
    // for the cut, not for the scans.
    const std::string label = target_label(layout, *next);
    const Cut cut = take_cut(remote, name, *next->row.server, label, layout.plan.source,
                             layout.source, layout.table_owner);
    const std::vector<std::string> here = local_summary(
        layout.table_owner,
        "ONLY " + layout.source + " AS t WHERE " + target_condition(layout, *next, "t."), cut.here);
    pg::call([&] { UnregisterSnapshot(cut.here); });
    const std::vector<std::string> there = remote_summary(remote, remote_table(layout));
    remote.execute("COMMIT");
    char held[96];
    snprintf(held, sizeof held, "; the cut: %d tries, the lock held %.1f ms", cut.tries,
             cut.lock_held_ms);
    const std::string detail = "here " + here[0] + " rows (checksum " + here[1] + "), there " +
                               there[0] + " rows (checksum " + there[1] + ")";
    if (here != there) {
        catalog::set_plan_state(layout.plan.id, core::PlanState::failed,
                                "verification failed: " + target_label(layout, *next) + ": " +
                                    detail);
        return RemoteCheck::failed;
    }
    catalog::set_progress(layout.plan.id, next->row.ordinal, "done", 0);
    catalog::log_event(layout.plan.id, layout.source, "remote_target_verified",
                       label + ": " + detail + held);
    return RemoteCheck::verified;
}

std::vector<unsigned int> remote_target_servers(const migration::PlanLayout& layout) {
    std::vector<unsigned int> servers;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server)
            servers.push_back(server_oid(*shadow.row.server));
    return servers;
}

TargetConnections drain_remote_targets(const migration::PlanLayout& layout) {
    TargetConnections connections;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        // Its changes since the slot went (or since its subscription there
        // stopped feeding it) are lost to it: no catch-up to wait for (the
        // worker re-syncs it, resync_lost_remote_targets).
        const std::string hint = "The worker copies that target again (event "
                                 "remote_target_resync); cut over once the plan is synced again.";
        const std::string refused = "cannot cut over " + catalog::plan_label(layout.plan.id) +
                                    ": " + target_label(layout, shadow);
        if (!local_slot_exists(name_of(layout, shadow)))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            refused + " lost its replication slot " + name_of(layout, shadow) +
                                " here",
                            "", hint);
        auto remote =
            std::make_unique<Connection>(server_oid(*shadow.row.server), layout.table_owner);
        if (const std::optional<std::string> lost =
                remote_subscription_lost(*remote, name_of(layout, shadow), *shadow.row.server))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            refused + " lost its replication: " + *lost, "", hint);
        drain_lag(name_of(layout, shadow), *shadow.row.server, target_label(layout, shadow),
                  remote.get());
        connections.emplace(shadow.row.ordinal, std::move(remote));
    }
    return connections;
}

std::map<int, std::string> wait_for_remote_targets(const migration::PlanLayout& layout,
                                                   const TargetConnections& connections,
                                                   const std::string& mark) {
    // All targets in one loop: the lock is held as long as the slowest one.
    std::vector<CatchUpTarget> targets;
    std::vector<int> ordinals;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server) {
            targets.push_back({name_of(layout, shadow), *shadow.row.server,
                               target_label(layout, shadow),
                               connections.at(shadow.row.ordinal).get()});
            ordinals.push_back(shadow.row.ordinal);
        }
    const std::vector<std::optional<std::string>> flushed = wait_for_catch_up(targets, mark);
    std::map<int, std::string> flushed_at;
    for (std::size_t i = 0; i < flushed.size(); ++i)
        if (flushed[i])
            flushed_at.emplace(ordinals[i], *flushed[i]);
    return flushed_at;
}

void create_remote_read_tables(const migration::PlanLayout& layout) {
    if (!has_remote_targets(layout))
        return;
    const Source source = describe_source(layout.plan.source, layout.plan.parent, kSplitting);
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        ensure_foreign_table(layout, shadow, source, spi);
        catalog::log_event(layout.plan.id, layout.source, "remote_target",
                           target_label(layout, shadow) + ": foreign table " +
                               foreign_table_of(layout, shadow) + " created for weighted reads");
    }
}

ForeignTables ensure_remote_foreign_tables(const migration::PlanLayout& layout) {
    ForeignTables tables;
    if (!has_remote_targets(layout))
        return tables;
    const Source source = describe_source(layout.plan.source, layout.plan.parent, kSplitting);
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server)
            tables.emplace(shadow.row.ordinal, ensure_foreign_table(layout, shadow, source, spi));
    return tables;
}

void attach_remote_targets(const migration::PlanLayout& layout, const std::string& parent,
                           const ForeignTables& tables) {
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " +
                        foreign_table_of(layout, shadow) + " " + shadow.row.bound);
        }
        catalog::set_shadow_relation(layout.plan.id, shadow.row.ordinal,
                                     tables.at(shadow.row.ordinal));
    }
}

RemoteReverse prepare_remote_reverse(const migration::PlanLayout& layout) {
    RemoteReverse prepared;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        RemoteReverse::Target target = connect_reverse(layout, shadow);
        target.unavailable = reverse_unavailable(*target.remote, target.reverse);
        if (!target.unavailable)
            prepare_reverse(*target.remote, target.reverse);
        prepared.targets.push_back(std::move(target));
    }
    return prepared;
}

void unpublish_remote_source(const migration::PlanLayout& layout, const RemoteReverse& prepared) {
    for (const RemoteReverse::Target& target : prepared.targets) {
        if (target.unavailable)
            continue;
        // Nothing applied here from now on (by the reverse subscription) is
        // published there again. Decoding reads the publication as of each
        // change: what committed before this commits is still sent.
        pg::RunAsTableOwner as_owner(layout.table_owner);
        pg::SpiSession spi;
        spi.execute("ALTER PUBLICATION " + split_replication_name(layout.plan.id, target.ordinal) +
                    " DROP TABLE " + layout.source);
    }
}

void record_remote_reverse_starts(const migration::PlanLayout& layout, RemoteReverse& prepared,
                                  const std::map<int, std::string>& flushed_at) {
    for (RemoteReverse::Target& target : prepared.targets) {
        if (target.unavailable) {
            catalog::log_event(layout.plan.id, layout.source, "remote_reverse_unavailable",
                               target.reverse.label + ": " + *target.unavailable +
                                   "; rollback after the cutover is refused");
            continue;
        }
        // Everything from here is there: the other way starts at that
        // server's position now (read in the wait's flush there, past every
        // change it applied).
        const auto flushed = flushed_at.find(target.ordinal);
        catalog::set_shadow_reverse_lsn(
            layout.plan.id, target.ordinal,
            flushed != flushed_at.end() ? flushed->second : reverse_start_lsn(*target.remote));
    }
}

bool tend_remote_reverse(const migration::PlanLayout& layout) {
    bool acted = false;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server || !shadow.row.reverse_lsn)
            continue;
        const ReverseTarget reverse = reverse_target(layout, shadow);
        Connection remote(reverse.server, layout.table_owner);
        if (const std::optional<std::string> lost = reverse_lost(remote, reverse)) {
            drop_reverse_subscription(reverse);
            drop_reverse_publication(remote, reverse);
            catalog::set_shadow_reverse_lsn(layout.plan.id, shadow.row.ordinal, std::nullopt);
            catalog::log_event(layout.plan.id, layout.source, "remote_reverse_lost",
                               reverse.label + ": " + *lost +
                                   "; rollback after the cutover is refused");
            acted = true;
        } else if (!reverse_subscription_enabled(reverse)) {
            const bool first = start_reverse(reverse, *shadow.row.reverse_lsn);
            catalog::log_event(
                layout.plan.id, layout.source, first ? "remote_reverse" : "remote_reverse_repaired",
                reverse.label + ": " +
                    (first ? "changes made there flow back from " + *shadow.row.reverse_lsn
                           : "the subscription " + reverse.name + " was disabled: enabled again"));
            acted = true;
        }
        // Otherwise its worker is starting (or the other server is down).
    }
    return acted;
}

RemoteReverse require_remote_reverse(const migration::PlanLayout& layout) {
    RemoteReverse reverse;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        const std::string refused = "cannot roll back " + catalog::plan_label(layout.plan.id) +
                                    " after its cutover: " + target_label(layout, shadow) +
                                    " has no reverse direction";
        const std::string detail = "The changes made on server \"" + *shadow.row.server +
                                   "\" since the cutover do not flow back to the old partition";
        const std::string hint = "The events remote_reverse_unavailable or remote_reverse_lost say "
                                 "why. finalize ends the plan.";
        if (!shadow.row.reverse_lsn)
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, refused, detail + ".", hint);
        RemoteReverse::Target target = connect_reverse(layout, shadow);
        if (const std::optional<std::string> lost = reverse_lost(*target.remote, target.reverse))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, refused,
                            detail + ": " + *lost + ".", hint);
        if (!reverse_subscription_enabled(target.reverse))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "cannot roll back " + catalog::plan_label(layout.plan.id) +
                                " yet: the reverse direction of " + target.reverse.label +
                                " has not started",
                            "",
                            "Just after the cutover the worker starts it within a round: "
                            "try again then.");
        reverse.targets.push_back(std::move(target));
    }
    return reverse;
}

void drain_remote_reverse(RemoteReverse& reverse) {
    std::vector<ReverseWait> waits;
    for (RemoteReverse::Target& target : reverse.targets)
        waits.push_back({target.remote.get(), &target.reverse});
    drain_reverse_lag(waits);
}

double wait_for_remote_reverse(const migration::PlanLayout& layout, RemoteReverse& reverse) {
    // LOCK TABLE refuses foreign tables: locked directly.
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server && shadow.row.relation)
            pg::call([&] { LockRelationOid(*shadow.row.relation, AccessExclusiveLock); });
    const instr_time started = pg::now();
    std::vector<ReverseWait> waits;
    for (RemoteReverse::Target& target : reverse.targets)
        waits.push_back({target.remote.get(), &target.reverse});
    wait_for_reverse_catch_up(waits);
    return pg::elapsed_ms(started);
}

void detach_remote_targets(const migration::PlanLayout& layout, const std::string& parent) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server || shadow.name.empty())
            continue;
        spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + shadow.name);
        spi.execute("DROP FOREIGN TABLE " + shadow.name);
        catalog::set_shadow_relation(layout.plan.id, shadow.row.ordinal, std::nullopt);
    }
}

bool drop_remote_reverse(const migration::PlanLayout& layout, bool drop_tables) {
    bool dropped = false;
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server || !shadow.row.reverse_lsn)
            continue;
        const ReverseTarget reverse = reverse_target(layout, shadow);
        // The subscription here first (its worker stops at the commit), then
        // the slot there (its walsender ended) and the publication.
        drop_reverse_subscription(reverse);
        Connection remote(reverse.server, layout.table_owner);
        drop_reverse_publication(remote, reverse);
        if (drop_tables)
            remote.execute("DROP TABLE IF EXISTS " + remote_table(layout));
        catalog::set_shadow_reverse_lsn(layout.plan.id, shadow.row.ordinal, std::nullopt);
        catalog::log_event(layout.plan.id, layout.source, "remote_target",
                           reverse.label + ": reverse direction dropped" +
                               (drop_tables ? ", and the table there" : ""));
        dropped = true;
    }
    return dropped;
}

namespace {

// What is left of a remote target's replication once its plan is finalized:
// the forward direction (the publication here, the subscription there, its
// slots here) and the reverse direction's slot and publication there.
struct TargetRemains {
    int64_t plan_id = 0;
    int ordinal = 0;
    std::string server;
    unsigned int owner = 0;
    std::string relation; // for events
    bool forward = false;
    bool reverse = false;
};

std::vector<TargetRemains> remains_of(int64_t plan_id, unsigned int owner,
                                      const std::string& relation,
                                      const std::vector<catalog::Shadow>& shadows) {
    std::vector<TargetRemains> remains;
    for (const catalog::Shadow& shadow : shadows) {
        if (!shadow.server)
            continue;
        TargetRemains target{
            plan_id,
            shadow.ordinal,
            *shadow.server,
            owner,
            relation,
            publication_here(split_replication_name(plan_id, shadow.ordinal)) ||
                publication_here(chunk_name(split_replication_name(plan_id, shadow.ordinal))),
            shadow.reverse_lsn.has_value()};
        if (target.forward || target.reverse)
            remains.push_back(target);
    }
    return remains;
}

ReverseTarget reverse_of(const TargetRemains& target) {
    ReverseTarget reverse;
    reverse.name = split_reverse_name(target.plan_id, target.ordinal);
    reverse.label = catalog::plan_label(target.plan_id) + ", target " +
                    std::to_string(target.ordinal) + " on server \"" + target.server + "\"";
    return reverse;
}

// Drops what is left of `target` (its reverse subscription here already
// gone), there through `remote` and here; its reverse position forgotten.
void drop_remains(Connection& remote, const TargetRemains& target) {
    const ReverseTarget reverse = reverse_of(target);
    if (target.forward) {
        drop_replication(remote, chunk_name(split_replication_name(target.plan_id, target.ordinal)),
                         target.owner, /*drop_publication=*/true);
        drop_replication(remote, split_replication_name(target.plan_id, target.ordinal),
                         target.owner, /*drop_publication=*/true);
    }
    if (target.reverse) {
        drop_reverse_publication(remote, reverse);
        catalog::set_shadow_reverse_lsn(target.plan_id, target.ordinal, std::nullopt);
    }
    catalog::log_event(target.plan_id, target.relation, "remote_target",
                       reverse.label + ": replication dropped" +
                           (target.reverse ? ", the reverse direction's too" : ""));
}

} // namespace

TargetConnections connect_for_finalize(const migration::PlanLayout& layout) {
    TargetConnections connections;
    for (const TargetRemains& target : remains_of(layout.plan.id, layout.table_owner, layout.source,
                                                  catalog::load_shadows(layout.plan.id)))
        connections.emplace(target.ordinal, std::make_unique<Connection>(server_oid(target.server),
                                                                         layout.table_owner));
    return connections;
}

void finalize_remote_targets(const migration::PlanLayout& layout, TargetConnections& connections) {
    const std::vector<TargetRemains> remains = remains_of(
        layout.plan.id, layout.table_owner, layout.source, catalog::load_shadows(layout.plan.id));
    // Here first: transactional, undone if finalize fails.
    for (const TargetRemains& target : remains)
        if (target.reverse)
            drop_reverse_subscription(reverse_of(target));
    // Then there: not undone. A failure keeps finalize, and leaves the rest
    // to the worker.
    for (const TargetRemains& target : remains) {
        const auto remote = connections.find(target.ordinal);
        try {
            if (remote == connections.end())
                throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                "server \"" + target.server + "\" was not reached before");
            drop_remains(*remote->second, target);
        } catch (const pg::Error& error) {
            catalog::log_event(layout.plan.id, layout.source, "remote_split_retry",
                               reverse_of(target).label +
                                   ": could not drop its replication "
                                   "there at finalize: " +
                                   error.what() + "; the worker drops it");
        }
    }
}

bool drop_finalized_remains(const catalog::Plan& plan) {
    // The source may be dropped: the parent's owner (the owner of its
    // partitions) and name.
    std::string relation;
    unsigned int owner = 0;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        const pg::QueryResult parent =
            spi.execute("SELECT c.relowner::text FROM pg_catalog.pg_class c WHERE c.oid = $1::oid",
                        {std::to_string(plan.parent)});
        if (parent.rows.empty())
            return false; // the table is gone, and nothing here can tell whose mapping to use
        owner = static_cast<unsigned int>(std::stoul(*parent.rows[0][0]));
    }
    relation = pg::qualified_relation_name(plan.parent);
    const std::vector<TargetRemains> remains =
        remains_of(plan.id, owner, relation, catalog::load_shadows(plan.id));
    for (const TargetRemains& target : remains) {
        drop_reverse_subscription(reverse_of(target));
        Connection remote(server_oid(target.server), owner);
        drop_remains(remote, target);
    }
    return !remains.empty();
}

namespace {

// The plan's remote targets that lost their replication (`lost`: why, by
// ordinal), sent back to copying (see resync_lost_remote_targets in
// split.hpp).
void resync_lost_targets(const migration::PlanLayout& layout,
                         const std::map<int, std::string>& lost) {
    std::string reasons;
    for (const auto& shadow : layout.shadows) {
        const auto found = lost.find(shadow.row.ordinal);
        if (!shadow.row.server || found == lost.end())
            continue;
        catalog::set_progress(layout.plan.id, shadow.row.ordinal, "waiting", 0);
        reasons +=
            (reasons.empty() ? "" : "; ") + target_label(layout, shadow) + ": " + found->second;
    }
    // Reads back on the source until it is verified and switching again.
    if (layout.plan.state == core::PlanState::switching)
        catalog::set_new_channel_weight(layout.plan.id, 0);
    catalog::set_plan_state(layout.plan.id, core::PlanState::backfilling, "re-sync: " + reasons);
}

// The servers of plans whose look there failed (down), asked again only
// after a back-off: the supervisor does not try to connect each round.
core::RetryBackoff looks_there;

} // namespace

bool resync_lost_remote_targets() {
    if (!catalog::has_shadow_servers())
        return false;
    pg::QueryResult targets;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        targets = spi.execute("SELECT s.plan_id, s.ordinal, s.server FROM presplit.shadow s"
                              "  JOIN presplit.plan p ON p.id = s.plan_id"
                              " WHERE p.state IN ('synced', 'switching') AND s.server IS NOT NULL"
                              " ORDER BY 1, 2");
    }
    // Looked at without a lock (a row lock each round would give every
    // round an xid); only a plan with a target lost is locked. The other
    // server is asked only about a slot here that nothing streams from.
    std::map<int64_t, std::map<int, std::string>> lost;
    const int64_t now_ms = GetCurrentTimestamp() / 1000;
    for (const auto& row : targets.rows) {
        const int64_t plan_id = std::stoll(*row[0]);
        const int ordinal = std::stoi(*row[1]);
        const std::string name = split_replication_name(plan_id, ordinal);
        const std::optional<bool> slot_active = local_slot_active(name);
        if (!slot_active) {
            lost[plan_id][ordinal] = "its replication slot " + name + " here was dropped";
            continue;
        }
        if (*slot_active || looks_there.wait_ms(plan_id, now_ms) > 0)
            continue;
        const std::optional<catalog::Plan> plan = catalog::load_plan(plan_id, /*lock=*/false);
        if (!plan)
            continue;
        const migration::PlanLayout layout = migration::load_layout(*plan);
        try {
            Connection remote(server_oid(*row[2]), layout.table_owner);
            looks_there.succeeded(plan_id);
            if (std::optional<std::string> why = remote_subscription_lost(remote, name, *row[2]))
                lost[plan_id][ordinal] = *why;
            else if (enable_remote_subscription(remote, name))
                catalog::log_event(plan_id, layout.source, "remote_target_repaired",
                                   catalog::plan_label(plan_id) + ", target " +
                                       std::to_string(ordinal) + " on server \"" + *row[2] +
                                       "\": the subscription " + name +
                                       " there was disabled: enabled again");
        } catch (const pg::Error& error) {
            // Down, most likely: its slot here is kept for when it is back.
            (void)looks_there.failed(plan_id, now_ms, error.what());
        }
    }
    bool acted = false;
    for (const auto& [id, targets_lost] : lost) {
        // Not waiting for a plan row held by a cutover or a user's call:
        // the next round looks again.
        const std::optional<catalog::Plan> plan = catalog::load_plan_unless_locked(id);
        if (plan &&
            (plan->state == core::PlanState::synced || plan->state == core::PlanState::switching)) {
            resync_lost_targets(migration::load_layout(*plan), targets_lost);
            acted = true;
        }
    }
    return acted;
}

std::vector<RemoteLag> switching_remote_lags() {
    if (!catalog::has_shadow_servers())
        return {};
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    const pg::QueryResult targets =
        spi.execute("SELECT s.plan_id, s.ordinal FROM presplit.shadow s"
                    "  JOIN presplit.plan p ON p.id = s.plan_id"
                    " WHERE p.state = 'switching' AND s.server IS NOT NULL ORDER BY 1, 2");
    if (targets.rows.empty())
        return {};
    core::TextArray names;
    for (const auto& row : targets.rows)
        names.push_back(split_replication_name(std::stoll(*row[0]), std::stoi(*row[1])));
    // Per subscription (its apply worker's walsender names itself after it):
    // the lag PostgreSQL measured for the changes applied last, or, while
    // changes are still unconfirmed, at least the time since the last reply.
    // No walsender, or not streaming: unknown.
    const pg::QueryResult lags =
        spi.execute("SELECT CASE WHEN r.state = 'streaming' THEN greatest("
                    "         coalesce(extract(epoch FROM r.replay_lag) * 1000, 0),"
                    "         CASE WHEN r.replay_lsn IS DISTINCT FROM r.sent_lsn"
                    "              THEN extract(epoch FROM clock_timestamp() - r.reply_time) * 1000"
                    "              ELSE 0 END) END"
                    "  FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)"
                    "  LEFT JOIN pg_catalog.pg_stat_replication r ON r.application_name = n.name"
                    " ORDER BY n.i",
                    {core::format_text_array(names)});
    std::vector<RemoteLag> out;
    for (size_t i = 0; i < targets.rows.size() && i < lags.rows.size(); ++i) {
        const int64_t plan_id = std::stoll(*targets.rows[i][0]);
        const std::optional<double> lag =
            lags.rows[i][0] ? std::optional<double>(std::stod(*lags.rows[i][0])) : std::nullopt;
        if (out.empty() || out.back().plan_id != plan_id)
            out.push_back({plan_id, lag});
        else if (!lag || !out.back().lag_ms)
            out.back().lag_ms = std::nullopt;
        else
            out.back().lag_ms = std::max(*out.back().lag_ms, *lag);
    }
    return out;
}

bool remote_replication_left(const migration::PlanLayout& layout) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.server && *spi.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_publication"
                                             " WHERE pubname = $1)",
                                             {name_of(layout, shadow)}) == "t")
            return true;
    return false;
}

void drop_remote_targets(const migration::PlanLayout& layout, bool drop_tables) {
    if (drop_tables && has_remote_targets(layout)) {
        // Before the cutover the foreign tables only served weighted reads.
        pg::RunAsTableOwner as_owner(layout.table_owner);
        pg::SpiSession spi;
        for (const auto& shadow : layout.shadows)
            if (shadow.row.server)
                spi.execute("DROP FOREIGN TABLE IF EXISTS " + foreign_table_of(layout, shadow));
    }
    for (const auto& shadow : layout.shadows) {
        if (!shadow.row.server)
            continue;
        Connection remote(server_oid(*shadow.row.server), layout.table_owner);
        drop_replication(remote, chunk_name(name_of(layout, shadow)), layout.table_owner,
                         /*drop_publication=*/true);
        drop_replication(remote, name_of(layout, shadow), layout.table_owner,
                         /*drop_publication=*/true);
        if (drop_tables) {
            // A cutover that did not commit: its slot and publication there.
            drop_reverse_publication(remote, reverse_target(layout, shadow));
            remote.execute("DROP TABLE IF EXISTS " + remote_table(layout));
        }
        catalog::log_event(layout.plan.id, layout.source, "remote_target",
                           target_label(layout, shadow) + ": replication dropped" +
                               (drop_tables ? ", and the table there" : ""));
    }
}

} // namespace presplit::remote
