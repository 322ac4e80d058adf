// What moving rows to another server over logical replication needs, for
// move_partition (remote/move.hpp) and the split onto servers
// (remote/split.hpp). The publication, the subscription and its slot all
// carry one name, so that a step that failed half-way finds them again.
#pragma once

#include "remote/connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace presplit::remote {

// A partition as the other server must recreate it.
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
    // The other indexes, without a name or a table.
    struct Index {
        bool unique = false;
        std::string definition; // "USING am (...) [WHERE ...]"
    };
    std::vector<Index> other_indexes;
};

// "CREATE [UNIQUE] INDEX ON table USING ..." for each of the source's other
// indexes.
std::vector<std::string> create_index_statements(const Source& source, const std::string& table);

// ERROR 0A000 on a generated column (`what`: "move a partition").
Source describe_source(unsigned int oid, unsigned int parent, const std::string& what);

std::string join(const std::vector<std::string>& items);

// wal_level logical, no unique index on the parent (PostgreSQL cannot
// attach a foreign table under one), a RANGE partition with a primary key.
// `what` completes "wal_level must be logical to ...".
void require_local_prerequisites(const Source& source, const std::string& what);

// The foreign server: it exists, uses postgres_fdw, the owner may use it and
// has a user mapping. Returns its OID. Changes nothing.
unsigned int require_server(const std::string& name, unsigned int owner);
// The OID of a server that exists.
unsigned int server_oid(const std::string& name);

// PostgreSQL 15 or later, the mapping's role a superuser there, the schema
// there and no relation schema.relname there.
void require_remote_prerequisites(Connection& remote, const std::string& server,
                                  const std::string& schema, const std::string& relname);

// presplit.publisher_conninfo plus this database: how a subscription
// connects back. ERROR unless set and free of a password.
std::string publisher_conninfo();

bool remote_subscription_exists(Connection& remote, const std::string& name);
// CREATE SUBSCRIPTION name ... PUBLICATION name, bounded by
// presplit.remote_catchup_timeout. Creating its slot waits for every
// transaction here that has an xid: call it before the caller's transaction
// writes anything. Without copy_data: on the slot `name` that exists here
// (remote/snapshot_copy.hpp), copying nothing. Not enabled: its apply worker
// starts once ALTER SUBSCRIPTION ... ENABLE commits there.
void create_subscription(Connection& remote, const std::string& name, bool copy_data = true,
                         bool enabled = true);
// Whether this server holds the subscription's slot.
bool local_slot_exists(const std::string& name);
// Drops the replication slot `name` here unless it is missing or in use.
void drop_inactive_local_slot(const std::string& name);
// Whether this server has the publication `name`.
bool publication_here(const std::string& name);
// Whether a walsender streams from this server's slot `name` (a healthy
// subscription there does); nullopt if there is no such slot.
std::optional<bool> local_slot_active(const std::string& name);

// Why the subscription `name` on server `server` no longer feeds its slot
// here -- it is gone, or detached from its slot (ALTER SUBSCRIPTION ... SET
// (slot_name = NONE), as one does before dropping a subscription without
// its slot: it can then neither stream nor be enabled) -- as "the
// subscription ... was ...", or nothing. Its slot here then holds WAL for
// nothing, and the changes since are lost to the table there.
std::optional<std::string> remote_subscription_lost(Connection& remote, const std::string& name,
                                                    const std::string& server);

// Enables the subscription `name` there if it is disabled (and has its
// slot). Returns whether it was disabled.
bool enable_remote_subscription(Connection& remote, const std::string& name);

// Drops the subscription (which drops its slots on this server), whatever
// slot is left (the remote could not reach us), and, if drop_publication,
// the publication (as `owner`).
void drop_replication(Connection& remote, const std::string& name, unsigned int owner,
                      bool drop_publication);

// Waits until the subscription of slot `name` has applied every change of
// this server's WAL up to now, durably (the caller holds a lock that stops
// writes to the source): the slot confirmed it, or -- with `remote`, a
// connection to the subscription's server, polled every millisecond -- its
// apply worker received a message beyond it and a synchronous commit there
// flushed what it applied. ERROR 55P03 after presplit.remote_catchup_timeout;
// `label` names the move or plan in messages. Returns, when it flushed there,
// that server's WAL insert position read in the flush (flush_remote_wal):
// past every change it applied, where a reverse direction may start.
std::optional<std::string> wait_for_catch_up(const std::string& name, const std::string& server,
                                             const std::string& label,
                                             Connection* remote = nullptr);

