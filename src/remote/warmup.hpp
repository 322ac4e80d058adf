// Connections opened before a cutover onto another server (docs/multi_server.md,
// "Connections opened before the lock").
//
// After the cutover a session's first statement through the new foreign table
// opens a postgres_fdw connection to the other server (tens of milliseconds:
// a new backend there). A cutover announces itself for
// presplit.remote_cutover_warmup before it takes its lock; each session whose
// statement uses the partition meanwhile opens that connection once, as its
// own user mapping says -- the one postgres_fdw keeps for the session and
// uses after the cutover. Nothing is locked during the warm-up, and a
// warm-up that fails (no user mapping, the server down) never fails the
// statement.
#pragma once

#include <string>
#include <vector>

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
}

namespace presplit::remote {

// The cutover's side, in the worker that is about to lock.
class CutoverWarmup {
public:
    // Announces the cutover of `source` (a partition of `parent`) onto
    // `servers` (foreign server OIDs), unless presplit.remote_cutover_warmup
    // is 0, a server sets no connect_timeout, or every slot is taken (then
    // nothing is warmed: summary says why).
    CutoverWarmup(Oid parent, Oid source, const std::vector<Oid>& servers);
    ~CutoverWarmup(); // withdraws
    CutoverWarmup(const CutoverWarmup&) = delete;
    CutoverWarmup& operator=(const CutoverWarmup&) = delete;

    // Sleeps out what is left of presplit.remote_cutover_warmup since the
    // announcement (a cancel or a shutdown interrupts it).
    void wait() const;
    // Ends the announcement (call it right before the lock: a session that
    // opened its connection while holding its own lock on the table would
    // hold up the cutover's), and keeps how it went for summary(). Shared
    // memory only: never raises.
    void withdraw() noexcept;
    // For the cutover's event, once withdrawn: e.g. "4 sessions had their
    // postgres_fdw connections open before the lock (warm-up 500 ms)".
    std::string summary() const;

private:
    int slot_ = -1;
    uint64_t announcement_ = 0;
    int warmup_ms_ = 0;           // presplit.remote_cutover_warmup when announced
    int64_t announced_at_us_ = 0; // GetCurrentTimestamp() then
    int warmed_ = 0;
    int failed_ = 0;
    bool withdrawn_ = false;
    std::string not_announced_; // why nothing was announced
};

// A session's side, from ExecutorEnd of an outermost statement (not one run
// by a function, a trigger or a DO block; nor EXPLAIN): while a cutover of
// the partition this statement used is announced, opens this session's
// connections to its servers, once per announcement. Only in a statement
// that is its own transaction (its commit follows at once). One atomic read
// per statement when nothing is announced.
void warm_connections_for_cutover(QueryDesc* query);

// Whether a cutover onto another server has ever been announced on this
// server since it started (one atomic read).
bool cutovers_announced();

} // namespace presplit::remote
