#include "analyzer/stats_store.hpp"

#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "lib/dshash.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/freepage.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

#include <boost/container/flat_map.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <vector>

namespace presplit::analyzer {
namespace {

constexpr const char* kControlName = "pg_presplit analyzer";
// Named LWLocks: [0] one eviction at a time, [1] the free list.
constexpr const char* kTrancheName = "pg_presplit analyzer";
constexpr const char* kAreaTrancheName = "pg_presplit analyzer area";
constexpr const char* kDirectoryTrancheName = "pg_presplit analyzer directory";
constexpr const char* kEntryTrancheName = "pg_presplit analyzer entry";
constexpr const char* kSaveFile = "pg_stat/pg_presplit.stat";
constexpr const char* kSaveFileTemporary = "pg_stat/pg_presplit.stat.tmp";

// An entry in the area: its lock, its link in the free list, its contents.
struct StoredEntry {
    LWLock lock;
    dsa_pointer next_free; // while on the free list
    PartitionEntry data;
};

// The directory: which entry holds which partition.
struct DirectoryKey {
    Oid dbid;
    Oid relid;
};
static_assert(sizeof(DirectoryKey) == 2 * sizeof(Oid), "hashed and compared as bytes");
struct DirectoryEntry {
    DirectoryKey key; // first: dshash's key
    dsa_pointer entry;
};

// In the main shared memory segment, followed by the area's first part.
struct StoreControl {
    int area_tranche;
    int directory_tranche;
    int entry_tranche;
    Size area_size; // the in-place part of the area
    dshash_table_handle directory;
    pg_atomic_uint32 used; // entries in the directory
    pg_atomic_uint64 evictions;
    dsa_pointer free_list; // guarded by free_list_lock()
    uint32 allocated;      // entries ever allocated; guarded by free_list_lock()
};

// The area's own control data and the directory's (its header and first
// buckets) must fit in the in-place part, which the postmaster creates them
// in: PostgreSQL's statistics reserve 256 kB for the same.
constexpr Size kAreaBase = 256 * 1024;
// What an entry takes in the area: whole pages (the allocation of anything
// over 8 kB), and a generous share of the small allocations that go with it
// (its span, its directory item, the directory's buckets as it grows).
constexpr Size kEntryPages = (sizeof(StoredEntry) + FPM_PAGE_SIZE - 1) / FPM_PAGE_SIZE;
constexpr Size kEntryBytes = kEntryPages * FPM_PAGE_SIZE;
constexpr Size kEntryFootprint = kEntryBytes + 512;
// Room made at start for entries beyond those of the saved file (they go to
// dynamic shared memory segments otherwise).
constexpr int kSpareEntriesInPlace = 64;

StoreControl* control = nullptr; // set at startup, inherited by every process
LWLockPadded* locks = nullptr;
Size requested_area_size = 0; // computed by the request, in the postmaster

// This process's mapping of the area and the directory (attach()).
dsa_area* area = nullptr;
dshash_table* directory = nullptr;

LWLock* eviction_lock() {
    return &locks[0].lock;
}
LWLock* free_list_lock() {
    return &locks[1].lock;
}

Size control_size() {
    return CACHELINEALIGN(sizeof(StoreControl));
}
void* area_place() {
    return reinterpret_cast<char*>(control) + control_size();
}
Size area_size_for(int entries) {
    return add_size(2 * kAreaBase, mul_size(static_cast<Size>(entries), kEntryFootprint));
}
// How many entries the in-place part holds (what the postmaster can load).
int entries_in_place(Size size) {
    return size <= 2 * kAreaBase ? 0 : static_cast<int>((size - 2 * kAreaBase) / kEntryFootprint);
}

dshash_parameters directory_parameters() {
    dshash_parameters parameters{};
    parameters.key_size = sizeof(DirectoryKey);
    parameters.entry_size = sizeof(DirectoryEntry);
    parameters.compare_function = dshash_memcmp;
    parameters.hash_function = dshash_memhash;
    parameters.tranche_id = control->directory_tranche;
    return parameters;
}

// Maps the area and the directory into this process at its first use of the
// store, for the life of the process. The area is pinned: like PostgreSQL
// 15's statistics, a process does not give its reference back as it exits
// (that would take the area's lock in the exit path).
void attach() {
    if (directory != nullptr)
        return;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    dsa_area* attached = dsa_attach_in_place(area_place(), nullptr);
    dsa_pin_mapping(attached);
    dshash_parameters parameters = directory_parameters();
    dshash_table* table = dshash_attach(attached, &parameters, control->directory, nullptr);
    MemoryContextSwitchTo(old);
    area = attached;
    directory = table;
}

StoredEntry* at(dsa_pointer pointer) {
    return static_cast<StoredEntry*>(dsa_get_address(area, pointer));
}

bool matches(const PartitionEntry& entry, Oid dbid, Oid relid) {
    return entry.relid == relid && entry.dbid == dbid && relid != InvalidOid;
}

// --- entries: the free list, claiming, finding, freeing -----------------------

// An entry off the free list, or a new one from the area; InvalidDsaPointer
// if the area cannot grow. Its key is InvalidOid.
dsa_pointer take_entry() {
    LWLockAcquire(free_list_lock(), LW_EXCLUSIVE);
    dsa_pointer taken = control->free_list;
    if (DsaPointerIsValid(taken))
        control->free_list = at(taken)->next_free;
    LWLockRelease(free_list_lock());
    if (DsaPointerIsValid(taken))
        return taken;
    taken = dsa_allocate_extended(area, sizeof(StoredEntry), DSA_ALLOC_NO_OOM);
    if (!DsaPointerIsValid(taken))
        return InvalidDsaPointer;
    StoredEntry* entry = at(taken);
    LWLockInitialize(&entry->lock, control->entry_tranche);
    entry->next_free = InvalidDsaPointer;
    entry->data.dbid = InvalidOid;
    entry->data.relid = InvalidOid;
    LWLockAcquire(free_list_lock(), LW_EXCLUSIVE);
    control->allocated++;
    LWLockRelease(free_list_lock());
    return taken;
}

// An entry whose key is InvalidOid, in no directory slot.
void give_back(dsa_pointer pointer) {
    LWLockAcquire(free_list_lock(), LW_EXCLUSIVE);
    at(pointer)->next_free = control->free_list;
    control->free_list = pointer;
    LWLockRelease(free_list_lock());
}

// The entry of (dbid, relid), locked in mode, or nullptr. The directory's
// partition lock is held until the entry's is taken, so the entry cannot
// be freed in between.
StoredEntry* find_locked(Oid dbid, Oid relid, LWLockMode mode) {
    DirectoryKey key{dbid, relid};
    auto* slot = static_cast<DirectoryEntry*>(dshash_find(directory, &key, false));
    if (slot == nullptr)
        return nullptr;
    StoredEntry* entry = at(slot->entry);
    LWLockAcquire(&entry->lock, mode);
    dshash_release_lock(directory, slot);
    return entry;
}

// Frees the entry of (dbid, relid) if it was created at created_seconds:
// out of the directory, key cleared, onto the free list.
bool forget_entry(Oid dbid, Oid relid, int64_t created_seconds) {
    DirectoryKey key{dbid, relid};
    auto* slot = static_cast<DirectoryEntry*>(dshash_find(directory, &key, true));
    if (slot == nullptr)
        return false;
    const dsa_pointer pointer = slot->entry;
    StoredEntry* entry = at(pointer);
    LWLockAcquire(&entry->lock, LW_EXCLUSIVE);
    if (entry->data.created_seconds != created_seconds) {
        LWLockRelease(&entry->lock);
        dshash_release_lock(directory, slot);
        return false;
    }
    entry->data.dbid = InvalidOid;
    entry->data.relid = InvalidOid;
    LWLockRelease(&entry->lock);
    dshash_delete_entry(directory, slot);
    pg_atomic_fetch_sub_u32(&control->used, 1);
    give_back(pointer);
    return true;
}

// At the cap: frees the entry used least recently (a scan of them all, its
// last use read without its lock: an estimate is enough). One eviction at a
// time, so that backends claiming at once do not all evict. Returns whether
// there is room now.
bool evict_least_recently_used(uint32 cap) {
    LWLockAcquire(eviction_lock(), LW_EXCLUSIVE);
    bool room = pg_atomic_read_u32(&control->used) < cap;
    if (!room) {
        EntryKey victim{InvalidOid, InvalidOid, InvalidOid, 0};
        int64_t oldest = std::numeric_limits<int64_t>::max();
        dshash_seq_status scan;
        dshash_seq_init(&scan, directory, false);
        while (auto* slot = static_cast<DirectoryEntry*>(dshash_seq_next(&scan))) {
            const PartitionEntry& data = at(slot->entry)->data;
            if (data.last_used_seconds < oldest) {
                oldest = data.last_used_seconds;
                victim = {slot->key.dbid, slot->key.relid, data.parent, data.created_seconds};
            }
        }
        dshash_seq_term(&scan);
        if (victim.relid != InvalidOid &&
            forget_entry(victim.dbid, victim.relid, victim.created_seconds)) {
            pg_atomic_fetch_add_u64(&control->evictions, 1);
            room = true;
        }
    }
    LWLockRelease(eviction_lock());
    return room;
}

// Gives (dbid, relid) an entry (or finds the one another backend has just
// given it); returns it locked exclusively, or nullptr: at the cap when
// eviction is not allowed, or the area cannot grow. The entry is taken
// before the directory's partition lock, so that nothing that can fail
// happens between adding the directory slot and filling it.
StoredEntry* claim(Oid dbid, Oid relid, Oid parent, int64_t now, bool may_evict) {
    const int cap = config::analyzer_max_partitions;
    if (cap <= 0)
        return nullptr;
    if (pg_atomic_read_u32(&control->used) >= static_cast<uint32>(cap) &&
        !(may_evict && evict_least_recently_used(static_cast<uint32>(cap))))
        return nullptr;
    const dsa_pointer taken = take_entry();
    if (!DsaPointerIsValid(taken))
        return nullptr;
    DirectoryKey key{dbid, relid};
    bool found = false;
    auto* slot = static_cast<DirectoryEntry*>(dshash_find_or_insert(directory, &key, &found));
    if (found) {
        StoredEntry* existing = at(slot->entry);
        LWLockAcquire(&existing->lock, LW_EXCLUSIVE);
        dshash_release_lock(directory, slot);
        give_back(taken);
        return existing;
    }
    slot->entry = taken;
    StoredEntry* entry = at(taken);
    LWLockAcquire(&entry->lock, LW_EXCLUSIVE);
    memset(&entry->data, 0, sizeof(PartitionEntry));
    entry->data.dbid = dbid;
    entry->data.relid = relid;
    entry->data.parent = parent;
    entry->data.created_seconds = now;
    entry->data.last_used_seconds = now;
    entry->data.last_decay_seconds = now;
    pg_atomic_fetch_add_u32(&control->used, 1);
    dshash_release_lock(directory, slot);
    return entry;
}

// The directory's slots (of database dbid, or all) into found (the
// caller's: nothing here owns memory that an error would skip), without
// their locks held: each entry is checked against its key again under its
// own lock.
struct Located {
    DirectoryKey key;
    dsa_pointer entry;
};
void locate(Oid dbid, std::vector<Located>& found) {
    dshash_seq_status scan;
    dshash_seq_init(&scan, directory, false);
    while (auto* slot = static_cast<DirectoryEntry*>(dshash_seq_next(&scan)))
        if (dbid == InvalidOid || slot->key.dbid == dbid)
            found.push_back({slot->key, slot->entry});
    dshash_seq_term(&scan);
}

// Every slot of database dbid (all if InvalidOid).
std::vector<Located> located_entries(Oid dbid) {
    std::vector<Located> found;
    found.reserve(pg_atomic_read_u32(&control->used) + 64);
    pg::call([&] {
        attach();
        locate(dbid, found);
    });
    return found;
}

// Per backend: where each partition's entry was last found, checked by its
// key under its lock, so that a partition this backend has recorded before
// needs no directory lookup. A sorted vector: looked up once per partition
// a recorded statement touched. Bounded: a backend that touches more
// partitions than this starts over (and finds them through the directory,
// under shared locks).
constexpr size_t kMaxHints = 4096;
boost::container::flat_map<Oid, StoredEntry*> entry_hints;

StoredEntry* hinted_entry(Oid relid) {
    auto found = entry_hints.find(relid);
    return found == entry_hints.end() ? nullptr : found->second;
}

void remember_entry(Oid relid, StoredEntry* entry) {
    if (entry_hints.size() >= kMaxHints && entry_hints.count(relid) == 0)
        entry_hints.clear();
    entry_hints.insert_or_assign(relid, entry);
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

// --- the saved file ---------------------------------------------------------

// Saved by the pg_presplit worker (periodically and at shutdown), loaded by
// the postmaster at the next start: a header, then the entries, raw. Raw
// entries are only meaningful to the build that wrote them, so the header
// says which: the file's format (bump kSaveFormat whenever the layout of
// SaveHeader or PartitionEntry changes) and PostgreSQL's major version (Oid,
// TimestampTz, alignment). A file that does not match is ignored, with a LOG
// line.
constexpr uint32_t kSaveMagic = 0x53505350;    // "PSPS"
constexpr uint32_t kFormat1Magic = 0x50535031; // format 1: magic, entry size, count
constexpr uint32_t kSaveFormat = 4; // 3: the size history; 4: key images with the candidates
constexpr uint32_t kPgMajor = PG_MAJORVERSION_NUM;

struct SaveHeader {
    uint32_t magic;
    uint32_t format;
    uint32_t pg_major;
    uint32_t entry_size; // sizeof(PartitionEntry): a check of the format
    int32_t count;       // entries that follow
};
static_assert(sizeof(SaveHeader) == 20, "test/t/006_analyzer.pl reads five 4-byte fields");

enum class HeaderCheck { readable, too_short, format_1, foreign, mismatch };

// Reads the header (the magic number first: a file of format 1 has a
// shorter one) and says whether this build reads the file.
HeaderCheck read_header(FILE* file, SaveHeader& saved) {
    saved = SaveHeader{};
    if (fread(&saved.magic, sizeof saved.magic, 1, file) != 1 ||
        (saved.magic == kSaveMagic && fread(reinterpret_cast<char*>(&saved) + sizeof saved.magic,
                                            sizeof saved - sizeof saved.magic, 1, file) != 1))
        return HeaderCheck::too_short;
    if (saved.magic == kFormat1Magic)
        return HeaderCheck::format_1;
    if (saved.magic != kSaveMagic)
        return HeaderCheck::foreign;
    if (saved.format != kSaveFormat || saved.pg_major != kPgMajor ||
        saved.entry_size != sizeof(PartitionEntry) || saved.count < 0)
        return HeaderCheck::mismatch;
    return HeaderCheck::readable;
}

// The number of entries the saved file holds if this build reads it, else
// 0 (the load says why): the request makes room for them.
int saved_entry_count() {
    FILE* file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr)
        return 0;
    SaveHeader saved;
    int count = 0;
    if (read_header(file, saved) == HeaderCheck::readable)
        count = saved.count;
    FreeFile(file);
    return count;
}

// On any failure: a LOG line with the reason (errno is the failed call's).
void log_write_failure(const char* what) {
    ereport(LOG, (errcode_for_file_access(),
                  errmsg("pg_presplit: could not save the analyzer's statistics: could not %s "
                         "\"%s\": %m",
                         what, kSaveFileTemporary)));
}

// In the postmaster at startup, before any other process exists: the area
// may not grow (the postmaster cannot create dynamic shared memory
// segments), so it loads as many entries as the in-place part holds -- all
// of them, as it was sized for the file, unless the file grew since the
// server started (a reload after a crash).
void load_from_file() {
    FILE* file = AllocateFile(kSaveFile, PG_BINARY_R);
    if (file == nullptr) {
        if (errno != ENOENT)
            ereport(LOG, (errcode_for_file_access(),
                          errmsg("pg_presplit: could not read \"%s\": %m", kSaveFile)));
        return;
    }
    SaveHeader saved;
    switch (read_header(file, saved)) {
    case HeaderCheck::too_short:
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": shorter than its header", kSaveFile)));
        break;
    case HeaderCheck::format_1:
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": written in format 1 (by an earlier "
                             "pg_presplit); this server reads format %u for PostgreSQL %u",
                             kSaveFile, kSaveFormat, kPgMajor)));
        break;
    case HeaderCheck::foreign:
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": not a pg_presplit statistics file",
                             kSaveFile)));
        break;
    case HeaderCheck::mismatch:
        ereport(LOG, (errmsg("pg_presplit: ignoring \"%s\": written in format %u for PostgreSQL "
                             "%u (entries of %u bytes); this server reads format %u for "
                             "PostgreSQL %u (entries of %u bytes)",
                             kSaveFile, saved.format, saved.pg_major, saved.entry_size, kSaveFormat,
                             kPgMajor, static_cast<unsigned>(sizeof(PartitionEntry)))));
        break;
    case HeaderCheck::readable: {
        const int cap = std::max(config::analyzer_max_partitions, 0);
        const int room = std::min(cap, entries_in_place(control->area_size));
        int loaded = 0, skipped = 0, read = 0;
        bool truncated = false;
        // palloc'd: an error here longjmps out of this frame.
        PartitionEntry& entry = *static_cast<PartitionEntry*>(palloc(sizeof(PartitionEntry)));
        for (; read < saved.count && loaded < room; read++) {
            if (fread(&entry, sizeof(PartitionEntry), 1, file) != 1) {
                truncated = true;
                break;
            }
            DirectoryKey key{entry.dbid, entry.relid};
            void* existing =
                entry.relid == InvalidOid ? nullptr : dshash_find(directory, &key, false);
            if (existing != nullptr)
                dshash_release_lock(directory, existing);
            if (entry.relid == InvalidOid || existing != nullptr) {
                skipped++;
                continue;
            }
            const dsa_pointer taken = take_entry();
            if (!DsaPointerIsValid(taken))
                break;
            memcpy(&at(taken)->data, &entry, sizeof(PartitionEntry));
            bool found = false;
            auto* slot =
                static_cast<DirectoryEntry*>(dshash_find_or_insert(directory, &key, &found));
            slot->entry = taken;
            dshash_release_lock(directory, slot);
            pg_atomic_fetch_add_u32(&control->used, 1);
            loaded++;
        }
        if (truncated)
            ereport(LOG, (errmsg("pg_presplit: \"%s\" is truncated: loaded the first %d of its "
                                 "%d partitions",
                                 kSaveFile, loaded, saved.count)));
        else if (loaded + skipped < saved.count && loaded == cap)
            ereport(LOG, (errmsg("pg_presplit: loaded statistics of %d partitions, of %d in "
                                 "\"%s\": presplit.analyzer_max_partitions is %d",
                                 loaded, saved.count, kSaveFile, cap)));
        else if (loaded + skipped < saved.count)
            ereport(LOG, (errmsg("pg_presplit: loaded statistics of %d partitions, of %d in "
                                 "\"%s\": the others did not fit in the shared memory made for "
                                 "them when the server started",
                                 loaded, saved.count, kSaveFile),
                          errhint("Restart the server to load them all.")));
        else
            ereport(LOG, (errmsg_plural("pg_presplit: loaded statistics of %d partition",
                                        "pg_presplit: loaded statistics of %d partitions", loaded,
                                        loaded)));
        pfree(&entry);
        break;
    }
    }
    FreeFile(file);
}

} // namespace

