// What the predictive shard manager forecasts, per managed leaf partition,
// read from the analyzer's statistics: hourly series on the model clock
// (pg/clock.hpp), oldest first, the last one the last complete hour.
#pragma once

extern "C" {
#include "postgres.h"
}

#include "analyzer/stats_store.hpp"
#include "core/forecast.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace presplit::predictor {

struct PartitionSeries {
    Oid relid = InvalidOid;
    Oid parent = InvalidOid;
    int64_t last_hour_start = 0; // model-clock seconds: start of the series' last hour
    std::vector<double> load;    // statements per second; NaN before the history starts
};

// The series of one analyzer entry.
PartitionSeries series_of_entry(const analyzer::PartitionEntry& entry, int64_t now_seconds);

// The series of one partition of this database, if the analyzer has an entry
// for it.
std::optional<PartitionSeries> series_of(Oid relid, int64_t now_seconds);

// How loads are forecast, for presplit.forecast and the manager alike: a 95 %
// interval, multiplicative (peaks and troughs scale together).
core::ForecastOptions load_forecast_options(size_t horizon_hours);

} // namespace presplit::predictor
