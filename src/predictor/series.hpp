// What the predictive shard manager forecasts, per managed leaf partition,
// read from the analyzer's statistics: hourly series on the model clock
// (pg/clock.hpp), oldest first, the last one the last complete hour.
#pragma once

extern "C" {
#include "postgres.h"
#include "access/attnum.h"
}

#include "analyzer/managed_set.hpp"
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
    // Total bytes (table, indexes, TOAST) as the worker sampled them, one per
    // hour up to the same last complete hour; NaN for an hour without a
    // sample (before the history, or the worker was down).
    std::vector<double> size;
};

// The series of one analyzer entry.
PartitionSeries series_of_entry(const analyzer::PartitionEntry& entry, int64_t now_seconds);

// The series of one partition of this database, if the analyzer has an entry
// for it.
std::optional<PartitionSeries> series_of(Oid relid, int64_t now_seconds);

// How loads are forecast, for presplit.forecast and the manager alike: a 95 %
// interval, multiplicative (peaks and troughs scale together).
core::ForecastOptions load_forecast_options(size_t horizon_hours);

// How sizes are forecast: a 95 % interval, additive (a size is a sum of
// inserts; the forecast also models its hourly increments).
core::ForecastOptions size_forecast_options(size_t horizon_hours);

// The partition's key distribution as ANALYZE left it: the equal-frequency
// histogram bounds of its partition key column (pg_statistic, the
// partition's own row, not inherited) on the analyzer's key axis, ascending.
// Empty when there is no histogram (never analyzed, a key whose axis
// positions are not keys -- text, -- or too few distinct values: ANALYZE then keeps only the most
// common values). Read from the catalog cache: no SQL, no user code.
std::vector<double> key_histogram(Oid relid, const analyzer::ManagedLeaf& leaf);

} // namespace presplit::predictor
