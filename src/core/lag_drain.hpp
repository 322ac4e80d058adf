// Before a lock that must wait for another server to catch up (a cutover, a
// verification's cut, a rollback after the cutover), the lag is drained
// without the lock: rounds of "mark this server's position, wait until the
// other side has applied it", each as long as the lag it found. Under the
// lock the wait is about one more such round, so the drain goes on until a
// round is as short as it will get:
//   - a round longer than the lock timeout: another round (the other side
//     does not keep up yet), or give up once the drain's time is used up;
//   - a round of at most a fifth of the lock timeout: short, lock now;
//   - a round more than two thirds of the one before it: the lag no longer
//     shrinks (each round is about the apply's own latency), lock now;
//   - the drain's time used up: lock now (the round was within the lock
//     timeout);
//   - otherwise another round: the lag shrank, the next round will be
//     shorter (at most about five more, each under 2/3 of the one before).
// Stopping at the first round within the lock timeout, as before, locked
// after a round of up to the whole timeout and then waited about as long
// under the lock (docs/multi_server.md, *The wait at the cutover*).
#pragma once

#include <optional>

namespace presplit::core {

enum class DrainAction {
    lock,    // lock now
    again,   // drain another round first
    give_up, // the other side does not keep up within the drain's time
};

class LagDrain {
public:
    LagDrain(double lock_timeout_ms, double drain_timeout_ms)
        : lock_timeout_ms_(lock_timeout_ms), drain_timeout_ms_(drain_timeout_ms) {}

    // After a round that took round_ms, elapsed_ms since the drain began.
    DrainAction after_round(double round_ms, double elapsed_ms);

    int rounds() const { return rounds_; }

private:
    double lock_timeout_ms_;
    double drain_timeout_ms_;
    std::optional<double> previous_ms_;
    int rounds_ = 0;
};

} // namespace presplit::core
