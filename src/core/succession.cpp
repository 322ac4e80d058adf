#include "core/succession.hpp"

#include "core/cpp_only.hpp"

#include <algorithm>
#include <limits>

namespace presplit::core {

InheritedShares inherited_shares(const KeySampler* keys, const std::vector<MadePartition>& made,
                                 size_t min_points, bool complete, double source_bytes) {
    InheritedShares shares;
    if (made.empty())
        return shares;
    const size_t n = made.size();
    double made_bytes = 0;
    for (const MadePartition& part : made)
        made_bytes += std::max(part.bytes, 0.0);
    const double whole_bytes = complete ? made_bytes : source_bytes;
    for (const MadePartition& part : made) {
        if (whole_bytes > 0)
            shares.size.push_back(std::min(1.0, std::max(part.bytes, 0.0) / whole_bytes));
        else
            shares.size.push_back(complete ? 1.0 / static_cast<double>(n) : 0.0);
    }
    shares.load = shares.size;
    if (keys == nullptr)
        return shares;
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    std::vector<double> points(n);
    double counted = 0;
    for (size_t i = 0; i < n; i++) {
        const double edges[2] = {made[i].has_lower ? made[i].lower : -kInfinity,
                                 made[i].has_upper ? made[i].upper : kInfinity};
        uint64_t count = 0;
        keys->heat_between(edges, 2, &count);
        points[i] = static_cast<double>(count);
        counted += points[i];
    }
    const double whole = complete ? counted : static_cast<double>(keys->point_count());
    if (whole < static_cast<double>(min_points) || whole <= 0)
        return shares;
    for (size_t i = 0; i < n; i++)
        shares.load[i] = std::min(1.0, points[i] / whole);
    shares.load_from_accesses = true;
    return shares;
}

} // namespace presplit::core
