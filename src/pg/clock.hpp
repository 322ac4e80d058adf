// Waiting and timing in a backend or the worker, in one place.
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "portability/instr_time.h"
}

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace presplit::pg {

// Sleeps up to `ms`, waking early when the process latch is set (a new plan,
// a shutdown request, a reload), then handles interrupts (a cancel request
// raises its ERROR here).
void sleep_on_latch(int64_t ms);
// Sleeps out all of `ms` (a rate cap's pause), however often the latch wakes
// it (a walsender's is set by every WAL flush); interrupts still interrupt.
void sleep_out(int64_t ms);

instr_time now();
double elapsed_ms(instr_time since);

// The time each step of a sequence took, for an event's detail (what a
// cutover does under its lock: "the wait 15.2 ms, detach 2.1 ms, ...").
class StepTimes {
public:
    StepTimes() : last_(now()) {}
    // The time since the previous step (or since construction) is `name`'s.
    void step(const char* name);
    // "name 1.2 ms, name 3.4 ms" in the order taken; empty with no step.
    std::string summary() const;

private:
    instr_time last_;
    std::vector<std::pair<const char*, double>> steps_;
};

// The analyzer's and the predictor's clock, in seconds since 1970-01-01 UTC:
// the wall clock, or with presplit.clock_rate = r > 1 a simulated one that
// runs r times faster from the server's start (so that a test or a demo
// lives through days in minutes). Ramps, lock timeouts and the rollback
// window stay on the wall clock.
int64_t model_now_seconds();
// The model-clock time of the moment wall_seconds_ago of wall time ago (the
// catalog keeps its times, e.g. a plan's cutover, on the wall clock).
int64_t model_seconds_ago(double wall_seconds_ago);
// A model-clock time as a timestamptz (what the views show).
TimestampTz model_timestamp(int64_t seconds);

} // namespace presplit::pg
