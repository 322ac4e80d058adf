// When to copy a predicted plan's rows: inside off-peak windows only, so that
// the copy finishes before the predicted crossing with a margin.
//
// copy time = bytes remaining / measured copy rate x safety factor, to be
// found in window time before (crossing - margin). The copy starts at the
// LATEST start that still makes it: the shadows then need capture (a trigger
// on every write of the source) for the shortest time; or, with start_early,
// at the first window time from now (more slack should the crossing come
// sooner than forecast; the simulator measured no difference in synced plans
// once the crossing is judged on the upper bound with headroom, and more
// capture time: docs/prediction.md). A local backfill may span several
// windows (it is resumable). When the window time before the deadline is too
// short for a resumable copy the schedule says so: with
// CopyOptions::outside_windows (presplit.late_copy_outside_windows) the
// shortfall is copied outside the windows, as late as still finishes by the
// deadline (every window from now first, then without a pause from
// outside_from: capture runs shortest, and a forecast that changes its mind
// meanwhile saves that copy): verdict outside_windows, or late when even a
// copy without a pause from now finishes after the deadline. Without it
// ("cannot make it"): it starts at the next window and reports when it would
// finish.
// A copy that cannot pause once started (a remote target's table sync,
// CopyOptions::resumable false) must fit in what is left of ONE window when
// it starts: the schedule then asks decide_remote_copy_start, the worker's
// own rule, at each start it considers, so the two never disagree.
// Pure: time and windows are passed in. docs/prediction.md has the reasoning.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/offpeak.hpp"

namespace presplit::core {

enum class CopyVerdict {
    done,      // nothing left to copy
    fits,      // finishes inside windows before the deadline
    late,      // the windows before the deadline are too short: finish is after it
    no_window, // not enough window time in the windows given at all
    no_rate,   // no copy rate measured (or assumed) yet
    // The windows before the deadline are too short for a resumable copy:
    // with the shortfall copied outside the windows from outside_from on, it
    // finishes by the deadline (CopyOptions::outside_windows).
    outside_windows,
    // A copy that cannot pause, longer than any whole window: it starts at a
    // window's start (decide_remote_copy_start's start_long) and runs past
    // its end; latest_start != 0: it still finishes before the deadline.
    too_long,
};
const char* to_string(CopyVerdict verdict);

// Plan for this many times the estimated copy time: the manager's schedule
// and the worker's start of a remote copy alike.
constexpr double kCopySafetyFactor = 1.5;
// The worker sees a window begin (or a copy released) a round or two late:
// a copy that cannot pause is planned with this much to spare (at most a
// quarter of the window, decide_remote_copy_start; at most what the window
// has to spare, plan_copy).
constexpr int64_t kWindowStartSlackSeconds = 3600;
// The copy rate is measured from this many of the most recent copies that
// finished (copy_rate over the catalog's copy measures).
constexpr size_t kRecentCopies = 5;

struct CopyOptions {
    double safety_factor = kCopySafetyFactor; // plan for this many times the copy time
    int64_t margin_seconds = 3600;            // finish this long before the crossing
    // The start is rounded down to a multiple of this (the caller's round
    // interval), so that the round that starts the copy still sees it fit.
    int64_t start_granularity_seconds = 60;
    bool start_early = false; // at the first window time, not the latest that fits
    // false: the copy cannot pause once started (a remote target's table
    // sync): it starts only where it fits in what is left of one window (or,
    // longer than any window, at a window's start), as the worker decides.
    bool resumable = true;
    int64_t window_start_slack_seconds = kWindowStartSlackSeconds; // (not resumable)
    // A resumable copy the windows before the deadline cannot hold copies
    // the shortfall outside them, as late as still finishes by the deadline
    // (presplit.late_copy_outside_windows); false: inside windows only. A
    // copy that cannot pause keeps to decide_remote_copy_start either way.
    bool outside_windows = true;
};

struct CopySchedule {
    CopyVerdict verdict = CopyVerdict::no_rate;
    bool resumable = true;    // CopyOptions::resumable
    int64_t copy_seconds = 0; // window time needed (safety factor included)
    // Window time between now and the deadline; for a copy that cannot
    // pause, the longest part of one window between them.
    int64_t available_seconds = 0;
    int64_t deadline = 0;     // crossing - margin
    int64_t start = 0;        // when to start copying (inside a window)
    int64_t latest_start = 0; // the latest start that still fits (0: none)
    int64_t finish = 0;       // when the planned copy time is used up (0: never)
    // Resumable and the windows too short (CopyOptions::outside_windows):
    // from this time on the copy runs outside the windows too, without a
    // pause until it is done (as late as still finishes by the deadline;
    // now when even that cannot: verdict late). 0: inside windows only.
    int64_t outside_from = 0;
    int64_t outside_seconds = 0; // of the planned copy time, outside the windows
    std::string reason;          // the numbers, in words

