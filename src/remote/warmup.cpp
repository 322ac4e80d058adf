#include "remote/warmup.hpp"

#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "access/twophase.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "utils/elog.h"
#include "utils/timestamp.h"
}

#include <algorithm>

// postgres_fdw's own, exported from its library (contrib/postgres_fdw,
// postgres_fdw.h; this signature since PostgreSQL 14).
#if PG_VERSION_NUM < 140000
#error "the warm-up calls postgres_fdw's GetConnection as PostgreSQL 14 and later declare it"
#endif
struct pg_conn;
struct PgFdwConnState;
using GetConnectionFunction = pg_conn* (*)(UserMapping*, bool, PgFdwConnState**);

namespace presplit::remote {
namespace {

// An announcement lapses this long after its warm-up should have ended, in
// case its cutover never withdraws it (the worker killed meanwhile).
constexpr int64_t kLapseAfterMs = 5000;

pg::CutoverWarmups& warmups() {
    return pg::shared_state()->warmups;
}

// The slots under their spinlock: plain memory only inside `f`.
template <typename F>
void with_slots(F&& f) noexcept {
    pg::CutoverWarmups& w = warmups();
    SpinLockAcquire(&w.mutex);
    f(w);
    SpinLockRelease(&w.mutex);
}

// --- the session's side ------------------------------------------------------

uint64_t seen_generation = 0; // the generation this session has dealt with
// Per slot, the announcement this session has warmed for (or tried to).
uint64_t handled[pg::kWarmupSlots] = {};
GetConnectionFunction get_connection = nullptr;

// postgres_fdw's connection of this session to `server` as `user`'s mapping
// (or PUBLIC's) says, opened if it is not open yet. Any error short of a
// cancel or a shutdown is kept from the statement: false.
bool open_connection(Oid user, Oid server) {
    return pg::in_subtransaction(
        [&] {
            pg::call([&] {
                if (get_connection == nullptr)
                    get_connection = reinterpret_cast<GetConnectionFunction>(load_external_function(
                        "$libdir/postgres_fdw", "GetConnection", true, nullptr));
                (void)get_connection(GetUserMapping(user, server), false, nullptr);
            });
        },
        [](int sqlstate) {
            return ERRCODE_TO_CATEGORY(sqlstate) != ERRCODE_OPERATOR_INTERVENTION;
        });
}

// The statement's entry for one of `relations`, if it uses one.
const RangeTblEntry* entry_for(const List* rtable, const Oid (&relations)[2]) {
    const ListCell* cell;
    foreach (cell, rtable) {
        const auto* rte = static_cast<const RangeTblEntry*>(lfirst(cell));
        if (rte->rtekind == RTE_RELATION &&
            (rte->relid == relations[0] || rte->relid == relations[1]))
            return rte;
    }
    return nullptr;
}

} // namespace

void warm_connections_for_cutover(QueryDesc* query, int eflags) {
    if (pg::shared_state() == nullptr)
        return;
    const uint64_t generation = pg_atomic_read_u64(&warmups().generation);
    if (generation == seen_generation)
        return;
    // Only a client's own statements: not EXPLAIN, a parallel worker, a
    // background process, nor a statement run as another role (a security
    // definer function, pg_presplit acting as a table's owner).
    if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) || MyBackendType != B_BACKEND || IsInParallelMode() ||
        InLocalUserIdChange() || InSecurityRestrictedOperation())
        return;
    // Nor in a transaction block that may end with PREPARE TRANSACTION:
    // postgres_fdw refuses to prepare one that has a remote transaction
    // open, and opening the connection opens one.
    if (max_prepared_xacts > 0 && IsTransactionBlock())
        return;
    pg::CutoverWarmupSlot slots[pg::kWarmupSlots];
    with_slots(
        [&](pg::CutoverWarmups& w) { std::copy(w.slots, w.slots + pg::kWarmupSlots, slots); });
    const TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
    bool waiting = false; // an announcement this statement does not concern
    for (int i = 0; i < pg::kWarmupSlots; i++) {
        const pg::CutoverWarmupSlot& slot = slots[i];
        if (slot.announcement == 0 || slot.until <= now || handled[i] == slot.announcement)
            continue;
        const RangeTblEntry* rte = entry_for(query->plannedstmt->rtable, slot.relations);
        if (rte == nullptr) {
            waiting = true;
            continue;
        }
        handled[i] = slot.announcement;
        // The role postgres_fdw connects as for this statement's scan.
        const Oid user = rte->checkAsUser != InvalidOid ? rte->checkAsUser
                                                        : pg::call([] { return GetUserId(); });
        bool opened = true;
        for (int s = 0; s < slot.server_count; s++)
            opened = open_connection(user, slot.servers[s]) && opened;
        with_slots([&](pg::CutoverWarmups& w) {
            if (w.slots[i].announcement == slot.announcement)
                (opened ? w.slots[i].sessions_warmed : w.slots[i].sessions_failed)++;
        });
    }
    if (!waiting)
        seen_generation = generation;
}

