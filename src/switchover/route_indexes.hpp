// Index matching for read routing: which index of each shadow stands for an
// index of the source (so that an index scan can be redirected), and whether
// a source index orders the partition key (so that its scans over several
// shadows, one after the other, keep index order). Both read pg_index; the
// matches are cached in the route's shape.
#pragma once

extern "C" {
#include "postgres.h"
}

#include "switchover/route_shapes.hpp"

#include <vector>

namespace presplit::switchover {

// For each shadow (in key order), its index that matches source_index column
// by column (same columns, operator classes, collations, options; no
// expressions, no predicate); empty if some shadow has none. Cached in shape.
const std::vector<Oid>& shadow_indexes(RouteShape& shape, Oid source_index);

// How a source index orders the partition key, if its leading column is the
// key under the key's own btree operator family and collation: then its
// scans over the shadows, in key order (reversed for descending), return rows
// in index order.
enum class KeyOrder { none, ascending, descending };

KeyOrder key_order(const RouteShape& shape, Oid source_index);

} // namespace presplit::switchover
