#include "client/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace presplit::client {

double TimeChart::first_time() const {
    double first = now;
    for (const auto& p : actual)
        first = std::min(first, p.at);
    for (const auto& p : predicted)
        first = std::min(first, p.at);
    for (const auto& p : interval)
        first = std::min(first, p.at);
    return first;
}

double TimeChart::last_time() const {
    double last = now;
    for (const auto& p : actual)
        last = std::max(last, p.at);
    for (const auto& p : predicted)
        last = std::max(last, p.at);
    for (const auto& p : interval)
        last = std::max(last, p.at);
    return last;
}

double TimeChart::top() const {
    double max = 0;
    for (const auto& p : actual)
        max = std::max(max, p.value);
    for (const auto& p : predicted)
        max = std::max(max, p.value);
    for (const auto& p : interval)
        max = std::max(max, p.upper);
    if (threshold)
        max = std::max(max, *threshold);
    return nice_ceiling(max * 1.05);
}

double BarChart::max_value() const {
    double max = 0;
    for (const auto& group : groups)
        for (const auto& bar : group.bars)
            max = std::max(max, bar.value);
    return max;
}

double nice_ceiling(double value) {
    if (!(value > 0) || !std::isfinite(value))
        return 1;
    const double power = std::pow(10.0, std::floor(std::log10(value)));
    for (double step : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
        if (step * power >= value * (1 - 1e-12))
            return step * power;
    return 10 * power;
}

int axis_ticks(double top) {
    if (!(top > 0) || !std::isfinite(top))
        return 4;
    const double leading = top / std::pow(10.0, std::floor(std::log10(top)));
    for (double three : {1.5, 3.0, 6.0})
        if (std::fabs(leading - three) < 1e-9)
            return 3;
    for (double four : {2.0, 4.0, 8.0})
        if (std::fabs(leading - four) < 1e-9)
            return 4;
    return 5;
}

std::string axis_label(double value, const std::string& unit) {
    if (unit == "bytes")
        return format_bytes(static_cast<int64_t>(std::llround(value)));
    const double magnitude = std::fabs(value);
    if (magnitude >= 1e9)
        return format_number(value / 1e9) + "G";
    if (magnitude >= 1e6)
        return format_number(value / 1e6) + "M";
    if (magnitude >= 1e4)
        return format_number(value / 1e3) + "k";
    return format_number(value);
}

std::string relative_time(double seconds) {
    const double magnitude = std::fabs(seconds);
    const char* sign = seconds < 0 ? "-" : "+";
    if (magnitude < 30)
        return "now";
    if (magnitude < 5400)
        return sign + std::to_string(std::lround(magnitude / 60)) + " min";
    if (magnitude < 3 * 86400)
        return sign + format_number(magnitude / 3600, magnitude < 36000 ? 2 : 2) + " h";
    return sign + format_number(magnitude / 86400, 2) + " d";
}

namespace {

// A value of a series at time t, interpolated linearly between its points;
// nothing outside the series' span.
template <typename Point, typename Get>
std::optional<double> value_at(const std::vector<Point>& series, double t, double tolerance,
                               Get get) {
    if (series.empty())
        return std::nullopt;
    if (t < series.front().at - tolerance || t > series.back().at + tolerance)
        return std::nullopt;
    if (t <= series.front().at)
        return get(series.front());
    if (t >= series.back().at)
        return get(series.back());
    auto next = std::lower_bound(series.begin(), series.end(), t,
                                 [](const Point& p, double time) { return p.at < time; });
    auto previous = next - 1;
    const double span = next->at - previous->at;
    const double f = span > 0 ? (t - previous->at) / span : 0;
    return get(*previous) + (get(*next) - get(*previous)) * f;
}

struct Cell {
    std::string glyph = " ";
    std::string sgr;
};

} // namespace

std::vector<std::string> render_time_chart(const TimeChart& chart, const Style& style, int width,
                                           int height) {
    std::vector<std::string> lines;
    lines.push_back(paint(style, "1", chart.title) + " (" + chart.unit + ")");
    if (chart.actual.empty() && !chart.has_forecast()) {
        lines.push_back(paint(style, "2", "  no history recorded yet"));
        return lines;
    }
    const double top = chart.top();
    const double x0 = chart.first_time();
    const double x1 = std::max(chart.last_time(), x0 + 1);
    size_t label_width = std::max(display_width(axis_label(top, chart.unit)), size_t{1});
    label_width = std::max(label_width, display_width(axis_label(top / 2, chart.unit)));
    const int columns = std::max(20, width - static_cast<int>(label_width) - 2);
    const int rows = std::max(5, height);
    const double dt = (x1 - x0) / columns;
    auto column_time = [&](int c) { return x0 + (c + 0.5) * dt; };
    auto column_of = [&](double t) {
        return std::clamp(static_cast<int>(std::floor((t - x0) / dt)), 0, columns - 1);
    };
    // Eighths of a row from the bottom that a value reaches.
    auto eighths = [&](double v) {
        return std::clamp(static_cast<int>(std::lround(v / top * rows * 8)), 0, rows * 8);
    };
    // The row holding a value; one on a boundary belongs to the row below
    // it, whose label (the row's top) it is.
    auto row_of = [&](double v) {
        return std::clamp(rows - 1 - std::max(eighths(v) - 1, 0) / 8, 0, rows - 1);
    };

    std::vector<std::vector<Cell>> grid(rows, std::vector<Cell>(columns));
    const bool u = style.unicode;
    auto put = [&](int r, int c, const char* unicode_glyph, char ascii_glyph, const char* sgr) {
        grid[r][c].glyph = u ? unicode_glyph : std::string(1, ascii_glyph);
        grid[r][c].sgr = sgr;
    };

    // The interval, then the history's bars, the threshold, the crossing and
    // the forecast, each drawn over the ones before.
    for (int c = 0; c < columns; ++c) {
        auto lower = value_at(chart.interval, column_time(c), dt / 2,
                              [](const IntervalPoint& p) { return p.lower; });
        auto upper = value_at(chart.interval, column_time(c), dt / 2,
                              [](const IntervalPoint& p) { return p.upper; });
        if (lower && upper)
            for (int r = row_of(*upper); r <= row_of(*lower); ++r)
                put(r, c, "░", ':', "38;5;110");
    }
    static const char* partial[] = {"", "▁", "▂", "▃", "▄", "▅", "▆", "▇"};
    for (int c = 0; c < columns; ++c) {
        auto value = value_at(chart.actual, column_time(c), dt / 2,
                              [](const TimeValue& p) { return p.value; });
        if (!value)
            continue;
        int level = eighths(*value);
        if (level == 0 && *value > 0)
            level = 1; // any load shows
        for (int r = rows - 1; r >= 0 && level > 0; --r, level -= 8) {
            if (level >= 8)
                put(r, c, "█", '#', "32");
            else
                put(r, c, partial[level], level >= 4 ? '#' : '_', "32");
        }
    }
    if (chart.threshold)
        for (int c = 0; c < columns; ++c)
            put(row_of(*chart.threshold), c, "─", '-', "31");
    if (chart.crossing && *chart.crossing >= x0 && *chart.crossing <= x1)
        for (int r = 0; r < rows; ++r)
            put(r, column_of(*chart.crossing), "┊", '!', "1;31");
    for (int c = 0; c < columns; ++c) {
        auto value = value_at(chart.predicted, column_time(c), dt / 2,
                              [](const TimeValue& p) { return p.value; });
        if (value)
            put(row_of(*value), c, "•", 'o', "1;34");
    }

    for (int r = 0; r < rows; ++r) {
        std::string label;
        if (r == 0)
            label = axis_label(top, chart.unit);
        else if (r == rows / 2)
            label = axis_label(top * (rows - r) / rows, chart.unit);
        std::string line = pad_left(label, label_width) + (label.empty() ? " │" : " ┤");
        if (!u)
            line = pad_left(label, label_width) + (label.empty() ? " |" : " +");
        for (int c = 0; c < columns; ++c)
            line += grid[r][c].sgr.empty() ? grid[r][c].glyph
                                           : paint(style, grid[r][c].sgr, grid[r][c].glyph);
        // Trailing blanks say nothing.
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        lines.push_back(line);
    }
    std::string axis = pad_left("0", label_width) + (u ? " └" : " +");
    for (int c = 0; c < columns; ++c)
        axis += u ? "─" : "-";
    lines.push_back(axis);

    // Time labels: the start, now, the end, where they fit.
    std::string labels(label_width + 2 + columns + 12, ' ');
    auto place = [&](int c, const std::string& text, bool centred) {
        int at = static_cast<int>(label_width) + 2 + c -
                 (centred ? static_cast<int>(text.size()) / 2 : 0);
        at = std::max(at, 0);
        for (size_t i = 0; i < text.size(); ++i)
            if (labels[at + i] != ' ' || (at + i > 0 && labels[at + i - 1] != ' '))
                return false;
        labels.replace(at, text.size(), text);
        return true;
    };
    place(0, relative_time(x0 - chart.now), false);
    if (chart.now > x0 && chart.now < x1)
        place(column_of(chart.now), "now", true);
    const std::string end = relative_time(x1 - chart.now);
    place(columns - static_cast<int>(end.size()), end, false);
    while (!labels.empty() && labels.back() == ' ')
        labels.pop_back();
    lines.push_back(labels);

    if (!chart.offpeak.empty()) {
        std::string row(label_width + 2, ' ');
        for (int c = 0; c < columns; ++c) {
            bool inside = false;
            for (const TimeWindow& w : chart.offpeak)
                inside = inside || (column_time(c) >= w.starts && column_time(c) < w.ends);
            row += inside ? paint(style, "36", u ? "▀" : "=") : " ";
        }
        while (!row.empty() && row.back() == ' ')
            row.pop_back();
        lines.push_back(row);
    }

    // The legend, wrapped to the width.
    std::vector<std::string> items;
    auto item = [&](const char* unicode_glyph, char ascii_glyph, const char* sgr,
                    const std::string& text) {
        items.push_back(paint(style, sgr, u ? unicode_glyph : std::string(1, ascii_glyph)) + " " +
                        text);
    };
    if (!chart.actual.empty())
        item("█", '#', "32", "actual");
    if (!chart.predicted.empty())
        item("•", 'o', "1;34", "forecast");
    if (!chart.interval.empty())
        item("░", ':', "38;5;110", "interval");
    if (chart.threshold)
        item("─", '-', "31", "threshold " + axis_label(*chart.threshold, chart.unit));
    if (chart.crossing)
        item("┊", '!', "1;31",
             "crossing " + relative_time(*chart.crossing - chart.now) +
                 (chart.crossing_label.empty() ? "" : " (" + chart.crossing_label + ")"));
    if (!chart.offpeak.empty())
        item("▀", '=', "36", "off-peak");
    std::string legend = " ";
    for (const std::string& text : items) {
        if (legend.size() > 1 &&
            display_width(legend) + 3 + display_width(text) > static_cast<size_t>(width)) {
            lines.push_back(legend);
            legend = " ";
        }
        legend += "  " + text;
    }
    lines.push_back(legend);
    return lines;
}

std::vector<std::string> render_bar_chart(const BarChart& chart, const Style& style, int width) {
    std::vector<std::string> lines;
    lines.push_back(paint(style, "1", chart.title) + " (" + chart.unit + ")");
    size_t name_width = 1, label_width = 1, value_width = 1;
    const double max = chart.max_value();
    for (const auto& group : chart.groups) {
        name_width = std::max(name_width, display_width(group.name));
        for (const auto& bar : group.bars) {
            label_width = std::max(label_width, display_width(bar.label));
            value_width = std::max(value_width, display_width(axis_label(bar.value, chart.unit)));
        }
    }
    const int bar_width =
        std::max(10, width - static_cast<int>(name_width + label_width + value_width) - 6);
    if (chart.groups.empty())
        lines.push_back(paint(style, "2", "  nothing recorded yet"));
    for (const auto& group : chart.groups) {
        bool first = true;
        for (const auto& bar : group.bars) {
            const double fraction = max > 0 ? bar.value / max : 0;
            std::string drawn = progress_bar(fraction, bar_width, style.unicode);
            if (style.unicode) { // no background cells in a chart
                std::string trimmed;
                for (size_t i = 0; i < drawn.size();) {
                    if (drawn.compare(i, 3, "░") == 0) {
                        trimmed += ' ';
                        i += 3;
                    } else {
                        trimmed += drawn[i++];
                    }
                }
                drawn = trimmed;
            } else {
                std::replace(drawn.begin(), drawn.end(), '-', ' ');
            }
            lines.push_back(pad_right(first ? group.name : "", name_width) + "  " +
                            pad_right(bar.label, label_width) + " " + paint(style, "32", drawn) +
                            " " + pad_left(axis_label(bar.value, chart.unit), value_width));
            first = false;
        }
    }
    if (!chart.note.empty())
        lines.push_back(paint(style, "2", chart.note));
    return lines;
}

} // namespace presplit::client
