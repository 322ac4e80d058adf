// Waiting and timing in a backend or the worker, in one place.
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "portability/instr_time.h"
}

#include <cstdint>

namespace presplit::pg {

// Sleeps up to `ms`, waking early when the process latch is set (a new plan,
// a shutdown request, a reload), then handles interrupts (a cancel request
// raises its ERROR here).
void sleep_on_latch(int64_t ms);

instr_time now();
double elapsed_ms(instr_time since);

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
