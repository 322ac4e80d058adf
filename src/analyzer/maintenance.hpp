// What the pg_presplit worker does for the analyzer (src/worker/worker.cpp
// calls these every round):
//   pass on  before a sweep: a split's source, detached at its cutover,
//          passes its share of its history to each partition made from it
//          (docs/analyzer.md, "Partitions made by a split");
//   sweep  frees the entries of partitions that are no longer leaves of a
//          managed table in the worker's database (dropped, detached, their
//          table unmanaged) and of databases that no longer exist: whenever
//          the worker's set of managed partitions changed, and with each
//          size sample. Entries of other databases' managed tables are kept
//          (the worker does not see their catalogs).
//   sizes  samples each managed leaf partition's rows and bytes into its
//          size history: when the worker starts and then at the start of
//          every presplit.size_sample_interval (aligned to UTC).
//   save   writes the statistics file every presplit.analyzer_save_interval
//          and when the worker stops at a shutdown, so that the next start,
//          or the restart after a crash, begins from there.
#pragma once

#include "postgres_ext.h"

#include <cstdint>
#include <vector>

namespace presplit::analyzer {

// A split that cut over: its source and the partitions made from it (local
// ones and foreign tables on other servers).
struct Succession {
    Oid source = InvalidOid;
    int64_t cut_over_seconds = 0; // on the analyzer's clock
    std::vector<Oid> made;
};

// What one partition made by a split got of its source's history.
struct Inheritance {
    Oid source = InvalidOid;
    Oid made = InvalidOid;
    double load_share = 0;
    double size_share = 0;
    bool load_from_accesses = false; // false: load shared as size is
};

// Whether this round's maintain() sweeps (needs a transaction). A sweep is
// the only time a split source's entry is freed: when one is due, the
// worker first asks the catalog which splits cut over lately and calls
// pass_on_histories, then maintain().
bool sweep_due(int64_t now_seconds);

// Each split's source entry, while it still has one, passes its share of its
// history to each partition made from it that is a leaf here (once each:
// stats_store.hpp, inherit). Needs a transaction. The successions must have
// been read after sweep_due(): maintain() sweeps only if the set of managed
// partitions is still the one sweep_due() saw (a cutover committed since
// is passed on in the next round, before its source is freed).
std::vector<Inheritance> pass_on_histories(const std::vector<Succession>& successions,
                                           int64_t now_seconds);

// The sweep and, when due, the size sample (in a transaction in the
// worker's database).
void maintain(int64_t now_seconds);

// The periodic save, when due (outside a transaction); the clock starts
// when the worker does.
void save_if_due(int64_t now_seconds);

// The last save, when the worker stops at a shutdown.
void save_at_shutdown();

// The size sample (also presplit_test_sample_sizes): for every managed leaf
// partition of this database, its estimated rows (pg_class.reltuples, -1
// while unknown) and its bytes (pg_total_relation_size: table, indexes and
// TOAST), recorded as taken at now_seconds. A partition whose lock is not
// free at once (an ALTER TABLE, a cutover) is left for the next sample.
// Needs a transaction; returns how many were recorded.
int sample_sizes(int64_t now_seconds);

} // namespace presplit::analyzer
