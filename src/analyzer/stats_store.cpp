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
#include "utils/hsearch.h"
#include "utils/timestamp.h"
}

#include <boost/container/flat_map.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <vector>

namespace presplit::analyzer {
namespace {

constexpr const char* kSegmentName = "pg_presplit analyzer";
constexpr const char* kDirectoryName = "pg_presplit analyzer directory";
constexpr const char* kTrancheName = "pg_presplit analyzer";
constexpr int kStripes = 16;
constexpr const char* kSaveFile = "pg_stat/pg_presplit.stat";
constexpr const char* kSaveFileTemporary = "pg_stat/pg_presplit.stat.tmp";

struct StoreHeader {
    int capacity;
    int used; // entries [0, used) hold a partition; guarded by the directory lock
    pg_atomic_uint64 evictions;
    // PartitionEntry entries[capacity] follow, MAXALIGNed.
};

// The directory: which entry holds which partition. A PostgreSQL shared hash
// table (dynahash, sized for the capacity at start, no pointers of ours in
// it), searched under the directory lock held shared; only claiming an entry
// takes it exclusively.
struct DirectoryKey {
    Oid dbid;
    Oid relid;
};
struct DirectoryEntry {
    DirectoryKey key; // first: dynahash's key
    int index;        // into entries
};

StoreHeader* header = nullptr;
PartitionEntry* entries = nullptr;
HTAB* directory = nullptr;
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

Size segment_size() {
    return add_size(entries_offset(),
                    mul_size(sizeof(PartitionEntry), config::analyzer_max_partitions));
}

// dynahash wants room for one entry at least.
long directory_size() {
    return std::max(config::analyzer_max_partitions, 1);
}

bool matches(const PartitionEntry& entry, Oid dbid, Oid relid) {
    return entry.relid == relid && entry.dbid == dbid;
}

// Under the directory lock (shared is enough).
int find(Oid dbid, Oid relid) {
    DirectoryKey key{dbid, relid};
    auto* found = static_cast<DirectoryEntry*>(hash_search(directory, &key, HASH_FIND, nullptr));
    return found == nullptr ? -1 : found->index;
}

// Under the directory lock held exclusively: notes in the directory that
// entry index holds (dbid, relid).
bool enter(Oid dbid, Oid relid, int index) {
    DirectoryKey key{dbid, relid};
    bool found = false;
    auto* entry =
        static_cast<DirectoryEntry*>(hash_search(directory, &key, HASH_ENTER_NULL, &found));
    if (entry == nullptr)
        return false; // cannot happen: sized for the capacity, removed before reused
    entry->index = index;
    return true;
}

// Under the directory lock held exclusively: an entry never used yet, or,
// once all are taken, the least recently used one (a scan of them all:
// only with more partitions in use than the capacity), emptied.
int claim(Oid dbid, Oid relid, Oid parent, int64_t now) {
    if (header->capacity == 0)
        return -1;
    int chosen;
    if (header->used < header->capacity) {
        chosen = header->used;
    } else {
        chosen = 0;
        for (int i = 1; i < header->capacity; i++)
            if (entries[i].last_used_seconds < entries[chosen].last_used_seconds)
                chosen = i;
        DirectoryKey evicted{entries[chosen].dbid, entries[chosen].relid};
        hash_search(directory, &evicted, HASH_REMOVE, nullptr);
    }
    if (!enter(dbid, relid, chosen))
        return -1;
    if (chosen == header->used)
        header->used++;
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
// under the stripe lock, as entries can be evicted and reused), so that a
// partition this backend has recorded before needs no directory lock. A
// sorted vector: looked up once per partition a recorded statement touched.
// Bounded: a backend that touches more partitions than this starts over.
constexpr size_t kMaxHints = 1024;
boost::container::flat_map<Oid, int> entry_hints;

int hinted_index(Oid relid) {
    auto found = entry_hints.find(relid);
    return found == entry_hints.end() ? -1 : found->second;
}

void remember_index(Oid relid, int index) {
    if (entry_hints.size() >= kMaxHints && entry_hints.count(relid) == 0)
        entry_hints.clear();
    entry_hints.insert_or_assign(relid, index);
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
    entry.sampler.record_all(usage.accesses, usage.access_count, random);
}

// Saved at a clean shutdown, loaded at the next start (as pg_stat_statements
// does): a header, then the used entries, raw. Raw entries are only
// meaningful to the build that wrote them, so the header says which: the
// file's format (bump kSaveFormat whenever the layout of SaveHeader or
// PartitionEntry changes) and PostgreSQL's major version (Oid, TimestampTz,
// alignment). A file that does not match is ignored, with a LOG line.
constexpr uint32_t kSaveMagic = 0x53505350;    // "PSPS"
constexpr uint32_t kFormat1Magic = 0x50535031; // format 1: magic, entry size, count
constexpr uint32_t kSaveFormat = 2;
constexpr uint32_t kPgMajor = PG_MAJORVERSION_NUM;

struct SaveHeader {
    uint32_t magic;
    uint32_t format;
    uint32_t pg_major;
    uint32_t entry_size; // sizeof(PartitionEntry): a check of the format
    int32_t count;       // entries that follow
};
static_assert(sizeof(SaveHeader) == 20, "test/t/006_analyzer.pl reads five 4-byte fields");

// On any failure: a LOG line with the reason (errno is the failed call's).
void log_write_failure(const char* what) {
    ereport(LOG, (errcode_for_file_access(),
                  errmsg("pg_presplit: could not save the analyzer's statistics: could not %s "
                         "\"%s\": %m",
                         what, kSaveFileTemporary)));
}

void save_to_file(int code, Datum) {
    pg::entry([&] {
        if (code != 0 || header == nullptr) // not after a crash
            return;
        FILE* file = AllocateFile(kSaveFileTemporary, PG_BINARY_W);
        if (file == nullptr) {
            log_write_failure("create");
            return;
        }
        SaveHeader saved{kSaveMagic, kSaveFormat, kPgMajor,
                         static_cast<uint32_t>(sizeof(PartitionEntry)), 0};
        for (int i = 0; i < header->used; i++)
            saved.count += entries[i].relid != InvalidOid;
        bool ok = fwrite(&saved, sizeof saved, 1, file) == 1;
        for (int i = 0; ok && i < header->used; i++)
            if (entries[i].relid != InvalidOid)
                ok = fwrite(&entries[i], sizeof(PartitionEntry), 1, file) == 1;
        if (!ok) {
            log_write_failure("write");
            FreeFile(file);
            unlink(kSaveFileTemporary);
            return;
        }
        if (FreeFile(file) != 0) {
            log_write_failure("close");
            unlink(kSaveFileTemporary);
            return;
        }
        // durable_rename says at LOG why it failed, if it does.
        if (durable_rename(kSaveFileTemporary, kSaveFile, LOG) == 0)
            ereport(LOG, (errmsg_plural("pg_presplit: saved statistics of %d partition",
                                        "pg_presplit: saved statistics of %d partitions",
                                        saved.count, saved.count)));
        else
            unlink(kSaveFileTemporary);
    });
}

// In the postmaster at startup, before any backend: no locks needed.
void load_from_file() {
    FILE* file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr) {
        if (errno != ENOENT)
            ereport(LOG, (errcode_for_file_access(),
                          errmsg("pg_presplit: could not read \"%s\": %m", kSaveFile)));
        return;
    }
    // The magic number first: a file of format 1 has a shorter header.
    SaveHeader saved{};
    if (fread(&saved.magic, sizeof saved.magic, 1, file) != 1 ||
        (saved.magic == kSaveMagic && fread(reinterpret_cast<char*>(&saved) + sizeof saved.magic,
                                            sizeof saved - sizeof saved.magic, 1, file) != 1)) {
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": shorter than its header", kSaveFile)));
    } else if (saved.magic == kFormat1Magic) {
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": written in format 1 (by an earlier "
                             "pg_presplit); this server reads format %u for PostgreSQL %u",
                             kSaveFile, kSaveFormat, kPgMajor)));
    } else if (saved.magic != kSaveMagic) {
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": not a pg_presplit statistics file",
                             kSaveFile)));
    } else if (saved.format != kSaveFormat || saved.pg_major != kPgMajor ||
               saved.entry_size != sizeof(PartitionEntry) || saved.count < 0) {
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": written in format %u for PostgreSQL "
                             "%u (entries of %u bytes); this server reads format %u for "
                             "PostgreSQL %u (entries of %u bytes)",
                             kSaveFile, saved.format, saved.pg_major, saved.entry_size, kSaveFormat,
                             kPgMajor, static_cast<unsigned>(sizeof(PartitionEntry)))));
    } else {
        int loaded = 0, skipped = 0;
        bool truncated = false;
        for (int i = 0; i < saved.count && loaded < header->capacity; i++) {
            PartitionEntry& entry = entries[loaded];
            if (fread(&entry, sizeof(PartitionEntry), 1, file) != 1) {
                memset(&entry, 0, sizeof(PartitionEntry));
                truncated = true;
                break;
            }
            if (entry.relid == InvalidOid || find(entry.dbid, entry.relid) >= 0 ||
                !enter(entry.dbid, entry.relid, loaded)) {
                memset(&entry, 0, sizeof(PartitionEntry));
                skipped++;
                continue;
            }
            header->used = ++loaded;
        }
        if (truncated)
            ereport(LOG, (errmsg("pg_presplit: \"%s\" is truncated: loaded the first %d of its "
                                 "%d partitions",
                                 kSaveFile, loaded, saved.count)));
        else if (loaded + skipped < saved.count)
            ereport(LOG, (errmsg("pg_presplit: loaded statistics of %d partitions, of %d in "
                                 "\"%s\": presplit.analyzer_max_partitions is %d",
                                 loaded, saved.count, kSaveFile, header->capacity)));
        else
            ereport(LOG, (errmsg_plural("pg_presplit: loaded statistics of %d partition",
                                        "pg_presplit: loaded statistics of %d partitions", loaded,
                                        loaded)));
    }
    FreeFile(file);
    unlink(kSaveFile);
}

} // namespace

