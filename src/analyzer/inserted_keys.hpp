// The rows a recorded statement writes into a managed table: their keys (the
// most common hot spot, the right edge of a time series, is only ever
// appended to, and index scan keys never see it) and, for an INSERT through
// the parent, which leaves they went to.
//
// INSERT (through the parent or a leaf, VALUES, SELECT, ON CONFLICT, in a
// data-modifying WITH): for a statement the analyzer records (1 in
// presplit.analyzer_sample_every), ExecutorStart wraps the function of the
// plan node under the ModifyTable node that produces the new rows
// (PlanState::ExecProcNodeReal). Per row: one call, the key read from the
// row, its partition found as PostgreSQL's tuple routing finds it (the same
// partition descriptor; the previous row's partition checked first, then a
// binary search of the bounds), and a counter and a comparison
// (core::StreamSample) to keep at most kKeysPerSample keys, each weighing
// for the rows left out. The first row that reaches a leaf takes that leaf's
// write baseline (write_counts.hpp), so an INSERT through a parent of many
// partitions looks up the counters of the leaves it writes, not of all.
// Statements that are not recorded are not wrapped: they pay nothing.
//
// COPY FROM has no plan and no per-row hook (a BEFORE ROW trigger would turn
// off COPY's multi-row inserts). After a recorded COPY, for each leaf it
// wrote, up to kKeysPerSample keys are read back from the pages at the end
// of the leaf (where the rows of a COPY go, unless free space in earlier
// pages took them), among the tuples this command inserted (this
// transaction, this command id).
#pragma once

#include "analyzer/leaf_access.hpp"
#include "analyzer/write_counts.hpp"

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
}

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <vector>

namespace presplit::analyzer {

// The managed parents whose leaves' write baselines the row sampling takes
// itself, as rows reach them.
using RoutedParents = boost::container::small_vector<Oid, 2>;

// After the standard ExecutorStart of a recorded statement: starts sampling
// the rows of its INSERTs into managed tables.
RoutedParents start_sampling_inserted_rows(QueryDesc* query);

// At ExecutorEnd: the kept keys as point accesses of their leaves, the write
// baselines of the leaves rows reached, and stops sampling.
void collect_inserted_rows(QueryDesc* query, LeafAccesses& accesses,
                           std::vector<WriteBaseline>& baselines);

// The executor's memory is going (the statement ended or failed): forget
// its samplers.
void forget_inserted_rows(MemoryContext memory) noexcept;

// After a recorded COPY: keys of the rows `command` (the COPY's command id)
// inserted into the leaf, `rows` of them, as point accesses.
void collect_copied_keys(const ManagedLeaf& leaf, int64 rows, CommandId command, LeafAccesses& out);

// Plan nodes whose rows are being sampled in this backend (for the tests).
size_t sampled_insert_nodes();

} // namespace presplit::analyzer