    // Finishes by the deadline (outside the windows too, if need be).
    bool can_make_it() const { return verdict == CopyVerdict::outside_windows || in_windows(); }
    // Finishes by the deadline inside the windows (a copy that cannot pause:
    // starting in one).
    bool in_windows() const {
        return verdict == CopyVerdict::fits || verdict == CopyVerdict::done ||
               (verdict == CopyVerdict::too_long && latest_start != 0);
    }
    // Whether the copy runs at time t (a round's now) by this schedule:
    // inside a window once it is due (at once if `started` before, or the
    // windows cannot make it; else from start; a copy that cannot pause only
    // from start), and outside the windows from outside_from on (or, once
    // begun there, `outside_begun`, while the windows still fall short: a
    // copy that shrinks as it goes must not stop and start each round).
    bool runs_at(int64_t t, const std::vector<TimeWindow>& windows, bool started,
                 bool outside_begun) const;
    // The earliest time from `now` on at which runs_at would say yes, if
    // nothing else changed; 0: none (no window ahead, no outside_from).
    int64_t runs_from(int64_t now, const std::vector<TimeWindow>& windows, bool started) const;
};

// windows: sorted, disjoint (offpeak.hpp). bytes_per_second: the measured
// copy rate of the migration engine (bytes of the source per second of copy).
CopySchedule plan_copy(double bytes_remaining, double bytes_per_second, int64_t now,
                       int64_t crossing, const std::vector<TimeWindow>& windows,
                       const CopyOptions& options);

// One recent copy as the catalog recorded it: the source's bytes the
// backfill copied and the wall seconds its batches took (the throttle's
// pauses included, waits for an off-peak window or a busy server not).
struct CopyMeasure {
    double bytes = 0;
    double seconds = 0;
};

// The copy rate a schedule uses, on the model clock (bytes per model second).
struct CopyRate {
    double bytes_per_second = 0; // model clock
    double wall_bytes_per_second = 0;
    bool measured = false; // false: the assumption
    size_t copies = 0;     // measures it came from
    std::string reason;    // the rate and where it came from, in words
};

struct CopyRateOptions {
    double assumed_bytes_per_wall_second = 2.0 * 1024 * 1024; // without a measure
    double min_seconds = 0.25; // less copying than this in all is no measure (noise)
    double clock_rate = 1;     // presplit.clock_rate: a wall second lasts this many model seconds
};

// The measured rate of recent copies (total bytes / total seconds of those
// with both > 0), or the assumption with the reason when there is none or
// too little; divided by the clock rate for the model clock.
CopyRate copy_rate(const std::vector<CopyMeasure>& recent, const CopyRateOptions& options);

// A duration in hours for the decisions' reasons, e.g. "2.5 h".
std::string hours_text(int64_t seconds);

// The time by which `seconds` of window time from `from` on are used up
// (0 if the windows end first).
int64_t finish_after_window_time(const std::vector<TimeWindow>& windows, int64_t from,
                                 int64_t seconds);

// --- when a remote target's copy may start ----------------------------------
//
// A remote target's copy is PostgreSQL's initial table sync: one COPY in one
// transaction, paced but never held, and lost if stopped
// (docs/multi_server.md, "Throttling the remote copy"). So where off-peak
// windows restrict a copy (a predicted plan's), it starts inside a window
// only if its estimate fits in what is left of the window; otherwise at the
// start of the next window. A copy longer than any whole window ahead
// starts at a window's start (it overruns that window in any case).

// The copy's estimated length on the model clock.
struct RemoteCopyEstimate {
    double seconds = 0; // 0: nothing to estimate with
    std::string reason; // the numbers, in words
};

// rows, bytes: the source partition's (a remote target copies its range of
// it, so this is an upper bound); 0 when unknown. max_rows_per_second:
// presplit.backfill_max_rows_per_second (0: no cap), which paces the copy;
// rate: the local backfill's copy rate (copy_rate(), measured or assumed).
// With a cap, rows over the cap, or the measured rate if it is slower;
// without one, bytes over the rate. Wall seconds times clock_rate.
RemoteCopyEstimate estimate_remote_copy(double rows, double bytes, double max_rows_per_second,
                                        const CopyRate& rate, double clock_rate);

enum class RemoteStartVerdict {
    start,      // fits in what is left of the window (or nothing restricts it)
    start_long, // longer than any whole window ahead: starts at this window's start
    wait,       // waits for the next window's start
};
const char* to_string(RemoteStartVerdict verdict);

struct RemoteStartOptions {
    double safety_factor = kCopySafetyFactor; // plan for this many times the estimate
    // A copy longer than any window starts when what is left of this window
    // is at least the longest whole window ahead less this much (at most a
    // quarter of it): the worker sees a window begin a round or two late.
    int64_t window_start_slack_seconds = kWindowStartSlackSeconds;
};

struct RemoteCopyStart {
    RemoteStartVerdict verdict = RemoteStartVerdict::start;
    int64_t copy_seconds = 0;           // the estimate x safety factor (0: no estimate)
    int64_t window_left_seconds = 0;    // of the window now (0: outside any)
    int64_t longest_window_seconds = 0; // the longest whole window starting after now
    int64_t wait_until = 0;             // wait: the next window's start
    std::string reason;                 // the numbers, in words

    bool starts() const { return verdict != RemoteStartVerdict::wait; }
};

// windows: sorted, disjoint, from the last round on (offpeak.hpp); empty:
// none known, nothing restricts the copy. Pure.
RemoteCopyStart decide_remote_copy_start(const RemoteCopyEstimate& estimate, int64_t now,
                                         const std::vector<TimeWindow>& windows,
                                         const RemoteStartOptions& options);

// plan_copy for a copy whose length is estimated (a remote target's copy:
// estimate_remote_copy, the worker's estimate). Not resumable
// (options.resumable false): it starts only where decide_remote_copy_start,
// with options' safety factor and slack, starts it -- at the latest start
// whose window holds it before the deadline (verdict fits), else at the
// earliest start (late), or, longer than any whole window ahead, at a
// window's start (too_long: the latest that still finishes before the
// deadline, else the earliest). Resumable: as plan_copy above, with the
// estimate as its copy time.
CopySchedule plan_copy(const RemoteCopyEstimate& estimate, int64_t now, int64_t crossing,
                       const std::vector<TimeWindow>& windows, const CopyOptions& options);

} // namespace presplit::core
