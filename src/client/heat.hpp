// Key heat as pictures: where a table's sampled accesses fall in each
// partition's key range (presplit.key_heat), as a colour strip per partition
// in the terminal; heat_svg (svg.hpp) draws the same map. Pure: unit-tested
// in test/unit/client_heat_test.cpp.
#pragma once

#include "client/text.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace presplit::client {

struct HeatRow {
    std::string partition;
    std::string lower_bound, upper_bound; // the key range the buckets cover, in the key's text form
    std::vector<int64_t> accesses;        // per equal-width bucket; empty: nothing sampled yet
};

struct HeatMap {
    std::string table;
    int buckets = 0;
    std::vector<HeatRow> rows;

    int64_t max_bucket() const;
    int64_t total(const HeatRow& row) const;
};

struct Rgb {
    int r, g, b;
};

// The colour of a bucket holding `fraction` (0..1) of the busiest bucket's
// accesses: dark for cold, through red and orange, to pale yellow for hot.
// The square root spreads the low end, so a lukewarm bucket still shows
// beside a very hot one. Buckets with no access at all use kNoAccessColor.
Rgb heat_color(double fraction);
constexpr Rgb kNoAccessColor{48, 48, 56};
std::string hex_color(const Rgb& color); // "#rrggbb"

// One line per partition (name, lower bound, strip, upper bound, total),
// and a legend. With colours, each bucket is a cell with that background
// colour; without, a character whose density grows with the heat.
std::vector<std::string> render_heat(const HeatMap& map, const Style& style);

} // namespace presplit::client
