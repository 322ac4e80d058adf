#include "core/lag_drain.hpp"

namespace presplit::core {

DrainAction LagDrain::after_round(double round_ms, double elapsed_ms) {
    const std::optional<double> previous = previous_ms_;
    previous_ms_ = round_ms;
    ++rounds_;
    if (round_ms > lock_timeout_ms_)
        return elapsed_ms > drain_timeout_ms_ ? DrainAction::give_up : DrainAction::again;
    if (round_ms <= lock_timeout_ms_ / 5)
        return DrainAction::lock;
    if (previous && round_ms > *previous * 2 / 3)
        return DrainAction::lock;
    if (elapsed_ms > drain_timeout_ms_)
        return DrainAction::lock;
    return DrainAction::again;
}

} // namespace presplit::core
