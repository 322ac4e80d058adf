#include "analyzer/recorder.hpp"

#include "analyzer/key_axis.hpp"
#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "config.hpp"
#include "pg/backend_random.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/nbtree.h"
#include "access/parallel.h"
#include "access/skey.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "utils/rel.h"
}

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace presplit::analyzer {
namespace {

// Rows inserted, updated and deleted in relid by this transaction so far.
int64 writes_so_far(Oid relid) {
    PgStat_TableStatus* status = find_tabstat_entry(relid);
    if (status == nullptr)
        return 0;
    int64 total = status->t_counts.t_tuples_inserted + status->t_counts.t_tuples_updated +
                  status->t_counts.t_tuples_deleted;
    for (PgStat_TableXactStatus* level = status->trans; level != nullptr; level = level->upper)
        total += level->tuples_inserted + level->tuples_updated + level->tuples_deleted;
    return total;
}

// Per recorded statement: what it did to each managed leaf it touched. Most
// statements touch a few: kept on the stack, no allocation (a statement over
// more leaves spills to the heap).
using PartitionUsages = boost::container::small_vector<PartitionUsage, 8>;

// An execution being recorded, from the end of ExecutorStart to ExecutorEnd.
// Executors nest (functions, triggers), so a stack. An execution that never
// reaches ExecutorEnd (an error, caught by a PL/pgSQL EXCEPTION block or a
// savepoint or not; a portal dropped unfinished) is forgotten when its
// memory goes (a reset callback on es_query_cxt), so nothing outlives it: no
// leak, and no later execution that gets the same QueryDesc address is taken
// for it.
struct TrackedStatement {
    QueryDesc* query;
    MemoryContext memory; // the executor's es_query_cxt
    uint64_t scale;       // presplit.analyzer_sample_every when it was sampled
    std::vector<WriteBaseline> writes;
};
std::vector<TrackedStatement> tracked;

void tracked_memory_gone(void* arg) {
    pg::entry([&] {
        const auto memory = static_cast<MemoryContext>(arg);
        tracked.erase(std::remove_if(tracked.begin(), tracked.end(),
                                     [&](const TrackedStatement& statement) {
                                         return statement.memory == memory;
                                     }),
                      tracked.end());
    });
}

// Leaves a relation stands for: itself if a managed leaf, all leaves if a
// managed parent.
void add_leaves_of(Oid relid, std::vector<WriteBaseline>& out) {
    auto add = [&](Oid leaf) {
        for (const auto& existing : out)
            if (existing.relid == leaf)
                return;
        out.push_back({leaf, writes_so_far(leaf)});
    };
    if (find_leaf(relid)) {
        add(relid);
    } else if (is_managed_parent(relid)) {
        for_each_leaf_of(relid, add);
    }
}

bool touches_managed(List* range_table) {
    ListCell* cell;
    foreach (cell, range_table) {
        auto* rte = static_cast<RangeTblEntry*>(lfirst(cell));
        if (rte->rtekind == RTE_RELATION &&
            (find_leaf(rte->relid) || is_managed_parent(rte->relid)))
            return true;
    }
    return false;
}

// Whether this statement is one of the sampled ones, and with what weight:
// each with probability 1/N, drawn at random. (Every N-th statement would
// alias with a workload's own period: with two statements per transaction
// and N = 10, only the first of the two would ever be recorded.)
uint64_t sample_scale() {
    const uint64_t every = static_cast<uint64_t>(config::analyzer_sample_every);
    if (every <= 1)
        return 1;
    return pg::backend_random() % every == 0 ? every : 0;
}

// Not in parallel workers (the leader sums their counts) nor in background
// workers (pg_presplit's own backfill is not the workload).
bool should_consider(int eflags) {
    return config::analyzer_enabled && !IsParallelWorker() && !IsBackgroundWorker &&
           (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && IsTransactionState();
}

// --- collecting what a statement did ---------------------------------------

PartitionUsage& usage_of(PartitionUsages& usages, const ManagedLeaf& leaf) {
    for (auto& usage : usages)
        if (usage.relid == leaf.relid)
            return usage;
    PartitionUsage usage;
    usage.relid = leaf.relid;
    usage.parent = leaf.parent;
    usages.push_back(usage);
    return usages.back();
}

// The key range an index scan asked for, if its keys constrain the partition
// key through a btree index.
bool span_from_scan_keys(const ManagedLeaf& leaf, Relation index, ScanKey keys, int count,
                         double& lo, double& hi) {
    if (index == nullptr || index->rd_rel->relam != BTREE_AM_OID)
        return false;
    bool constrained = false;
    for (int i = 0; i < count; i++) {
        const ScanKeyData& key = keys[i];
        if (key.sk_flags & (SK_ISNULL | SK_ROW_HEADER | SK_ROW_MEMBER | SK_SEARCHARRAY |
                            SK_SEARCHNULL | SK_SEARCHNOTNULL))
            continue;
        if (key.sk_attno < 1 || key.sk_attno > index->rd_index->indnkeyatts ||
            index->rd_index->indkey.values[key.sk_attno - 1] != leaf.key_attnum)
            continue;
        Oid type = OidIsValid(key.sk_subtype) ? key.sk_subtype : leaf.key_type;
        std::optional<double> value = key_to_axis(key.sk_argument, type);
        if (!value)
            continue;
        switch (key.sk_strategy) {
        case BTEqualStrategyNumber:
            lo = std::max(lo, *value);
            hi = std::min(hi, *value);
            constrained = true;
            break;
        case BTGreaterStrategyNumber:
        case BTGreaterEqualStrategyNumber:
            lo = std::max(lo, *value);
            constrained = true;
            break;
        case BTLessStrategyNumber:
        case BTLessEqualStrategyNumber:
            hi = std::min(hi, *value);
            constrained = true;
            break;
        default:
            break;
        }
    }
    return constrained;
}

// Where a scan's key span comes from: the partition's bounds (a full scan),
// its index keys, or elsewhere (a bitmap heap scan: its bitmap index scans).
enum class SpanSource { bounds, index_keys, none };

void note_scan(PartitionUsages& usages, PlanState* state, EState* estate, SpanSource source,
               Relation index, ScanKey keys, int key_count, bool counts_rows) {
    Index scanrelid = reinterpret_cast<Scan*>(state->plan)->scanrelid;
    if (scanrelid == 0)
        return;
    const ManagedLeaf* leaf = find_leaf(exec_rt_fetch(scanrelid, estate)->relid);
    if (leaf == nullptr)
        return;
    Instrumentation* instrument = state->instrument;
    if (instrument == nullptr)
        return;
    InstrEndLoop(instrument);
    if (instrument->nloops <= 0)
        return; // pruned at run time, or never reached
    PartitionUsage& usage = usage_of(usages, *leaf);
    if (counts_rows) {
        usage.counters.reads = 1;
        usage.counters.rows_read += static_cast<uint64_t>(instrument->ntuples);
    }
    if (source == SpanSource::none || !key_type_supported(leaf->key_type))
        return;
    double lo = leaf->has_lower ? leaf->lower : -std::numeric_limits<double>::infinity();
    double hi = leaf->has_upper ? leaf->upper : std::numeric_limits<double>::infinity();
    bool from_keys = span_from_scan_keys(*leaf, index, keys, key_count, lo, hi);
    if (!from_keys && source == SpanSource::index_keys)
        return; // an index scan whose keys we cannot read (e.g. = ANY): unknown
    if (!from_keys && !(leaf->has_lower && leaf->has_upper) && !usage.has_span)
        return; // an unbounded full scan: nothing to sample
    if (!usage.has_span || from_keys) {
        usage.has_span = true;
        usage.lo = lo;
        usage.hi = hi;
        usage.span_weight = 1;
    }
}

void walk(PlanState* state, EState* estate, PartitionUsages& usages);

void walk_list(List* states, EState* estate, PartitionUsages& usages) {
    ListCell* cell;
    foreach (cell, states) {
        auto* item = static_cast<Node*>(lfirst(cell));
        if (IsA(item, SubPlanState))
            walk(reinterpret_cast<SubPlanState*>(item)->planstate, estate, usages);
        else
            walk(reinterpret_cast<PlanState*>(item), estate, usages);
    }
}

void walk_array(PlanState** states, int count, EState* estate, PartitionUsages& usages) {
    for (int i = 0; i < count; i++)
        walk(states[i], estate, usages);
}

void walk(PlanState* state, EState* estate, PartitionUsages& usages) {
    if (state == nullptr)
        return;
    switch (nodeTag(state)) {
    case T_SeqScanState:
    case T_SampleScanState:
    case T_TidScanState:
    case T_TidRangeScanState:
        note_scan(usages, state, estate, SpanSource::bounds, nullptr, nullptr, 0, true);
        break;
    case T_BitmapHeapScanState:
        note_scan(usages, state, estate, SpanSource::none, nullptr, nullptr, 0, true);
        break;
    case T_IndexScanState: {
        auto* scan = reinterpret_cast<IndexScanState*>(state);
        note_scan(usages, state, estate, SpanSource::index_keys, scan->iss_RelationDesc,
                  scan->iss_ScanKeys, scan->iss_NumScanKeys, true);
        break;
    }
    case T_IndexOnlyScanState: {
        auto* scan = reinterpret_cast<IndexOnlyScanState*>(state);
        note_scan(usages, state, estate, SpanSource::index_keys, scan->ioss_RelationDesc,
                  scan->ioss_ScanKeys, scan->ioss_NumScanKeys, true);
        break;
    }
    case T_BitmapIndexScanState: {
        // Rows are counted by the bitmap heap scan above; the keys are here.
        auto* scan = reinterpret_cast<BitmapIndexScanState*>(state);
        note_scan(usages, state, estate, SpanSource::index_keys, scan->biss_RelationDesc,
                  scan->biss_ScanKeys, scan->biss_NumScanKeys, false);
        break;
    }
    case T_AppendState: {
        auto* append = reinterpret_cast<AppendState*>(state);
        walk_array(append->appendplans, append->as_nplans, estate, usages);
        break;
    }
    case T_MergeAppendState: {
        auto* append = reinterpret_cast<MergeAppendState*>(state);
        walk_array(append->mergeplans, append->ms_nplans, estate, usages);
        break;
    }
    case T_BitmapAndState: {
        auto* node = reinterpret_cast<BitmapAndState*>(state);
        walk_array(node->bitmapplans, node->nplans, estate, usages);
        break;
    }
    case T_BitmapOrState: {
        auto* node = reinterpret_cast<BitmapOrState*>(state);
        walk_array(node->bitmapplans, node->nplans, estate, usages);
        break;
    }
    case T_SubqueryScanState:
        walk(reinterpret_cast<SubqueryScanState*>(state)->subplan, estate, usages);
        break;
    case T_CustomScanState:
        walk_list(reinterpret_cast<CustomScanState*>(state)->custom_ps, estate, usages);
        break;
    default:
        break;
    }
    walk_list(state->initPlan, estate, usages);
    walk_list(state->subPlan, estate, usages);
    walk(outerPlanState(state), estate, usages);
    walk(innerPlanState(state), estate, usages);
}

void record_usages(PartitionUsages& usages, uint64_t scale, double seconds) {
    if (usages.empty())
        return;
    const int64_t now = now_seconds();
    const uint64_t time_us = static_cast<uint64_t>(std::llround(seconds * 1e6));
    for (auto& usage : usages) {
        core::LoadCounters& counters = usage.counters;
        counters.time_us = time_us;
        counters.reads *= scale;
        counters.writes *= scale;
        counters.rows_read *= scale;
        counters.rows_written *= scale;
        counters.time_us *= scale;
        usage.span_weight *= scale;
        pg::call([&] { record(usage, now, pg::backend_random()); });
    }
}

// Writes since the baseline, per leaf; the scans of a written leaf are part
// of the write (an UPDATE reads what it changes), not separate reads.
void add_writes(PartitionUsages& usages, const std::vector<WriteBaseline>& baseline) {
    for (const auto& base : baseline) {
        int64 delta = writes_so_far(base.relid) - base.before;
        if (delta <= 0)
            continue;
        const ManagedLeaf* leaf = find_leaf(base.relid);
        if (leaf == nullptr)
            continue;
        PartitionUsage& usage = usage_of(usages, *leaf);
        usage.counters.writes = 1;
        usage.counters.rows_written += static_cast<uint64_t>(delta);
        usage.counters.reads = 0;
        usage.counters.rows_read = 0;
    }
}

} // namespace

// --- what the module's hooks call (src/hooks.cpp) -----------------------------

uint64_t statement_starting(QueryDesc* query, int eflags) {
    if (!should_consider(eflags))
        return 0;
    refresh_managed_set();
    if (!watching_anything() ||
        !pg::call([&] { return touches_managed(query->plannedstmt->rtable); }))
        return 0;
    const uint64_t scale = sample_scale();
    if (scale > 0)
        query->instrument_options |= INSTRUMENT_ROWS;
    return scale;
}

void statement_started(QueryDesc* query, uint64_t scale) {
    if (scale == 0)
        return;
    TrackedStatement statement{query, query->estate->es_query_cxt, scale, {}};
    if (query->operation != CMD_SELECT) {
        ListCell* cell;
        foreach (cell, query->plannedstmt->resultRelations) {
            Oid relid =
                pg::call([&] { return exec_rt_fetch(lfirst_int(cell), query->estate)->relid; });
            add_leaves_of(relid, statement.writes);
        }
    }
    pg::call([&] {
        auto* callback = static_cast<MemoryContextCallback*>(
            MemoryContextAlloc(statement.memory, sizeof(MemoryContextCallback)));
        callback->func = tracked_memory_gone;
        callback->arg = statement.memory;
        MemoryContextRegisterResetCallback(statement.memory, callback);
    });
    tracked.push_back(std::move(statement));
}

void statement_ending(QueryDesc* query, double executor_seconds) {
    for (size_t i = tracked.size(); i-- > 0;) {
        if (tracked[i].query != query || query->estate == nullptr ||
            tracked[i].memory != query->estate->es_query_cxt)
            continue;
        TrackedStatement statement = std::move(tracked[i]);
        tracked.erase(tracked.begin() + static_cast<long>(i));
        PartitionUsages usages;
        walk(query->planstate, query->estate, usages);
        add_writes(usages, statement.writes);
        record_usages(usages, statement.scale, executor_seconds);
        return;
    }
}

bool is_tracked(const QueryDesc* query) {
    for (const auto& statement : tracked)
        if (statement.query == query)
            return true;
    return false;
}

UtilityRecording utility_starting(PlannedStmt* statement) {
    UtilityRecording recording;
    Node* parsed = statement->utilityStmt;
    if (!config::analyzer_enabled || IsBackgroundWorker || !IsA(parsed, CopyStmt) ||
        !reinterpret_cast<CopyStmt*>(parsed)->is_from ||
        reinterpret_cast<CopyStmt*>(parsed)->relation == nullptr || !IsTransactionState())
        return recording;
    refresh_managed_set();
    if (!watching_anything())
        return recording;
    Oid relid = pg::call([&] {
        return RangeVarGetRelid(reinterpret_cast<CopyStmt*>(parsed)->relation, NoLock, true);
    });
    if ((find_leaf(relid) || is_managed_parent(relid)) && (recording.scale = sample_scale()) > 0)
        add_leaves_of(relid, recording.baseline);
    return recording;
}

void utility_finished(const UtilityRecording& recording, double seconds) {
    if (recording.baseline.empty())
        return;
    PartitionUsages usages;
    add_writes(usages, recording.baseline);
    record_usages(usages, recording.scale, seconds);
}

size_t tracked_executions() {
    return tracked.size();
}

} // namespace presplit::analyzer
