// Load and size over time as pictures: the history, and when the server has
// the predictor, its forecast with the interval, the threshold, the predicted
// crossing and the off-peak windows (presplit.forecast, presplit.forecasts,
// presplit.offpeak_windows). Without the predictor the server keeps only
// averages (per second over the last minute, hour and day), drawn as bars.
// The terminal renderings are here; svg.hpp draws the same charts. Pure:
// unit-tested in test/unit/client_chart_test.cpp.
#pragma once

#include "client/text.hpp"

#include <optional>
#include <string>
#include <vector>

namespace presplit::client {

// Times are Unix seconds.
struct TimeValue {
    double at;
    double value;
};

struct IntervalPoint {
    double at;
    double lower, upper;
};

struct TimeWindow {
    double starts, ends;
};

struct TimeChart {
    std::string title; // e.g. "accounts_0: load"
    std::string unit;  // "statements/s" or "bytes"
    double now = 0;
    std::vector<TimeValue> actual;       // the history
    std::vector<TimeValue> predicted;    // the forecast
    std::vector<IntervalPoint> interval; // its interval
    std::optional<double> threshold;     // where a split is due
    std::optional<double> crossing;      // when the forecast crosses it
    std::string crossing_label;          // the crossing's time as the server wrote it
    std::vector<TimeWindow> offpeak;     // predicted quiet hours

    bool has_forecast() const { return !predicted.empty() || !interval.empty(); }
    // The x range: the first to the last time of any point, now included.
    double first_time() const;
    double last_time() const;
    // The y range's top: a round number above every value, bound and threshold.
    double top() const;
};

struct Bar {
    std::string label; // e.g. "last hour"
    double value;
};

struct BarGroup {
    std::string name; // e.g. a partition
    std::vector<Bar> bars;
};

struct BarChart {
    std::string title;
    std::string unit;
    std::vector<BarGroup> groups;
    std::string note; // said under the chart

    double max_value() const;
};

// The smallest "round" number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power
// of ten) >= value.
double nice_ceiling(double value);
// How many equal steps divide an axis from 0 to `top` (a nice_ceiling) into
// round numbers: 3 for 1.5, 3 and 6, 4 for 2, 4 and 8, otherwise 5.
int axis_ticks(double top);
// A value on a chart's axis, in its unit: "1.5k" statements/s, "4.3 MB".
std::string axis_label(double value, const std::string& unit);
// "-24 h", "now", "+12 h", "+30 min": a time relative to now.
std::string relative_time(double seconds_from_now);

// The chart in `width` x about `height` cells: y labels, the plot, the time
// axis, the off-peak row, and a legend.
std::vector<std::string> render_time_chart(const TimeChart& chart, const Style& style, int width,
                                           int height);
std::vector<std::string> render_bar_chart(const BarChart& chart, const Style& style, int width);

} // namespace presplit::client
