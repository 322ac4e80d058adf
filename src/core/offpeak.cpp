#include "core/offpeak.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {

constexpr int kDayMinutes = 24 * 60;
constexpr const char* kWindowHint =
    "Write windows as HH:MM-HH:MM in the server's time zone, separated by commas, "
    "e.g. '01:00-05:00' or '01:00-05:00,13:00-14:00'; a window may wrap midnight "
    "('22:00-02:00'); an empty string predicts the windows from the load.";

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// 'H:MM' or 'HH:MM' -> minutes since midnight; -1 if malformed. Hours up to
// 24 are accepted here; the caller decides whether 24:00 is allowed.
int parse_time_of_day(std::string_view s, std::string* why) {
    s = trim(s);
    size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
        *why = "time " + quoted(s) + " is not HH:MM";
        return -1;
    }
    for (size_t i = 0; i < s.size(); i++)
        if (i != colon && !std::isdigit(static_cast<unsigned char>(s[i]))) {
            *why = "time " + quoted(s) + " is not HH:MM";
            return -1;
        }
    int hours = 0;
    for (size_t i = 0; i < colon; i++)
        hours = hours * 10 + (s[i] - '0');
    int minutes = (s[colon + 1] - '0') * 10 + (s[colon + 2] - '0');
    if (minutes > 59) {
        *why = "time " + quoted(s) + " has minutes above 59";
        return -1;
    }
    if (hours > 24 || (hours == 24 && minutes != 0)) {
        *why = "time " + quoted(s) + " is past 24:00";
        return -1;
    }
    return hours * 60 + minutes;
}

MaintenanceWindowParse failure(std::string error) {
    MaintenanceWindowParse result;
    result.error = std::move(error);
    result.hint = kWindowHint;
    return result;
}

// Minutes of the day covered by a daily window, as one or two non-wrapping
// [start, end) runs on [0, 1440).
void add_runs(const DailyWindow& w, std::vector<DailyWindow>* runs) {
    if (w.end_minute > w.start_minute) {
        runs->push_back(w);
    } else {
        runs->push_back({w.start_minute, kDayMinutes});
        if (w.end_minute > 0)
            runs->push_back({0, w.end_minute});
    }
}

std::string two_digits(int v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d", v);
    return buf;
}

std::string time_text(int minute) {
    return two_digits(minute / 60) + ":" + two_digits(minute % 60);
}

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Sorts and merges overlapping or touching windows.
void normalize(std::vector<TimeWindow>* windows) {
    std::sort(windows->begin(), windows->end(),
              [](const TimeWindow& a, const TimeWindow& b) { return a.starts < b.starts; });
    std::vector<TimeWindow> merged;
    for (const TimeWindow& w : *windows) {
        if (w.ends <= w.starts)
            continue;
        if (!merged.empty() && w.starts <= merged.back().ends) {
            TimeWindow& last = merged.back();
            // Load of the union: the time-weighted mean of the parts.
            double a = static_cast<double>(last.seconds()), b = static_cast<double>(w.seconds());
            if (w.ends > last.ends) {
                last.predicted_load = (last.predicted_load * a + w.predicted_load * b) / (a + b);
                last.ends = w.ends;
            }
        } else {
            merged.push_back(w);
        }
    }
    windows->swap(merged);
}

} // namespace

