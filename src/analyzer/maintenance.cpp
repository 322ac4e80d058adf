#include "analyzer/maintenance.hpp"

#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "config.hpp"
#include "core/succession.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/elog.h"
#include "utils/fmgrprotos.h"
#include "utils/syscache.h"
}

#include <cmath>
#include <limits>
#include <map>

namespace presplit::analyzer {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

// The worker's own state (one worker per server).
uint64_t swept_generation = 0;
uint64_t passed_on_generation = 0;   // the managed set's generation sweep_due() saw last
bool sweep_again = true;             // at the start, and after a sweep that left entries too young
int64_t last_sample_period = kNever; // now / interval of the last size sample
int64_t last_save_seconds = kNever;

bool database_exists(Oid dbid) {
    return pg::call([&] { return SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbid)); });
}

// Frees the entries nobody will record into again. Only entries created
// before `since` (the time before the managed set was brought up to date):
// a partition committed after that is not in the set yet, but its entry is
// newer. Returns whether it left entries that may be unwanted but were too
// young to tell.
bool sweep(int64_t since) {
    std::map<Oid, bool> databases;
    int freed = 0;
    bool too_young = false;
    for (const EntryKey& key : entry_keys()) {
        bool wanted;
        if (key.dbid == MyDatabaseId) {
            const ManagedLeaf* leaf = find_leaf(key.relid);
            wanted = leaf != nullptr && leaf->parent == key.parent;
        } else {
            auto known = databases.find(key.dbid);
            if (known == databases.end())
                known = databases.emplace(key.dbid, database_exists(key.dbid)).first;
            wanted = known->second;
        }
        if (wanted)
            continue;
        if (key.created_seconds >= since)
            too_young = true;
        else if (forget(key))
            freed++;
    }
    if (freed > 0)
        pg::call([&] {
            ereport(DEBUG1, (errmsg_plural("pg_presplit: freed the analyzer's entry of %d "
                                           "partition no longer managed",
                                           "pg_presplit: freed the analyzer's entries of %d "
                                           "partitions no longer managed",
                                           freed, freed)));
        });
    return too_young;
}

// The size of one partition, if its lock is free and it still exists.
struct PartitionSize {
    bool taken;
    int64_t rows;
    int64_t bytes;
};
PartitionSize size_of(Oid relid) {
    return pg::call([&] {
        PartitionSize size{false, -1, 0};
        if (!ConditionalLockRelationOid(relid, AccessShareLock))
            return size;
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (HeapTupleIsValid(tuple)) {
            const float4 reltuples = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->reltuples;
            ReleaseSysCache(tuple);
            size.taken = true;
            size.rows = reltuples < 0 ? -1 : static_cast<int64_t>(std::llround(reltuples));
            size.bytes =
                DatumGetInt64(DirectFunctionCall1(pg_total_relation_size, ObjectIdGetDatum(relid)));
        }
        UnlockRelationOid(relid, AccessShareLock);
        return size;
    });
}

// Fewer sampled access points than this inside the made partitions: their
// load is shared as their size is (core/succession.hpp).
constexpr size_t kMinSharePoints = 32;

} // namespace

std::vector<Inheritance> pass_on_histories(const std::vector<Succession>& successions,
                                           int64_t now) {
    std::vector<PartitionEntry> source(1); // large: not on the stack
    std::vector<Inheritance> inherited;
    for (const Succession& succession : successions) {
        if (!copy_entry(MyDatabaseId, succession.source, source[0]))
            continue;
        std::vector<const ManagedLeaf*> leaves;
        std::vector<core::MadePartition> made;
        bool comparable = true;
        for (Oid relid : succession.made) {
            const ManagedLeaf* leaf = find_leaf(relid);
            if (leaf == nullptr)
                continue; // on another server: nothing is recorded there
            comparable = comparable && leaf->axis.kind == KeyAxis::Kind::number;
            core::MadePartition part;
            part.has_lower = leaf->has_lower;
            part.has_upper = leaf->has_upper;
            part.lower = leaf->lower;
            part.upper = leaf->upper;
            const PartitionSize size = size_of(relid);
            part.bytes = size.taken ? static_cast<double>(size.bytes) : 0.0;
            leaves.push_back(leaf);
            made.push_back(part);
        }
        if (leaves.empty())
            continue;
        const bool complete = leaves.size() == succession.made.size();
        const core::SizeSample last = source[0].sizes.latest(now);
        const core::InheritedShares shares =
            core::inherited_shares(comparable ? &source[0].sampler : nullptr, made, kMinSharePoints,
                                   complete, static_cast<double>(last.bytes));
        for (size_t i = 0; i < leaves.size(); i++)
            if (inherit(source[0], leaves[i]->relid, leaves[i]->parent, shares.load[i],
                        shares.size[i], succession.cut_over_seconds, now))
                inherited.push_back({succession.source, leaves[i]->relid, shares.load[i],
                                     shares.size[i], shares.load_from_accesses});
    }
    return inherited;
}

int sample_sizes(int64_t now) {
    refresh_managed_set();
    int recorded = 0;
    for_each_leaf([&](const ManagedLeaf& leaf) {
        const PartitionSize size = size_of(leaf.relid);
        if (size.taken && record_size(leaf.relid, leaf.parent, now, size.rows, size.bytes))
            recorded++;
    });
    return recorded;
}

bool sweep_due(int64_t now) {
    refresh_managed_set();
    passed_on_generation = managed_set_generation();
    const int64_t interval = config::size_sample_interval_seconds;
    return sweep_again || managed_set_generation() != swept_generation ||
           (interval > 0 && now / interval != last_sample_period);
}

void maintain(int64_t now) {
    refresh_managed_set();
    const int64_t interval = config::size_sample_interval_seconds;
    const bool sample_due = interval > 0 && now / interval != last_sample_period;
    if (managed_set_generation() != passed_on_generation) {
        sweep_again = true; // changed since sweep_due(): pass it on first, next round
    } else if (sweep_again || managed_set_generation() != swept_generation || sample_due) {
        sweep_again = sweep(now);
        swept_generation = managed_set_generation();
    }
    if (sample_due) {
        sample_sizes(now);
        last_sample_period = now / interval;
    }
}

void save_if_due(int64_t now) {
    if (last_save_seconds == kNever)
        last_save_seconds = now; // the file was loaded or saved at the start
    const int64_t interval = config::analyzer_save_interval_seconds;
    if (interval <= 0 || now - last_save_seconds < interval)
        return;
    save(DEBUG1);
    last_save_seconds = now;
}

void save_at_shutdown() {
    save(LOG);
}

} // namespace presplit::analyzer
