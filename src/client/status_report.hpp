// `pg_presplit status` as a model and its rendering (pure: unit-tested in
// test/unit/client_status_test.cpp): managed tables and their partitions,
// active plans, the background worker's health.
#pragma once

#include "client/json.hpp"
#include "client/text.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace presplit::client {

struct PartitionRow {
    std::string partition, bound;
    std::optional<int64_t> estimated_rows;
    int64_t total_bytes = 0;
    std::optional<int64_t> reads, writes; // NULL: the analyzer has not seen it
    std::optional<double> per_second_now, per_second_last_hour, per_second_last_day, load_share;
};

struct TableRow {
    std::string parent, partition_key, key_type;
    std::vector<PartitionRow> partitions; // in key order
};

struct ActivePlan {
    int64_t id = 0;
    std::string parent, source, split_points, state, origin;
    std::optional<int> weight;
    bool paused = false, ramp = true, switch_requested = false;
    bool copy_held =
        false; // a predicted plan's copy waits for its start (a window, or a late copy's time)
    int64_t rows_copied = 0;
    std::optional<int64_t> rows_estimated;
    double since_seconds = 0; // in the current state (since the last change)
};

struct WorkerHealth {
    std::optional<int> pid;
    std::string database;
    std::optional<double> heartbeat_age_seconds;
    int64_t loops = 0, starts = 0;
    double naptime_seconds = 1;
    bool extension_present = false;

    // Running, and its last heartbeat younger than five naptimes (10 s at least).
    bool healthy() const;
    std::string verdict() const;
};

struct StatusReport {
    std::string database;
    std::vector<TableRow> tables;
    std::vector<ActivePlan> plans;
    WorkerHealth worker;
};

// Orders partition bounds by their lower value ("FOR VALUES FROM (x) TO
// (y)"): MINVALUE first, numbers as numbers, anything else as text (which
// orders ISO dates and times right).
bool bound_less(const std::string& a, const std::string& b);

std::vector<std::string> render_status(const StatusReport& report, const Style& style);
Json status_json(const StatusReport& report);

} // namespace presplit::client