void request_shared_memory() {
    // The saved file's entries (as many as the cap lets it load) go into
    // the in-place part of the area (the postmaster loads them there), with
    // some room to spare, also for a reload after a crash.
    const int saved = std::min(saved_entry_count(), std::max(config::analyzer_max_partitions, 0));
    requested_area_size = area_size_for(saved + saved / 8 + kSpareEntriesInPlace);
    RequestAddinShmemSpace(add_size(control_size(), requested_area_size));
    RequestNamedLWLockTranche(kTrancheName, 2);
}

void attach_shared_memory() {
    bool found = false;
    const Size size = add_size(control_size(), requested_area_size);
    control = static_cast<StoreControl*>(ShmemInitStruct(kControlName, size, &found));
    locks = GetNamedLWLockTranche(kTrancheName);
    if (!found) {
        memset(control, 0, sizeof(StoreControl));
        control->area_size = requested_area_size;
        control->area_tranche = LWLockNewTrancheId();
        control->directory_tranche = LWLockNewTrancheId();
        control->entry_tranche = LWLockNewTrancheId();
        pg_atomic_init_u32(&control->used, 0);
        pg_atomic_init_u64(&control->evictions, 0);
        control->free_list = InvalidDsaPointer;
    }
    // Names for the wait events; registered in the postmaster, every process
    // it forks has them.
    LWLockRegisterTranche(control->area_tranche, kAreaTrancheName);
    LWLockRegisterTranche(control->directory_tranche, kDirectoryTrancheName);
    LWLockRegisterTranche(control->entry_tranche, kEntryTrancheName);
    if (found)
        return;
    // As PostgreSQL's statistics do (pgstat_shmem.c): the area is created
    // in place and pinned, and limited to its in-place part while the
    // postmaster uses it, so that the directory is created there (and the
    // saved entries loaded there) rather than in segments the postmaster
    // could not create.
    dsa_area* created =
        dsa_create_in_place(area_place(), control->area_size, control->area_tranche, nullptr);
    dsa_pin(created);
    dsa_set_size_limit(created, control->area_size);
    dshash_parameters parameters = directory_parameters();
    dshash_table* table = dshash_create(created, &parameters, nullptr);
    control->directory = dshash_get_hash_table_handle(table);
    area = created;
    directory = table;
    load_from_file();
    dsa_set_size_limit(created, static_cast<size_t>(-1));
    // The postmaster does not use them again; the processes it starts attach.
    area = nullptr;
    directory = nullptr;
    dshash_detach(table);
    dsa_detach(created);
}

