// Planner, executor and utility hooks. They chain to the hooks installed
// before pg_presplit (or the standard_* functions) and, for statements that
// touch no managed table (or while presplit.analyzer is off), do nothing
// else: a check for pending cache invalidations (an unlocked flag read when
// there are none; catalog/table_watch.hpp) and a scan of the range table.
//
// The planner hook also routes reads of switching plans, and the executor
// hooks time routed executions for the channel statistics (see
// switchover/routing.hpp).
//
// For a statement that touches a managed table (through the parent or a
// partition, from PL/pgSQL, prepared, in parallel, COPY), the analyzer
// records per leaf partition what it did, attributed after run-time pruning:
//   reads        SELECT-side scans that ran (statements; rows they returned)
//   writes       rows inserted, updated or deleted in the partition (from the
//                transaction's own pgstat counters, before and after)
//   time         the statement's executor time, counted for every partition
//                it touched
//   key span     for index scans whose first column is the partition key,
//                the key range of the scan keys; for other scans the
//                partition's bounds (INSERTed keys are not sampled)
#pragma once

#include <cstddef>

namespace presplit::analyzer {

// Called from _PG_init, while shared_preload_libraries is processed.
void install_hooks();

// How many executions the analyzer is recording in this backend right now
// (for the tests: none once every statement has ended or failed).
size_t tracked_executions();

} // namespace presplit::analyzer
