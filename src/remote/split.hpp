// A split whose targets live on other servers (docs/multi_server.md):
// split_partition(source, points, servers => ARRAY[NULL, 'node2']). The plan
// is an ordinary split plan; a target with a server is a row of
// presplit.shadow with that server and no local table until the cutover.
// Local targets keep the local shadows, capture and backfill; each remote
// target gets, with the move's machinery (remote/replication.hpp):
//   split_partition    its table on the server (columns, NOT NULLs, primary
//                      key, other indexes, a CHECK equal to its bound) and a
//                      publication of the source with its range as the row
//                      filter, named presplit_split_<plan>_<ordinal>;
//   the worker         the subscription of the same name (its initial table
//                      synchronisation copies the rows), then the
//                      verification under one cut;
//   switching          a postgres_fdw foreign table per remote target,
//                      not attached, named like a local shadow: weighted
//                      reads go through it (switchover/routing.hpp);
//   the cutover        waits until every remote target has applied the
//                      source's changes up to the lock, then attaches the
//                      foreign table of each remote target;
//   after it           replication is dropped (the worker; finalize if
//                      anything is left), and the reverse direction
//                      (remote/reverse.hpp, presplit_back_split_<plan>_
//                      <ordinal>) brings every change made there back into
//                      the kept source, so that a rollback after the
//                      cutover is a swap; a rollback before the cutover
//                      drops replication, the foreign tables and the remote
//                      tables.
#pragma once

#include "migration/layout.hpp"
#include "migration/split_request.hpp"
#include "remote/chunks.hpp"
#include "remote/connection.hpp"
#include "remote/reverse.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace presplit::remote {

// The publication, subscription and slot of a plan's remote target.
std::string split_replication_name(int64_t plan_id, int ordinal);

bool has_remote_targets(const migration::PlanLayout& layout);

// Checks the request's servers (request.servers, one per target) and
// everything a remote target needs, here and there, before anything is
// written: ERROR with a SQLSTATE and a hint, nothing changed on either side.
void check_remote_targets(const migration::SplitRequest& request);

// In split_partition's transaction, after start_plan: a publication per
// remote target, then (last, so that an error before leaves the servers as
// they were) the tables on the servers.
void create_remote_targets(const migration::PlanLayout& layout);

// What subscribe_remote_targets did.
enum class Subscribing {
    nothing, // every target's slot here streams: no server asked
    looked,  // a server asked, nothing to do
    acted,   // a subscription created (or re-synced, or enabled again)
};

// A target whose rows the worker copies under its slot's snapshot
// (remote/snapshot_copy.hpp) once subscribe_remote_targets' transaction
// has committed.
struct SnapshotCopy {
    int ordinal = 0;
    std::optional<std::string> resync; // what was lost, when copied again
    std::string start_note;
};

// The worker's step before anything is written in its transaction (creating
// a slot waits for every transaction with an xid): creates the missing
// subscriptions (with by_snapshot and presplit.remote_copy_by_snapshot on,
// lists their targets there instead: each is copied, then subscribed, by
// copy_remote_target), and re-syncs a target that lost its replication -- its slot
// here gone, or its subscription there gone or detached from that slot
// (remote_subscription_lost; asked only when nothing streams from the slot
// here) -- : what is left of its subscription and slot dropped, its table
// there truncated and copied again by a new subscription, verified again;
// event remote_target_resync. A subscription there found disabled is
// enabled again (remote_target_repaired). start_note, if any, is added to
// each remote_copy_started event.
Subscribing subscribe_remote_targets(const migration::PlanLayout& layout,
                                     const std::string& start_note = "",
                                     std::vector<SnapshotCopy>* by_snapshot = nullptr);

// The name of a target's replication (its publication and slot here, its
// subscription there).
std::string remote_target_replication(const migration::PlanLayout& layout, int ordinal);

// Before the target's slot is made, in the same transaction (which writes
// nothing before the slot): for a target copied in chunks, the chunks'
// subscription made there, disabled (prepare_chunk_subscription).
void prepare_remote_copy(const migration::PlanLayout& layout, int ordinal);

// Once the target's slot is made (in the transaction that made it): events
// remote_target_resync (if it is copied again) and remote_copy_started.
void announce_remote_copy(const migration::PlanLayout& layout, const SnapshotCopy& copy);

// In a transaction that imported the snapshot of the target's slot, made
// since subscribe_remote_targets listed it, and in one transaction there:
// its subscription made on that slot without a copy, its rows copied
// (copy_published_rows; `between_batches` runs before each batch), the
// chunks' subscription enabled. Writes nothing here (its transaction's
// snapshot is as old as the copy): finish_remote_copy does, afterwards.
struct RemoteCopyDone {
    uint64_t rows = 0;
    bool chunks_enabled = false;
    std::string times; // "the subscription 1.2 ms, the copy ..."
};
RemoteCopyDone copy_remote_target(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                                  const std::function<void()>& between_batches);
// After it, in a new transaction: the target's progress, event
// remote_copy_done.
void finish_remote_copy(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                        const RemoteCopyDone& done);