MaintenanceWindowParse parse_maintenance_window(std::string_view text) {
    MaintenanceWindowParse result;
    if (trim(text).empty()) {
        result.ok = true;
        return result;
    }
    std::vector<DailyWindow> runs;
    size_t pos = 0;
    while (true) {
        size_t comma = text.find(',', pos);
        std::string_view item = trim(text.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        if (item.empty())
            return failure("empty window in " + quoted(text) +
                           " (two commas, or a comma at an end)");
        size_t dash = item.find('-');
        if (dash == std::string_view::npos || item.find('-', dash + 1) != std::string_view::npos)
            return failure("window " + quoted(item) + " is not HH:MM-HH:MM");
        std::string why;
        int start = parse_time_of_day(item.substr(0, dash), &why);
        if (start < 0)
            return failure("in window " + quoted(item) + ": " + why);
        int end = parse_time_of_day(item.substr(dash + 1), &why);
        if (end < 0)
            return failure("in window " + quoted(item) + ": " + why);
        if (start == kDayMinutes)
            return failure("window " + quoted(item) + " starts at 24:00: write 00:00");
        if (start == end)
            return failure("window " + quoted(item) +
                           " is empty (starts where it ends); the whole day is 00:00-24:00");
        add_runs({start, end}, &runs);
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    // Merge the runs on [0, 1440), then join a run ending at 24:00 with one
    // starting at 00:00 into a window that wraps midnight.
    std::sort(runs.begin(), runs.end(), [](const DailyWindow& a, const DailyWindow& b) {
        return a.start_minute < b.start_minute;
    });
    std::vector<DailyWindow> merged;
    for (const DailyWindow& r : runs) {
        if (!merged.empty() && r.start_minute <= merged.back().end_minute)
            merged.back().end_minute = std::max(merged.back().end_minute, r.end_minute);
        else
            merged.push_back(r);
    }
    if (merged.size() > 1 && merged.front().start_minute == 0 &&
        merged.back().end_minute == kDayMinutes) {
        merged.back().end_minute = merged.front().end_minute;
        merged.erase(merged.begin());
    }
    result.ok = true;
    result.windows = std::move(merged);
    return result;
}

std::string format_maintenance_window(const std::vector<DailyWindow>& windows) {
    std::string text;
    for (const DailyWindow& w : windows) {
        if (!text.empty())
            text += ",";
        text += time_text(w.start_minute) + "-" + time_text(w.end_minute);
    }
    return text;
}

std::vector<TimeWindow> expand_daily_windows(const std::vector<DailyWindow>& windows, int64_t from,
                                             int64_t until, int32_t utc_offset_seconds) {
    std::vector<TimeWindow> result;
    if (until <= from)
        return result;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // Local days from the one before `from` (its wrapping window may reach
    // into `from`) to the one holding `until`.
    int64_t first_day = floor_div(from + utc_offset_seconds, kDaySeconds) - 1;
    int64_t last_day = floor_div(until + utc_offset_seconds, kDaySeconds);
    for (int64_t day = first_day; day <= last_day; day++) {
        int64_t midnight = day * kDaySeconds - utc_offset_seconds; // UTC of local midnight
        for (const DailyWindow& w : windows) {
            int64_t starts = midnight + int64_t{w.start_minute} * 60;
            int64_t ends = midnight + int64_t{w.end_minute} * 60;
            if (w.end_minute <= w.start_minute)
                ends += kDaySeconds;
            starts = std::max(starts, from);
            ends = std::min(ends, until);
            if (starts < ends)
                result.push_back({starts, ends, nan});
        }
    }
    normalize(&result);
    return result;
}

std::vector<TimeWindow> predict_offpeak_windows(const std::vector<ForecastPoint>& server_load,
                                                int64_t first_hour_start, int64_t from,
                                                int64_t until, const OffpeakOptions& options) {
    std::vector<TimeWindow> result;
    constexpr size_t kHours = 24;
    if (server_load.size() < kHours || until <= from)
        return result;
    double peak = -std::numeric_limits<double>::infinity();
    double trough = std::numeric_limits<double>::infinity();
    for (size_t h = 0; h < kHours; h++) {
        double v = server_load[h].predicted;
        if (!std::isfinite(v))
            return result;
        peak = std::max(peak, v);
        trough = std::min(trough, v);
    }
    bool quiet[kHours];
    bool flat = peak - trough <= options.flat_fraction * peak;
    double limit = trough + options.quiet_fraction * (peak - trough);
    for (size_t h = 0; h < kHours; h++)
        quiet[h] = flat || server_load[h].predicted <= limit;

    // Runs of quiet hours on the 24-hour circle: (first hour, length).
    struct Run {
        size_t first, length;
    };
    std::vector<Run> runs;
    size_t begin = 0;
    while (begin < kHours && quiet[begin])
        begin++;
    if (begin == kHours) {
        runs.push_back({0, kHours}); // all quiet: one window, every day
    } else {
        // Walk the circle from a loud hour, so no run is cut at the seam.
        size_t h = begin;
        for (size_t step = 0; step < kHours;) {
            if (!quiet[h % kHours]) {
                h++;
                step++;
                continue;
            }
            Run run{h % kHours, 0};
            while (step < kHours && quiet[h % kHours]) {
                run.length++;
                h++;
                step++;
            }
            runs.push_back(run);
        }
    }

    // Repeat each run every 24 h across [from, until).
    int64_t first_period = floor_div(from - first_hour_start, kDaySeconds) - 1;
    int64_t last_period = floor_div(until - first_hour_start, kDaySeconds);
    for (const Run& run : runs) {
        if (run.length < options.min_hours)
            continue;
        double load = 0;
        for (size_t k = 0; k < run.length; k++)
            load += server_load[(run.first + k) % kHours].predicted;
        load /= static_cast<double>(run.length);
        for (int64_t p = first_period; p <= last_period; p++) {
            int64_t starts =
                first_hour_start + p * kDaySeconds + static_cast<int64_t>(run.first) * 3600;
            int64_t ends = starts + static_cast<int64_t>(run.length) * 3600;
            starts = std::max(starts, from);
            ends = std::min(ends, until);
            if (starts < ends)
                result.push_back({starts, ends, load});
        }
    }
    normalize(&result);
    return result;
}

size_t window_at(const std::vector<TimeWindow>& windows, int64_t t) {
    auto it = std::upper_bound(windows.begin(), windows.end(), t,
                               [](int64_t v, const TimeWindow& w) { return v < w.starts; });
    if (it == windows.begin())
        return kNoWindow;
    --it;
    return t < it->ends ? static_cast<size_t>(it - windows.begin()) : kNoWindow;
}

int64_t window_seconds_between(const std::vector<TimeWindow>& windows, int64_t from,
                               int64_t until) {
    int64_t total = 0;
    for (const TimeWindow& w : windows) {
        int64_t a = std::max(w.starts, from), b = std::min(w.ends, until);
        if (a < b)
            total += b - a;
    }
    return total;
}

} // namespace presplit::core
