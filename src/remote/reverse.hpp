// The reverse direction of a cutover to another server (docs/multi_server.md,
// "Rollback after the cutover"): once a table here has been replaced by a
// table on a postgres_fdw server, every change written there flows back into
// the table kept here, so that a rollback is a swap, not a copy.
//
// PostgreSQL's logical replication again, the other way: a publication and a
// logical slot on the server, a subscription here (copy_data = false) whose
// replication origin starts at the server's WAL position taken at the
// cutover, when the server had applied everything from here. The changes the
// forward direction applied before that position are not sent back (they are
// already here); everything written there after it is (PostgreSQL 17's
// pg_createsubscriber starts a subscription the same way).
//
// Used by moves (remote/move.cpp) and meant for any cutover to a remote
// target: nothing here knows what a move is.
#pragma once

#include "remote/connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace presplit::remote {

struct ReverseTarget {
    // The publication and the slot on the server, the subscription here.
    std::string name;
    unsigned int server = 0;      // the foreign server
    unsigned int owner = 0;       // whose user mapping the subscription connects with
    std::string remote_table;     // on the server: qualified, quoted
    unsigned int local_table = 0; // the kept table here (same schema and name)
    std::string label;            // for messages, e.g. "move 3"
};

// Why the reverse direction cannot be set up (the server's wal_level, user
// code on the kept table that the apply would run as a superuser), or
// nothing. Changes nothing.
std::optional<std::string> reverse_unavailable(Connection& remote, const ReverseTarget& target);

// Before the cutover's lock, in its transaction: the publication and a new
// slot on the server (a slot left by an earlier try is replaced), then the
// subscription here, disabled. Creating the slot waits for the server's
// transactions that have an xid: bounded by presplit.remote_catchup_timeout.
void prepare_reverse(Connection& remote, const ReverseTarget& target);

// Under the cutover's lock, once the server has applied every change from
// here: the server's WAL position, where the reverse direction starts.
std::string reverse_start_lsn(Connection& remote);

// After the cutover committed (its origin then exists for good: an origin
// advanced in a transaction that aborts would leave its position to the
// next origin given the same id): the subscription's origin moved up to
// `lsn` if it is behind, and the subscription enabled. Returns whether the
// origin moved (the first start).
bool start_reverse(const ReverseTarget& target, const std::string& lsn);

// Waits until this server has applied every change the server committed so
// far (the caller has stopped the writes that go there). ERROR 55P03 after
// presplit.remote_catchup_timeout; ERROR 55000 if the slot or the enabled
// subscription is gone (the caller says why the direction is lost).
void wait_for_reverse_catch_up(Connection& remote, const ReverseTarget& target);

// The same for several reverse directions at once (a split's remote
// targets), polled in one loop.
struct ReverseWait {
    Connection* remote = nullptr;
    const ReverseTarget* target = nullptr;
};
void wait_for_reverse_catch_up(const std::vector<ReverseWait>& waits);

// Before the rollback's lock, without it: rounds of wait_for_reverse_catch_up
// until one takes at most presplit.cutover_lock_timeout and is as short as
// they get (core/lag_drain.hpp), so that under the lock only what is
// written meanwhile is left (the forward direction's drain_lag). ERROR 55P03
// after presplit.remote_catchup_timeout.
void drain_reverse_lag(const std::vector<ReverseWait>& waits);

// Drops the subscription here (in the caller's transaction) -- whatever of
// it exists.
void drop_reverse_subscription(const ReverseTarget& target);

// Drops the slot (ending the walsender that holds it) and the publication
// on the server -- whatever of them exists.
void drop_reverse_publication(Connection& remote, const ReverseTarget& target);

bool reverse_subscription_enabled(const ReverseTarget& target);

// Why the direction is lost -- its subscription here gone or detached from
// its slot (slot_name = NONE), or its slot there gone -- or nothing.
std::optional<std::string> reverse_lost(Connection& remote, const ReverseTarget& target);

} // namespace presplit::remote
