// The analyzer's statistics in shared memory: one entry per tracked leaf
// partition (of a managed table), holding its load over time
// (core::LoadHistory) and a sample of the keys it is accessed at
// (core::KeySampler). The number of entries is fixed at server start
// (presplit.analyzer_max_partitions); when all are taken, the least recently
// used one is evicted and presplit.analyzer_status counts it. Entries are
// handed out in order and never freed, so nothing is evicted while fewer
// partitions than that have been recorded.
//
// The directory (which entry holds which partition) is a PostgreSQL shared
// hash table keyed by database and relation. Locking: one LWLock guards the
// directory -- shared to look a partition up, exclusive only to claim an
// entry -- and 16 striped LWLocks guard entry contents. Readers copy entries
// out under the stripe lock, so views never see a half-written entry.
#pragma once

#include "core/key_sampler.hpp"
#include "core/load_history.hpp"

extern "C" {
#include "postgres.h"
}

#include <cstdint>
#include <functional>
#include <type_traits>

namespace presplit::analyzer {

struct PartitionEntry {
    Oid dbid;
    Oid relid; // InvalidOid: a free entry
    Oid parent;
    int64_t last_used_seconds;
    int64_t last_decay_seconds;
    core::LoadHistory history;
    core::KeySampler sampler;
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
// attach with AddinShmemInitLock held.
void request_shared_memory();
void attach_shared_memory(); // creates or attaches; loads the saved file once

void record(const PartitionUsage& usage, int64_t now_seconds, uint64_t random);

// Copies every entry of database dbid (all if InvalidOid) out and passes it
// to f, one at a time.
void for_each_entry(Oid dbid, const std::function<void(const PartitionEntry&)>& f);

// Zeroes the statistics of the given partitions (all of dbid if parent is
// InvalidOid).
void reset(Oid dbid, Oid parent);

struct StoreStatus {
    int capacity;
    int used;
    uint64_t evictions;
    Size bytes_per_partition;
};
StoreStatus status();

// Unix seconds now (the analyzer's clock).
int64_t now_seconds();

} // namespace presplit::analyzer
