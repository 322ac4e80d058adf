#include "predictor/series.hpp"

#include "analyzer/stats_store.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace presplit::predictor {

std::optional<PartitionSeries> series_of(Oid relid, int64_t now_seconds) {
    std::optional<PartitionSeries> found;
    analyzer::for_each_entry(MyDatabaseId, [&](const analyzer::PartitionEntry& entry) {
        if (entry.relid != relid)
            return;
        PartitionSeries series;
        series.relid = entry.relid;
        series.parent = entry.parent;
        const int64_t hour = core::LoadHistory::kHourSeconds;
        series.last_hour_start = (now_seconds / hour - 1) * hour;
        series.load = entry.history.hourly_statement_rates(now_seconds);
        found = std::move(series);
    });
    return found;
}

} // namespace presplit::predictor
