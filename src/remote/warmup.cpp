#include "remote/warmup.hpp"

#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/defrem.h"
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
#include <cstdlib>
#include <cstring>

// postgres_fdw's own GetConnection, exported from its library on
// PostgreSQL 14 and 15 (contrib/postgres_fdw/postgres_fdw.h). From 16 on,
// extension libraries export only what they mark: there is none to call.
#define PRESPLIT_HAS_FDW_CONNECT (PG_VERSION_NUM >= 140000 && PG_VERSION_NUM < 160000)
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

uint64_t seen_generation = 0;   // the generation this session is done with
uint64_t copied_generation = 0; // the generation of `announced`
pg::CutoverWarmupSlot announced[pg::kWarmupSlots];
// Per slot, the announcement this session has warmed for (or tried to).
uint64_t handled[pg::kWarmupSlots] = {};
// The user mappings (OIDs) this session has opened a connection for.
std::vector<Oid> opened_mappings;
GetConnectionFunction get_connection = nullptr;

// Raised here by an interrupt (a cancel, statement_timeout, a shutdown):
// those stop the statement as they would anywhere. Errors of the other
// server (postgres_fdw reports them with the remote SQLSTATE) and every
// other error are the warm-up's own, kept from the statement.
bool raised_by_interrupt(const pg::PgError& error) {
    const ErrorData* data = error.data();
    return data != nullptr && data->funcname != nullptr &&
           std::strcmp(data->funcname, "ProcessInterrupts") == 0;
}

// This session's postgres_fdw connection to `server` as `user`'s mapping (or
// PUBLIC's) says, opened if this session has not opened it for an earlier
// announcement. False if it could not be (no mapping, the server down...).
bool open_connection(Oid user, Oid server) {
    return pg::in_subtransaction(
        [&] {
            UserMapping* mapping = pg::call([&] { return GetUserMapping(user, server); });
            if (std::find(opened_mappings.begin(), opened_mappings.end(), mapping->umid) !=
                opened_mappings.end())
                return;
#if PRESPLIT_HAS_FDW_CONNECT
            pg::call([&] {
                if (get_connection == nullptr)
                    get_connection = reinterpret_cast<GetConnectionFunction>(load_external_function(
                        "$libdir/postgres_fdw", "GetConnection", true, nullptr));
                (void)get_connection(mapping, false, nullptr);
            });
#endif
            opened_mappings.push_back(mapping->umid);
        },
        [](const pg::PgError& error) { return !raised_by_interrupt(error); });
}

// The range-table entry through which this statement uses the partition
// cut over (relations[1]; present only when planning did not prune it), or,
// for an INSERT, its parent (relations[0]: rows are routed at execution).
const RangeTblEntry* entry_using(const QueryDesc* query, const Oid (&relations)[2]) {
    const ListCell* cell;
    foreach (cell, query->plannedstmt->rtable) {
        const auto* rte = static_cast<const RangeTblEntry*>(lfirst(cell));
        if (rte->rtekind == RTE_RELATION &&
            (rte->relid == relations[1] ||
             (rte->relid == relations[0] && query->operation == CMD_INSERT)))
            return rte;
    }
    return nullptr;
}

// The first of `servers` whose options set no connect_timeout, or InvalidOid.
Oid server_without_connect_timeout(const std::vector<Oid>& servers) {
    for (Oid server : servers) {
        const bool bounded = pg::call([&] {
            const ListCell* cell;
            foreach (cell, GetForeignServer(server)->options) {
                auto* option = static_cast<DefElem*>(lfirst(cell));
                if (std::strcmp(option->defname, "connect_timeout") == 0)
                    return std::atoi(defGetString(option)) > 0;
            }
            return false;
        });
        if (!bounded)
            return server;
    }
    return InvalidOid;
}

// warm_connections_for_cutover once the generation has moved: apart, so
// that the check every statement makes stays a few instructions.
[[gnu::noinline]] void warm_for_announcements(QueryDesc* query, uint64_t generation) {
    // Only a client's own statement, in a transaction that goes on (not a
    // portal cleaned up during an abort) and alone in it (its commit
    // follows at once: postgres_fdw's remote transaction, opened with the
    // connection, is committed with it). Not in a transaction block -- it
    // would stay open, and PREPARE TRANSACTION would be refused --, nor in
    // a parallel worker, a background process, or as another role (a
    // security definer function, pg_presplit acting as a table's owner).
    if (MyBackendType != B_BACKEND || !IsTransactionState() || IsTransactionBlock() ||
        IsInParallelMode() || InLocalUserIdChange() || InSecurityRestrictedOperation())
        return;
    if (generation != copied_generation) {
        with_slots([&](pg::CutoverWarmups& w) {
            std::copy(w.slots, w.slots + pg::kWarmupSlots, announced);
        });
        copied_generation = generation;
    }
    const TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
    bool waiting = false; // an announcement this statement does not concern
    for (int i = 0; i < pg::kWarmupSlots; i++) {
        const pg::CutoverWarmupSlot& slot = announced[i];
        if (slot.announcement == 0 || slot.until <= now || handled[i] == slot.announcement)
            continue;
        const RangeTblEntry* rte = entry_using(query, slot.relations);
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

} // namespace

void warm_connections_for_cutover(QueryDesc* query) {
    const pg::SharedState* state = pg::shared_state();
    if (state == nullptr)
        return;
    const uint64_t generation =
        pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&state->warmups.generation));
    if (generation != seen_generation)
        warm_for_announcements(query, generation);
}

// --- the cutover's side ------------------------------------------------------

CutoverWarmup::CutoverWarmup(Oid parent, Oid source, const std::vector<Oid>& servers) {
    warmup_ms_ = config::remote_cutover_warmup_ms;
    if (warmup_ms_ <= 0) {
        not_announced_ = "no warm-up (presplit.remote_cutover_warmup is 0)";
        return;
    }
#if !PRESPLIT_HAS_FDW_CONNECT
    not_announced_ = "no warm-up (this PostgreSQL's postgres_fdw exports no GetConnection)";
    return;
#endif
    std::vector<Oid> distinct = servers;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (distinct.size() > static_cast<size_t>(pg::kMaxWarmupServers))
        distinct.resize(pg::kMaxWarmupServers);
    // PostgreSQL 15's postgres_fdw connects without looking at interrupts:
    // a server that accepts the connection and never answers would hold
    // every warmed statement until the connection's own timeout.
    if (const Oid unbounded = server_without_connect_timeout(distinct); unbounded != InvalidOid) {
        const char* name = pg::call([&] { return GetForeignServer(unbounded)->servername; });
        not_announced_ = std::string("no warm-up (server \"") + name +
                         "\" sets no connect_timeout: a connection to it could wait without end)";
        return;
    }
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
             "%d session%s had %s postgres_fdw connections open before the lock (warm-up %d ms)",
             warmed_, warmed_ == 1 ? "" : "s", warmed_ == 1 ? "its" : "their", warmup_ms_);
    std::string result = text;
    if (failed_ > 0)
        result += ", " + std::to_string(failed_) + " could not open them";
    return result;
}

} // namespace presplit::remote
