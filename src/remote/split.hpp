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
//                      anything is left); a rollback before the cutover
//                      drops replication, the foreign tables and the remote
//                      tables.
#pragma once

#include "migration/layout.hpp"
#include "migration/split_request.hpp"

#include <cstdint>
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

// The worker's step before anything is written in its transaction (creating
// a slot waits for every transaction with an xid): creates the missing
// subscriptions. True if it created one.
bool subscribe_remote_targets(const migration::PlanLayout& layout);

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

// Under the cutover's lock: waits until every remote target has applied the
// source's changes up to now (bounded by presplit.remote_catchup_timeout,
// ERROR 55P03 then: the cutover is given up and retried).
void wait_for_remote_targets(const migration::PlanLayout& layout);

// When the plan starts switching: a foreign table per remote target (named
// like a local shadow), not attached, for weighted reads.
void create_remote_read_tables(const migration::PlanLayout& layout);

// Under the cutover's lock, the source detached: each remote target's
// foreign table (created now if missing), attached with its bound (no scan).
void attach_remote_targets(const migration::PlanLayout& layout, const std::string& parent);

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
// drop_tables (before the cutover) its foreign table here and its table on
// the server.
void drop_remote_targets(const migration::PlanLayout& layout, bool drop_tables);

} // namespace presplit::remote
