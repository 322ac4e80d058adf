#include "core/lock_wait.hpp"

#include <algorithm>

#include "core/cpp_only.hpp"

namespace presplit::core {

int64_t lock_backoff_ms(int failed_tries) {
    if (failed_tries < 1)
        return 0;
    return std::min<int64_t>(1000, int64_t{10} << std::min(failed_tries - 1, 7));
}

LockWait::LockWait(const LockWaitSettings& settings, int64_t start_ms)
    : settings_(settings), start_ms_(start_ms), next_try_ms_(start_ms) {}

LockDecision LockWait::next(int64_t now_ms, const std::vector<LockHolder>& holders) {
    LockDecision decision;
    if (tries_ >= settings_.max_tries) {
        decision.action = LockAction::give_up;
        decision.reason = GiveUpReason::tries;
        return decision;
    }

    // Forget the holders that have gone: an id is never reused while it
    // holds a lock, and a holder that comes back is a new transaction.
    std::map<uint64_t, int64_t> first_seen;
    std::map<uint64_t, int64_t> cancelled;
    for (const LockHolder& holder : holders) {
        auto seen = first_seen_ms_.find(holder.id);
        first_seen[holder.id] = seen == first_seen_ms_.end() ? now_ms : seen->second;
        auto signalled = cancelled_ms_.find(holder.id);
        if (signalled != cancelled_ms_.end())
            cancelled[holder.id] = signalled->second;
    }
    first_seen_ms_ = std::move(first_seen);
    cancelled_ms_ = std::move(cancelled);

    for (const LockHolder& holder : holders) {
        bool blocking = false;
        switch (holder.kind) {
        case HolderKind::autovacuum: {
            blocking = true;
            auto signalled = cancelled_ms_.find(holder.id);
            if (signalled == cancelled_ms_.end() ||
                now_ms - signalled->second >= settings_.cancel_again_ms) {
                decision.cancel.push_back(holder.id);
                cancelled_ms_[holder.id] = now_ms;
            }
            break;
        }
        case HolderKind::wraparound_autovacuum:
            blocking = true;
            break;
        case HolderKind::other: {
            int64_t since = first_seen_ms_[holder.id];
            if (holder.started_ms)
                since = std::min(since, *holder.started_ms);
            blocking = now_ms - since >= settings_.lock_timeout_ms;
            break;
        }
        }
        if (!blocking || std::find(decision.waiting_for.begin(), decision.waiting_for.end(),
                                   holder.id) != decision.waiting_for.end())
            continue;
        decision.waiting_for.push_back(holder.id);
    }

    const int64_t remaining_ms = settings_.max_wait_ms - elapsed_ms(now_ms);
    int64_t wait_ms = 0;
    if (!decision.waiting_for.empty())
        wait_ms = settings_.poll_ms;
    else if (now_ms < next_try_ms_)
        wait_ms = std::min(settings_.poll_ms, next_try_ms_ - now_ms);
    if (wait_ms == 0) {
        decision.action = LockAction::try_lock;
        return decision;
    }
    if (remaining_ms <= 0) {
        // Nothing to cancel for a wait that ends here.
        decision.cancel.clear();
        decision.action = LockAction::give_up;
        decision.reason = GiveUpReason::time;
        return decision;
    }
    decision.action = LockAction::wait;
    decision.wait_ms = std::min(wait_ms, remaining_ms);
    for (uint64_t id : decision.waiting_for)
        if (reported_.insert(id).second)
            decision.newly_waiting_for.push_back(id);
    return decision;
}

void LockWait::tried(int64_t now_ms, bool locked) {
    ++tries_;
    if (!locked)
        next_try_ms_ = now_ms + lock_backoff_ms(tries_);
}

} // namespace presplit::core