void record(const PartitionUsage& usage, int64_t now, uint64_t random) {
    if (control == nullptr || config::analyzer_max_partitions <= 0)
        return;
    attach();
    const Oid dbid = MyDatabaseId;
    if (StoredEntry* hinted = hinted_entry(usage.relid)) {
        LWLockAcquire(&hinted->lock, LW_EXCLUSIVE);
        if (matches(hinted->data, dbid, usage.relid)) {
            apply(hinted->data, usage, now, random);
            LWLockRelease(&hinted->lock);
            return;
        }
        LWLockRelease(&hinted->lock);
    }
    StoredEntry* entry = find_locked(dbid, usage.relid, LW_EXCLUSIVE);
    if (entry == nullptr)
        entry = claim(dbid, usage.relid, usage.parent, now, true);
    if (entry == nullptr)
        return;
    apply(entry->data, usage, now, random);
    LWLockRelease(&entry->lock);
    remember_entry(usage.relid, entry);
}

namespace {

// The worker's way to an entry of this database (a size sample, a history
// passed on): found, or given one if the cap allows it without evicting;
// returned locked exclusively, or nullptr.
StoredEntry* entry_to_fill(Oid relid, Oid parent, int64_t now) {
    attach();
    StoredEntry* entry = find_locked(MyDatabaseId, relid, LW_EXCLUSIVE);
    return entry != nullptr ? entry : claim(MyDatabaseId, relid, parent, now, false);
}

} // namespace

