// Waiting and timing in a backend or the worker, in one place.
#pragma once

extern "C" {
#include "postgres.h"
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

} // namespace presplit::pg
