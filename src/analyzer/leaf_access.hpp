// What a recorded statement did in a leaf's key space, collected until the
// statement ends: index scan keys (a point or a span), the sampled elements
// of an `= ANY` array, the sampled keys of the rows it inserted or copied,
// or a scan of the whole partition. Then grouped per leaf and handed to the
// store (PartitionUsage::accesses).
#pragma once

#include "analyzer/managed_set.hpp"
#include "core/key_sampler.hpp"

extern "C" {
#include "postgres.h"
}

#include <boost/container/small_vector.hpp>

namespace presplit::analyzer {

struct LeafAccess {
    Oid relid;
    // A scan without usable keys, over the partition's bounds: counted only
    // if the statement has no other access to the leaf.
    bool whole_partition;
    core::KeyAccess access;
};
// Most statements have a few: on the stack.
using LeafAccesses = boost::container::small_vector<LeafAccess, 8>;

// Elements of an `= ANY` array, rows of an INSERT, rows of a COPY: at most
// this many keys sampled per array, per inserting plan node and per leaf a
// COPY wrote, each weighing for the ones left out. Each is an access the
// store records under the partition's lock (a pass over 64 candidates).
constexpr uint32_t kKeysPerSample = 8;

// Whether a position lies in the leaf (its upper bound excluded).
inline bool inside(const ManagedLeaf& leaf, double position) {
    return (!leaf.has_lower || position >= leaf.lower) &&
           (!leaf.has_upper || position < leaf.upper);
}

// A point access at a key (of type `type`) of the leaf, of the given weight:
// added if the key can be placed and lies in the leaf.
void add_point(LeafAccesses& out, const ManagedLeaf& leaf, Datum value, Oid type, double weight);

// A point access at an already placed key (the same rule).
void add_point(LeafAccesses& out, const ManagedLeaf& leaf, const PlacedKey& key, double weight);

} // namespace presplit::analyzer
