#include "core/lag_drain.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

TEST(LagDrain, ShortRoundLocksAtOnce) {
    LagDrain drain(50, 10000);
    EXPECT_EQ(drain.after_round(8, 8), DrainAction::lock);
    EXPECT_EQ(drain.rounds(), 1);
}

TEST(LagDrain, RoundWithinTheTimeoutButLongDrainsAgain) {
    // Before: a first round of 49 ms locked, and the lock then waited about
    // as long for the other server.
    LagDrain drain(50, 10000);
    EXPECT_EQ(drain.after_round(49, 49), DrainAction::again);
    EXPECT_EQ(drain.after_round(20, 69), DrainAction::again); // shrank: 20 < 49 * 2/3
    EXPECT_EQ(drain.after_round(18, 87), DrainAction::lock);  // no longer shrinks
    EXPECT_EQ(drain.rounds(), 3);
}

TEST(LagDrain, ShrinksUntilShort) {
    LagDrain drain(50, 10000);
    EXPECT_EQ(drain.after_round(300, 300), DrainAction::again); // does not keep up yet
    EXPECT_EQ(drain.after_round(45, 345), DrainAction::again);
    EXPECT_EQ(drain.after_round(25, 370), DrainAction::again);
    EXPECT_EQ(drain.after_round(10, 380), DrainAction::lock); // a fifth of the timeout
}

TEST(LagDrain, ALongerRoundAfterAShorterOneLocksWithinTheTimeout) {
    LagDrain drain(50, 10000);
    EXPECT_EQ(drain.after_round(30, 30), DrainAction::again);
    EXPECT_EQ(drain.after_round(40, 70), DrainAction::lock); // longer: not shrinking
}

TEST(LagDrain, GivesUpOnlyOnRoundsLongerThanTheLockTimeout) {
    LagDrain drain(50, 1000);
    EXPECT_EQ(drain.after_round(600, 600), DrainAction::again);
    EXPECT_EQ(drain.after_round(500, 1100), DrainAction::give_up);
    LagDrain late(50, 1000);
    EXPECT_EQ(late.after_round(900, 900), DrainAction::again);
    // Shrinking still, but the drain's time is used up: within the lock
    // timeout, so it locks rather than gives up.
    EXPECT_EQ(late.after_round(40, 1040), DrainAction::lock);
}

TEST(LagDrain, BoundedRoundsWhileShrinking) {
    LagDrain drain(50, 1e9);
    double round = 50, elapsed = 0;
    DrainAction action = DrainAction::again;
    while (action == DrainAction::again) {
        elapsed += round;
        action = drain.after_round(round, elapsed);
        round = round * 2 / 3 - 0.01; // shrinks just enough to go on
    }
    EXPECT_EQ(action, DrainAction::lock);
    EXPECT_LE(drain.rounds(), 6);
}
