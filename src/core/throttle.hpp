// How long the backfill pauses between batches. Two brakes:
//   - a rate cap: a batch of n rows may not take less than n / max_rate s;
//   - foreground load: while more client backends are active than the
//     threshold, the worker backs off for a fixed time instead of copying.
// "Active" is pg_stat_activity's state = 'active' for client backends other
// than the worker itself: cheap to read, and it rises exactly when queries
// queue up, which is when a copy would hurt most.
#pragma once

#include <cstdint>

namespace presplit::core {

struct ThrottleSettings {
    double max_rows_per_second = 0; // 0: no cap
    int busy_active_backends = 0;   // 0: never back off for load
    int64_t backoff_ms = 1000;      // pause while the server is busy
};

// Whether to skip copying for now because the foreground is busy.
bool foreground_is_busy(const ThrottleSettings& settings, int active_backends);

// Milliseconds to pause after a batch of `rows` that took `elapsed_ms`, so
// that the long-run rate stays at or below the cap.
int64_t pause_after_batch_ms(const ThrottleSettings& settings, uint64_t rows, double elapsed_ms);

} // namespace presplit::core
