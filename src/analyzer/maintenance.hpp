// What the pg_presplit worker does for the analyzer (src/worker/worker.cpp
// calls these every round):
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

#include <cstdint>

namespace presplit::analyzer {

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
