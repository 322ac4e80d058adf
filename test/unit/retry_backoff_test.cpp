#include "core/retry_backoff.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

TEST(RetryBackoff, DoublesFromHalfASecondUpToTen) {
    EXPECT_EQ(retry_delay_ms(1), 500);
    EXPECT_EQ(retry_delay_ms(2), 1000);
    EXPECT_EQ(retry_delay_ms(5), 8000);
    EXPECT_EQ(retry_delay_ms(6), 10000);
    EXPECT_EQ(retry_delay_ms(1000000), 10000);
    EXPECT_EQ(retry_delay_ms(0), 500);
}

TEST(RetryBackoff, WaitsUntilTheNextTry) {
    RetryBackoff backoff;
    EXPECT_EQ(backoff.wait_ms(7, 1000), 0); // never failed
    EXPECT_FALSE(backoff.failing(7));
    EXPECT_EQ(backoff.failed(7, 1000, "down").retry_in_ms, 500);
    EXPECT_EQ(backoff.wait_ms(7, 1200), 300);
    EXPECT_EQ(backoff.wait_ms(7, 1500), 0);
    EXPECT_EQ(backoff.wait_ms(8, 1200), 0); // keys are apart
    EXPECT_EQ(backoff.failed(7, 1500, "down").retry_in_ms, 1000);
    EXPECT_EQ(backoff.wait_ms(7, 1500), 1000);
    EXPECT_TRUE(backoff.failing(7));
    backoff.succeeded(7);
    EXPECT_FALSE(backoff.failing(7));
    EXPECT_EQ(backoff.wait_ms(7, 1500), 0);
    EXPECT_EQ(backoff.failed(7, 1500, "down").in_a_row, 1); // starts over
}

TEST(RetryBackoff, ReportsFirstChangedAndPowersOfTwo) {
    RetryBackoff backoff;
    std::string reported;
    int64_t now = 0;
    for (int i = 1; i <= 360; ++i) {
        const RetryBackoff::Failure failure = backoff.failed(1, now, "down");
        EXPECT_EQ(failure.in_a_row, i);
        if (failure.report)
            reported += std::to_string(i) + " ";
        now += failure.retry_in_ms;
    }
    EXPECT_EQ(reported, "1 2 4 8 16 32 64 128 256 ");
    // About an hour of tries.
    EXPECT_GT(now, 3500 * 1000);
    EXPECT_TRUE(backoff.failed(1, now, "refused").report); // another message
    EXPECT_FALSE(backoff.failed(1, now, "refused").report);
    EXPECT_TRUE(backoff.failed(1, now, "down").report);
}

TEST(RetryBackoff, Describes) {
    RetryBackoff backoff;
    backoff.failed(1, 0, "down");
    EXPECT_EQ(describe_retry(backoff.failed(1, 0, "down")),
              "failure 2 in a row, next try in 1.0 s");
}
