#include "analyzer/stats_store.hpp"

#include "config.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

#include <cmath>
#include <vector>

namespace presplit::analyzer {
namespace {

constexpr const char* kSegmentName = "pg_presplit analyzer";
constexpr const char* kTrancheName = "pg_presplit analyzer";
constexpr int kStripes = 16;
constexpr const char* kSaveFile = "pg_stat/pg_presplit.stat";
constexpr const char* kSaveFileTemporary = "pg_stat/pg_presplit.stat.tmp";
constexpr uint32_t kSaveMagic = 0x50535031; // "PSP1"

struct StoreHeader {
    int capacity;
    pg_atomic_uint64 evictions;
    // PartitionEntry entries[capacity] follow, MAXALIGNed.
};

StoreHeader* header = nullptr;
PartitionEntry* entries = nullptr;
LWLockPadded* locks = nullptr; // [0] directory, [1..kStripes] entries

LWLock* directory_lock() {
    return &locks[0].lock;
}
LWLock* stripe_lock(int index) {
    return &locks[1 + index % kStripes].lock;
}

Size entries_offset() {
    return MAXALIGN(sizeof(StoreHeader));
}

bool matches(const PartitionEntry& entry, Oid dbid, Oid relid) {
    return entry.relid == relid && entry.dbid == dbid;
}

// Under the directory lock.
int find(Oid dbid, Oid relid) {
    for (int i = 0; i < header->capacity; i++)
        if (matches(entries[i], dbid, relid))
            return i;
    return -1;
}

// Under the directory lock held exclusively: a free entry, or the least
// recently used one, emptied.
int claim(Oid dbid, Oid relid, Oid parent, int64_t now) {
    int chosen = -1;
    for (int i = 0; i < header->capacity; i++) {
        if (entries[i].relid == InvalidOid) {
            chosen = i;
            break;
        }
        if (chosen < 0 || entries[i].last_used_seconds < entries[chosen].last_used_seconds)
            chosen = i;
    }
    if (chosen < 0)
        return -1;
    LWLockAcquire(stripe_lock(chosen), LW_EXCLUSIVE);
    if (entries[chosen].relid != InvalidOid)
        pg_atomic_fetch_add_u64(&header->evictions, 1);
    memset(&entries[chosen], 0, sizeof(PartitionEntry));
    entries[chosen].dbid = dbid;
    entries[chosen].relid = relid;
    entries[chosen].parent = parent;
    entries[chosen].last_used_seconds = now;
    entries[chosen].last_decay_seconds = now;
    LWLockRelease(stripe_lock(chosen));
    return chosen;
}

// Per backend: where each partition's entry was last seen (checked again
// under the stripe lock, as entries can be evicted and reused).
std::vector<std::pair<Oid, int>> entry_hints;

int hinted_index(Oid relid) {
    for (const auto& [hinted_relid, index] : entry_hints)
        if (hinted_relid == relid)
            return index;
    return -1;
}

void remember_index(Oid relid, int index) {
    for (auto& hint : entry_hints)
        if (hint.first == relid) {
            hint.second = index;
            return;
        }
    entry_hints.emplace_back(relid, index);
}

void apply(PartitionEntry& entry, const PartitionUsage& usage, int64_t now, uint64_t random) {
    entry.last_used_seconds = now;
    entry.history.add(now, usage.counters);
    const int64_t half_life = config::analyzer_key_half_life_seconds;
    if (half_life > 0 && now - entry.last_decay_seconds >= half_life) {
        double halvings = static_cast<double>(now - entry.last_decay_seconds) / half_life;
        entry.sampler.decay(std::pow(0.5, halvings));
        entry.last_decay_seconds = now;
    }
    if (usage.has_span && usage.span_weight > 0)
        entry.sampler.record(usage.lo, usage.hi, usage.span_weight, random);
}

// Saved at a clean shutdown, loaded at the next start (as pg_stat_statements
// does): a header and the used entries, raw.
struct SaveHeader {
    uint32_t magic;
    uint32_t entry_size;
    int32_t count;
};

void save_to_file(int code, Datum) {
    if (code != 0 || header == nullptr) // not after a crash
        return;
    FILE* file = AllocateFile(kSaveFileTemporary, PG_BINARY_W);
    if (file == nullptr)
        return;
    SaveHeader saved{kSaveMagic, static_cast<uint32_t>(sizeof(PartitionEntry)), 0};
    for (int i = 0; i < header->capacity; i++)
        saved.count += entries[i].relid != InvalidOid;
    bool ok = fwrite(&saved, sizeof saved, 1, file) == 1;
    for (int i = 0; ok && i < header->capacity; i++)
        if (entries[i].relid != InvalidOid)
            ok = fwrite(&entries[i], sizeof(PartitionEntry), 1, file) == 1;
    if (FreeFile(file) != 0)
        ok = false;
    if (ok)
        (void)durable_rename(kSaveFileTemporary, kSaveFile, LOG);
    else
        unlink(kSaveFileTemporary);
}

void load_from_file() {
    FILE* file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr)
        return;
    SaveHeader saved{};
    if (fread(&saved, sizeof saved, 1, file) == 1 && saved.magic == kSaveMagic &&
        saved.entry_size == sizeof(PartitionEntry)) {
        int loaded = 0;
        for (int i = 0; i < saved.count && loaded < header->capacity; i++) {
            if (fread(&entries[loaded], sizeof(PartitionEntry), 1, file) != 1) {
                memset(&entries[loaded], 0, sizeof(PartitionEntry));
                break;
            }
            loaded++;
        }
        ereport(LOG, (errmsg("pg_presplit: loaded statistics of %d partitions", loaded)));
    } else {
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\" (other format)", kSaveFile)));
    }
    FreeFile(file);
    unlink(kSaveFile);
}

} // namespace