// When this server cannot be reached over a replication connection for the
// copy under the slot's snapshot (ERROR 08001; `why` says it): the target's
// subscription made with PostgreSQL's table sync instead, as with
// presplit.remote_copy_by_snapshot off, and its events (remote_target_resync,
// remote_copy_started with `why`). In the transaction that has written
// nothing (prepare_remote_copy's).
void subscribe_by_table_sync(const migration::PlanLayout& layout, const SnapshotCopy& copy,
                             const std::string& why);

// After a copy by snapshot failed or was given up (its transactions rolled
// back, there too; the slot's replication connection closed): the target's
// slot and the chunks' one dropped here first (unless in use), then its
// subscription there, if any, and the chunks' one, so that the next try
// starts afresh. Rows left there are truncated by that try
// (subscribe_remote_targets).
void abandon_remote_copy(const migration::PlanLayout& layout, int ordinal);

// Whether subscribe_remote_targets would create a subscription (a remote
// target without its slot here): a copy would start. Looks only here.
bool remote_copy_would_start(const migration::PlanLayout& layout);

// One step of the copy in chunks of the plan's remote targets
// (remote/chunks.hpp): one action, on the first target with one to do, in
// the caller's transaction. may_start: whether a new chunk may start now
// (not paused, not held); chunk_fits, asked before one starts with its
// estimated rows: whether its window has room for it (an event says why
// not).
ChunkStep advance_remote_chunks(const migration::PlanLayout& layout, bool may_start,
                                const std::function<bool(double rows)>& chunk_fits);

// Whether a remote target still copies in chunks: not yet verifiable.
bool remote_chunks_left(const migration::PlanLayout& layout);

enum class RemoteCheck {
    none,     // every remote target is verified (or there is none)
    waiting,  // a subscription still copies
    verified, // one more remote target verified
    failed,   // the plan failed (the reason recorded)
};
// Verifies the next remote target not yet verified (its progress row says
// done once it matched): the source locked SHARE, the server caught up to
// the lock, count and checksum of the target's range here and of its table
// there. Run in a READ COMMITTED transaction: the count must see every
// change committed before the lock.
RemoteCheck verify_next_remote_target(const migration::PlanLayout& layout);

// The servers (OIDs) of the plan's remote targets; empty for a local plan.
std::vector<unsigned int> remote_target_servers(const migration::PlanLayout& layout);

// A connection to the server of each remote target, by ordinal.
using TargetConnections = std::map<int, std::unique_ptr<Connection>>;

// Before the cutover's lock: each remote target's lag drained without it
// (drain_lag), so that under the lock only what is written meanwhile is left.
// Returns the connections, for wait_for_remote_targets under the lock.
TargetConnections drain_remote_targets(const migration::PlanLayout& layout);

// Under the cutover's lock: waits until every remote target has applied the
// source's changes up to now (bounded by presplit.remote_catchup_timeout,
// ERROR 55P03 then: the cutover is given up and retried), flushing the WAL
// there through `connections` (wait_for_catch_up).
// `mark`: mark_local_wal() taken under the lock (the swap changes the
// catalog while they catch up). Returns, by ordinal, each server's WAL
// position read in its flush (when it flushed there): where its reverse
// direction may start.
std::map<int, std::string> wait_for_remote_targets(const migration::PlanLayout& layout,
                                                   const TargetConnections& connections,
                                                   const std::string& mark);

// When the plan starts switching: a foreign table per remote target (named
// like a local shadow), not attached, for weighted reads.
void create_remote_read_tables(const migration::PlanLayout& layout);

// Before the cutover's lock: each remote target's foreign table (created
// now if missing: a new relation locks nothing the writers hold), its OID by
// ordinal.
using ForeignTables = std::map<int, unsigned int>;
ForeignTables ensure_remote_foreign_tables(const migration::PlanLayout& layout);

// Under the cutover's lock, the source detached: each remote target's
// foreign table (ensure_remote_foreign_tables) attached with its bound (no
// scan).
void attach_remote_targets(const migration::PlanLayout& layout, const std::string& parent,
                           const ForeignTables& tables);

// The reverse direction of a remote target: its publication and slot
// there, its subscription here.
std::string split_reverse_name(int64_t plan_id, int ordinal);

// The remote targets' reverse directions during a cutover or a rollback,
// with a connection to each server kept open from before the lock to under
// it (connecting under the lock would lengthen it).
struct RemoteReverse {
    struct Target {
        int ordinal = 0;
        ReverseTarget reverse;
        std::unique_ptr<Connection> remote;
        std::optional<std::string> unavailable; // why it has none (cutover)
    };
    std::vector<Target> targets;
};

