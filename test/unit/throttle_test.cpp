#include "core/throttle.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

TEST(Throttle, NoCapMeansNoPause) {
    ThrottleSettings settings;
    EXPECT_EQ(pause_after_batch_ms(settings, 10000, 1.0), 0);
}

TEST(Throttle, CapStretchesFastBatches) {
    ThrottleSettings settings;
    settings.max_rows_per_second = 1000;
    EXPECT_EQ(pause_after_batch_ms(settings, 500, 100.0), 400); // 500 rows need 500 ms
    EXPECT_EQ(pause_after_batch_ms(settings, 500, 600.0), 0);   // already slower than the cap
    EXPECT_EQ(pause_after_batch_ms(settings, 0, 0.0), 0);
    EXPECT_EQ(pause_after_batch_ms(settings, 1, -5.0), 1); // clock went backwards
}

TEST(Throttle, BusyOnlyAboveTheThreshold) {
    ThrottleSettings settings;
    EXPECT_FALSE(foreground_is_busy(settings, 1000)); // 0 disables
    settings.busy_active_backends = 4;
    EXPECT_FALSE(foreground_is_busy(settings, 4));
    EXPECT_TRUE(foreground_is_busy(settings, 5));
}
