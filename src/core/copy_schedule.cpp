#include "core/copy_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/cpp_only.hpp"

namespace presplit::core {

std::string hours_text(int64_t seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f h", static_cast<double>(seconds) / 3600.0);
    return buf;
}

namespace {

std::string megabytes_text(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g MB", bytes / (1024.0 * 1024.0));
    return buf;
}

} // namespace

CopyRate copy_rate(const std::vector<CopyMeasure>& recent, const CopyRateOptions& options) {
    CopyRate rate;
    double bytes = 0, seconds = 0;
    for (const CopyMeasure& m : recent)
        if (m.bytes > 0 && m.seconds > 0) {
            bytes += m.bytes;
            seconds += m.seconds;
            ++rate.copies;
        }
    const double clock = options.clock_rate >= 1 ? options.clock_rate : 1;
    char buf[200];
    if (rate.copies > 0 && seconds >= options.min_seconds) {
        rate.measured = true;
        rate.wall_bytes_per_second = bytes / seconds;
        std::snprintf(
            buf, sizeof buf, "copy rate %s/s measured (%s in %.3g s over the last %zu %s)",
            megabytes_text(rate.wall_bytes_per_second).c_str(), megabytes_text(bytes).c_str(),
            seconds, rate.copies, rate.copies == 1 ? "copy" : "copies");
    } else {
        rate.wall_bytes_per_second = options.assumed_bytes_per_wall_second;
        char why[96];
        if (rate.copies == 0)
            std::snprintf(why, sizeof why, "no finished copy measured yet");
        else
            std::snprintf(why, sizeof why, "too little measured: %s in %.3g s",
                          megabytes_text(bytes).c_str(), seconds);
        std::snprintf(buf, sizeof buf, "copy rate %s/s assumed (%s)",
                      megabytes_text(rate.wall_bytes_per_second).c_str(), why);
    }
    rate.reason = buf;
    if (clock > 1) {
        char more[128];
        std::snprintf(more, sizeof more, ", %.6g bytes per model second at clock rate %g",
                      rate.wall_bytes_per_second / clock, clock);
        rate.reason += more;
    }
    rate.bytes_per_second = rate.wall_bytes_per_second / clock;
    return rate;
}

const char* to_string(CopyVerdict verdict) {
    switch (verdict) {
    case CopyVerdict::done:
        return "done";
    case CopyVerdict::fits:
        return "fits";
    case CopyVerdict::late:
        return "late";
    case CopyVerdict::no_window:
        return "no_window";
    case CopyVerdict::no_rate:
        return "no_rate";
    }
    return "no_rate";
}

int64_t finish_after_window_time(const std::vector<TimeWindow>& windows, int64_t from,
                                 int64_t seconds) {
    for (const TimeWindow& w : windows) {
        int64_t a = std::max(w.starts, from);
        if (a >= w.ends)
            continue;
        if (w.ends - a >= seconds)
            return a + seconds;
        seconds -= w.ends - a;
    }
    return 0;
}

CopySchedule plan_copy(double bytes_remaining, double bytes_per_second, int64_t now,
                       int64_t crossing, const std::vector<TimeWindow>& windows,
                       const CopyOptions& options) {
    CopySchedule s;
    s.deadline = crossing - options.margin_seconds;
    if (!(bytes_remaining > 0)) {
        s.verdict = CopyVerdict::done;
        s.start = s.finish = now;
        s.reason = "nothing left to copy";
        return s;
    }
    if (!(bytes_per_second > 0)) {
        s.verdict = CopyVerdict::no_rate;
        s.reason = "no copy rate measured yet";
        return s;
    }
    double seconds =
        std::ceil(bytes_remaining / bytes_per_second * std::max(1.0, options.safety_factor));
    s.copy_seconds = seconds > 1e15 ? int64_t{1000000000000000} : static_cast<int64_t>(seconds);
    if (s.copy_seconds < 1)
        s.copy_seconds = 1;
    s.available_seconds = window_seconds_between(windows, now, s.deadline);

    char buf[256];
    if (s.available_seconds >= s.copy_seconds) {
        // Walk back from the deadline through the windows.
        int64_t need = s.copy_seconds;
        for (size_t i = windows.size(); i-- > 0;) {
            int64_t a = std::max(windows[i].starts, now);
            int64_t b = std::min(windows[i].ends, s.deadline);
            if (a >= b)
                continue;
            if (b - a >= need) {
                s.latest_start = b - need;
                int64_t g = options.start_granularity_seconds;
                if (g > 1) {
                    int64_t r = s.latest_start % g;
                    s.latest_start -= r < 0 ? r + g : r;
                    if (s.latest_start < now)
                        s.latest_start = now;
                }
                break;
            }
            need -= b - a;
        }
        s.start = s.latest_start;
        if (options.start_early)
            for (const TimeWindow& w : windows)
                if (w.ends > now) {
                    s.start = std::max(w.starts, now);
                    break;
                }
        s.finish = finish_after_window_time(windows, s.start, s.copy_seconds);
        s.verdict = CopyVerdict::fits;
        std::snprintf(buf, sizeof buf,
                      "copy needs %s of window time (%.0f bytes at %.0f bytes/s, x%.1f); %s "
                      "available before the deadline",
                      hours_text(s.copy_seconds).c_str(), bytes_remaining, bytes_per_second,
                      options.safety_factor, hours_text(s.available_seconds).c_str());
        s.reason = buf;
        return s;
    }
    // Cannot make it in the windows before the deadline: as early as possible.
    s.finish = finish_after_window_time(windows, now, s.copy_seconds);
    size_t next = window_at(windows, now);
    if (next != kNoWindow) {
        s.start = now;
    } else {
        s.start = 0;
        for (const TimeWindow& w : windows)
            if (w.starts > now) {
                s.start = w.starts;
                break;
            }
    }
    s.verdict = s.finish != 0 ? CopyVerdict::late : CopyVerdict::no_window;
    std::snprintf(buf, sizeof buf,
                  "cannot make it: copy needs %s of window time (%.0f bytes at %.0f bytes/s, "
                  "x%.1f) but only %s lie before the deadline",
                  hours_text(s.copy_seconds).c_str(), bytes_remaining, bytes_per_second,
                  options.safety_factor, hours_text(s.available_seconds).c_str());
    s.reason = buf;
    if (s.verdict == CopyVerdict::late)
        s.reason += "; it would finish " + hours_text(s.finish - s.deadline) + " late";
    else
        s.reason += "; the windows known end before it could finish";
    return s;
}

} // namespace presplit::core
