#include "client/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace presplit::client {

std::string xml_escape(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            // XML 1.0 allows no control characters but tab, newline, return.
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                out += "\xEF\xBF\xBD"; // U+FFFD
            else
                out += static_cast<char>(c);
        }
    }
    return out;
}

namespace {

std::string num(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    std::string out = text;
    if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0)
        out.resize(out.size() - 2);
    return out == "-0" ? "0" : out;
}

// Builds a document; coordinates in user units (pixels at scale 1).
class Svg {
public:
    Svg(double width, double height) : width_(width), height_(height) {}

    void rect(double x, double y, double w, double h, const std::string& fill,
              const std::string& extra = "") {
        body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" +
                 num(std::max(w, 0.0)) + "\" height=\"" + num(std::max(h, 0.0)) + "\" fill=\"" +
                 fill + "\"" + (extra.empty() ? "" : " " + extra) + "/>\n";
    }
    void line(double x1, double y1, double x2, double y2, const std::string& stroke,
              double width = 1, const std::string& extra = "") {
        body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) +
                 "\" y2=\"" + num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" +
                 num(width) + "\"" + (extra.empty() ? "" : " " + extra) + "/>\n";
    }
    void text(double x, double y, const std::string& content, const std::string& anchor = "start",
              double size = 12, const std::string& extra = "") {
        body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
                 "\" text-anchor=\"" + anchor + "\"" + (extra.empty() ? "" : " " + extra) + ">" +
                 xml_escape(content) + "</text>\n";
    }
    void path(const std::string& d, const std::string& fill, const std::string& stroke,
              double width, const std::string& extra = "") {
        body_ += "<path d=\"" + d + "\" fill=\"" + fill + "\" stroke=\"" + stroke +
                 "\" stroke-width=\"" + num(width) + "\"" + (extra.empty() ? "" : " " + extra) +
                 "/>\n";
    }
    void raw(const std::string& element) { body_ += element; }

    std::string document(const std::string& title, const std::string& defs = "") const {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
               num(width_) + "\" height=\"" + num(height_) + "\" viewBox=\"0 0 " + num(width_) +
               " " + num(height_) +
               "\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n<title>" +
               xml_escape(title) + "</title>\n" +
               (defs.empty() ? "" : "<defs>\n" + defs + "</defs>\n") +
               "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + body_ + "</svg>\n";
    }

private:
    double width_, height_;
    std::string body_;
};

std::string polyline_path(const std::vector<std::pair<double, double>>& points) {
    std::string d;
    for (size_t i = 0; i < points.size(); ++i)
        d += (i == 0 ? "M" : " L") + num(points[i].first) + " " + num(points[i].second);
    return d;
}

// Swatch and text of a legend entry; returns the x after it.
double legend_item(Svg& svg, double x, double y, const std::string& swatch_element,
                   const std::string& label) {
    svg.raw(swatch_element);
    svg.text(x + 22, y + 4, label, "start", 12);
    return x + 22 + 7.2 * static_cast<double>(display_width(label)) + 22;
}

} // namespace

