// Standalone SVG pictures of the key heat and of the load/size charts
// (--svg FILE): axes, labels and a legend, nothing outside the file, so a
// browser (or rsvg-convert) shows it as it is. Pure: unit-tested in
// test/unit/client_svg_test.cpp.
#pragma once

#include "client/chart.hpp"
#include "client/heat.hpp"

#include <string>
#include <vector>

namespace presplit::client {

// Text for an XML text node or attribute value.
std::string xml_escape(const std::string& text);

std::string heat_svg(const HeatMap& map);
// Several charts stacked (a table's partitions), or one.
std::string time_chart_svg(const std::vector<TimeChart>& charts);
std::string bar_chart_svg(const BarChart& chart);

} // namespace presplit::client