// --- the cutover's side ------------------------------------------------------

CutoverWarmup::CutoverWarmup(Oid parent, Oid source, const std::vector<Oid>& servers) {
    warmup_ms_ = config::remote_cutover_warmup_ms;
    if (warmup_ms_ <= 0) {
        not_announced_ = "no warm-up (presplit.remote_cutover_warmup is 0)";
        return;
    }
    std::vector<Oid> distinct = servers;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (distinct.size() > static_cast<size_t>(pg::kMaxWarmupServers))
        distinct.resize(pg::kMaxWarmupServers);
    announced_at_us_ = pg::call([] { return GetCurrentTimestamp(); });
    const TimestampTz until = announced_at_us_ + (warmup_ms_ + kLapseAfterMs) * 1000;
    with_slots([&](pg::CutoverWarmups& w) {
        for (int i = 0; i < pg::kWarmupSlots; i++) {
            pg::CutoverWarmupSlot& slot = w.slots[i];
            if (slot.announcement != 0 && slot.until > announced_at_us_)
                continue;
            slot = pg::CutoverWarmupSlot{};
            slot.announcement = ++w.announcements;
            slot.until = until;
            slot.relations[0] = parent;
            slot.relations[1] = source;
            slot.server_count = static_cast<int>(distinct.size());
            std::copy(distinct.begin(), distinct.end(), slot.servers);
            slot_ = i;
            announcement_ = slot.announcement;
            return;
        }
    });
    if (slot_ < 0) {
        not_announced_ = "no warm-up (" + std::to_string(pg::kWarmupSlots) +
                         " other cutovers onto other servers were warming up)";
        return;
    }
    pg_atomic_fetch_add_u64(&warmups().generation, 1);
}

CutoverWarmup::~CutoverWarmup() {
    withdraw();
}

void CutoverWarmup::wait() const {
    if (slot_ < 0)
        return;
    for (;;) {
        const int64_t elapsed_ms =
            (pg::call([] { return GetCurrentTimestamp(); }) - announced_at_us_) / 1000;
        const int64_t left = warmup_ms_ - elapsed_ms;
        if (left <= 0)
            return;
        pg::sleep_on_latch(left);
    }
}

void CutoverWarmup::withdraw() noexcept {
    if (slot_ < 0 || withdrawn_)
        return;
    withdrawn_ = true;
    with_slots([&](pg::CutoverWarmups& w) {
        pg::CutoverWarmupSlot& slot = w.slots[slot_];
        if (slot.announcement != announcement_)
            return; // lapsed and taken by another cutover
        warmed_ = slot.sessions_warmed;
        failed_ = slot.sessions_failed;
        slot.announcement = 0;
        slot.until = 0;
    });
    pg_atomic_fetch_add_u64(&warmups().generation, 1);
}

std::string CutoverWarmup::summary() const {
    if (slot_ < 0)
        return not_announced_;
    char text[160];
    snprintf(text, sizeof text,
             "%d session%s had %s postgres_fdw connections open before the lock (warm-up "
             "%d ms)",
             warmed_, warmed_ == 1 ? "" : "s", warmed_ == 1 ? "its" : "their", warmup_ms_);
    std::string result = text;
    if (failed_ > 0)
        result += ", " + std::to_string(failed_) + " could not open them";
    return result;
}

} // namespace presplit::remote
