// Rows a statement wrote into a leaf: the transaction's own pgstat counters
// of the leaf (inserted + updated + deleted, every subtransaction level)
// after the statement minus before it. Exact for INSERTs routed through the
// parent, rows moved between partitions and COPY. A lookup costs a hash
// probe, and a probe of the shared statistics when the leaf has no pending
// entry in this backend (about 1 400 instructions): statements take the
// "before" of the leaves they may write, not of every leaf.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace presplit::analyzer {

struct WriteBaseline {
    Oid relid;
    int64 before;
};

// PostgreSQL code (no C++ object in its frame: callable from the per-row
// path of inserted_keys.cpp).
int64 writes_so_far(Oid relid);

} // namespace presplit::analyzer
