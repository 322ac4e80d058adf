#include "predictor/series.hpp"

#include "analyzer/stats_store.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace presplit::predictor {

PartitionSeries series_of_entry(const analyzer::PartitionEntry& entry, int64_t now_seconds) {
    PartitionSeries series;
    series.relid = entry.relid;
    series.parent = entry.parent;
    const int64_t hour = core::LoadHistory::kHourSeconds;
    series.last_hour_start = (now_seconds / hour - 1) * hour;
    series.load = entry.history.hourly_statement_rates(now_seconds);
    return series;
}

std::optional<PartitionSeries> series_of(Oid relid, int64_t now_seconds) {
    std::optional<PartitionSeries> found;
    analyzer::for_each_entry(MyDatabaseId, [&](const analyzer::PartitionEntry& entry) {
        if (entry.relid == relid)
            found = series_of_entry(entry, now_seconds);
    });
    return found;
}

core::ForecastOptions load_forecast_options(size_t horizon_hours) {
    core::ForecastOptions options;
    options.horizon_hours = horizon_hours;
    options.interval = 0.95;
    options.multiplicative = true;
    return options;
}

} // namespace presplit::predictor
