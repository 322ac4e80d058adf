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
    case CopyVerdict::too_long:
        return "too_long";
    case CopyVerdict::outside_windows:
        return "outside_windows";
    }
    return "no_rate";
}

bool CopySchedule::runs_at(int64_t t, const std::vector<TimeWindow>& windows, bool started,
                           bool outside_begun) const {
    if (window_at(windows, t) == kNoWindow)
        return outside_from != 0 && (t >= outside_from || outside_begun);
    return resumable ? started || verdict != CopyVerdict::fits || t >= start : t >= start;
}

int64_t CopySchedule::runs_from(int64_t now, const std::vector<TimeWindow>& windows,
                                bool started) const {
    const bool due_now = resumable && (started || verdict != CopyVerdict::fits);
    const int64_t due = due_now ? now : std::max(now, start);
    int64_t at = 0;
    for (const TimeWindow& w : windows)
        if (w.ends > due) {
            at = std::max(due, w.starts);
            break;
        }
    if (outside_from != 0 && (at == 0 || outside_from < at))
        at = std::max(outside_from, now);
    return at;
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

namespace {

// The latest time from which `seconds` of time outside the windows lie
// before `until` (walking back from it through the gaps between windows);
// `from` if there is not that much.
int64_t latest_outside_start(const std::vector<TimeWindow>& windows, int64_t from, int64_t until,
                             int64_t seconds) {
    int64_t cursor = until;
    for (size_t i = windows.size(); i-- > 0 && cursor > from;) {
        const TimeWindow& w = windows[i];
        if (w.starts >= cursor)
            continue;
        const int64_t gap = cursor - std::min(std::max(w.ends, from), cursor);
        if (gap >= seconds)
            return cursor - seconds;
        seconds -= gap;
        cursor = std::max(w.starts, from);
    }
    return std::max(from, cursor - seconds);
}

// The window time a copy is planned for: its estimate x the safety factor,
// rounded up to a second (at least one).
int64_t planned_seconds(double seconds, double safety_factor) {
    const double planned = std::ceil(seconds * std::max(1.0, safety_factor));
    if (planned > 1e15)
        return int64_t{1000000000000000};
    return std::max<int64_t>(1, static_cast<int64_t>(planned));
}

// A resumable copy of copy_seconds of window time; `what` is how its length
// was found, for the reason.
CopySchedule plan_window_time(int64_t copy_seconds, const std::string& what, int64_t now,
                              int64_t crossing, const std::vector<TimeWindow>& windows,
                              const CopyOptions& options) {
    CopySchedule s;
    s.deadline = crossing - options.margin_seconds;
    s.copy_seconds = copy_seconds;
    s.available_seconds = window_seconds_between(windows, now, s.deadline);

    char factor[32];
    std::snprintf(factor, sizeof factor, ", x%.1f)", options.safety_factor);
    const std::string needs =
        "copy needs " + hours_text(s.copy_seconds) + " of window time (" + what + factor;
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
        s.reason =
            needs + "; " + hours_text(s.available_seconds) + " available before the deadline";
        return s;
    }
    // Cannot make it in the windows before the deadline: in every window
    // from now on.
    s.start = 0;
    if (window_at(windows, now) != kNoWindow)
        s.start = now;
    else
        for (const TimeWindow& w : windows)
            if (w.starts > now) {
                s.start = w.starts;
                break;
            }
    const std::string cannot = "cannot make it in the windows: " + needs + " but only " +
                               hours_text(s.available_seconds) + " lie before the deadline";
    if (options.outside_windows) {
        // And outside them from the latest time that still finishes by the
        // deadline: every window before it, all the time after it.
        const int64_t shortfall = s.copy_seconds - s.available_seconds;
        if (s.deadline - now < s.copy_seconds) {
            s.outside_from = now;
        } else {
            s.outside_from = latest_outside_start(windows, now, s.deadline, shortfall);
            const int64_t g = options.start_granularity_seconds;
            if (g > 1) {
                const int64_t r = s.outside_from % g;
                s.outside_from -= r < 0 ? r + g : r;
            }
            s.outside_from = std::max(s.outside_from, now);
        }
        const int64_t before = window_seconds_between(windows, now, s.outside_from);
        s.finish = s.outside_from + (s.copy_seconds - before);
        s.outside_seconds =
            (s.finish - s.outside_from) - window_seconds_between(windows, s.outside_from, s.finish);
        if (s.start == 0 || s.outside_from < s.start)
            s.start = s.outside_from;
        s.verdict = s.finish <= s.deadline ? CopyVerdict::outside_windows : CopyVerdict::late;
        s.reason =
            cannot + "; " + hours_text(s.outside_seconds) +
            " of it outside the windows, without a pause from " +
            (s.outside_from > now ? "in " + hours_text(s.outside_from - now) : std::string("now")) +
            " on (presplit.late_copy_outside_windows)" +
            (s.available_seconds > 0 ? std::string(", the windows before that first")
                                     : std::string());
        s.reason +=
            s.verdict == CopyVerdict::outside_windows
                ? ": it finishes " + hours_text(s.deadline - s.finish) + " before the deadline"
                : ": it would finish " + hours_text(s.finish - s.deadline) + " late";
        return s;
    }
    s.finish = finish_after_window_time(windows, now, s.copy_seconds);
    s.verdict = s.finish != 0 ? CopyVerdict::late : CopyVerdict::no_window;
    s.reason = cannot;
    if (s.verdict == CopyVerdict::late)
        s.reason += "; it would finish " + hours_text(s.finish - s.deadline) + " late";
    else
        s.reason += "; the windows known end before it could finish";
    s.reason += " (inside the windows only: presplit.late_copy_outside_windows is off)";
    return s;
}

// A copy that cannot pause once started: see plan_copy(estimate, ...).
CopySchedule plan_unpausable(const RemoteCopyEstimate& estimate, int64_t now, int64_t crossing,
                             const std::vector<TimeWindow>& windows, const CopyOptions& options) {
    CopySchedule s;
    s.resumable = false;
    s.deadline = crossing - options.margin_seconds;
    if (!(estimate.seconds > 0)) {
        s.verdict = CopyVerdict::no_rate;
        s.reason = "no estimate of the copy's length (" + estimate.reason + ")";
        return s;
    }
    RemoteStartOptions start_options;
    start_options.safety_factor = options.safety_factor;
    start_options.window_start_slack_seconds = options.window_start_slack_seconds;
    // The worker's own rule, asked at a start considered.
    auto verdict_at = [&](int64_t t) {
        return decide_remote_copy_start(estimate, t, windows, start_options).verdict;
    };
    s.copy_seconds = planned_seconds(estimate.seconds, options.safety_factor);
    const int64_t c = s.copy_seconds;

    // The starts the worker could take: now inside a window, each window's
    // start after now (what is left of a window only shrinks inside it).
    std::vector<int64_t> candidates;
    for (const TimeWindow& w : windows)
        if (w.ends > now)
            candidates.push_back(std::max(w.starts, now));
    int64_t earliest = 0;
    RemoteStartVerdict earliest_verdict = RemoteStartVerdict::wait;
    for (int64_t t : candidates)
        if ((earliest_verdict = verdict_at(t)) != RemoteStartVerdict::wait) {
            earliest = t;
            break;
        }

    char factor[32];
    std::snprintf(factor, sizeof factor, " x%.1f = ", std::max(1.0, options.safety_factor));
    const std::string numbers = "estimated " +
                                hours_text(static_cast<int64_t>(std::ceil(estimate.seconds))) +
                                factor + hours_text(c) + " (" + estimate.reason + ")";

    // The latest start whose window holds it whole before the deadline,
    // leaving the worker its slack where the window has it to spare.
    for (size_t i = windows.size(); i-- > 0;) {
        const int64_t a = std::max(windows[i].starts, now);
        const int64_t b = std::min(windows[i].ends, s.deadline);
        if (a >= b)
            continue;
        s.available_seconds = std::max(s.available_seconds, b - a);
        if (s.latest_start != 0 || b - a < c)
            continue;
        int64_t t = std::min(b, windows[i].ends - options.window_start_slack_seconds) - c;
        const int64_t g = options.start_granularity_seconds;
        if (g > 1) {
            const int64_t r = t % g;
            t -= r < 0 ? r + g : r;
        }
        t = std::max(t, a);
        if (verdict_at(t) == RemoteStartVerdict::start)
            s.latest_start = t;
    }
    const std::string cannot_pause =
        "the copy to another server cannot pause: it starts only where it fits in what is left "
        "of one window; ";
    if (s.latest_start != 0) {
        s.verdict = CopyVerdict::fits;
        s.start = options.start_early && earliest != 0 ? earliest : s.latest_start;
        s.finish = s.start + c;
        s.reason = cannot_pause + numbers + "; the longest window time before the deadline is " +
                   hours_text(s.available_seconds);
        return s;
    }
    if (earliest == 0) {
        s.verdict = CopyVerdict::no_window;
        s.reason = cannot_pause + numbers + "; no window ahead is known";
        return s;
    }
    if (earliest_verdict == RemoteStartVerdict::start) {
        s.verdict = CopyVerdict::late;
        s.start = earliest;
        s.finish = s.start + c;
        s.reason = "cannot make it: " + cannot_pause + numbers +
                   "; no window before the deadline holds it (the longest holds " +
                   hours_text(s.available_seconds) + "); it would finish " +
                   hours_text(s.finish - s.deadline) + " late";
        return s;
    }
    // Longer than any whole window: it starts at a window's start, the
    // latest that still finishes before the deadline, else the earliest.
    s.verdict = CopyVerdict::too_long;
    for (size_t i = candidates.size(); i-- > 0;)
        if (candidates[i] + c <= s.deadline && candidates[i] >= earliest &&
            verdict_at(candidates[i]) == RemoteStartVerdict::start_long) {
            s.latest_start = candidates[i];
            break;
        }
    s.start = s.latest_start != 0 && !options.start_early ? s.latest_start : earliest;
    s.finish = s.start + c;
    s.reason = cannot_pause + numbers +
               ", longer than any whole window: it starts at a window's start and runs past its "
               "end, paced; ";
    s.reason += s.finish <= s.deadline
                    ? "it finishes " + hours_text(s.deadline - s.finish) + " before the deadline"
                    : "it would finish " + hours_text(s.finish - s.deadline) + " late";
    return s;
}

} // namespace