std::string heat_svg(const HeatMap& map) {
    const double left = 190, strip_width = 560, row_height = 26, row_gap = 22, top = 70;
    const double height = top + map.rows.size() * (row_height + row_gap) + 110;
    Svg svg(960, height);
    const std::string title = "Key heat of " + map.table;
    svg.text(20, 30, title, "start", 18, "font-weight=\"bold\"");
    svg.text(20, 50,
             "sampled accesses in " + std::to_string(map.buckets) +
                 " equal-width buckets of each partition's key range",
             "start", 12, "fill=\"#555555\"");
    const int64_t max = map.max_bucket();
    double y = top;
    for (const HeatRow& row : map.rows) {
        svg.text(left - 10, y + row_height / 2 + 4, row.partition, "end", 13);
        if (row.accesses.empty()) {
            svg.rect(left, y, strip_width, row_height, hex_color(kNoAccessColor),
                     "opacity=\"0.25\"");
            svg.text(left + strip_width / 2, y + row_height / 2 + 4, "no accesses sampled yet",
                     "middle", 11, "fill=\"#333333\"");
        } else {
            const double cell = strip_width / row.accesses.size();
            for (size_t i = 0; i < row.accesses.size(); ++i) {
                const int64_t count = row.accesses[i];
                Rgb color = count > 0 ? heat_color(max > 0 ? static_cast<double>(count) / max : 0)
                                      : kNoAccessColor;
                // A hair wider than the cell, so that no seam shows between cells.
                svg.rect(left + i * cell, y, cell + 0.5, row_height, hex_color(color));
            }
            svg.rect(left, y, strip_width, row_height, "none",
                     "stroke=\"#333333\" stroke-width=\"1\"");
            svg.text(left, y + row_height + 13, row.lower_bound, "start", 10, "fill=\"#333333\"");
            svg.text(left + strip_width, y + row_height + 13, row.upper_bound, "end", 10,
                     "fill=\"#333333\"");
            svg.text(left + strip_width + 12, y + row_height / 2 + 4,
                     format_count(map.total(row)) + " sampled", "start", 12);
        }
        y += row_height + row_gap;
    }
    // The x axis: the position in each partition's range.
    const double axis_y = y;
    svg.line(left, axis_y, left + strip_width, axis_y, "#333333");
    for (int tick = 0; tick <= 4; ++tick) {
        const double x = left + strip_width * tick / 4;
        svg.line(x, axis_y, x, axis_y + 5, "#333333");
        svg.text(x, axis_y + 18, std::to_string(tick * 25) + " %", "middle", 11);
    }
    svg.text(left + strip_width / 2, axis_y + 34,
             "position in the partition's key range (lower bound to upper bound)", "middle", 12);
    // The legend: the colour scale, and the colour of no access.
    std::string gradient = "<linearGradient id=\"heat\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">\n";
    for (int stop = 0; stop <= 10; ++stop) {
        // Stops evenly spaced on the colour scale (the square root of the share).
        const double level = stop / 10.0;
        gradient += "<stop offset=\"" + num(level * 100) + "%\" stop-color=\"" +
                    hex_color(heat_color(level * level)) + "\"/>\n";
    }
    gradient += "</linearGradient>\n";
    const double legend_y = axis_y + 56;
    svg.rect(left, legend_y, 240, 14, "url(#heat)", "stroke=\"#333333\" stroke-width=\"0.5\"");
    svg.text(left, legend_y + 28, "0", "middle", 11);
    svg.text(left + 60, legend_y + 28, format_number(max / 16.0), "middle", 11);
    svg.text(left + 120, legend_y + 28, format_number(max / 4.0), "middle", 11);
    svg.text(left + 240, legend_y + 28, format_count(max) + " accesses per bucket", "start", 11);
    svg.text(left - 10, legend_y + 11, "scale", "end", 12);
    svg.rect(left + 420, legend_y, 14, 14, hex_color(kNoAccessColor));
    svg.text(left + 440, legend_y + 11, "no access sampled", "start", 11);
    return svg.document(title, gradient);
}

