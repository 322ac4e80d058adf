// A target on another server copied under the snapshot of its replication
// slot (docs/multi_server.md, "Copy and sync"; presplit.remote_copy_by_snapshot):
//   1. the target's slot here is made on a replication connection that
//      exports the snapshot of the slot's start (ExportedSlot);
//   2. a transaction of the worker imports that snapshot and streams, as the
//      table's owner, the rows the target's publication publishes into the
//      table there with COPY (copy_published_rows);
//   3. the subscription there is made on that slot without a copy: it
//      applies every change committed after the snapshot.
// The snapshot and the slot's first change are the same point, so no change
// is lost or applied twice, as in PostgreSQL's own table synchronisation;
// what differs is that one stream of COPY replaces the table sync worker,
// its second slot and its catch-up (the measurement: docs/multi_server.md,
// "Measured").
#pragma once

#include "remote/connection.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace presplit::remote {

class ExportedSlot {
public:
    // Makes the logical slot `name` here (pgoutput) over a replication
    // connection (presplit.publisher_conninfo). It waits for every
    // transaction here that holds an xid -- so the caller must hold none --
    // at most presplit.remote_catchup_timeout (then ERROR 57014).
    explicit ExportedSlot(const std::string& name);
    // Valid while this object lives (the connection stays open).
    const std::string& snapshot() const { return snapshot_; }

private:
    Connection replication_;
    std::string snapshot_;
};

// In a transaction that imported the slot's snapshot, inside a transaction
// there: the rows of `source` (its OID and its qualified, quoted name) that
// `publication` publishes -- its columns, its row filter as of the snapshot,
// as the table sync would read them -- read as the table's owner `owner` in
// a security-restricted operation, with row security off, and sent to
// `remote_table` there with COPY (several statements, so that an error
// there is seen within 16 MB), at most presplit.backfill_max_rows_per_second
// and nothing while the server is busy (presplit.backfill_busy_backends);
// `between_batches` runs before each batch (a configuration reload).
// Returns the rows copied.
uint64_t copy_published_rows(const std::string& publication, unsigned int source_oid,
                             unsigned int owner, const std::string& source, Connection& remote,
                             const std::string& remote_table,
                             const std::function<void()>& between_batches);

} // namespace presplit::remote
