// The analyzer's statement recorder, called by the module's executor and
// utility hooks (src/hooks.cpp). For statements that touch no managed table
// (or while presplit.analyzer is off) it does nothing but a check for pending
// cache invalidations (an unlocked flag read when there are none;
// catalog/table_watch.hpp) and a scan of the range table.
//
// For a statement that touches a managed table (through the parent or a
// partition, from PL/pgSQL, prepared, in parallel, COPY), the analyzer
// records per leaf partition what it did, attributed after run-time pruning:
//   reads        SELECT-side scans that ran (statements; rows they returned)
//   writes       rows inserted, updated or deleted in the partition (from the
//                transaction's own pgstat counters, before and after)
//   time         the statement's executor time, counted for every partition
//                it touched
//   keys         for index scans whose first column is the partition key,
//                the key range of the scan keys, or the elements of an
//                `= ANY` array; for other scans the partition's bounds; the
//                keys of the rows it inserts or copies (sampled:
//                inserted_keys.hpp)
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
#include "nodes/plannodes.h"
}

#include "analyzer/write_counts.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace presplit::analyzer {

// ExecutorStart, before the standard one runs: whether the statement is
// recorded, and with what weight (0: not recorded). Asks for row
// instrumentation when it is.
uint64_t statement_starting(QueryDesc* query, int eflags);
// ExecutorStart, after the standard one: starts tracking a recorded
// statement (scale from statement_starting; 0 does nothing).
void statement_started(QueryDesc* query, uint64_t scale);
// Whether statement_started tracks this execution (it wants totaltime).
bool is_tracked(const QueryDesc* query);
// ExecutorEnd, before the standard one: records what a tracked statement did.
void statement_ending(QueryDesc* query, double executor_seconds);

// COPY FROM into a managed table: rows per partition, from the pgstat
// counters before and after; keys of the copied rows, read back from the
// pages they went to (inserted_keys.hpp).
struct UtilityRecording {
    uint64_t scale = 0;
    std::vector<WriteBaseline> baseline;  // empty: not recorded
    CommandId command = InvalidCommandId; // the COPY's: its rows carry it
};
UtilityRecording utility_starting(PlannedStmt* statement);
void utility_finished(const UtilityRecording& recording, double seconds);

// How many executions the analyzer is recording in this backend right now
// (for the tests: none once every statement has ended or failed).
size_t tracked_executions();

} // namespace presplit::analyzer
