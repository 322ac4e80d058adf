#include "analyzer/recorder.hpp"

#include "analyzer/inserted_keys.hpp"
#include "analyzer/key_axis.hpp"
#include "analyzer/leaf_access.hpp"
#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "config.hpp"
#include "core/stream_sample.hpp"
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
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace presplit::analyzer {
namespace {

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
        forget_inserted_rows(memory);
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

// An UPDATE or DELETE through a managed parent lists the parent (its root
// relation) among its result relations, beside the leaves left after
// plan-time pruning, which it writes. Only an UPDATE of a partition key (the
// planner's partColsUpdated, any level) can also write other leaves (rows
// moved there); otherwise the parent's own baseline -- one per leaf, 1 000
// pgstat lookups at 1 000 partitions -- is not needed.
const ModifyTable* modify_table_rooted_at(const PlannedStmt* statement, Index root) {
    auto rooted = [&](const Plan* plan) {
        return plan != nullptr && IsA(plan, ModifyTable) &&
               reinterpret_cast<const ModifyTable*>(plan)->rootRelation == root;
    };
    if (rooted(statement->planTree))
        return reinterpret_cast<const ModifyTable*>(statement->planTree);
    ListCell* cell;
    foreach (cell, statement->subplans) // data-modifying WITH
        if (rooted(static_cast<const Plan*>(lfirst(cell))))
            return static_cast<const ModifyTable*>(lfirst(cell));
    return nullptr;
}

bool writes_only_listed_leaves(const QueryDesc* query, Index rti, Oid relid) {
    if ((query->operation != CMD_UPDATE && query->operation != CMD_DELETE) ||
        !is_managed_parent(relid))
        return false;
    const ModifyTable* modify = modify_table_rooted_at(query->plannedstmt, rti);
    return modify != nullptr && (modify->operation == CMD_DELETE ||
                                 (modify->operation == CMD_UPDATE && !modify->partColsUpdated));
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

// Per leaf, what the statement did (counters), and where in the key space.
struct StatementActivity {
    PartitionUsages usages;
    LeafAccesses accesses;
};

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

// Whether a btree scan key that is not an equality orders keys as the
// partition key does: the same operator family, and for text the same
// collation (an index under another collation reads another range).
bool orders_like_partition_key(const ManagedLeaf& leaf, Relation index, const ScanKeyData& key) {
    return index->rd_opfamily[key.sk_attno - 1] == leaf.axis.opfamily &&
           (!leaf.axis.collation_matters || key.sk_collation == leaf.axis.collation);
}

// PostgreSQL code (inside pg::call): the elements of an array scan key.
struct ArrayElements {
    Oid type;
    int count;
    Datum* values;
    bool* nulls;
};

ArrayElements array_elements(Datum array_datum) {
    ArrayType* array = DatumGetArrayTypeP(array_datum);
    ArrayElements elements{ARR_ELEMTYPE(array), 0, nullptr, nullptr};
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elements.type, &typlen, &typbyval, &typalign);
    deconstruct_array(array, elements.type, typlen, typbyval, typalign, &elements.values,
                      &elements.nulls, &elements.count);
    return elements;
}

// `key = ANY(array)`: each element is a point access of its own (one index
// descent each, as many separate lookups would be), sampled: at most
// kKeysPerSample of them, each weighing for the ones left out. Elements
// outside the leaf (the whole array reaches every partition that holds one
// of them) or outside [lo, hi] (the scan's other keys) are dropped.
void add_array_points(LeafAccesses& out, const ManagedLeaf& leaf, Datum array, double lo,
                      double hi) {
    const ArrayElements elements = pg::call([&] { return array_elements(array); });
    core::StreamSample sample;
    sample.start(kKeysPerSample, pg::backend_random());
    int kept[kKeysPerSample];
    for (int i = 0; i < elements.count; i++) {
        if (elements.nulls[i]) // matches nothing
            continue;
        const int32_t slot = sample.offer();
        if (slot != core::StreamSample::kSkip)
            kept[slot] = i;
    }
    const double weight = sample.weight();
    for (uint32_t k = 0; k < sample.kept(); k++) {
        std::optional<PlacedKey> key =
            place_key(leaf.axis, elements.values[kept[k]], elements.type);
        if (key && key->position >= lo && key->position <= hi)
            add_point(out, leaf, *key, weight);
    }
}

// The accesses an index scan's keys on the partition key describe (btree
// strategies =, <, <=, >, >= as evaluated, so prepared statements and nested
// loops count; `= ANY` arrays): a point, a span, or array elements as
// points. Nothing if the keys do not constrain the partition key.
void add_index_accesses(LeafAccesses& out, const ManagedLeaf& leaf, Relation index, ScanKey keys,
                        int count) {
    if (index == nullptr || index->rd_rel->relam != BTREE_AM_OID)
        return;
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    double lo = leaf.has_lower ? leaf.lower : -kInfinity;
    double hi = leaf.has_upper ? leaf.upper : kInfinity;
    // Where positions are not keys (text), the span's ends as keys: which
    // key (or bound) set each end.
    const bool with_ends = leaf.axis.kind == KeyAxis::Kind::text;
    const core::KeyEnd* lo_end = &leaf.lower_end;
    const core::KeyEnd* hi_end = &leaf.upper_end;
    core::KeyEnd lo_key, hi_key; // copies: a key's PlacedKey goes out of scope
    bool constrained = false;
    const ScanKeyData* array = nullptr;
    for (int i = 0; i < count; i++) {
        const ScanKeyData& key = keys[i];
        if (key.sk_flags &
            (SK_ISNULL | SK_ROW_HEADER | SK_ROW_MEMBER | SK_SEARCHNULL | SK_SEARCHNOTNULL))
            continue;
        if (key.sk_attno < 1 || key.sk_attno > index->rd_index->indnkeyatts ||
            index->rd_index->indkey.values[key.sk_attno - 1] != leaf.key_attnum)
            continue;
        if (key.sk_flags & SK_SEARCHARRAY) {
            if (key.sk_strategy == BTEqualStrategyNumber && array == nullptr)
                array = &key;
            continue;
        }
        if (key.sk_strategy != BTEqualStrategyNumber &&
            !orders_like_partition_key(leaf, index, key))
            continue;
        const Oid type = OidIsValid(key.sk_subtype) ? key.sk_subtype : leaf.key_type;
        std::optional<PlacedKey> value = place_key(leaf.axis, key.sk_argument, type);
        if (!value)
            continue;
        const bool raises_lo = key.sk_strategy == BTEqualStrategyNumber ||
                               key.sk_strategy == BTGreaterStrategyNumber ||
                               key.sk_strategy == BTGreaterEqualStrategyNumber;
        const bool lowers_hi = key.sk_strategy == BTEqualStrategyNumber ||
                               key.sk_strategy == BTLessStrategyNumber ||
                               key.sk_strategy == BTLessEqualStrategyNumber;
        if (raises_lo && value->position > lo) {
            lo = value->position;
            if (with_ends) {
                lo_key = value->end;
                lo_end = &lo_key;
            }
        }
        if (lowers_hi && value->position < hi) {
            hi = value->position;
            if (with_ends) {
                hi_key = value->end;
                hi_end = &hi_key;
            }
        }
        constrained = constrained || raises_lo || lowers_hi;
    }
    if (array != nullptr) {
        add_array_points(out, leaf, array->sk_argument, lo, hi);
        return;
    }
    if (!constrained || lo > hi) // nothing in this leaf
        return;
    LeafAccess span{};
    span.relid = leaf.relid;
    span.access.lo = lo;
    span.access.hi = hi;
    span.access.weight = 1;
    if (with_ends) {
        span.access.has_ends = true;
        span.access.ends[0] = *lo_end;
        span.access.ends[1] = *hi_end;
    }
    out.push_back(span);
}

// Where a scan's key span comes from: the partition's bounds (a full scan),
// its index keys, or elsewhere (a bitmap heap scan: its bitmap index scans).
enum class SpanSource { bounds, index_keys, none };

void note_scan(StatementActivity& activity, PlanState* state, EState* estate, SpanSource source,
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
    PartitionUsage& usage = usage_of(activity.usages, *leaf);
    if (counts_rows) {
        usage.counters.reads = 1;
        usage.counters.rows_read += static_cast<uint64_t>(instrument->ntuples);
    }
    if (source == SpanSource::none || leaf->axis.kind == KeyAxis::Kind::unsupported)
        return;
    if (source == SpanSource::index_keys) {
        // An index scan whose keys we cannot read (no btree, other columns):
        // unknown.
        add_index_accesses(activity.accesses, *leaf, index, keys, key_count);
        return;
    }
    if (!(leaf->has_lower && leaf->has_upper))
        return; // an unbounded full scan: nothing to sample
    LeafAccess whole{};
    whole.relid = leaf->relid;
    whole.whole_partition = true;
    whole.access.lo = leaf->lower;
    whole.access.hi = leaf->upper;
    whole.access.weight = 1;
    whole.access.has_ends = leaf->axis.kind == KeyAxis::Kind::text;
    whole.access.ends[0] = leaf->lower_end;
    whole.access.ends[1] = leaf->upper_end;
    activity.accesses.push_back(whole);
}

void walk(PlanState* state, EState* estate, StatementActivity& activity);

void walk_list(List* states, EState* estate, StatementActivity& activity) {
    ListCell* cell;
    foreach (cell, states) {
        auto* item = static_cast<Node*>(lfirst(cell));
        if (IsA(item, SubPlanState))
            walk(reinterpret_cast<SubPlanState*>(item)->planstate, estate, activity);
        else
            walk(reinterpret_cast<PlanState*>(item), estate, activity);
    }
}

void walk_array(PlanState** states, int count, EState* estate, StatementActivity& activity) {
    for (int i = 0; i < count; i++)
        walk(states[i], estate, activity);
}

void walk(PlanState* state, EState* estate, StatementActivity& activity) {
    if (state == nullptr)
        return;
    switch (nodeTag(state)) {
    case T_SeqScanState:
    case T_SampleScanState:
    case T_TidScanState:
    case T_TidRangeScanState:
        note_scan(activity, state, estate, SpanSource::bounds, nullptr, nullptr, 0, true);
        break;
    case T_BitmapHeapScanState:
        note_scan(activity, state, estate, SpanSource::none, nullptr, nullptr, 0, true);
        break;
    case T_IndexScanState: {
        auto* scan = reinterpret_cast<IndexScanState*>(state);
        note_scan(activity, state, estate, SpanSource::index_keys, scan->iss_RelationDesc,
                  scan->iss_ScanKeys, scan->iss_NumScanKeys, true);
        break;
    }
    case T_IndexOnlyScanState: {
        auto* scan = reinterpret_cast<IndexOnlyScanState*>(state);
        note_scan(activity, state, estate, SpanSource::index_keys, scan->ioss_RelationDesc,
                  scan->ioss_ScanKeys, scan->ioss_NumScanKeys, true);
        break;
    }
    case T_BitmapIndexScanState: {
        // Rows are counted by the bitmap heap scan above; the keys are here.
        auto* scan = reinterpret_cast<BitmapIndexScanState*>(state);
        note_scan(activity, state, estate, SpanSource::index_keys, scan->biss_RelationDesc,
                  scan->biss_ScanKeys, scan->biss_NumScanKeys, false);
        break;
    }
    case T_AppendState: {
        auto* append = reinterpret_cast<AppendState*>(state);
        walk_array(append->appendplans, append->as_nplans, estate, activity);
        break;
    }
    case T_MergeAppendState: {
        auto* append = reinterpret_cast<MergeAppendState*>(state);
        walk_array(append->mergeplans, append->ms_nplans, estate, activity);
        break;
    }
    case T_BitmapAndState: {
        auto* node = reinterpret_cast<BitmapAndState*>(state);
        walk_array(node->bitmapplans, node->nplans, estate, activity);
        break;
    }
    case T_BitmapOrState: {
        auto* node = reinterpret_cast<BitmapOrState*>(state);
        walk_array(node->bitmapplans, node->nplans, estate, activity);
        break;
    }
    case T_SubqueryScanState:
        walk(reinterpret_cast<SubqueryScanState*>(state)->subplan, estate, activity);
        break;
    case T_CustomScanState:
        walk_list(reinterpret_cast<CustomScanState*>(state)->custom_ps, estate, activity);
        break;
    default:
        break;
    }
    walk_list(state->initPlan, estate, activity);
    walk_list(state->subPlan, estate, activity);
    walk(outerPlanState(state), estate, activity);
    walk(innerPlanState(state), estate, activity);
}

// Records a statement: its accesses grouped per leaf (a whole-partition
// access only for a leaf it has no other access to, once), every count and
// weight scaled by the statement's sampling weight.
void record_activity(StatementActivity& activity, uint64_t scale, double seconds) {
    const LeafAccesses& accesses = activity.accesses;
    auto keyed = [&](Oid relid) {
        for (const LeafAccess& access : accesses)
            if (access.relid == relid && !access.whole_partition)
                return true;
        return false;
    };
    // The store takes one array of accesses per leaf: these, grouped by leaf
    // (an insertion sort: a statement has a few; most, one).
    boost::container::small_vector<core::KeyAccess, 8> plain;
    boost::container::small_vector<Oid, 8> relids;
    for (const LeafAccess& access : accesses) {
        if (access.whole_partition) {
            if (std::find(relids.begin(), relids.end(), access.relid) != relids.end() ||
                keyed(access.relid))
                continue;
        }
        size_t at = relids.size();
        while (at > 0 && relids[at - 1] > access.relid)
            at--;
        relids.insert(relids.begin() + static_cast<long>(at), access.relid);
        plain.insert(plain.begin() + static_cast<long>(at), access.access);
        plain[at].weight *= static_cast<double>(scale);
    }
    for (size_t first = 0; first < relids.size();) {
        size_t last = first;
        while (last < relids.size() && relids[last] == relids[first])
            last++;
        if (const ManagedLeaf* leaf = find_leaf(relids[first])) {
            PartitionUsage& usage = usage_of(activity.usages, *leaf);
            usage.accesses = plain.data() + first;
            usage.access_count = last - first;
        }
        first = last;
    }
    if (activity.usages.empty())
        return;
    const int64_t now = now_seconds();
    const uint64_t time_us = static_cast<uint64_t>(std::llround(seconds * 1e6));
    for (auto& usage : activity.usages) {
        core::LoadCounters& counters = usage.counters;
        counters.time_us = time_us;
        counters.reads *= scale;
        counters.writes *= scale;
        counters.rows_read *= scale;
        counters.rows_written *= scale;
        counters.time_us *= scale;
        pg::call([&] { record(usage, now, pg::backend_random()); });
    }
}

// Writes since the baseline, per leaf; the scans of a written leaf are part
// of the write (an UPDATE reads what it changes), not separate reads. With a
// command id (COPY), also the keys of the rows it inserted.
void add_writes(StatementActivity& activity, const std::vector<WriteBaseline>& baseline,
                std::optional<CommandId> copy_command = std::nullopt) {
    for (const auto& base : baseline) {
        int64 delta = writes_so_far(base.relid) - base.before;
        if (delta <= 0)
            continue;
        const ManagedLeaf* leaf = find_leaf(base.relid);
        if (leaf == nullptr)
            continue;
        PartitionUsage& usage = usage_of(activity.usages, *leaf);
        usage.counters.writes = 1;
        usage.counters.rows_written += static_cast<uint64_t>(delta);
        usage.counters.reads = 0;
        usage.counters.rows_read = 0;
        if (copy_command)
            collect_copied_keys(*leaf, delta, *copy_command, activity.accesses);
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
    const MemoryContext memory = query->estate->es_query_cxt;
    // Forgotten with the executor's memory, whatever happens from here on.
    pg::call([&] {
        auto* callback = static_cast<MemoryContextCallback*>(
            MemoryContextAlloc(memory, sizeof(MemoryContextCallback)));
        callback->func = tracked_memory_gone;
        callback->arg = memory;
        MemoryContextRegisterResetCallback(memory, callback);
    });
    tracked.push_back(TrackedStatement{query, memory, scale, {}});
    // An INSERT through a managed parent finds the leaves its rows reach
    // (and their baselines) row by row; other writes take the baselines of
    // every leaf they may write now.
    const RoutedParents routed = start_sampling_inserted_rows(query);
    if (query->operation == CMD_SELECT)
        return;
    ListCell* cell;
    foreach (cell, query->plannedstmt->resultRelations) {
        const Index rti = lfirst_int(cell);
        const Oid relid = pg::call([&] { return exec_rt_fetch(rti, query->estate)->relid; });
        if (std::find(routed.begin(), routed.end(), relid) != routed.end() ||
            writes_only_listed_leaves(query, rti, relid))
            continue;
        add_leaves_of(relid, tracked.back().writes);
    }
}

void statement_ending(QueryDesc* query, double executor_seconds) {
    for (size_t i = tracked.size(); i-- > 0;) {
        if (tracked[i].query != query || query->estate == nullptr ||
            tracked[i].memory != query->estate->es_query_cxt)
            continue;
        TrackedStatement statement = std::move(tracked[i]);
        tracked.erase(tracked.begin() + static_cast<long>(i));
        StatementActivity activity;
        walk(query->planstate, query->estate, activity);
        collect_inserted_rows(query, activity.accesses, statement.writes);
        add_writes(activity, statement.writes);
        record_activity(activity, statement.scale, executor_seconds);
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
    if ((find_leaf(relid) || is_managed_parent(relid)) && (recording.scale = sample_scale()) > 0) {
        add_leaves_of(relid, recording.baseline);
        recording.command = pg::call([] { return GetCurrentCommandId(false); });
    }
    return recording;
}

void utility_finished(const UtilityRecording& recording, double seconds) {
    if (recording.baseline.empty())
        return;
    StatementActivity activity;
    add_writes(activity, recording.baseline, recording.command);
    record_activity(activity, recording.scale, seconds);
}

size_t tracked_executions() {
    return tracked.size();
}

} // namespace presplit::analyzer