CopySchedule plan_copy(double bytes_remaining, double bytes_per_second, int64_t now,
                       int64_t crossing, const std::vector<TimeWindow>& windows,
                       const CopyOptions& options) {
    if (!(bytes_remaining > 0)) {
        CopySchedule s;
        s.resumable = options.resumable;
        s.deadline = crossing - options.margin_seconds;
        s.verdict = CopyVerdict::done;
        s.start = s.finish = now;
        s.reason = "nothing left to copy";
        // What follows the copy (its verification) waits for a window as
        // the copy does, unless none begins before the deadline.
        if (options.outside_windows && options.resumable) {
            int64_t next = 0;
            for (const TimeWindow& w : windows)
                if (w.ends > now) {
                    next = std::max(w.starts, now);
                    break;
                }
            if (next == 0 || next >= s.deadline) {
                s.outside_from = now;
                s.reason += "; no window begins before the deadline: what follows the copy runs "
                            "outside the windows now (presplit.late_copy_outside_windows)";
            }
        }
        return s;
    }
    if (!(bytes_per_second > 0)) {
        CopySchedule s;
        s.resumable = options.resumable;
        s.deadline = crossing - options.margin_seconds;
        s.verdict = CopyVerdict::no_rate;
        s.reason = "no copy rate measured yet";
        return s;
    }
    char what[96];
    std::snprintf(what, sizeof what, "%.0f bytes at %.0f bytes/s", bytes_remaining,
                  bytes_per_second);
    if (!options.resumable)
        return plan_unpausable(RemoteCopyEstimate{bytes_remaining / bytes_per_second, what}, now,
                               crossing, windows, options);
    return plan_window_time(
        planned_seconds(bytes_remaining / bytes_per_second, options.safety_factor), what, now,
        crossing, windows, options);
}

CopySchedule plan_copy(const RemoteCopyEstimate& estimate, int64_t now, int64_t crossing,
                       const std::vector<TimeWindow>& windows, const CopyOptions& options) {
    if (!options.resumable)
        return plan_unpausable(estimate, now, crossing, windows, options);
    if (!(estimate.seconds > 0)) {
        CopySchedule s;
        s.deadline = crossing - options.margin_seconds;
        s.verdict = CopyVerdict::no_rate;
        s.reason = "no estimate of the copy's length (" + estimate.reason + ")";
        return s;
    }
    return plan_window_time(planned_seconds(estimate.seconds, options.safety_factor),
                            "estimated " +
                                hours_text(static_cast<int64_t>(std::ceil(estimate.seconds))) +
                                ": " + estimate.reason,
                            now, crossing, windows, options);
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
    r.copy_seconds = planned_seconds(estimate.seconds, factor);
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
