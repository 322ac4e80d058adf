#include "core/lock_wait.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

LockWaitSettings settings() {
    LockWaitSettings s;
    s.lock_timeout_ms = 50;
    s.max_tries = 3;
    s.max_wait_ms = 1000;
    s.poll_ms = 20;
    s.cancel_again_ms = 500;
    return s;
}

LockHolder other(uint64_t id, std::optional<int64_t> started_ms) {
    return {id, HolderKind::other, started_ms};
}
LockHolder autovacuum(uint64_t id, HolderKind kind = HolderKind::autovacuum) {
    return {id, kind, std::nullopt};
}

} // namespace

TEST(LockWait, BackoffDoublesUpToOneSecond) {
    EXPECT_EQ(lock_backoff_ms(0), 0);
    EXPECT_EQ(lock_backoff_ms(1), 10);
    EXPECT_EQ(lock_backoff_ms(2), 20);
    EXPECT_EQ(lock_backoff_ms(7), 640);
    EXPECT_EQ(lock_backoff_ms(8), 1000);
    EXPECT_EQ(lock_backoff_ms(40), 1000);
}

TEST(LockWait, NoHoldersTriesAtOnce) {
    LockWait wait(settings(), 1000);
    LockDecision decision = wait.next(1000, {});
    EXPECT_EQ(decision.action, LockAction::try_lock);
    EXPECT_TRUE(decision.cancel.empty());
    EXPECT_TRUE(decision.waiting_for.empty());
}

TEST(LockWait, ShortHoldersAreTriedPast) {
    // Transactions younger than one try's timeout: a try queues behind them briefly.
    LockWait wait(settings(), 1000);
    LockDecision decision = wait.next(1000, {other(1, 990), other(2, 951), other(3, std::nullopt)});
    EXPECT_EQ(decision.action, LockAction::try_lock);
    EXPECT_TRUE(decision.waiting_for.empty());
}

