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

RemoteCopyEstimate estimate_remote_copy(double rows, double bytes, double max_rows_per_second,
                                        const CopyRate& rate, double clock_rate) {
    RemoteCopyEstimate e;
    const bool by_cap = max_rows_per_second > 0 && rows > 0;
    const bool by_rate = bytes > 0 && rate.wall_bytes_per_second > 0;
    char buf[160];
    double wall = 0;
    if (by_cap) {
        wall = rows / max_rows_per_second;
        std::snprintf(buf, sizeof buf,
                      "%.0f rows of the partition at presplit.backfill_max_rows_per_second = %g",
                      rows, max_rows_per_second);
        e.reason = buf;
        // The cap is the most it gets: a slower measured rate wins.
        if (by_rate && rate.measured && bytes / rate.wall_bytes_per_second > wall) {
            wall = bytes / rate.wall_bytes_per_second;
            e.reason += ", slower at the " + rate.reason;
        }
    } else if (by_rate) {
        wall = bytes / rate.wall_bytes_per_second;
        e.reason = megabytes_text(bytes) + " of the partition at the " + rate.reason;
    } else {
        e.reason = "neither the partition's row count (ANALYZE it) nor its size is known";
        return e;
    }
    const double clock = clock_rate >= 1 ? clock_rate : 1;
    e.seconds = wall * clock;
    if (clock > 1) {
        std::snprintf(buf, sizeof buf, "; %.3g s of wall time at clock rate %g", wall, clock);
        e.reason += buf;
    }
    return e;
}

const char* to_string(RemoteStartVerdict verdict) {
    switch (verdict) {
    case RemoteStartVerdict::start:
        return "start";
    case RemoteStartVerdict::start_long:
        return "start_long";
    case RemoteStartVerdict::wait:
        return "wait";
    }
    return "start";
}

RemoteCopyStart decide_remote_copy_start(const RemoteCopyEstimate& estimate, int64_t now,
                                         const std::vector<TimeWindow>& windows,
                                         const RemoteStartOptions& options) {
    RemoteCopyStart r;
    if (!(estimate.seconds > 0)) {
        r.reason = "no estimate of its length (" + estimate.reason + "): it starts now";
        return r;
    }
    const double factor = std::max(1.0, options.safety_factor);
    const double planned = std::ceil(estimate.seconds * factor);
    r.copy_seconds = planned > 1e15 ? int64_t{1000000000000000} : static_cast<int64_t>(planned);
    if (windows.empty()) {
        r.reason = "no off-peak window known: it starts now";
        return r;
    }
    const size_t current = window_at(windows, now);
    if (current != kNoWindow)
        r.window_left_seconds = windows[current].ends - now;
    size_t next = kNoWindow;
    for (size_t i = 0; i < windows.size(); ++i)
        if (windows[i].starts > now) {
            if (next == kNoWindow)
                next = i;
            r.longest_window_seconds = std::max(r.longest_window_seconds, windows[i].seconds());
        }
    char factor_text[32];
    std::snprintf(factor_text, sizeof factor_text, " x%.1f = ", factor);
    const std::string numbers =
        "estimated " + hours_text(static_cast<int64_t>(std::ceil(estimate.seconds))) + factor_text +
        hours_text(r.copy_seconds) + " (" + estimate.reason + "), " +
        (current != kNoWindow ? hours_text(r.window_left_seconds) + " left in this window"
                              : std::string("outside the off-peak windows"));
    const std::string longest_text =
        r.longest_window_seconds > 0
            ? "the longest whole window ahead lasts " + hours_text(r.longest_window_seconds)
            : std::string("no whole window ahead is known");
    if (current != kNoWindow && r.copy_seconds <= r.window_left_seconds) {
        r.reason = "fits in this window: " + numbers;
        return r;
    }
    const bool longer_than_windows = r.copy_seconds > r.longest_window_seconds;
    if (longer_than_windows && current != kNoWindow) {
        const int64_t slack =
            std::min(options.window_start_slack_seconds, r.longest_window_seconds / 4);
        if (r.window_left_seconds >= r.longest_window_seconds - slack) {
            r.verdict = RemoteStartVerdict::start_long;
            r.reason = "longer than any whole window (" + longest_text +
                       "): it starts at this window's start and runs past its end, paced; " +
                       numbers;
            return r;
        }
    }
    if (next == kNoWindow) {
        r.reason = "no off-peak window ahead is known: it starts now; " + numbers;
        return r;
    }
    r.verdict = RemoteStartVerdict::wait;
    r.wait_until = windows[next].starts;
    r.reason =
        "waits for the next off-peak window, in " + hours_text(r.wait_until - now) + ": " +
        (longer_than_windows
             ? "longer than any whole window (" + longest_text + "), it starts at a window's start"
             : std::string("it does not fit in what is left of this window")) +
        "; " + numbers;
    return r;
}

} // namespace presplit::core
