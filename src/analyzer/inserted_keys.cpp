#include "analyzer/inserted_keys.hpp"

#include "core/stream_sample.hpp"
#include "pg/backend_random.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
}

#include <algorithm>
#include <vector>

namespace presplit::analyzer {
namespace {

// --- INSERT ------------------------------------------------------------------

// The rows one plan node produces for an INSERT, being sampled. Plain data
// in the executor's memory (es_query_cxt): the per-row function below reads
// and writes it without owning anything.
struct RowSampler {
    PlanState* node;
    ExecProcNodeMtd original; // the node's own ExecProcNodeReal
    ModifyTableState* table;
    MemoryContext memory; // es_query_cxt: the kept keys live there
    AttrNumber column;    // the key's position in the node's output
    Oid key_type;
    int16 typlen;
    bool typbyval;
    core::StreamSample sample;
    Datum keys[kKeysPerSample];
    bool nulls[kKeysPerSample]; // true also for slots not filled yet
};

// The samplers of this backend's running executions (nested ones too).
// Looked up by node for every row: most recent first, and rarely more than
// one.
std::vector<RowSampler*> samplers;

RowSampler* sampler_of(PlanState* node) {
    for (size_t i = samplers.size(); i-- > 0;)
        if (samplers[i]->node == node)
            return samplers[i];
    return nullptr;
}

// Keeps the key of the row in slot `kept` of the sample. PostgreSQL code
// (slot_getattr, datumCopy); this frame owns nothing, so an error may pass
// through it as through C.
void keep_key(RowSampler* sampler, TupleTableSlot* slot, int32_t kept) {
    bool isnull;
    Datum value = slot_getattr(slot, sampler->column, &isnull);
    if (!sampler->nulls[kept] && !sampler->typbyval)
        pfree(DatumGetPointer(sampler->keys[kept]));
    sampler->nulls[kept] = true;
    if (isnull)
        return;
    MemoryContext old = MemoryContextSwitchTo(sampler->memory);
    sampler->keys[kept] = datumCopy(value, sampler->typbyval, sampler->typlen);
    MemoryContextSwitchTo(old);
    sampler->nulls[kept] = false;
}

// The wrapped node's function, called by the executor for every row. Not a
// pg::entry: it runs per row, throws no C++ exception, and its frame owns
// nothing (an ERROR from the node below passes through it as through C).
TupleTableSlot* sample_row(PlanState* node) {
    RowSampler* sampler = sampler_of(node);
    if (sampler == nullptr) // cannot happen: forgotten only with the node's memory
        elog(ERROR, "pg_presplit: a sampled plan node lost its sampler");
    TupleTableSlot* slot = sampler->original(node);
    if (!TupIsNull(slot)) {
        const int32_t kept = sampler->sample.offer();
        if (kept != core::StreamSample::kSkip)
            keep_key(sampler, slot, kept);
    }
    return slot;
}

// The position in a plan node's output of the target's attribute `attnum`:
// the output of the node under an INSERT's ModifyTable holds one entry per
// attribute of the target, in order, besides junk (ExecCheckPlanOutput).
AttrNumber output_column(Plan* plan, AttrNumber attnum) {
    AttrNumber position = 0, attribute = 0;
    ListCell* cell;
    foreach (cell, plan->targetlist) {
        position++;
        auto* entry = static_cast<TargetEntry*>(lfirst(cell));
        if (!entry->resjunk && ++attribute == attnum)
            return position;
    }
    return InvalidAttrNumber;
}

void wrap(ModifyTableState* table, EState* estate) {
    if (table->operation != CMD_INSERT || table->rootResultRelInfo == nullptr)
        return;
    PlanState* node = outerPlanState(table);
    if (node == nullptr || sampler_of(node) != nullptr)
        return;
    const Oid target = RelationGetRelid(table->rootResultRelInfo->ri_RelationDesc);
    AttrNumber attnum;
    Oid key_type;
    if (const ManagedLeaf* leaf = find_leaf(target)) {
        if (leaf->axis.kind == KeyAxis::Kind::unsupported)
            return;
        attnum = leaf->key_attnum;
        key_type = leaf->key_type;
    } else if (const ManagedParent* parent = find_parent(target)) {
        if (parent->key_kind == KeyAxis::Kind::unsupported)
            return;
        attnum = parent->key_attnum;
        key_type = parent->key_type;
    } else {
        return;
    }
    const AttrNumber column = pg::call([&] { return output_column(node->plan, attnum); });
    if (column == InvalidAttrNumber)
        return;
    auto* sampler = pg::call([&] {
        return static_cast<RowSampler*>(
            MemoryContextAllocZero(estate->es_query_cxt, sizeof(RowSampler)));
    });
    sampler->node = node;
    sampler->original = node->ExecProcNodeReal;
    sampler->table = table;
    sampler->memory = estate->es_query_cxt;
    sampler->column = column;
    sampler->key_type = key_type;
    pg::call([&] { get_typlenbyval(key_type, &sampler->typlen, &sampler->typbyval); });
    sampler->sample.start(kKeysPerSample, pg::backend_random());
    std::fill(std::begin(sampler->nulls), std::end(sampler->nulls), true);
    samplers.push_back(sampler);
    // ExecProcNodeFirst (or the instrumentation wrapper) calls
    // ExecProcNodeReal: wrapping it keeps both in place.
    node->ExecProcNodeReal = sample_row;
}

// PostgreSQL code (inside pg::call): the partition of `parent` a key goes
// to, as ExecFindPartition finds it for a range-partitioned table (InvalidOid
// if none, or if it is partitioned itself).
Oid route(Relation parent, Datum key) {
    PartitionKey partition_key = RelationGetPartitionKey(parent);
    PartitionDesc partitions = RelationGetPartitionDesc(parent, true);
    if (partition_key == nullptr || partition_key->strategy != PARTITION_STRATEGY_RANGE ||
        partition_key->partnatts != 1 || partitions == nullptr || partitions->boundinfo == nullptr)
        return InvalidOid;
    PartitionBoundInfo bounds = partitions->boundinfo;
    int index = -1;
    if (bounds->ndatums > 0) {
        bool equal;
        const int offset = partition_range_datum_bsearch(
            partition_key->partsupfunc, partition_key->partcollation, bounds, 1, &key, &equal);
        index = bounds->indexes[offset + 1];
    }
    if (index < 0)
        index = bounds->default_index;
    if (index < 0 || index >= partitions->nparts || !partitions->is_leaf[index])
        return InvalidOid;
    return partitions->oids[index];
}

void remove_sampler(RowSampler* sampler) {
    samplers.erase(std::remove(samplers.begin(), samplers.end(), sampler), samplers.end());
}

// --- COPY --------------------------------------------------------------------

// What the COPY's command inserted into one block, offered to the sample.
struct CopiedRows {
    core::StreamSample sample;
    Datum keys[kKeysPerSample];
    bool filled[kKeysPerSample];
};

// PostgreSQL code (inside pg::call): visits the tuples of `block` that
// `command` of this transaction inserted (raw xmin: COPY FREEZE keeps it).
// Returns how many there were; `keep` (may be null) gets each one's key.
int64 visit_copied(Relation rel, BlockNumber block, CommandId command, AttrNumber attnum,
                   CopiedRows* keep, int16 typlen, bool typbyval) {
    Buffer buffer = ReadBuffer(rel, block);
    LockBuffer(buffer, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buffer);
    const OffsetNumber last = PageGetMaxOffsetNumber(page);
    int64 found = 0;
    for (OffsetNumber offset = FirstOffsetNumber; offset <= last; offset++) {
        ItemId item = PageGetItemId(page, offset);
        if (!ItemIdIsNormal(item))
            continue;
        auto header = reinterpret_cast<HeapTupleHeader>(PageGetItem(page, item));
        if ((header->t_infomask & HEAP_COMBOCID) != 0 ||
            HeapTupleHeaderGetRawCommandId(header) != command ||
            !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(header)))
            continue;
        found++;
        if (keep == nullptr)
            continue;
        const int32_t slot = keep->sample.offer();
        if (slot == core::StreamSample::kSkip)
            continue;
        HeapTupleData tuple;
        tuple.t_data = header;
        tuple.t_len = ItemIdGetLength(item);
        tuple.t_tableOid = RelationGetRelid(rel);
        ItemPointerSet(&tuple.t_self, block, offset);
        bool isnull;
        Datum value = heap_getattr(&tuple, attnum, RelationGetDescr(rel), &isnull);
        if (keep->filled[slot] && !typbyval)
            pfree(DatumGetPointer(keep->keys[slot]));
        keep->filled[slot] = !isnull;
        if (!isnull) // copied: the page is released below
            keep->keys[slot] = datumCopy(value, typbyval, typlen);
    }
    UnlockReleaseBuffer(buffer);
    return found;
}

// PostgreSQL code (inside pg::call). The rows of one COPY sit at the end of
// the leaf: rows / (its rows per block, from the last two blocks) blocks.
// Up to kKeysPerSample of those blocks are read, evenly spaced from a random
// start, and their tuples of this command sampled.
void sample_copied(Oid relid, AttrNumber attnum, Oid key_type, int64 rows, CommandId command,
                   CopiedRows* copied) {
    Relation rel = table_open(relid, AccessShareLock);
    if (rel->rd_rel->relam != HEAP_TABLE_AM_OID) {
        table_close(rel, AccessShareLock);
        return;
    }
    int16 typlen;
    bool typbyval;
    get_typlenbyval(key_type, &typlen, &typbyval);
    const BlockNumber blocks = RelationGetNumberOfBlocks(rel);
    int64 per_block = 0;
    for (BlockNumber back = 1; back <= 2 && back <= blocks; back++)
        per_block = std::max(per_block, visit_copied(rel, blocks - back, command, attnum, nullptr,
                                                     typlen, typbyval));
    if (per_block > 0) {
        const auto span =
            static_cast<BlockNumber>(std::min<int64>(blocks, (rows + per_block - 1) / per_block));
        const BlockNumber first = blocks - span;
        const BlockNumber reads = std::min<BlockNumber>(span, kKeysPerSample);
        const uint64_t start = pg::backend_random() % span;
        for (BlockNumber i = 0; i < reads; i++) {
            const BlockNumber block =
                first + static_cast<BlockNumber>((start + uint64_t{i} * span / reads) % span);
            visit_copied(rel, block, command, attnum, copied, typlen, typbyval);
        }
    }
    table_close(rel, AccessShareLock);
}

} // namespace