TEST(LockWait, LongHolderIsWaitedForWithoutARequest) {
    LockWait wait(settings(), 1000);
    // A query running for 10 s: no request while it holds its lock.
    LockDecision decision = wait.next(1000, {other(1, 1000 - 10000), other(2, 995)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_EQ(decision.wait_ms, 20);
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{1});
    EXPECT_EQ(decision.newly_waiting_for, std::vector<uint64_t>{1});
    EXPECT_TRUE(decision.cancel.empty());
    // Reported once only.
    decision = wait.next(1020, {other(1, 1000 - 10000)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{1});
    EXPECT_TRUE(decision.newly_waiting_for.empty());
    // Gone: try at once, with the short holders that remain.
    decision = wait.next(1040, {other(3, 1030)});
    EXPECT_EQ(decision.action, LockAction::try_lock);
    EXPECT_EQ(wait.tries(), 0);
}

TEST(LockWait, HolderOfUnknownAgeCountsFromWhenFirstSeen) {
    LockWait wait(settings(), 1000);
    EXPECT_EQ(wait.next(1000, {other(7, std::nullopt)}).action, LockAction::try_lock);
    wait.tried(1050, false);
    // Still there a try's timeout after it was first seen: a long holder now.
    LockDecision decision = wait.next(1060, {other(7, std::nullopt)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{7});
    // Its reported start counts if it is earlier.
    LockWait other_wait(settings(), 1000);
    EXPECT_EQ(other_wait.next(1000, {other(7, 900)}).action, LockAction::wait);
}

TEST(LockWait, AutovacuumIsCancelledAndWaitedFor) {
    LockWait wait(settings(), 1000);
    // Whatever its age, and besides short holders.
    LockDecision decision = wait.next(1000, {autovacuum(5), other(2, 999)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_EQ(decision.cancel, std::vector<uint64_t>{5});
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{5});
    // Still there: no request while it goes, and no second signal yet.
    decision = wait.next(1020, {autovacuum(5), other(2, 999)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_TRUE(decision.cancel.empty());
    // Still there after cancel_again_ms: signalled again.
    decision = wait.next(1500, {autovacuum(5)});
    EXPECT_EQ(decision.cancel, std::vector<uint64_t>{5});
    // The same worker on its next table is a new transaction: cancelled at once.
    decision = wait.next(1520, {autovacuum(6)});
    EXPECT_EQ(decision.cancel, std::vector<uint64_t>{6});
    EXPECT_EQ(decision.newly_waiting_for, std::vector<uint64_t>{6});
    // Gone: try.
    decision = wait.next(1540, {other(9, 1530)});
    EXPECT_EQ(decision.action, LockAction::try_lock);
    EXPECT_TRUE(decision.cancel.empty());
}

TEST(LockWait, WraparoundAutovacuumIsNeverCancelled) {
    LockWait wait(settings(), 1000);
    LockDecision decision = wait.next(1000, {autovacuum(5, HolderKind::wraparound_autovacuum)});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_TRUE(decision.cancel.empty());
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{5});
    decision = wait.next(1800, {autovacuum(5, HolderKind::wraparound_autovacuum)});
    EXPECT_TRUE(decision.cancel.empty());
}

TEST(LockWait, FailedTryBacksOffWhileStillWatching) {
    LockWait wait(settings(), 1000);
    EXPECT_EQ(wait.next(1000, {}).action, LockAction::try_lock);
    wait.tried(1050, false); // next try not before 1060
    LockDecision decision = wait.next(1051, {});
    EXPECT_EQ(decision.action, LockAction::wait);
    EXPECT_EQ(decision.wait_ms, 9);
    EXPECT_TRUE(decision.waiting_for.empty());
    // An autovacuum arriving during the backoff is cancelled right away.
    decision = wait.next(1055, {autovacuum(4)});
    EXPECT_EQ(decision.cancel, std::vector<uint64_t>{4});
    EXPECT_EQ(wait.next(1060, {}).action, LockAction::try_lock);
    wait.tried(1110, false); // next try not before 1130
    EXPECT_EQ(wait.next(1111, {}).wait_ms, 19);
    EXPECT_EQ(wait.next(1130, {}).action, LockAction::try_lock);
}

TEST(LockWait, GivesUpAfterMaxTries) {
    LockWait wait(settings(), 1000);
    int64_t now = 1000;
    for (int i = 0; i < 3; ++i) {
        LockDecision decision = wait.next(now, {});
        while (decision.action == LockAction::wait) {
            now += decision.wait_ms;
            decision = wait.next(now, {});
        }
        ASSERT_EQ(decision.action, LockAction::try_lock);
        now += 50;
        wait.tried(now, false);
    }
    LockDecision decision = wait.next(now, {});
    EXPECT_EQ(decision.action, LockAction::give_up);
    EXPECT_EQ(decision.reason, GiveUpReason::tries);
    EXPECT_EQ(wait.tries(), 3);
}

TEST(LockWait, GivesUpWhenTheWaitIsOverAndNeverSleepsPastIt) {
    LockWait wait(settings(), 1000);
    LockHolder long_one = other(1, 0);
    int64_t now = 1000;
    LockDecision decision = wait.next(now, {long_one});
    int64_t slept = 0;
    while (decision.action == LockAction::wait) {
        slept += decision.wait_ms;
        now += decision.wait_ms;
        decision = wait.next(now, {long_one});
    }
    EXPECT_EQ(decision.action, LockAction::give_up);
    EXPECT_EQ(decision.reason, GiveUpReason::time);
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{1});
    EXPECT_EQ(slept, 1000);
    EXPECT_EQ(wait.tries(), 0);
}

TEST(LockWait, ALastTryIsAllowedWhenNothingBlocksAtTheEnd) {
    LockWait wait(settings(), 1000);
    EXPECT_EQ(wait.next(1990, {other(1, 0)}).wait_ms, 10);
    EXPECT_EQ(wait.next(2000, {}).action, LockAction::try_lock);
}

TEST(LockWait, ZeroMaxWaitNeverWaits) {
    LockWaitSettings s = settings();
    s.max_wait_ms = 0;
    LockWait with_long_holder(s, 1000);
    LockDecision decision = with_long_holder.next(1000, {other(1, 0), autovacuum(2)});
    EXPECT_EQ(decision.action, LockAction::give_up);
    EXPECT_EQ(decision.reason, GiveUpReason::time);
    EXPECT_TRUE(decision.cancel.empty());
    LockWait free(s, 1000);
    EXPECT_EQ(free.next(1000, {other(1, 999)}).action, LockAction::try_lock);
    free.tried(1001, false);
    EXPECT_EQ(free.next(1001, {}).action, LockAction::give_up);
}

TEST(LockWait, SuccessfulTryNeedsNoBackoff) {
    LockWait wait(settings(), 1000);
    EXPECT_EQ(wait.next(1000, {}).action, LockAction::try_lock);
    wait.tried(1001, true);
    EXPECT_EQ(wait.tries(), 1);
}

TEST(LockWait, AHolderOnSeveralRelationsIsWaitedForOnce) {
    LockWait wait(settings(), 1000);
    LockDecision decision = wait.next(1000, {other(1, 0), other(1, 0)});
    EXPECT_EQ(decision.waiting_for, std::vector<uint64_t>{1});
    EXPECT_EQ(decision.newly_waiting_for, std::vector<uint64_t>{1});
}