// Before the cutover's lock, in its transaction: each remote target's
// reverse direction prepared (prepare_reverse), or why it cannot be.
RemoteReverse prepare_remote_reverse(const migration::PlanLayout& layout);

// Under the cutover's lock: the source out of each forward publication with
// a reverse direction, so that what the reverse subscription applies to it
// is not sent there again (before the wait: decoding reads the publication
// as of each change, so what committed before the cutover is still sent).
void unpublish_remote_source(const migration::PlanLayout& layout, const RemoteReverse& prepared);

// Under the cutover's lock, once every remote target applied the source's
// changes (wait_for_remote_targets): where each reverse direction starts
// (recorded in presplit.shadow.reverse_lsn). Events for the targets without
// one. `flushed_at`: wait_for_remote_targets' positions; a target without
// one is asked for its position now.
void record_remote_reverse_starts(const migration::PlanLayout& layout, RemoteReverse& prepared,
                                  const std::map<int, std::string>& flushed_at);

// The worker, after the cutover: each reverse direction started once the
// cutover committed, enabled again if disabled, or -- its subscription here
// or its slot there gone -- dropped, its position forgotten and an event
// saying rollback is refused. True if it did something.
bool tend_remote_reverse(const migration::PlanLayout& layout);

// rollback after the cutover, before anything is changed: every remote
// target has a running reverse direction, else ERROR 55000 with why.
RemoteReverse require_remote_reverse(const migration::PlanLayout& layout);

// Before the rollback's lock, without it: every reverse direction's lag
// drained (drain_reverse_lag).
void drain_remote_reverse(RemoteReverse& reverse);

// Under the rollback's lock on the parent: the foreign tables locked (for
// writers that name them), then a wait until this server has applied every
// change each other server committed (bounded by
// presplit.remote_catchup_timeout). Returns the milliseconds waited.
double wait_for_remote_reverse(const migration::PlanLayout& layout, RemoteReverse& reverse);

// Under the rollback's lock: the foreign tables detached and dropped.
void detach_remote_targets(const migration::PlanLayout& layout, const std::string& parent);

// Every reverse direction of the plan dropped, here and there (and, with
// drop_tables -- after a rollback --, the tables there); their positions
// forgotten. True if there was one.
bool drop_remote_reverse(const migration::PlanLayout& layout, bool drop_tables);

// finalize, after its lock and before it changes anything: a connection to
// the server of every remote target with replication left to drop (its
// reverse direction, or a forward one the worker could not drop yet). One
// that cannot be reached fails finalize with its error, nothing changed
// here or on any server.
TargetConnections connect_for_finalize(const migration::PlanLayout& layout);

// finalize, last, once everything here has succeeded: the reverse
// subscriptions here dropped (in finalize's transaction), then on each
// server through `connections` what is left of the target's replication
// (the forward subscription there and its slots here, the publication here;
// the reverse slot and publication there). A server that fails now (lost
// since connect_for_finalize) does not undo finalize: what is left of its
// target stays recorded (presplit.shadow.reverse_lsn, the publication here)
// and the worker drops it once finalize has committed
// (drop_finalized_remains), with an event.
void finalize_remote_targets(const migration::PlanLayout& layout, TargetConnections& connections);

// The worker, for a finalized plan: what its finalize could not drop on the
// other servers (above). Fails while a server is down (retried after the
// remote steps' back-off). True if there was something.
bool drop_finalized_remains(const catalog::Plan& plan);

// The worker, each round: a remote target of a plan that is synced or
// switching whose slot here is gone (dropped after its verification), or
// whose subscription there no longer feeds it (gone, or detached from it:
// asked only when nothing streams from the slot, and after a back-off when
// the server could not be reached), is copied again rather than left for a
// cutover that cannot catch up: the plan back to backfilling (its weight to
// 0: reads back on the source), the target's progress back to waiting; the
// plan's next copy step re-syncs it (subscribe_remote_targets: event
// remote_target_resync), verifies it again, and the plan is synced and
// switches again. A subscription there found disabled is enabled again.
// True if one was found.
bool resync_lost_remote_targets();
// The replication lag of every switching plan's remote targets (the largest
// per plan; nullopt if one is not streaming), from pg_stat_replication: the
// worker publishes it each round for read routing.
struct RemoteLag {
    int64_t plan_id;
    std::optional<double> lag_ms;
};
std::vector<RemoteLag> switching_remote_lags();

// Whether a publication of the plan's remote targets is left here.
bool remote_replication_left(const migration::PlanLayout& layout);

// Drops every remote target's subscription, slots and publication, and with
// drop_tables (before the cutover) its foreign table here, its table on the
// server and what a cutover that did not commit left of its reverse
// direction there.
void drop_remote_targets(const migration::PlanLayout& layout, bool drop_tables);

} // namespace presplit::remote
