// Off-peak windows: the hours in which the predictive shard manager may copy
// a predicted plan's rows (and, in mode `split`, prefers to cut over).
//
// Either fixed by the DBA (presplit.maintenance_window, e.g. '01:00-05:00' or
// '01:00-05:00,13:00-14:00', in the server's time zone, a window may wrap
// midnight) or predicted from the forecast of the whole server's load over the
// next 24 h: the quiet hours, merged into windows of a minimum length.
//
// Time is Unix seconds, passed in; the server's time zone is passed in as its
// UTC offset in seconds (east positive), as of now: across a daylight-saving
// change the fixed windows of the following days are off by that hour until
// the next round re-expands them. docs/prediction.md has the reasoning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/forecast.hpp"

namespace presplit::core {

constexpr int64_t kDaySeconds = 24 * 3600;

// [starts, ends) in Unix seconds, with the mean predicted server load over it
// (statements/s; NaN for fixed windows, whose load nobody predicted).
struct TimeWindow {
    int64_t starts;
    int64_t ends;
    double predicted_load;

    int64_t seconds() const { return ends > starts ? ends - starts : 0; }
};

// One daily window in local time, minutes since local midnight; end_minute <
// start_minute wraps midnight ('22:00-02:00'), end_minute == 1440 is '24:00'.
struct DailyWindow {
    int start_minute;
    int end_minute;
};

struct MaintenanceWindowParse {
    bool ok = false;
    // Sorted by start, overlapping or touching windows merged; empty for an
    // empty (or all-blank) setting, which means "predict the windows".
    std::vector<DailyWindow> windows;
    // When !ok: what is wrong, quoting the offending part, and how to write it.
    std::string error;
    std::string hint;
};

// Parses a comma-separated list of 'HH:MM-HH:MM' (H:MM accepted, blanks around
// the parts allowed; start 00:00..23:59, end 00:00..24:00, start != end).
MaintenanceWindowParse parse_maintenance_window(std::string_view text);

// Canonical text of parsed windows ('01:00-05:00,22:00-02:00').
std::string format_maintenance_window(const std::vector<DailyWindow>& windows);

// The absolute windows of the daily windows that intersect [from, until),
// clipped to it, sorted, touching ones merged (a window ending at 24:00 and
// one starting at 00:00 are one night). utc_offset_seconds: local = UTC + offset.
std::vector<TimeWindow> expand_daily_windows(const std::vector<DailyWindow>& windows, int64_t from,
                                             int64_t until, int32_t utc_offset_seconds);

struct OffpeakOptions {
    // An hour is quiet when its predicted load is at most
    // trough + quiet_fraction * (peak - trough) of the 24 forecast hours.
    double quiet_fraction = 0.3;
    // When peak - trough <= flat_fraction * peak the day has no off-peak:
    // every hour is as good as another, so the whole day is one window.
    double flat_fraction = 0.1;
    // Runs of quiet hours shorter than this are not windows.
    size_t min_hours = 2;
};

// The quiet hours of the first 24 points of `server_load` (hour i covers
// [first_hour_start + 3600 i, + 3600)), repeated every 24 h (a night cut by
// the end of the 24 hours joins the quiet hours at their start), as windows
// intersecting [from, until), clipped. Empty when fewer than 24 points or any
// of them is NaN: no window predicted (the caller says so).
std::vector<TimeWindow> predict_offpeak_windows(const std::vector<ForecastPoint>& server_load,
                                                int64_t first_hour_start, int64_t from,
                                                int64_t until, const OffpeakOptions& options);

// Whether t lies in one of the (sorted) windows; the window's index or npos.
constexpr size_t kNoWindow = static_cast<size_t>(-1);
size_t window_at(const std::vector<TimeWindow>& windows, int64_t t);

// Seconds of window time in [from, until).
int64_t window_seconds_between(const std::vector<TimeWindow>& windows, int64_t from, int64_t until);

} // namespace presplit::core
