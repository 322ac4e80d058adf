// The throttle of a remote target's copy (docs/multi_server.md, "Throttling
// the remote copy"). The copy is PostgreSQL's initial table synchronisation:
// the other server's sync worker runs COPY (SELECT ... WHERE <row filter>)
// TO STDOUT in a walsender here, through this server's executor. The worker
// publishes, in shared memory, each source a remote copy reads with its
// limits (presplit.backfill_max_rows_per_second, and a hold while the
// server is busy); a walsender running such a COPY paces the rows it sends.
// Long holds are not applied to a started copy -- presplit.backfill_paused
// (it keeps copies from starting and holds their verification), a
// predicted plan's window that ends: a held COPY keeps its snapshot, and
// with it the xmin horizon of the whole server, until it goes on. Nothing
// else is slowed: outside a walsender, or reading no published source, the
// executor hook passes through.
#pragma once

#include <vector>

extern "C" {
#include "postgres.h"
#include "executor/execdesc.h"
#include "tcop/dest.h"
}

namespace presplit::remote {

// Shared memory (from src/hooks.cpp): requested in shmem_request_hook;
// attached in shmem_startup_hook with AddinShmemInitLock held.
void request_copy_throttle();
void attach_copy_throttle();

struct CopyLimit {
    Oid database = InvalidOid;
    Oid source = InvalidOid;
    double max_rows_per_second = 0; // 0: no cap
    bool hold = false;              // send nothing for now
};

// The worker, each round: the sources of the remote copies that may run
// now (replacing the last set) and their limits.
void publish_copy_limits(const std::vector<CopyLimit>& limits);

// The sources whose remote targets may be copying: a split's in preparing
// or backfilling, a move's in preparing or backfilling. Needs a transaction.
std::vector<Oid> remote_copy_sources();

// In a walsender, for a query about to run: a receiver that paces the rows
// of a published source's copy and passes them on to query->dest, or
// nullptr (not a walsender, no published source read). Allocated in the
// current memory context.
DestReceiver* paced_copy_receiver(QueryDesc* query);

} // namespace presplit::remote