bool record_size(Oid relid, Oid parent, int64_t now, int64_t rows, int64_t bytes) {
    if (control == nullptr)
        return false;
    return pg::call([&] {
        StoredEntry* entry = entry_to_fill(relid, parent, now);
        if (entry == nullptr)
            return false;
        entry->data.sizes.record(now, rows, bytes);
        LWLockRelease(&entry->lock);
        return true;
    });
}

void for_each_entry(Oid dbid, const std::function<void(const PartitionEntry&)>& f) {
    if (control == nullptr)
        return;
    const std::vector<Located> located = located_entries(dbid);
    std::vector<PartitionEntry> copy(1);
    for (const Located& slot : located) {
        bool wanted = pg::call([&] {
            StoredEntry* entry = at(slot.entry);
            LWLockAcquire(&entry->lock, LW_SHARED);
            bool same = matches(entry->data, slot.key.dbid, slot.key.relid);
            if (same)
                memcpy(&copy[0], &entry->data, sizeof(PartitionEntry));
            LWLockRelease(&entry->lock);
            return same;
        });
        if (wanted)
            f(copy[0]);
    }
}

bool copy_entry(Oid dbid, Oid relid, PartitionEntry& out) {
    if (control == nullptr)
        return false;
    return pg::call([&] {
        attach();
        StoredEntry* entry = find_locked(dbid, relid, LW_SHARED);
        if (entry == nullptr)
            return false;
        memcpy(&out, &entry->data, sizeof(PartitionEntry));
        LWLockRelease(&entry->lock);
        return true;
    });
}

