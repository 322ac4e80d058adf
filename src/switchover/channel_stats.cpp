#include "switchover/channel_stats.hpp"

#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

#include <algorithm>

#include <cmath>
#include <type_traits>

namespace presplit::switchover {
namespace {

// One active plan per source partition; more than this many plans switching
// at once only costs the oldest its statistics.
constexpr int kPlanSlots = 32;

struct SharedChannel {
    pg_atomic_uint64 statements;
    pg_atomic_uint64 errors;
    pg_atomic_uint64 total_us;
    pg_atomic_uint64 latency[core::kLatencyBuckets];
};

struct SharedSlot {
    pg_atomic_uint64 plan_id; // 0: free
    SharedChannel channels[3];
    // The remote targets' lag in microseconds (kUnknownLag: not measured)
    // and when the worker measured it (a TimestampTz).
    pg_atomic_uint64 remote_lag_us;
    pg_atomic_uint64 remote_lag_at;
};
constexpr uint64 kUnknownLag = PG_UINT64_MAX;

struct SharedChannelStats {
    SharedSlot slots[kPlanSlots];
};
static_assert(std::is_standard_layout_v<SharedChannelStats>);

SharedChannelStats* stats = nullptr;

void reset_channel(SharedChannel& channel) {
    pg_atomic_init_u64(&channel.statements, 0);
    pg_atomic_init_u64(&channel.errors, 0);
    pg_atomic_init_u64(&channel.total_us, 0);
    for (auto& bucket : channel.latency)
        pg_atomic_init_u64(&bucket, 0);
}

SharedSlot* find_slot(int64_t plan_id) {
    if (stats == nullptr || plan_id <= 0)
        return nullptr;
    for (auto& slot : stats->slots)
        if (pg_atomic_read_u64(&slot.plan_id) == static_cast<uint64>(plan_id))
            return &slot;
    return nullptr;
}

ChannelTotals read_channel(const SharedChannel& shared) {
    auto& channel = const_cast<SharedChannel&>(shared);
    ChannelTotals totals;
    totals.statements = pg_atomic_read_u64(&channel.statements);
    totals.errors = pg_atomic_read_u64(&channel.errors);
    totals.total_ms = static_cast<double>(pg_atomic_read_u64(&channel.total_us)) / 1000.0;
    for (int i = 0; i < core::kLatencyBuckets; ++i)
        totals.latency[i] = pg_atomic_read_u64(&channel.latency[i]);
    return totals;
}

} // namespace

void request_channel_stats() {
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedChannelStats)));
}

void attach_channel_stats() {
    bool found = false;
    stats = static_cast<SharedChannelStats*>(
        ShmemInitStruct("pg_presplit channel stats", sizeof(SharedChannelStats), &found));
    if (found)
        return;
    for (auto& slot : stats->slots) {
        pg_atomic_init_u64(&slot.plan_id, 0);
        for (auto& channel : slot.channels)
            reset_channel(channel);
        pg_atomic_init_u64(&slot.remote_lag_us, kUnknownLag);
        pg_atomic_init_u64(&slot.remote_lag_at, 0);
    }
}

void claim_channel_stats(int64_t plan_id) {
    if (stats == nullptr || find_slot(plan_id) != nullptr)
        return;
    pg::call([&] { LWLockAcquire(pg::shared_lock(), LW_EXCLUSIVE); });
    if (find_slot(plan_id) == nullptr) {
        SharedSlot* chosen = nullptr;
        for (auto& slot : stats->slots) {
            const uint64 id = pg_atomic_read_u64(&slot.plan_id);
            if (chosen == nullptr || id < pg_atomic_read_u64(&chosen->plan_id))
                chosen = &slot; // a free slot (0) or the oldest plan's
        }
        for (auto& channel : chosen->channels)
            reset_channel(channel);
        pg_atomic_write_u64(&chosen->remote_lag_us, kUnknownLag);
        pg_atomic_write_u64(&chosen->remote_lag_at, 0);
        pg_atomic_write_u64(&chosen->plan_id, static_cast<uint64>(plan_id));
    }
    LWLockRelease(pg::shared_lock());
}

void record_channel_statement(int64_t plan_id, Channel channel, double microseconds, bool failed) {
    SharedSlot* slot = find_slot(plan_id);
    if (slot == nullptr)
        return;
    SharedChannel& shared = slot->channels[static_cast<int>(channel)];
    pg_atomic_fetch_add_u64(&shared.statements, 1);
    if (failed) {
        pg_atomic_fetch_add_u64(&shared.errors, 1);
        return;
    }
    pg_atomic_fetch_add_u64(&shared.total_us,
                            static_cast<uint64>(std::llround(std::max(0.0, microseconds))));
    pg_atomic_fetch_add_u64(&shared.latency[core::latency_bucket(microseconds)], 1);
}

std::optional<PlanChannels> read_channel_stats(int64_t plan_id) {
    SharedSlot* slot = find_slot(plan_id);
    if (slot == nullptr)
        return std::nullopt;
    return PlanChannels{read_channel(slot->channels[0]), read_channel(slot->channels[1]),
                        read_channel(slot->channels[2])};
}

void publish_remote_lag(int64_t plan_id, std::optional<double> lag_ms) {
    claim_channel_stats(plan_id);
    SharedSlot* slot = find_slot(plan_id);
    if (slot == nullptr)
        return;
    pg_atomic_write_u64(&slot->remote_lag_us,
                        lag_ms ? static_cast<uint64>(std::llround(std::max(0.0, *lag_ms) * 1000))
                               : kUnknownLag);
    pg_atomic_write_u64(&slot->remote_lag_at, static_cast<uint64>(GetCurrentTimestamp()));
}

bool remote_lag_within(int64_t plan_id, int max_lag_ms) {
    SharedSlot* slot = find_slot(plan_id);
    if (slot == nullptr || max_lag_ms <= 0)
        return false;
    const uint64 lag_us = pg_atomic_read_u64(&slot->remote_lag_us);
    const auto measured_at = static_cast<TimestampTz>(pg_atomic_read_u64(&slot->remote_lag_at));
    return lag_us != kUnknownLag && lag_us <= static_cast<uint64>(max_lag_ms) * 1000 &&
           GetCurrentTimestamp() - measured_at <= kRemoteLagFreshMs * 1000;
}

void for_each_channel_stats(void (*f)(int64_t plan_id, const PlanChannels& channels, void* arg),
                            void* arg) {
    if (stats == nullptr)
        return;
    for (auto& slot : stats->slots) {
        const auto plan_id = static_cast<int64_t>(pg_atomic_read_u64(&slot.plan_id));
        if (plan_id == 0)
            continue;
        f(plan_id,
          PlanChannels{read_channel(slot.channels[0]), read_channel(slot.channels[1]),
                       read_channel(slot.channels[2])},
          arg);
    }
}

} // namespace presplit::switchover
