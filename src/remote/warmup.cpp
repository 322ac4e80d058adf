#include "remote/warmup.hpp"

#include "config.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "access/twophase.h"
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
// From libpq/libpq.h, which needs GSSAPI's headers (libpq-be.h) to include.
extern "C" bool pq_buffer_has_data(void);
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
GetConnectionFunction get_connection = nullptr;

// This session's postgres_fdw connection to `server` as `user`'s mapping (or
// PUBLIC's) says: opened, or found open (postgres_fdw reopens one it lost).
// False if it could not be. Every error is the warm-up's own and kept from
// the statement, which is over: the other server's, a missing mapping, and
// a cancel or statement_timeout that comes meanwhile too (the statement
// then ends as if it had come a moment later, after its commit).
bool open_connection(Oid user, Oid server) {
    return pg::in_subtransaction(
        [&] {
            pg::call([&] {
                UserMapping* mapping = GetUserMapping(user, server);
#if PRESPLIT_HAS_FDW_CONNECT
                if (get_connection == nullptr)
                    get_connection = reinterpret_cast<GetConnectionFunction>(load_external_function(
                        "$libdir/postgres_fdw", "GetConnection", true, nullptr));
                (void)get_connection(mapping, false, nullptr);
#else
                (void)mapping;
#endif
            });
        },
        [](const pg::PgError&) { return true; });
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

// Why the sessions' connections to `server` cannot be warmed up, or "".
std::string unwarmable(Oid server) {
    int connect_timeout = 0;
    bool keep_connections = true;
    const char* name = pg::call([&] {
        ForeignServer* fs = GetForeignServer(server);
        const ListCell* cell;
        foreach (cell, fs->options) {
            auto* option = static_cast<DefElem*>(lfirst(cell));
            if (std::strcmp(option->defname, "connect_timeout") == 0)
                connect_timeout = std::atoi(defGetString(option));
            else if (std::strcmp(option->defname, "keep_connections") == 0)
                keep_connections = defGetBoolean(option);
        }
        return fs->servername;
    });
    const std::string server_name = std::string("server \"") + name + "\"";
    // PostgreSQL 15's postgres_fdw connects without looking at interrupts: a
    // server that accepts the connection and never answers would hold
    // every warmed statement until the connection's own timeout.
    if (connect_timeout <= 0)
        return server_name + " sets no connect_timeout: a connection to it could wait without end";
    if (!keep_connections)
        return server_name + " sets keep_connections off: each session closes its "
                             "connection at its commit";
    return "";
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
    // Nor when the client has sent more that may run in this transaction:
    // statements pipelined before their Sync (extended protocol), or
    // anything at all where a transaction may yet be prepared.
    if (pq_buffer_has_data() && ((MyXactFlags & XACT_FLAGS_PIPELINING) || max_prepared_xacts > 0))
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

bool cutovers_announced() {
    const pg::SharedState* state = pg::shared_state();
    return state != nullptr &&
           pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&state->warmups.generation)) != 0;
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
    for (Oid server : distinct)
        if (std::string why = unwarmable(server); !why.empty()) {
            not_announced_ = "no warm-up (" + why + ")";
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
