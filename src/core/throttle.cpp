#include "core/throttle.hpp"

#include <cmath>

#include "core/cpp_only.hpp"

namespace presplit::core {

bool foreground_is_busy(const ThrottleSettings& settings, int active_backends) {
    return settings.busy_active_backends > 0 && active_backends > settings.busy_active_backends;
}

int64_t pause_after_batch_ms(const ThrottleSettings& settings, uint64_t rows, double elapsed_ms) {
    if (settings.max_rows_per_second <= 0 || rows == 0)
        return 0;
    double minimum_ms = static_cast<double>(rows) * 1000.0 / settings.max_rows_per_second;
    double pause = minimum_ms - (elapsed_ms > 0 ? elapsed_ms : 0);
    return pause > 0 ? static_cast<int64_t>(std::ceil(pause)) : 0;
}

} // namespace presplit::core
