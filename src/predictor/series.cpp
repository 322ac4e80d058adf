#include "predictor/series.hpp"

#include "analyzer/key_axis.hpp"
#include "analyzer/stats_store.hpp"
#include "config.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include <cmath>

namespace presplit::predictor {

PartitionSeries series_of_entry(const analyzer::PartitionEntry& entry, int64_t now_seconds) {
    PartitionSeries series;
    series.relid = entry.relid;
    series.parent = entry.parent;
    const int64_t hour = core::LoadHistory::kHourSeconds;
    series.last_hour_start = (now_seconds / hour - 1) * hour;
    series.load = entry.history.hourly_statement_rates(now_seconds);
    // The size ring ends with the hour of now (still running): its sample is
    // dropped, so that both series end with the same complete hour.
    std::vector<core::SizeSample> samples(core::SizeHistory::kHours);
    samples.resize(entry.sizes.hour_series(now_seconds, samples.data(), samples.size()));
    if (!samples.empty())
        samples.pop_back();
    series.size.reserve(samples.size());
    for (const core::SizeSample& sample : samples)
        series.size.push_back(sample.at_seconds == 0 ? std::nan("")
                                                     : static_cast<double>(sample.bytes));
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
    options.interval = config::prediction_interval;
    options.multiplicative = true;
    return options;
}

core::ForecastOptions size_forecast_options(size_t horizon_hours) {
    core::ForecastOptions options = load_forecast_options(horizon_hours);
    options.multiplicative = false;
    return options;
}

std::vector<double> key_histogram(Oid relid, const analyzer::ManagedLeaf& leaf) {
    if (!analyzer::positions_are_keys(leaf.axis))
        return {};
    const AttrNumber key_attnum = leaf.key_attnum;
    const Oid key_type = leaf.key_type;
    // Copied out of the cache entry (palloc, the transaction's memory) inside
    // the guard; mapped to the axis after (place_key guards its own calls).
    struct Copied {
        Datum* values;
        int count;
    };
    const Copied copied = pg::call([&] {
        Copied out{nullptr, 0};
        HeapTuple tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
                                          Int16GetDatum(key_attnum), BoolGetDatum(false));
        if (!HeapTupleIsValid(tuple))
            return out;
        AttStatsSlot slot;
        if (get_attstatsslot(&slot, tuple, STATISTIC_KIND_HISTOGRAM, InvalidOid,
                             ATTSTATSSLOT_VALUES)) {
            int16 typlen;
            bool typbyval;
            get_typlenbyval(key_type, &typlen, &typbyval);
            if (slot.nvalues > 0) {
                out.values = static_cast<Datum*>(palloc(sizeof(Datum) * slot.nvalues));
                for (int i = 0; i < slot.nvalues; ++i)
                    out.values[i] = datumCopy(slot.values[i], typbyval, typlen);
                out.count = slot.nvalues;
            }
            free_attstatsslot(&slot);
        }
        ReleaseSysCache(tuple);
        return out;
    });
    std::vector<double> bounds;
    for (int i = 0; i < copied.count; ++i)
        if (std::optional<analyzer::PlacedKey> placed =
                analyzer::place_key(leaf.axis, copied.values[i], key_type))
            bounds.push_back(placed->position);
    // Ascending by the type's order, which the axis keeps (monotonic).
    return bounds;
}

} // namespace presplit::predictor
