#include "remote/chunks.hpp"

#include "config.hpp"
#include "migration/layout.hpp"
#include "pg/clock.hpp"
#include "pg/spi.hpp"
#include "remote/replication.hpp"
#include "switchover/switchover.hpp"

#include <cstdio>

namespace presplit::remote {
namespace {

// Whether the source can be copied in chunks: a valid btree index begins
// with the key (a chunk's COPY and the search for its end then read only the
// chunk's rows), and every unique index has the key among its columns (two
// subscriptions write the table there, one each side of a chunk's edge, in
// no order between them: a row moving across the edge is a delete on one and
// an insert on the other, which must not collide on a key without it).
bool can_copy_in_chunks(const ChunkedCopy& copy) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return *spi.scalar("WITH k AS (SELECT attnum FROM pg_catalog.pg_attribute"
                       "            WHERE attrelid = $1::oid AND attname = $2)"
                       "SELECT EXISTS (SELECT FROM pg_catalog.pg_index i"
                       "                 JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
                       "                 JOIN pg_catalog.pg_am a ON a.oid = c.relam"
                       "                WHERE i.indrelid = $1::oid AND i.indisvalid"
                       "                  AND a.amname = 'btree'"
                       "                  AND i.indkey[0] = (SELECT attnum FROM k))"
                       "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_index i"
                       "                    WHERE i.indrelid = $1::oid AND i.indisunique"
                       "                      AND NOT (SELECT attnum FROM k) = ANY (i.indkey))",
                       {std::to_string(copy.source_oid), copy.key_column}) == "t";
}

// Where the chunk that begins at `from` (nullopt: the target's start) ends:
// the key presplit.remote_copy_chunk_rows rows on, past `from`; nullopt when
// fewer rows are left (the chunk takes the rest of the range). As the owner:
// the key's operators are the table's.
std::optional<std::string> chunk_end(const ChunkedCopy& copy,
                                     const std::optional<std::string>& from) {
    if (config::remote_copy_chunk_rows <= 0)
        return std::nullopt; // set to one pass meanwhile: the rest in one chunk
    pg::RunAsTableOwner as_owner(copy.owner);
    pg::CanonicalTextFormat canonical;
    pg::SpiSession spi;
    const std::string rows =
        " FROM ONLY " + copy.source + " WHERE " + chunk_filter(copy, from, std::nullopt);
    // (The text named apart from the key: ORDER BY a bare name takes an
    // output column first, and would sort the text.)
    pg::Value end =
        spi.scalar("SELECT " + copy.key + "::text AS chunk_end" + rows + " ORDER BY " + copy.key +
                   " OFFSET " + std::to_string(config::remote_copy_chunk_rows) + " LIMIT 1");
    // Rows sharing the key `from`: the chunk ends at the next key.
    if (end && from && *end == *from)
        end = spi.scalar("SELECT min(" + copy.key + ")::text" + rows + " AND " + copy.key + " > " +
                         pg::quote_literal(*from) + "::" + copy.key_type);
    return end;
}

void log_chunk_event(const ChunkedCopy& copy, const std::string& kind, const std::string& detail) {
    catalog::log_event(copy.plan_id, copy.relation, kind, copy.label + ": " + detail);
}

std::string chunk_range(const catalog::RemoteChunks& chunks) {
    return "the rows from " + chunks.copied_below +
           (chunks.chunk_below ? " below " + *chunks.chunk_below : " on");
}

// The fold's transaction. Its lag drained without a lock, then under SHARE
// on the source (taken with the cutover's bounded retry: it waits for every
// transaction that wrote the source and keeps new writes out until this
// commit, so that no transaction has changes of the source on both sides of
// it -- pgoutput filters each change by where it is in the WAL, not by its
// commit) the chunk's subscription applies every change up to now; then the
// chunk's publication stops sending the source's changes and the target's
// takes the chunk's keys. So every change of the chunk's keys before this
// commit is applied there, every one after it comes through the target's
// subscription. finish_fold follows once it committed.
void fold_chunk(const ChunkedCopy& copy, Connection& remote, const catalog::RemoteChunks& chunks) {
    const std::string chunk = chunk_name(copy.name);
    const Drained drained = drain_lag(chunk, copy.server, copy.label, &remote);
    migration::PlanLayout source;
    source.plan.source = copy.source_oid;
    source.source = copy.source;
    source.table_owner = copy.owner;
    const int tries = switchover::lock_shared(source, "fold of a chunk of " + copy.label).tries;
    const instr_time locked = pg::now();
    wait_for_catch_up(chunk, copy.server, copy.label, &remote);
    {
        pg::RunAsTableOwner as_owner(copy.owner);
        pg::SpiSession spi;
        spi.execute("ALTER PUBLICATION " + chunk + " DROP TABLE ONLY " + copy.source);
        spi.execute("ALTER PUBLICATION " + copy.name + " SET TABLE ONLY " + copy.source +
                    " WHERE (" + chunk_filter(copy, std::nullopt, chunks.chunk_below) + ")");
    }
    catalog::RemoteChunks folded = chunks;
    folded.folded = true;
    copy.store(folded);
    char held[160];
    snprintf(held, sizeof held,
             "; the lag drained in %d round%s, %.1f ms; the source locked SHARE in %d tr%s, "
             "held %.1f ms",
             drained.rounds, drained.rounds == 1 ? "" : "s", drained.total_ms, tries,
             tries == 1 ? "y" : "ies", pg::elapsed_ms(locked));
    const bool last = !chunks.chunk_below;
    log_chunk_event(copy, "remote_copy_chunk",
                    chunk_range(chunks) + " copied; the subscription " + copy.name +
                        " takes them over" + (last ? " (the last chunk)" : "") + held);
}

// The rest of a fold once its transaction committed (the chunk's
// subscription applied everything it had to before the commit): the source
// taken out of the chunk's subscription's list of tables, for the next
// chunk's table sync; after the last chunk, its replication dropped.
void finish_fold(const ChunkedCopy& copy, Connection& remote, const catalog::RemoteChunks& chunks) {
    const std::string chunk = chunk_name(copy.name);
    if (!chunks.chunk_below)
        drop_replication(remote, chunk, copy.owner, /*drop_publication=*/true);
    else if (remote_subscription_exists(remote, chunk))
        remote.execute("ALTER SUBSCRIPTION " + chunk + " REFRESH PUBLICATION");
    copy.store(core::after_fold(chunks));
}

// Whether the chunk's subscription there lists the source (its one table):
// the chunk's table sync has begun.
bool chunk_table_listed(Connection& remote, const std::string& chunk) {
    return remote.scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_subscription_rel r"
                         "  JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid"
                         " WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM"
                         " pg_catalog.pg_database WHERE datname = current_database()))",
                         {chunk}) == pg::Value("t");
}

} // namespace

