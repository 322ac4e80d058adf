// A generation counter in shared memory for per-backend caches of catalog
// data: a backend rebuilds its cache when the counter differs from the value
// it built from; a transaction that changed the data bumps it when it
// commits (after its changes are visible, so a rebuild sees them).
#pragma once

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "port/atomics.h"
}

namespace presplit::pg {

class CommitGeneration {
public:
    using Counter = pg_atomic_uint64* (*)();
    explicit CommitGeneration(Counter counter) : counter_(counter) {}

    uint64 current() const { return pg_atomic_read_u64(counter_()); }
    // This transaction changed the data: bump at commit.
    void bump_at_commit() { pending_ = true; }
    // From the owner's transaction callback.
    void on_transaction_end(XactEvent event) {
        if (!pending_)
            return;
        if (event == XACT_EVENT_COMMIT)
            pg_atomic_fetch_add_u64(counter_(), 1);
        if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
            pending_ = false;
    }

private:
    Counter counter_;
    bool pending_ = false;
};

} // namespace presplit::pg