void request_shared_memory() {
    RequestAddinShmemSpace(
        add_size(segment_size(), hash_estimate_size(directory_size(), sizeof(DirectoryEntry))));
    RequestNamedLWLockTranche(kTrancheName, 1 + kStripes);
}

void attach_shared_memory() {
    bool found = false;
    auto* base = static_cast<char*>(ShmemInitStruct(kSegmentName, segment_size(), &found));
    header = reinterpret_cast<StoreHeader*>(base);
    entries = reinterpret_cast<PartitionEntry*>(base + entries_offset());
    HASHCTL info{};
    info.keysize = sizeof(DirectoryKey);
    info.entrysize = sizeof(DirectoryEntry);
    directory = ShmemInitHash(kDirectoryName, directory_size(), directory_size(), &info,
                              HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
    locks = GetNamedLWLockTranche(kTrancheName);
    if (!found) {
        // Only the header: entries are initialized when claimed (claim() or
        // the load), so the pages of unused ones are never touched.
        memset(header, 0, sizeof(StoreHeader));
        header->capacity = config::analyzer_max_partitions;
        header->used = 0;
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
    // Known to the directory: a shared lock keeps the entry from being
    // evicted while it is updated.
    LWLockAcquire(directory_lock(), LW_SHARED);
    index = find(dbid, usage.relid);
    if (index >= 0) {
        LWLockAcquire(stripe_lock(index), LW_EXCLUSIVE);
        apply(entries[index], usage, now, random);
        LWLockRelease(stripe_lock(index));
        LWLockRelease(directory_lock());
        remember_index(usage.relid, index);
        return;
    }
    LWLockRelease(directory_lock());
    // New: claim an entry (someone may have claimed one for it meanwhile).
    LWLockAcquire(directory_lock(), LW_EXCLUSIVE);
    index = find(dbid, usage.relid);
    if (index < 0)
        index = claim(dbid, usage.relid, usage.parent, now);
    if (index >= 0) {
        LWLockAcquire(stripe_lock(index), LW_EXCLUSIVE);
        apply(entries[index], usage, now, random);
        LWLockRelease(stripe_lock(index));
    }
    LWLockRelease(directory_lock());
    if (index >= 0)
        remember_index(usage.relid, index);
}

// Entries [0, used) are the ones ever claimed (used only grows).
int used_entries() {
    return pg::call([&] {
        LWLockAcquire(directory_lock(), LW_SHARED);
        int used = header->used;
        LWLockRelease(directory_lock());
        return used;
    });
}

void for_each_entry(Oid dbid, const std::function<void(const PartitionEntry&)>& f) {
    if (header == nullptr)
        return;
    std::vector<PartitionEntry> copy(1);
    const int used = used_entries();
    for (int i = 0; i < used; i++) {
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
    const int used = used_entries();
    pg::call([&] {
        for (int i = 0; i < used; i++) {
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
        result.used = header->used;
        Assert(hash_get_num_entries(directory) == header->used);
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
