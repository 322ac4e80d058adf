#include "analyzer/leaf_access.hpp"

namespace presplit::analyzer {

void add_point(LeafAccesses& out, const ManagedLeaf& leaf, const PlacedKey& key, double weight) {
    if (!inside(leaf, key.position) || !(weight > 0))
        return;
    LeafAccess point{};
    point.relid = leaf.relid;
    point.access.lo = point.access.hi = key.position;
    point.access.weight = weight;
    point.access.has_ends = key.has_end;
    point.access.ends[0] = point.access.ends[1] = key.end;
    out.push_back(point);
}

void add_point(LeafAccesses& out, const ManagedLeaf& leaf, Datum value, Oid type, double weight) {
    if (std::optional<PlacedKey> key = place_key(leaf.axis, value, type))
        add_point(out, leaf, *key, weight);
}

} // namespace presplit::analyzer