bool inherit(const PartitionEntry& source, Oid relid, Oid parent, double load_share,
             double size_share, int64_t until_seconds, int64_t now) {
    if (control == nullptr)
        return false;
    return pg::call([&] {
        StoredEntry* entry = entry_to_fill(relid, parent, now);
        if (entry == nullptr)
            return false;
        PartitionEntry& data = entry->data;
        const bool inherited =
            data.history.empty() || data.history.started_seconds() >= until_seconds;
        if (inherited) {
            data.history.inherit(source.history, load_share, until_seconds);
            data.sizes.inherit(source.sizes, size_share, until_seconds);
        }
        LWLockRelease(&entry->lock);
        return inherited;
    });
}

void reset(Oid dbid, Oid parent) {
    if (control == nullptr)
        return;
    const std::vector<Located> located = located_entries(dbid);
    pg::call([&] {
        for (const Located& slot : located) {
            StoredEntry* entry = at(slot.entry);
            LWLockAcquire(&entry->lock, LW_EXCLUSIVE);
            PartitionEntry& data = entry->data;
            if (matches(data, slot.key.dbid, slot.key.relid) &&
                (parent == InvalidOid || data.parent == parent)) {
                data.history.reset();
                data.sampler.reset();
            }
            LWLockRelease(&entry->lock);
        }
    });
}