// The same for several subscriptions at once (a split's remote targets): one
// position, all of them polled in one loop.
struct CatchUpTarget {
    std::string name;
    std::string server;
    std::string label;
    Connection* remote = nullptr;
};
std::vector<std::optional<std::string>>
wait_for_catch_up(const std::vector<CatchUpTarget>& targets);

// The same in two halves, so that a cutover can change the catalog under its
// lock while the other servers catch up: `mark`, mark_local_wal() taken
// under the lock, is the position they must have applied.
std::vector<std::optional<std::string>> wait_for_catch_up(const std::vector<CatchUpTarget>& targets,
                                                          const std::string& mark);

// Before a lock: waits, without it, until the subscription keeps up --
// rounds of wait_for_catch_up (everything up to the position when each
// began) until one takes at most presplit.cutover_lock_timeout and is as
// short as they get (core/lag_drain.hpp) -- so that under the lock only
// about that much is left to wait for. ERROR 55P03 after
// presplit.remote_catchup_timeout in all: the other server applies more
// slowly than this one writes (the step is retried at a later round).
// Returns how it went, for an event.
struct Drained {
    int rounds = 0;
    double last_round_ms = 0; // about what is left to wait for under the lock
    double total_ms = 0;
};
Drained drain_lag(const std::string& name, const std::string& server, const std::string& label,
                  Connection* remote = nullptr);

// What take_cut returns: the snapshot here (registered; the caller
// unregisters it), and for the event how it went.
struct Cut {
    SnapshotData* here = nullptr;
    double lock_held_ms = 0;
    int tries = 0;
};

// The cut a verification compares at (docs/multi_server.md,
// "Verification"): the lag drained without a lock; then under SHARE on the
// source (`source_oid`, named `source`), taken with the cutover's bounded
// retry -- it waits for every transaction that wrote the source and keeps
// new writes out, so nothing of the source changes while it is held: a
// snapshot here, the subscription `name` caught up to this server's WAL
// position, and a REPEATABLE READ transaction there whose first statement
// takes its snapshot; then the lock is released at once, in the middle of
// the worker's transaction, which keeps the snapshot (registered here, open
// there) for the scans. The remote is left in its transaction (the caller
// commits it). An error (the other server lags) ends the worker's
// transaction, and the lock.
Cut take_cut(Connection& remote, const std::string& name, const std::string& server,
             const std::string& label, unsigned int source_oid, const std::string& source,
             unsigned int owner);

// Whether the subscription `name` has copied its table (state ready).
bool initial_sync_done(Connection& remote, const std::string& name);

// Row count and order-independent checksum ("count", "sum") of a relation
// `from` (e.g. "ONLY s.t AS t WHERE ...", aliased t) here, as `owner`, and
// of a table on the other server, both in the same canonical text format.
// With a snapshot (a registered one), the relation as it saw it.
std::vector<std::string> local_summary(unsigned int owner, const std::string& from,
                                       SnapshotData* snapshot = nullptr);
std::vector<std::string> remote_summary(Connection& remote, const std::string& table);

// ($1 a subscription of this database, $2 a position on its publisher)
// 'true' when its apply worker has applied every transaction of the
// publisher up to $2: it received a message beyond $2 (received_lsn of its
// pg_stat_subscription row, set before each message is applied; the messages
// come in the publisher's WAL order and are applied one after the other, so
// every commit up to $2 was applied before), and its tables are ready
// (before that, a table synchronisation worker may still hold changes back).
// The commits are asynchronous: a flush there makes them durable.
extern const char* const kAppliedBeyond;

// Flushes this server's WAL up to everything inserted so far (asynchronous
// commits' records included), with one more record after it (a logical
// message no subscriber receives), and returns that record's end as text:
// what a walsender here can send at once, and what an apply worker here can
// confirm once it next reports.
std::string flush_local_wal();

// Flushes this server's WAL with one more record after everything inserted
// so far (a logical message no subscriber receives) and returns the position
// before that record: once a subscriber's apply worker received anything
// beyond it (that record's end at the latest, in a keepalive), it has
// applied every transaction up to it.
std::string mark_local_wal();

// A synchronous commit with an xid and a WAL record (a logical message no
// subscription of ours receives) over `remote`: that server's WAL flushed up
// to it, every transaction committed there before it with it. Returns that
// server's WAL insert position read in the same statement: past every
// transaction committed there before it.
std::string flush_remote_wal(Connection& remote);

} // namespace presplit::remote