Size shared_memory_size() {
    return add_size(entries_offset(),
                    mul_size(sizeof(PartitionEntry), config::analyzer_max_partitions));
}

int lock_count() {
    return 1 + kStripes;
}
const char* lock_tranche_name() {
    return kTrancheName;
}

void attach_shared_memory() {
    bool found = false;
    auto* base = static_cast<char*>(ShmemInitStruct(kSegmentName, shared_memory_size(), &found));
    header = reinterpret_cast<StoreHeader*>(base);
    entries = reinterpret_cast<PartitionEntry*>(base + entries_offset());
    locks = GetNamedLWLockTranche(kTrancheName);
    if (!found) {
        memset(base, 0, shared_memory_size());
        header->capacity = config::analyzer_max_partitions;
        pg_atomic_init_u64(&header->evictions, 0);
        load_from_file();
    }
    if (!IsUnderPostmaster)
        on_shmem_exit(save_to_file, 0);
}

void record(const PartitionUsage& usage, int64_t now, uint64_t random) {
    if (header == nullptr || header->capacity == 0)
        return;
    const Oid dbid = MyDatabaseId;
    int index = hinted_index(usage.relid);
    if (index >= 0) {
        LWLockAcquire(stripe_lock(index), LW_EXCLUSIVE);
        if (matches(entries[index], dbid, usage.relid)) {
            apply(entries[index], usage, now, random);
            LWLockRelease(stripe_lock(index));
            return;
        }
        LWLockRelease(stripe_lock(index));
    }
    LWLockAcquire(directory_lock(), LW_EXCLUSIVE);
    index = find(dbid, usage.relid);
    if (index < 0)
        index = claim(dbid, usage.relid, usage.parent, now);
    if (index >= 0) {
        LWLockAcquire(stripe_lock(index), LW_EXCLUSIVE);
        apply(entries[index], usage, now, random);
        LWLockRelease(stripe_lock(index));
        remember_index(usage.relid, index);
    }
    LWLockRelease(directory_lock());
}

void for_each_entry(Oid dbid, const std::function<void(const PartitionEntry&)>& f) {
    if (header == nullptr)
        return;
    std::vector<PartitionEntry> copy(1);
    for (int i = 0; i < header->capacity; i++) {
        bool wanted = pg::call([&] {
            LWLockAcquire(stripe_lock(i), LW_SHARED);
            bool take =
                entries[i].relid != InvalidOid && (dbid == InvalidOid || entries[i].dbid == dbid);
            if (take)
                memcpy(&copy[0], &entries[i], sizeof(PartitionEntry));
            LWLockRelease(stripe_lock(i));
            return take;
        });
        if (wanted)
            f(copy[0]);
    }
}

void reset(Oid dbid, Oid parent) {
    if (header == nullptr)
        return;
    pg::call([&] {
        for (int i = 0; i < header->capacity; i++) {
            LWLockAcquire(stripe_lock(i), LW_EXCLUSIVE);
            PartitionEntry& entry = entries[i];
            if (entry.relid != InvalidOid && entry.dbid == dbid &&
                (parent == InvalidOid || entry.parent == parent)) {
                entry.history.reset();
                entry.sampler.reset();
            }
            LWLockRelease(stripe_lock(i));
        }
    });
}

StoreStatus status() {
    StoreStatus result{0, 0, 0, sizeof(PartitionEntry)};
    if (header == nullptr)
        return result;
    pg::call([&] {
        LWLockAcquire(directory_lock(), LW_SHARED);
        result.capacity = header->capacity;
        for (int i = 0; i < header->capacity; i++)
            result.used += entries[i].relid != InvalidOid;
        result.evictions = pg_atomic_read_u64(&header->evictions);
        LWLockRelease(directory_lock());
    });
    return result;
}

int64_t now_seconds() {
    TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
    // TimestampTz counts microseconds from 2000-01-01.
    return now / USECS_PER_SEC +
           (static_cast<int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

} // namespace presplit::analyzer
