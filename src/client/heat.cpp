#include "client/heat.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace presplit::client {

int64_t HeatMap::max_bucket() const {
    int64_t max = 0;
    for (const HeatRow& row : rows)
        for (int64_t count : row.accesses)
            max = std::max(max, count);
    return max;
}

int64_t HeatMap::total(const HeatRow& row) const {
    int64_t sum = 0;
    for (int64_t count : row.accesses)
        sum += count;
    return sum;
}

Rgb heat_color(double fraction) {
    // Anchors of a perceptually ordered dark-to-bright scale (after "inferno").
    static const Rgb anchors[] = {
        {40, 11, 84},   {101, 21, 110}, {159, 42, 99},   {212, 72, 66},
        {245, 125, 21}, {250, 193, 39}, {252, 255, 164},
    };
    constexpr int last = sizeof anchors / sizeof anchors[0] - 1;
    if (!(fraction > 0))
        fraction = 0;
    double position = std::sqrt(std::min(fraction, 1.0)) * last;
    int i = std::min(static_cast<int>(position), last - 1);
    double f = position - i;
    auto mix = [&](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * f)); };
    return {mix(anchors[i].r, anchors[i + 1].r), mix(anchors[i].g, anchors[i + 1].g),
            mix(anchors[i].b, anchors[i + 1].b)};
}

std::string hex_color(const Rgb& color) {
    char text[8];
    std::snprintf(text, sizeof text, "#%02x%02x%02x", color.r, color.g, color.b);
    return text;
}

namespace {

std::string cell(const Style& style, int64_t count, int64_t max) {
    const double fraction = max > 0 ? static_cast<double>(count) / max : 0;
    if (style.color) {
        Rgb c = count > 0 ? heat_color(fraction) : kNoAccessColor;
        char sgr[32];
        std::snprintf(sgr, sizeof sgr, "48;2;%d;%d;%d", c.r, c.g, c.b);
        return std::string("\x1b[") + sgr + "m \x1b[0m";
    }
    if (count == 0)
        return style.unicode ? "·" : ".";
    // Density by the same square-root scale as the colours.
    const double level = std::sqrt(fraction);
    if (style.unicode) {
        static const char* shades[] = {"░", "▒", "▓", "█"};
        return shades[std::min(3, static_cast<int>(level * 4))];
    }
    static const char shades[] = ":-=+*#%@";
    return std::string(1, shades[std::min(7, static_cast<int>(level * 8))]);
}

} // namespace

std::vector<std::string> render_heat(const HeatMap& map, const Style& style) {
    std::vector<std::string> lines;
    const int64_t max = map.max_bucket();
    size_t name_width = 9, lower_width = 4;
    for (const HeatRow& row : map.rows) {
        name_width = std::max(name_width, display_width(row.partition));
        lower_width = std::max(lower_width, display_width(row.lower_bound));
    }
    lines.push_back(paint(style, "1", "Key heat of " + map.table) + "  (sampled accesses in " +
                    std::to_string(map.buckets) +
                    " equal-width buckets of each partition's key range)");
    lines.push_back(pad_right("partition", name_width) + "  " + pad_left("from", lower_width) +
                    " " + pad_right("", static_cast<size_t>(map.buckets) + 2) + " to");
    for (const HeatRow& row : map.rows) {
        std::string line = pad_right(row.partition, name_width) + "  ";
        if (row.accesses.empty()) {
            line +=
                pad_left("", lower_width) + "  " + paint(style, "2", "(no accesses sampled yet)");
            lines.push_back(line);
            continue;
        }
        line += pad_left(row.lower_bound, lower_width) + " " + (style.unicode ? "▕" : "|");
        for (int64_t count : row.accesses)
            line += cell(style, count, max);
        line += std::string(style.unicode ? "▏" : "|") + " " + row.upper_bound + "  " +
                format_count(map.total(row)) + " sampled";
        lines.push_back(line);
    }
    // The legend: the scale from no access to the busiest bucket.
    std::string legend =
        pad_right("", name_width) + "  " + pad_left("", lower_width) + " " + "scale: none ";
    legend += cell(style, 0, max);
    for (int step = 1; step <= 8; ++step)
        legend += cell(style, static_cast<int64_t>(std::ceil(max * step * step / 64.0)), max);
    legend += " " + format_count(max) + " per bucket (the busiest)";
    lines.push_back(legend);
    return lines;
}

} // namespace presplit::client
