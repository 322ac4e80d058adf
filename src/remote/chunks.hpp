// The copy of a remote target in chunks (docs/multi_server.md, "The remote
// copy in chunks"; presplit.remote_copy_chunk_rows), for a split's remote
// target (remote/split.hpp) and a move (remote/move.hpp). The target's
// subscription starts with the rows of its first chunk; each further chunk
// is copied by the chunks' one subscription (named like the target's, with
// "_c"; made while the first chunk copies, refreshed for each chunk), whose
// table synchronisation copies it and then streams its changes; once it is
// copied it is folded in, in one transaction here under SHARE on the
// source: the chunk's subscription applies every change up to then, the
// chunk's publication lets go of the source and the target's takes the
// chunk's keys from that commit on. After the last chunk the chunks'
// replication is dropped. The state (core/remote_chunks.hpp) is kept by the
// caller.
#pragma once

#include "catalog/catalog.hpp"
#include "remote/connection.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace presplit::remote {

struct ChunkedCopy {
    std::string name; // the target's publication, subscription and slot
    std::string server;
    unsigned int owner = 0; // the source's owner: SQL on its objects runs as it
    unsigned int source_oid = 0;
    std::string source;       // qualified, quoted
    std::string key;          // quoted
    std::string key_column;   // unquoted
    std::string key_type;     // format_type
    std::string condition;    // the target's rows: its publication's whole row filter
    std::string remote_table; // there: qualified, quoted
    std::string label;        // names the target in messages and events
    // Events: the plan's id and source, or none and the moved partition.
    std::optional<int64_t> plan_id;
    std::string relation;
    // The state kept by the caller.
    std::function<std::optional<catalog::RemoteChunks>()> load;
    std::function<void(const std::optional<catalog::RemoteChunks>&)> store;
};

// The subscription, slot and publication of a target's chunks.
std::string chunk_name(const std::string& name);

// A target copied under its slot's snapshot (remote/snapshot_copy.hpp) whose
// first chunk is about to be copied: the chunks' subscription made there
// now, disabled, if its publication is here (advance_chunks makes it first)
// and the subscription is not there yet. copy_remote_target enables it in
// the transaction there that makes the target's own, so that the other
// server's launcher starts both apply workers at once: it starts them at
// most once per wal_retrieve_retry_interval. In a transaction that has
// written nothing here (its slot waits for every xid here).
void prepare_chunk_subscription(const ChunkedCopy& copy, Connection& remote);

// When the target is made: the end of its first chunk, if it is copied in
// chunks (presplit.remote_copy_chunk_rows set, a valid btree index of the
// source beginning with the key, more rows than a chunk); nullopt: one pass.
std::optional<std::string> first_chunk_end(const ChunkedCopy& copy);

// The target's rows with keys from `from` on and below `below` (nullopt:
// unbounded), as a publication's row filter.
std::string chunk_filter(const ChunkedCopy& copy, const std::optional<std::string>& from,
                         const std::optional<std::string>& below);

enum class ChunkStep {
    none,    // not copied in chunks any more, or nothing can go on now
    waiting, // a chunk copies, or waits to start
    acted,   // one action done: call again
    // One action done that made or refreshed a subscription there: call
    // again; a cancel or rollback meanwhile did not see it (the caller looks
    // under its plan's or move's row lock; not after a fold, whose lock on
    // the source such a cancel waits for).
    subscribed,
};

// One action, in the caller's transaction, which must not have written
// anything here when it may create a chunk's subscription (creating a slot
// waits for every transaction with an xid): *wrote_here says whether it
// has (then none is created), and is set when this call writes. may_start:
// whether a new chunk may start now (not paused, not held); chunk_fits,
// asked before one starts with its rows: whether its window has room for it
// (logging why not, which writes here). Needs the target's subscription
// (its slot here): without it, the copy has not started.
ChunkStep advance_chunks(const ChunkedCopy& copy, bool may_start,
                         const std::function<bool(double rows)>& chunk_fits, bool* wrote_here);

// Whether chunks are left (or a fold to finish): the target is not yet
// copied whole.
bool chunks_left(const ChunkedCopy& copy);

// A re-sync (the target's subscription lost, the table there emptied):
// the chunks' subscription dropped there, so that a running chunk is copied
// again.
void drop_chunk_subscription(Connection& remote, const ChunkedCopy& copy);

} // namespace presplit::remote