std::vector<EntryKey> entry_keys() {
    std::vector<EntryKey> keys;
    if (control == nullptr)
        return keys;
    const std::vector<Located> located = located_entries(InvalidOid);
    keys.reserve(located.size());
    for (const Located& slot : located) {
        EntryKey key{};
        bool same = pg::call([&] {
            StoredEntry* entry = at(slot.entry);
            LWLockAcquire(&entry->lock, LW_SHARED);
            bool same = matches(entry->data, slot.key.dbid, slot.key.relid);
            key = {entry->data.dbid, entry->data.relid, entry->data.parent,
                   entry->data.created_seconds};
            LWLockRelease(&entry->lock);
            return same;
        });
        if (same)
            keys.push_back(key);
    }
    return keys;
}

bool forget(const EntryKey& key) {
    if (control == nullptr)
        return false;
    return pg::call([&] {
        attach();
        return forget_entry(key.dbid, key.relid, key.created_seconds);
    });
}

void save(int success_elevel) {
    if (control == nullptr)
        return;
    const std::vector<Located> located = located_entries(InvalidOid);
    std::vector<PartitionEntry> copy(1);
    pg::call([&] {
        FILE* file = AllocateFile(kSaveFileTemporary, PG_BINARY_W);
        if (file == nullptr) {
            log_write_failure("create");
            return;
        }
        // The count is known at the end (an entry may be freed meanwhile):
        // the header is written again then.
        SaveHeader saved{kSaveMagic, kSaveFormat, kPgMajor,
                         static_cast<uint32_t>(sizeof(PartitionEntry)), 0};
        bool ok = fwrite(&saved, sizeof saved, 1, file) == 1;
        for (size_t i = 0; ok && i < located.size(); i++) {
            StoredEntry* entry = at(located[i].entry);
            LWLockAcquire(&entry->lock, LW_SHARED);
            bool same = matches(entry->data, located[i].key.dbid, located[i].key.relid);
            if (same)
                memcpy(&copy[0], &entry->data, sizeof(PartitionEntry));
            LWLockRelease(&entry->lock);
            if (same) {
                ok = fwrite(&copy[0], sizeof(PartitionEntry), 1, file) == 1;
                saved.count++;
            }
        }
        ok = ok && fseek(file, 0, SEEK_SET) == 0 && fwrite(&saved, sizeof saved, 1, file) == 1;
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
            ereport(success_elevel, (errmsg_plural("pg_presplit: saved statistics of %d partition",
                                                   "pg_presplit: saved statistics of %d partitions",
                                                   saved.count, saved.count)));
        else
            unlink(kSaveFileTemporary);
    });
}

StoreStatus status() {
    StoreStatus result{config::analyzer_max_partitions, 0, 0, 0, kEntryBytes};
    if (control == nullptr)
        return result;
    result.used = static_cast<int>(pg_atomic_read_u32(&control->used));
    result.evictions = pg_atomic_read_u64(&control->evictions);
    pg::call([&] {
        LWLockAcquire(free_list_lock(), LW_SHARED);
        result.allocated = static_cast<int>(control->allocated);
        LWLockRelease(free_list_lock());
    });
    return result;
}

int64_t now_seconds() {
    return pg::model_now_seconds();
}

} // namespace presplit::analyzer