namespace {

// Tick spacing for a time axis: at most about 12 ticks.
double time_tick(double span) {
    for (double step :
         {900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0})
        if (span / step <= 12)
            return step;
    return 604800.0 * std::ceil(span / 604800.0 / 12);
}

void draw_time_chart(Svg& svg, const TimeChart& chart, double panel_top) {
    const double left = 90, right = 930, plot_top = panel_top + 50, plot_bottom = panel_top + 300;
    svg.text(20, panel_top + 26, chart.title, "start", 16, "font-weight=\"bold\"");
    if (chart.actual.empty() && !chart.has_forecast()) {
        svg.text(left, plot_top + 40, "no history recorded yet", "start", 13, "fill=\"#555555\"");
        return;
    }
    const double x0 = chart.first_time(), x1 = std::max(chart.last_time(), x0 + 1);
    const double top = chart.top();
    auto x_of = [&](double t) { return left + (t - x0) / (x1 - x0) * (right - left); };
    auto y_of = [&](double v) { return plot_bottom - v / top * (plot_bottom - plot_top); };

    for (const TimeWindow& w : chart.offpeak) {
        const double a = std::max(w.starts, x0), b = std::min(w.ends, x1);
        if (b > a)
            svg.rect(x_of(a), plot_top, x_of(b) - x_of(a), plot_bottom - plot_top, "#d8f0ee");
    }
    const int y_ticks = axis_ticks(top);
    for (int tick = 0; tick <= y_ticks; ++tick) {
        const double v = top * tick / y_ticks;
        svg.line(left, y_of(v), right, y_of(v), tick == 0 ? "#333333" : "#e3e3e3");
        svg.text(left - 8, y_of(v) + 4, axis_label(v, chart.unit), "end", 11);
    }
    svg.text(24, (plot_top + plot_bottom) / 2, chart.unit, "middle", 12,
             "transform=\"rotate(-90 24 " + num((plot_top + plot_bottom) / 2) + ")\"");
    const double step = time_tick(x1 - x0);
    for (double t = chart.now + std::ceil((x0 - chart.now) / step) * step; t <= x1 + 1e-6;
         t += step) {
        svg.line(x_of(t), plot_bottom, x_of(t), plot_bottom + 5, "#333333");
        svg.text(x_of(t), plot_bottom + 18, relative_time(t - chart.now), "middle", 11);
    }
    svg.text((left + right) / 2, plot_bottom + 36, "time, relative to now", "middle", 12);
    if (chart.now >= x0 && chart.now <= x1)
        svg.line(x_of(chart.now), plot_top, x_of(chart.now), plot_bottom, "#777777", 1,
                 "stroke-dasharray=\"2 3\"");

    if (!chart.interval.empty()) {
        std::string d;
        for (size_t i = 0; i < chart.interval.size(); ++i)
            d += (i == 0 ? "M" : " L") + num(x_of(chart.interval[i].at)) + " " +
                 num(y_of(chart.interval[i].upper));
        for (size_t i = chart.interval.size(); i-- > 0;)
            d += " L" + num(x_of(chart.interval[i].at)) + " " + num(y_of(chart.interval[i].lower));
        svg.path(d + " Z", "#9ecae1", "none", 0, "fill-opacity=\"0.6\"");
    }
    if (!chart.actual.empty()) {
        std::vector<std::pair<double, double>> points;
        for (const auto& p : chart.actual)
            points.emplace_back(x_of(p.at), y_of(p.value));
        std::string area = polyline_path(points) + " L" + num(points.back().first) + " " +
                           num(plot_bottom) + " L" + num(points.front().first) + " " +
                           num(plot_bottom) + " Z";
        svg.path(area, "#a1d99b", "none", 0, "fill-opacity=\"0.6\"");
        svg.path(polyline_path(points), "none", "#238b45", 2);
    }
    if (!chart.predicted.empty()) {
        std::vector<std::pair<double, double>> points;
        for (const auto& p : chart.predicted)
            points.emplace_back(x_of(p.at), y_of(p.value));
        svg.path(polyline_path(points), "none", "#08519c", 2, "stroke-dasharray=\"6 3\"");
    }
    if (chart.threshold) {
        svg.line(left, y_of(*chart.threshold), right, y_of(*chart.threshold), "#d62728", 1.5,
                 "stroke-dasharray=\"5 4\"");
        svg.text(right, y_of(*chart.threshold) - 5,
                 "threshold " + axis_label(*chart.threshold, chart.unit), "end", 11,
                 "fill=\"#d62728\"");
    }
    if (chart.crossing && *chart.crossing >= x0 && *chart.crossing <= x1) {
        const double x = x_of(*chart.crossing);
        svg.line(x, plot_top, x, plot_bottom, "#d62728", 1.5);
        if (chart.threshold)
            svg.raw("<circle cx=\"" + num(x) + "\" cy=\"" + num(y_of(*chart.threshold)) +
                    "\" r=\"4\" fill=\"#d62728\"/>\n");
        svg.text(x + 4, plot_top + 12,
                 "crossing " + relative_time(*chart.crossing - chart.now) +
                     (chart.crossing_label.empty() ? "" : " (" + chart.crossing_label + ")"),
                 x > (left + right) / 2 ? "end" : "start", 11, "fill=\"#d62728\"");
    }
    svg.rect(left, plot_top, right - left, plot_bottom - plot_top, "none",
             "stroke=\"#333333\" stroke-width=\"1\"");

    // The legend: what is drawn, and only that.
    double x = left, y = plot_bottom + 58;
    auto swatch_line = [&](const std::string& color, const std::string& dash) {
        return "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 16) +
               "\" y2=\"" + num(y) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" +
               (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/>\n";
    };
    auto swatch_box = [&](const std::string& color) {
        return "<rect x=\"" + num(x) + "\" y=\"" + num(y - 6) +
               "\" width=\"16\" height=\"12\" fill=\"" + color + "\"/>\n";
    };
    if (!chart.actual.empty())
        x = legend_item(svg, x, y, swatch_line("#238b45", ""), "actual");
    if (!chart.predicted.empty())
        x = legend_item(svg, x, y, swatch_line("#08519c", "6 3"), "forecast");
    if (!chart.interval.empty())
        x = legend_item(svg, x, y, swatch_box("#9ecae1"), "interval");
    if (chart.threshold)
        x = legend_item(svg, x, y, swatch_line("#d62728", "5 4"), "threshold");
    if (chart.crossing)
        x = legend_item(svg, x, y, swatch_line("#d62728", ""), "predicted crossing");
    if (!chart.offpeak.empty())
        x = legend_item(svg, x, y, swatch_box("#d8f0ee"), "off-peak window");
}

} // namespace

std::string time_chart_svg(const std::vector<TimeChart>& charts) {
    const double panel = 390;
    Svg svg(960, std::max<size_t>(charts.size(), 1) * panel + 10);
    for (size_t i = 0; i < charts.size(); ++i)
        draw_time_chart(svg, charts[i], i * panel);
    return svg.document(charts.empty() ? "forecast" : charts.front().title);
}

std::string bar_chart_svg(const BarChart& chart) {
    static const char* colors[] = {"#238b45", "#74c476", "#bae4b3", "#6baed6", "#fd8d3c"};
    const double left = 200, right = 880, top = 70, bar_height = 16, group_gap = 16;
    size_t bars = 0;
    for (const auto& group : chart.groups)
        bars += group.bars.size();
    const double height = top + bars * bar_height + chart.groups.size() * group_gap + 110;
    Svg svg(960, height);
    svg.text(20, 30, chart.title, "start", 18, "font-weight=\"bold\"");
    if (!chart.note.empty())
        svg.text(20, 50, chart.note, "start", 12, "fill=\"#555555\"");
    const double max = nice_ceiling(chart.max_value() * 1.05);
    auto x_of = [&](double v) { return left + v / max * (right - left); };
    double y = top;
    std::vector<std::string> labels;
    for (const auto& group : chart.groups) {
        svg.text(left - 10, y + group.bars.size() * bar_height / 2 + 4, group.name, "end", 13);
        for (size_t i = 0; i < group.bars.size(); ++i) {
            const Bar& bar = group.bars[i];
            if (std::find(labels.begin(), labels.end(), bar.label) == labels.end())
                labels.push_back(bar.label);
            const size_t color =
                std::find(labels.begin(), labels.end(), bar.label) - labels.begin();
            svg.rect(left, y + 1, x_of(bar.value) - left, bar_height - 2, colors[color % 5]);
            svg.text(x_of(bar.value) + 4, y + bar_height - 4, axis_label(bar.value, chart.unit),
                     "start", 10);
            y += bar_height;
        }
        y += group_gap;
    }
    svg.line(left, top - 4, left, y - group_gap + 4, "#333333");
    svg.line(left, y, right, y, "#333333");
    const int x_ticks = axis_ticks(max);
    for (int tick = 0; tick <= x_ticks; ++tick) {
        const double v = max * tick / x_ticks;
        svg.line(x_of(v), y, x_of(v), y + 5, "#333333");
        svg.text(x_of(v), y + 18, axis_label(v, chart.unit), "middle", 11);
    }
    svg.text((left + right) / 2, y + 36, chart.unit, "middle", 12);
    double x = left;
    const double legend_y = y + 62;
    for (size_t i = 0; i < labels.size(); ++i) {
        const std::string swatch = "<rect x=\"" + num(x) + "\" y=\"" + num(legend_y - 6) +
                                   "\" width=\"16\" height=\"12\" fill=\"" + colors[i % 5] +
                                   "\"/>\n";
        x = legend_item(svg, x, legend_y, swatch, labels[i]);
    }
    return svg.document(chart.title);
}

} // namespace presplit::client
