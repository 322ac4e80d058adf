// What each channel of a switching plan served: statements, errors and a
// latency histogram, in shared memory (a fixed number of plan slots, lost at
// restart). Backends count a routed statement when its executor ends (or
// fails); presplit.channels shows the totals and the worker's ramp compares
// the channels step by step. The new channel's executions that read a target
// on another server (through its foreign table) are counted apart, as the
// remote channel. The slot also holds the remote targets' replication lag,
// which the worker measures and routing reads (docs/multi_server.md).
#pragma once

#include "core/latency_histogram.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace presplit::switchover {

enum class Channel { old_channel = 0, new_channel = 1, remote_channel = 2 };

struct ChannelTotals {
    uint64_t statements = 0; // served, including those that failed
    uint64_t errors = 0;     // failed before their executor ended
    double total_ms = 0;     // executor time of the ones that succeeded
    core::LatencyCounts latency{};
};

using PlanChannels = std::array<ChannelTotals, 3>; // indexed by Channel

// Shared memory (from src/hooks.cpp): requested in shmem_request_hook;
// attached in shmem_startup_hook with AddinShmemInitLock held.
void request_channel_stats();
void attach_channel_stats();

// Makes sure the plan has a slot (taking the oldest plan's when all are
// used). Called when a statement is routed, before it runs.
void claim_channel_stats(int64_t plan_id);

// Counts one statement of the plan's channel. No-op without a slot. Only
// atomics: safe during transaction abort.
void record_channel_statement(int64_t plan_id, Channel channel, double microseconds, bool failed);

// The plan's totals since its first routed statement (after the server's
// last start); nullopt if none was counted.
std::optional<PlanChannels> read_channel_stats(int64_t plan_id);

// The worker, about once a second per switching plan with remote targets:
// the largest replication lag of its targets (nullopt: unknown, e.g. a
// subscription not connected). Claims the plan's slot.
void publish_remote_lag(int64_t plan_id, std::optional<double> lag_ms);

// Whether the plan's remote lag was measured within the last
// kRemoteLagFreshMs and is at most max_lag_ms. Only atomics and a clock read.
constexpr int64_t kRemoteLagFreshMs = 5000;
bool remote_lag_within(int64_t plan_id, int max_lag_ms);

// Calls f(plan_id, channels) for every plan with a slot.
void for_each_channel_stats(void (*f)(int64_t plan_id, const PlanChannels& channels, void* arg),
                            void* arg);

} // namespace presplit::switchover