std::string chunk_name(const std::string& name) {
    return name + "_c";
}

std::optional<std::string> first_chunk_end(const ChunkedCopy& copy) {
    if (config::remote_copy_chunk_rows <= 0 || !can_copy_in_chunks(copy))
        return std::nullopt;
    return chunk_end(copy, std::nullopt);
}

std::string chunk_filter(const ChunkedCopy& copy, const std::optional<std::string>& from,
                         const std::optional<std::string>& below) {
    if (!from && !below)
        return copy.condition;
    return copy.condition + " AND " +
           migration::range_condition(copy.key, copy.key_type, from, below);
}

ChunkStep advance_chunks(const ChunkedCopy& copy, bool may_start,
                         const std::function<bool(double rows)>& chunk_fits, bool* wrote_here) {
    const std::string chunk = chunk_name(copy.name);
    const std::optional<catalog::RemoteChunks> chunks = copy.load();
    if (!chunks)
        return ChunkStep::none; // one pass, or every chunk folded in
    if (chunks->folded) {
        Connection remote(server_oid(copy.server), copy.owner);
        finish_fold(copy, remote, *chunks);
        *wrote_here = true;
        return ChunkStep::acted;
    }
    if (!local_slot_exists(copy.name)) {
        // The copy has not started, or is re-synced first. Copied under the
        // slot's snapshot, its first chunk wants the chunks' subscription
        // made beforehand (prepare_chunk_subscription): its publication
        // first, in a step of its own.
        if (config::remote_copy_by_snapshot && may_start && !chunks->chunk_running &&
            !publication_here(chunk)) {
            pg::RunAsTableOwner as_owner(copy.owner);
            pg::SpiSession spi;
            spi.execute("CREATE PUBLICATION " + chunk);
            *wrote_here = true;
            return ChunkStep::acted;
        }
        return ChunkStep::none;
    }
    Connection remote(server_oid(copy.server), copy.owner);
    if (!chunks->chunk_running) {
        // The chunks' subscription is made while the first chunk copies
        // (its publication without a table until a chunk starts): the
        // launcher there starts an apply worker at most once per
        // wal_retrieve_retry_interval, so it starts in good time.
        if (may_start && !remote_subscription_exists(remote, chunk)) {
            if (!publication_here(chunk)) {
                pg::RunAsTableOwner as_owner(copy.owner);
                pg::SpiSession spi;
                spi.execute("CREATE PUBLICATION " + chunk);
                *wrote_here = true;
                return ChunkStep::acted;
            }
            if (*wrote_here)
                return ChunkStep::waiting;
            drop_replication(remote, chunk, copy.owner, /*drop_publication=*/false);
            create_subscription(remote, chunk);
            return ChunkStep::subscribed;
        }
        if (!may_start || !initial_sync_done(remote, copy.name))
            return ChunkStep::waiting;
        if (!chunk_fits(config::remote_copy_chunk_rows)) {
            *wrote_here = true; // (its event)
            return ChunkStep::waiting;
        }
        const std::optional<std::string> end = chunk_end(copy, chunks->copied_below);
        // The chunk's publication (without a table between chunks) and the
        // state in one transaction; its table sync in the next.
        {
            pg::RunAsTableOwner as_owner(copy.owner);
            pg::SpiSession spi;
            const std::string table = " TABLE ONLY " + copy.source + " WHERE (" +
                                      chunk_filter(copy, chunks->copied_below, end) + ")";
            if (publication_here(chunk))
                spi.execute("ALTER PUBLICATION " + chunk + " SET" + table);
            else
                spi.execute("CREATE PUBLICATION " + chunk + " FOR" + table);
        }
        copy.store(catalog::RemoteChunks{chunks->copied_below, true, end, false});
        *wrote_here = true;
        return ChunkStep::acted;
    }
    // The chunk's table sync: by the chunks' subscription refreshed (its
    // apply worker runs on: no new worker to wait for), or by a new one (it
    // was lost: dropped there, or by a re-sync). What
    // the chunk wrote there before, in an attempt that did not finish, is
    // deleted first (only it writes the chunk's keys there).
    bool subscribed = remote_subscription_exists(remote, chunk);
    if (subscribed) {
        // Lost (its slot here gone, or it detached from it there): made
        // again, and the chunk copied again. Disabled: enabled again.
        std::optional<std::string> lost = remote_subscription_lost(remote, chunk, copy.server);
        if (!lost && !local_slot_exists(chunk))
            lost = "its replication slot here was gone";
        if (lost) {
            drop_replication(remote, chunk, copy.owner, /*drop_publication=*/false);
            subscribed = false;
        } else if (enable_remote_subscription(remote, chunk)) {
            log_chunk_event(copy, "remote_target_repaired",
                            "the subscription " + chunk + " there was disabled: enabled again");
            *wrote_here = true;
            return ChunkStep::acted;
        }
    }
    if (!subscribed || !chunk_table_listed(remote, chunk)) {
        if (!may_start) {
            // Not begun (or lost), and held: the chunk is started again later,
            // perhaps with another end, so what it may have written there goes
            // now; its plan needs no worker meanwhile.
            remote.execute("DELETE FROM " + copy.remote_table + " WHERE " +
                           chunk_filter(copy, chunks->copied_below, chunks->chunk_below));
            copy.store(catalog::RemoteChunks{chunks->copied_below, false, std::nullopt, false});
            *wrote_here = true;
            return ChunkStep::acted;
        }
        if (!subscribed && *wrote_here)
            return ChunkStep::waiting;
        remote.execute("DELETE FROM " + copy.remote_table + " WHERE " +
                       chunk_filter(copy, chunks->copied_below, chunks->chunk_below));
        if (!subscribed) {
            drop_replication(remote, chunk, copy.owner, /*drop_publication=*/false);
            create_subscription(remote, chunk);
        } else {
            // Synchronously during the copy, as create_subscription says.
            remote.execute("ALTER SUBSCRIPTION " + chunk + " SET (synchronous_commit = 'on')");
            remote.execute("ALTER SUBSCRIPTION " + chunk + " REFRESH PUBLICATION");
        }
        log_chunk_event(copy, "remote_copy_chunk_started",
                        "the subscription " + chunk + " there copies " + chunk_range(*chunks));
        *wrote_here = true;
        return ChunkStep::subscribed;
    }
    if (!initial_sync_done(remote, chunk))
        return ChunkStep::waiting;
    fold_chunk(copy, remote, *chunks);
    *wrote_here = true;
    return ChunkStep::acted;
}

bool chunks_left(const ChunkedCopy& copy) {
    return copy.load().has_value();
}

void prepare_chunk_subscription(const ChunkedCopy& copy, Connection& remote) {
    const std::optional<catalog::RemoteChunks> chunks = copy.load();
    const std::string chunk = chunk_name(copy.name);
    if (!chunks || chunks->chunk_running || chunks->folded || !publication_here(chunk) ||
        (remote_subscription_exists(remote, chunk) && local_slot_exists(chunk)))
        return;
    // What is left of it (a slot here, or a subscription there whose slot
    // abandon_remote_copy dropped) goes first.
    drop_replication(remote, chunk, copy.owner, /*drop_publication=*/false);
    create_subscription(remote, chunk, /*copy_data=*/true, /*enabled=*/false);
}

void drop_chunk_subscription(Connection& remote, const ChunkedCopy& copy) {
    drop_replication(remote, chunk_name(copy.name), copy.owner, /*drop_publication=*/false);
}

} // namespace presplit::remote
