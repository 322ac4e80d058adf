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
#include "catalog/pg_type.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "utils/date.h"
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

constexpr int kNoOffset = -2; // no previous row (partition_range_datum_bsearch gives >= -1)

// The rows one plan node produces for an INSERT, being sampled. Plain data
// in the executor's memory (es_query_cxt): the per-row function below reads
// and writes it without owning anything.
struct RowSampler {
    PlanState* node;
    ExecProcNodeMtd original; // the node's own ExecProcNodeReal
    MemoryContext memory;     // es_query_cxt: everything below lives there
    AttrNumber column;        // the key's position in the node's output
    Oid key_type;
    int16 typlen;
    bool typbyval;
    Oid target; // a leaf named by the INSERT (routing: InvalidOid)
    // Routing through a parent: PostgreSQL's partition key and descriptor
    // of it (the executor's, pinned for the query), the bound offset of the
    // previous row, which partitions rows reached, and their baselines.
    PartitionKey partition_key;
    PartitionDesc partitions;
    int last_offset;
    // Integer-like keys (integers, date, timestamps: their order is their
    // integer value's) compare the previous row's range natively.
    bool native;
    bool has_low, has_high;
    int64 low, high;
    bool* reached; // per partition index
    WriteBaseline* baselines;
    int baseline_count, baseline_room;
    // The kept keys.
    bool samples_keys;
    core::StreamSample sample;
    Datum keys[kKeysPerSample];
    Oid leaves[kKeysPerSample]; // InvalidOid: not kept (or a NULL key)
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

// The per-row path below is PostgreSQL code whose frames own nothing: it is
// not a pg::entry (it runs for every row, throws no C++ exception, and an
// ERROR from the node below passes through it as through C).

// An integer-like key as the integer whose order is the key's.
int64 native_value(Oid type, Datum value) {
    switch (type) {
    case INT2OID:
        return DatumGetInt16(value);
    case INT4OID:
        return DatumGetInt32(value);
    case DATEOID:
        return DatumGetDateADT(value);
    default: // int8, timestamp, timestamptz
        return DatumGetInt64(value);
    }
}

bool is_native(Oid type) {
    return type == INT2OID || type == INT4OID || type == INT8OID || type == DATEOID ||
           type == TIMESTAMPOID || type == TIMESTAMPTZOID;
}

// The native range of bound offsets offset and offset + 1 (a MINVALUE or
// MAXVALUE bound leaves that side open or the range empty).
void set_native_range(RowSampler* sampler, int offset) {
    PartitionBoundInfo bounds = sampler->partitions->boundinfo;
    sampler->has_low = sampler->has_high = false;
    if (offset >= 0) {
        switch (bounds->kind[offset][0]) {
        case PARTITION_RANGE_DATUM_VALUE:
            sampler->has_low = true;
            sampler->low = native_value(sampler->key_type, bounds->datums[offset][0]);
            break;
        case PARTITION_RANGE_DATUM_MAXVALUE: // empty: never matches
            sampler->has_low = sampler->has_high = true;
            sampler->low = 1;
            sampler->high = 0;
            return;
        default:
            break;
        }
    }
    if (offset + 1 < bounds->ndatums) {
        switch (bounds->kind[offset + 1][0]) {
        case PARTITION_RANGE_DATUM_VALUE:
            sampler->has_high = true;
            sampler->high = native_value(sampler->key_type, bounds->datums[offset + 1][0]);
            break;
        case PARTITION_RANGE_DATUM_MINVALUE: // empty
            sampler->has_low = sampler->has_high = true;
            sampler->low = 1;
            sampler->high = 0;
            break;
        default:
            break;
        }
    }
}

// Whether key lies in the range between bound offsets offset and offset + 1
// (as partition_range_datum_bsearch found it).
bool within_offset(const RowSampler* sampler, int offset, Datum key) {
    if (sampler->native) {
        const int64 value = native_value(sampler->key_type, key);
        return (!sampler->has_low || value >= sampler->low) &&
               (!sampler->has_high || value < sampler->high);
    }
    PartitionBoundInfo bounds = sampler->partitions->boundinfo;
    PartitionKey partition_key = sampler->partition_key;
    if (offset >= 0 &&
        partition_rbound_datum_cmp(partition_key->partsupfunc, partition_key->partcollation,
                                   bounds->datums[offset], bounds->kind[offset], &key, 1) > 0)
        return false;
    return offset + 1 >= bounds->ndatums ||
           partition_rbound_datum_cmp(partition_key->partsupfunc, partition_key->partcollation,
                                      bounds->datums[offset + 1], bounds->kind[offset + 1], &key,
                                      1) > 0;
}

// The leaf a row goes to, as ExecFindPartition finds it for a range
// partitioned table (InvalidOid: none, the INSERT fails). The first row to
// reach a leaf takes its write baseline.
Oid route_row(RowSampler* sampler, Datum key, bool isnull) {
    PartitionBoundInfo bounds = sampler->partitions->boundinfo;
    int index = -1;
    if (!isnull && bounds->ndatums > 0) {
        int offset = sampler->last_offset;
        if (offset == kNoOffset || !within_offset(sampler, offset, key)) {
            bool equal;
            offset = partition_range_datum_bsearch(sampler->partition_key->partsupfunc,
                                                   sampler->partition_key->partcollation, bounds, 1,
                                                   &key, &equal);
            sampler->last_offset = offset;
            if (sampler->native)
                set_native_range(sampler, offset);
        }
        index = bounds->indexes[offset + 1];
    }
    if (index < 0)
        index = bounds->default_index;
    if (index < 0 || index >= sampler->partitions->nparts)
        return InvalidOid;
    const Oid leaf = sampler->partitions->oids[index];
    if (!sampler->reached[index]) {
        sampler->reached[index] = true;
        if (sampler->baseline_count == sampler->baseline_room) {
            sampler->baseline_room *= 2;
            sampler->baselines = static_cast<WriteBaseline*>(
                repalloc(sampler->baselines, sizeof(WriteBaseline) * sampler->baseline_room));
        }
        sampler->baselines[sampler->baseline_count++] = {leaf, writes_so_far(leaf)};
    }
    return leaf;
}

// Keeps the key of a row in slot `kept` of the sample.
void keep_key(RowSampler* sampler, int32_t kept, Datum key, bool isnull, Oid leaf) {
    if (OidIsValid(sampler->leaves[kept]) && !sampler->typbyval)
        pfree(DatumGetPointer(sampler->keys[kept]));
    sampler->leaves[kept] = InvalidOid;
    if (isnull || !OidIsValid(leaf))
        return;
    MemoryContext old = MemoryContextSwitchTo(sampler->memory);
    sampler->keys[kept] = datumCopy(key, sampler->typbyval, sampler->typlen);
    MemoryContextSwitchTo(old);
    sampler->leaves[kept] = leaf;
}

// The wrapped node's function, called by the executor for every row.
TupleTableSlot* sample_row(PlanState* node) {
    RowSampler* sampler = sampler_of(node);
    if (sampler == nullptr) // cannot happen: forgotten only with the node's memory
        elog(ERROR, "pg_presplit: a sampled plan node lost its sampler");
    TupleTableSlot* slot = sampler->original(node);
    if (TupIsNull(slot))
        return slot;
    bool isnull;
    const Datum key = slot_getattr(slot, sampler->column, &isnull);
    const Oid leaf =
        sampler->partitions != nullptr ? route_row(sampler, key, isnull) : sampler->target;
    if (sampler->samples_keys) {
        const int32_t kept = sampler->sample.offer();
        if (kept != core::StreamSample::kSkip)
            keep_key(sampler, kept, key, isnull, leaf);
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

// PostgreSQL code (inside pg::call): the executor's partition descriptor of
// a range-partitioned parent whose partitions are all leaves (else null: a
// row's leaf is then not known here).
PartitionDesc routable_partitions(Relation parent, EState* estate) {
    PartitionKey partition_key = RelationGetPartitionKey(parent);
    if (partition_key == nullptr || partition_key->strategy != PARTITION_STRATEGY_RANGE ||
        partition_key->partnatts != 1 || estate->es_partition_directory == nullptr)
        return nullptr;
    PartitionDesc partitions = PartitionDirectoryLookup(estate->es_partition_directory, parent);
    if (partitions == nullptr || partitions->boundinfo == nullptr)
        return nullptr;
    for (int i = 0; i < partitions->nparts; i++)
        if (!partitions->is_leaf[i])
            return nullptr;
    return partitions;
}

// Wraps the node under an INSERT into a managed table; returns whether it
// routes its rows (the target is a managed parent).
bool wrap(ModifyTableState* table, EState* estate) {
    if (table->operation != CMD_INSERT || table->rootResultRelInfo == nullptr)
        return false;
    PlanState* node = outerPlanState(table);
    if (node == nullptr || sampler_of(node) != nullptr)
        return false;
    Relation target = table->rootResultRelInfo->ri_RelationDesc;
    const Oid relid = RelationGetRelid(target);
    AttrNumber attnum;
    Oid key_type;
    bool samples_keys;
    const ManagedLeaf* leaf = find_leaf(relid);
    const ManagedParent* parent = leaf == nullptr ? find_parent(relid) : nullptr;
    if (leaf != nullptr) {
        attnum = leaf->key_attnum;
        key_type = leaf->key_type;
        samples_keys = leaf->axis.kind != KeyAxis::Kind::unsupported;
    } else if (parent != nullptr) {
        attnum = parent->key_attnum;
        key_type = parent->key_type;
        samples_keys = parent->key_kind != KeyAxis::Kind::unsupported;
    } else {
        return false;
    }
    PartitionDesc partitions = nullptr;
    if (parent != nullptr) {
        partitions = pg::call([&] { return routable_partitions(target, estate); });
        if (partitions == nullptr)
            return false; // its writes are counted in every leaf, its keys not sampled
    } else if (!samples_keys) {
        return false; // a leaf: its writes are counted by the statement anyway
    }
    const AttrNumber column = pg::call([&] { return output_column(node->plan, attnum); });
    if (column == InvalidAttrNumber)
        return false;
    RowSampler* sampler = pg::call([&] {
        auto* made = static_cast<RowSampler*>(
            MemoryContextAllocZero(estate->es_query_cxt, sizeof(RowSampler)));
        get_typlenbyval(key_type, &made->typlen, &made->typbyval);
        if (partitions != nullptr) {
            made->partition_key = RelationGetPartitionKey(target);
            made->reached = static_cast<bool*>(MemoryContextAllocZero(
                estate->es_query_cxt, sizeof(bool) * std::max(partitions->nparts, 1)));
            made->baseline_room = 4;
            made->baselines = static_cast<WriteBaseline*>(MemoryContextAlloc(
                estate->es_query_cxt, sizeof(WriteBaseline) * made->baseline_room));
        }
        return made;
    });
    sampler->node = node;
    sampler->original = node->ExecProcNodeReal;
    sampler->memory = estate->es_query_cxt;
    sampler->column = column;
    sampler->key_type = key_type;
    sampler->target = leaf != nullptr ? relid : InvalidOid;
    sampler->partitions = partitions;
    sampler->last_offset = kNoOffset;
    sampler->native =
        partitions != nullptr && parent->key_kind == KeyAxis::Kind::number && is_native(key_type);
    sampler->samples_keys = samples_keys;
    sampler->sample.start(kKeysPerSample, pg::backend_random());
    samplers.push_back(sampler);
    // ExecProcNodeFirst (or the instrumentation wrapper) calls
    // ExecProcNodeReal: wrapping it keeps both in place.
    node->ExecProcNodeReal = sample_row;
    return partitions != nullptr;
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

RoutedParents start_sampling_inserted_rows(QueryDesc* query) {
    RoutedParents routed;
    PlannedStmt* statement = query->plannedstmt;
    if (query->operation != CMD_INSERT && !statement->hasModifyingCTE)
        return routed;
    auto consider = [&](PlanState* state) {
        if (state == nullptr || !IsA(state, ModifyTableState))
            return;
        auto* table = reinterpret_cast<ModifyTableState*>(state);
        if (wrap(table, query->estate))
            routed.push_back(RelationGetRelid(table->rootResultRelInfo->ri_RelationDesc));
    };
    consider(query->planstate);
    if (statement->hasModifyingCTE) {
        // WITH x AS (INSERT ...): the ModifyTable tops a subplan.
        ListCell* cell;
        foreach (cell, query->estate->es_subplanstates)
            consider(static_cast<PlanState*>(lfirst(cell)));
    }
    return routed;
}

void collect_inserted_rows(QueryDesc* query, LeafAccesses& accesses,
                           std::vector<WriteBaseline>& baselines) {
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
        for (int i = 0; i < sampler->baseline_count; i++)
            baselines.push_back(sampler->baselines[i]);
        const double weight = sampler->sample.weight();
        for (uint32_t i = 0; i < sampler->sample.kept(); i++)
            if (const ManagedLeaf* leaf = find_leaf(sampler->leaves[i]))
                add_point(accesses, *leaf, sampler->keys[i], sampler->key_type, weight);
    }
}

void forget_inserted_rows(MemoryContext memory) noexcept {
    samplers.erase(
        std::remove_if(samplers.begin(), samplers.end(),
                       [&](const RowSampler* sampler) { return sampler->memory == memory; }),
        samplers.end());
}

void collect_copied_keys(const ManagedLeaf& leaf, int64 rows, CommandId command,
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
    const double weight = static_cast<double>(rows) / kept;
    for (uint32_t i = 0; i < copied.sample.kept(); i++)
        if (copied.filled[i])
            add_point(out, leaf, copied.keys[i], leaf.key_type, weight);
}

size_t sampled_insert_nodes() {
    return samplers.size();
}

} // namespace presplit::analyzer