void start_sampling_inserted_rows(QueryDesc* query) {
    PlannedStmt* statement = query->plannedstmt;
    if (query->operation != CMD_INSERT && !statement->hasModifyingCTE)
        return;
    if (query->planstate != nullptr && IsA(query->planstate, ModifyTableState))
        wrap(reinterpret_cast<ModifyTableState*>(query->planstate), query->estate);
    if (!statement->hasModifyingCTE)
        return;
    // WITH x AS (INSERT ...): the ModifyTable tops a subplan.
    ListCell* cell;
    foreach (cell, query->estate->es_subplanstates) {
        auto* state = static_cast<PlanState*>(lfirst(cell));
        if (state != nullptr && IsA(state, ModifyTableState))
            wrap(reinterpret_cast<ModifyTableState*>(state), query->estate);
    }
}

void collect_inserted_keys(QueryDesc* query, double scale, LeafAccesses& out) {
    if (samplers.empty() || query->estate == nullptr)
        return;
    const MemoryContext memory = query->estate->es_query_cxt;
    std::vector<RowSampler*> mine;
    for (RowSampler* sampler : samplers)
        if (sampler->memory == memory)
            mine.push_back(sampler);
    for (RowSampler* sampler : mine) {
        remove_sampler(sampler);
        sampler->node->ExecProcNodeReal = sampler->original;
        Relation target = sampler->table->rootResultRelInfo->ri_RelationDesc;
        const ManagedLeaf* direct = find_leaf(RelationGetRelid(target));
        const double weight = scale * sampler->sample.weight();
        for (uint32_t i = 0; i < sampler->sample.kept(); i++) {
            if (sampler->nulls[i])
                continue;
            const ManagedLeaf* leaf = direct;
            if (leaf == nullptr)
                leaf = find_leaf(pg::call([&] { return route(target, sampler->keys[i]); }));
            if (leaf != nullptr)
                add_point(out, *leaf, sampler->keys[i], sampler->key_type, weight);
        }
    }
}

void forget_inserted_rows(MemoryContext memory) {
    samplers.erase(
        std::remove_if(samplers.begin(), samplers.end(),
                       [&](const RowSampler* sampler) { return sampler->memory == memory; }),
        samplers.end());
}

void collect_copied_keys(const ManagedLeaf& leaf, int64 rows, CommandId command, double scale,
                         LeafAccesses& out) {
    if (rows <= 0 || leaf.axis.kind == KeyAxis::Kind::unsupported)
        return;
    CopiedRows copied{};
    copied.sample.start(kKeysPerSample, pg::backend_random());
    pg::call(
        [&] { sample_copied(leaf.relid, leaf.key_attnum, leaf.key_type, rows, command, &copied); });
    uint32_t kept = 0;
    for (uint32_t i = 0; i < copied.sample.kept(); i++)
        kept += copied.filled[i] ? 1 : 0;
    if (kept == 0)
        return;
    const double weight = scale * static_cast<double>(rows) / kept;
    for (uint32_t i = 0; i < copied.sample.kept(); i++)
        if (copied.filled[i])
            add_point(out, leaf, copied.keys[i], leaf.key_type, weight);
}

size_t sampled_insert_nodes() {
    return samplers.size();
}

} // namespace presplit::analyzer
