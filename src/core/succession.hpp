// How a split source's history is shared out among the partitions made from
// it, so that they are forecast from their share of it instead of starting
// without history (docs/analyzer.md, "Partitions made by a split").
//
// Load: by the source's sampled access points inside each new partition's
// range (the key sampler's heat, one point per sampled access), when enough
// points fall inside them and the key axis is the same for all (numbers:
// positions are keys). Otherwise by size, as size is shared: each new
// partition's bytes over their sum (equal shares when none has any).
// When only some of the new partitions are given (the others are on other
// servers, where nothing is recorded), the shares are of the source's
// whole: its sampled points, its last size.
#pragma once

#include "core/key_sampler.hpp"

#include <cstddef>
#include <vector>

namespace presplit::core {

struct MadePartition {
    bool has_lower = false, has_upper = false; // its bounds on the source's key axis
    double lower = 0, upper = 0;
    double bytes = 0; // its size now
};

struct InheritedShares {
    std::vector<double> load; // per made partition, in the order given; sums to 1
    std::vector<double> size;
    bool load_from_accesses = false; // false: load shared as size is
};

// keys: the source's sampler, or nullptr when positions cannot be compared
// across partitions (uuid and text axes are narrowed per partition).
// complete: made covers the source's whole range; otherwise source_bytes
// is the source's last size (0: unknown, no size shares). Empty shares when
// made is empty.
InheritedShares inherited_shares(const KeySampler* keys, const std::vector<MadePartition>& made,
                                 size_t min_points, bool complete = true, double source_bytes = 0);

} // namespace presplit::core
