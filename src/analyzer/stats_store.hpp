// The analyzer's statistics in shared memory: one entry per leaf partition
// of a managed table, holding its load over time (core::LoadHistory), a
// sample of the keys it is accessed at (core::KeySampler) and its size over
// time (core::SizeHistory). docs/analyzer.md, "Memory", "Concurrency" and
// "Persistence", has the reasoning.
//
// Entries live in a dynamic shared memory area (DSA) and are found through a
// dshash table keyed by (database, relation), as PostgreSQL 15's cumulative
// statistics keep theirs: the area is created in place in the main shared
// memory segment at server start (the postmaster loads the saved file into
// it there) and grows by dynamic shared memory segments as partitions are
// recorded, so there is no capacity to choose at start. Every process maps
// the area at its first use of the store.
//
// An entry is never returned to the area: one that is no longer wanted (its
// partition dropped or no longer managed, or evicted) goes to a free list
// and is reused by the next partition. So a pointer to an entry stays a
// pointer to some entry for the life of the server, and a backend's cache of
// where it found a partition is checked under the entry's own lock by the
// entry's key.
//
// presplit.analyzer_max_partitions caps the entries in use (a safety limit,
// 100 000 by default); past it, recording a new partition evicts the least
// recently used one, and analyzer_status counts it.
//
// Locks: the dshash's partition locks (shared to find an entry, exclusive to
// add or remove one), then one LWLock per entry for its contents; a
// partition a backend has recorded before is found through its cache with
// the entry's lock alone.
#pragma once

#include "core/key_sampler.hpp"
#include "core/load_history.hpp"
#include "core/size_history.hpp"

extern "C" {
#include "postgres.h"
}

#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

namespace presplit::analyzer {

// What the analyzer keeps per partition: copied out to readers, saved raw.
struct PartitionEntry {
    Oid dbid;
    Oid relid; // InvalidOid: not in use
    Oid parent;
    int64_t created_seconds; // when this entry was given to the partition
    int64_t last_used_seconds;
    int64_t last_decay_seconds;
    core::LoadHistory history;
    core::KeySampler sampler;
    core::SizeHistory sizes;
};
static_assert(std::is_standard_layout_v<PartitionEntry>);
static_assert(std::is_trivially_copyable_v<PartitionEntry>);

// One statement's effect on one partition.
struct PartitionUsage {
    Oid relid = InvalidOid;
    Oid parent = InvalidOid;
    core::LoadCounters counters{};
    // Where in the key space (none if unknown): the statement's accesses to
    // this partition, owned by the caller of record().
    const core::KeyAccess* accesses = nullptr;
    size_t access_count = 0;
};

// Called from the shared-memory hooks (src/hooks.cpp): the request, then the
// attach with AddinShmemInitLock held. At server start (and after a crash)
// the postmaster creates the area and loads the saved file.
void request_shared_memory();
void attach_shared_memory();

// Records a statement's effect on a partition of this database, giving the
// partition an entry if it has none.
void record(const PartitionUsage& usage, int64_t now_seconds, uint64_t random);

// Records a size sample of a partition of this database. Gives the
// partition an entry if it has none and the cap allows it without evicting;
// returns whether it was recorded.
bool record_size(Oid relid, Oid parent, int64_t now_seconds, int64_t rows, int64_t bytes);

// Copies every entry of database dbid (all if InvalidOid) out and passes it
// to f, one at a time.
void for_each_entry(Oid dbid, const std::function<void(const PartitionEntry&)>& f);

// Copies out the entry of a partition of database dbid; false if it has none.
bool copy_entry(Oid dbid, Oid relid, PartitionEntry& out);

// A partition made by a split continues its source's history: load_share
// of the source's load and size_share of its sizes, from before
// until_seconds (the cutover; core::LoadHistory::inherit), into relid's
// entry, given one if it has none and the cap allows it without evicting.
// Once: not into an entry whose load already starts before until_seconds.
// Returns whether it inherited.
bool inherit(const PartitionEntry& source, Oid relid, Oid parent, double load_share,
             double size_share, int64_t until_seconds, int64_t now_seconds);

// Zeroes the load and key samples of the given partitions (all of dbid if
// parent is InvalidOid). Their size history stays: it records the table,
// not the workload.
void reset(Oid dbid, Oid parent);

// Which partitions have entries, for the worker's sweep.
struct EntryKey {
    Oid dbid;
    Oid relid;
    Oid parent;
    int64_t created_seconds;
};
std::vector<EntryKey> entry_keys();
// Frees the entry of key.relid if it is still the one listed (the same
// creation time); returns whether it did.
bool forget(const EntryKey& key);

// Writes every entry to pg_stat/pg_presplit.stat (the pg_presplit worker
// does, periodically and at shutdown). Logs a failure at LOG, a success at
// success_elevel.
void save(int success_elevel);

struct StoreStatus {
    int capacity;  // presplit.analyzer_max_partitions
    int used;      // entries held by partitions
    int allocated; // entries in shared memory: used, or free for reuse
    uint64_t evictions;
    Size bytes_per_partition; // shared memory of one entry
};
StoreStatus status();

// Unix seconds now (the analyzer's clock).
int64_t now_seconds();

} // namespace presplit::analyzer
