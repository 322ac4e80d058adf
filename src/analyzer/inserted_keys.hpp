// Keys of the rows a recorded statement writes into a managed table: the
// most common hot spot (the right edge of a time series) is only ever
// appended to, and index scan keys never see it.
//
// INSERT (through the parent or a leaf, VALUES, SELECT, ON CONFLICT, in a
// data-modifying WITH): for a statement the analyzer records (1 in
// presplit.analyzer_sample_every), ExecutorStart wraps the function of the
// plan node under the ModifyTable node that produces the new rows
// (PlanState::ExecProcNodeReal): per row one call, a counter and a
// comparison (core::StreamSample), and a copy of the key of the at most
// kKeysPerSample rows kept. At ExecutorEnd each kept key is routed to its
// leaf as PostgreSQL routes the row (the parent's partition bounds, binary
// search, the default partition), and becomes a point access weighing for
// the rows left out. Statements that are not recorded are not wrapped: they
// pay nothing.
//
// COPY FROM has no plan and no per-row hook (a BEFORE ROW trigger would turn
// off COPY's multi-row inserts). After a recorded COPY, for each leaf it
// wrote, up to kKeysPerSample keys are read back from the pages at the end
// of the leaf (where the rows of a COPY go, unless free space in earlier
// pages took them), among the tuples this command inserted (this
// transaction, this command id).
#pragma once

#include "analyzer/leaf_access.hpp"

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
}

#include <cstddef>

namespace presplit::analyzer {

// After the standard ExecutorStart of a recorded statement: starts sampling
// the rows of its INSERTs into managed tables.
void start_sampling_inserted_rows(QueryDesc* query);

// At ExecutorEnd: the sampled keys as point accesses of their leaves (their
// weights multiplied by scale), and stops sampling.
void collect_inserted_keys(QueryDesc* query, double scale, LeafAccesses& out);

// The executor's memory is going (the statement ended or failed): forget
// its samplers.
void forget_inserted_rows(MemoryContext memory);

// After a recorded COPY: keys of the rows `command` (the COPY's command id)
// inserted into the leaf, `rows` of them, as point accesses.
void collect_copied_keys(const ManagedLeaf& leaf, int64 rows, CommandId command, double scale,
                         LeafAccesses& out);

// Plan nodes whose rows are being sampled in this backend (for the tests).
size_t sampled_insert_nodes();

} // namespace presplit::analyzer
