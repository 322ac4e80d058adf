// The predictive shard manager's SQL face: presplit.forecast(partition,
// hours), the history and the forecast of one partition, ready to plot.
#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "api/arguments.hpp"
#include "api/plan_access.hpp"
#include "api/result_rows.hpp"
#include "config.hpp"
#include "core/forecast.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "predictor/series.hpp"

extern "C" {
#include "catalog/objectaddress.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(presplit_forecast);
}

#include <algorithm>
#include <cmath>

namespace presplit {
namespace {

using api::text_datum;

// A managed leaf partition the caller owns, of a table whose owner the caller
// has the privileges of (42501, 42704 otherwise).
Oid owned_managed_partition(FunctionCallInfo fcinfo, int argument) {
    const Oid partition = api::required_oid(fcinfo, argument, "partition");
    pg::call([&] {
        if (!pg_class_ownercheck(partition, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(partition)),
                           get_rel_name(partition));
    });
    analyzer::refresh_managed_set();
    if (analyzer::find_leaf(partition) == nullptr)
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "\"" + api::relation_name(partition) +
                            "\" is not a partition of a table managed by pg_presplit",
                        "",
                        "Forecasts are made for the leaf partitions of managed tables: "
                        "presplit.manage(parent).");
    // The statistics belong to the managed table's owner too (as for
    // presplit.size_history and the views).
    const Oid parent = analyzer::find_leaf(partition)->parent;
    if (!api::has_owner_privileges(parent))
        pg::call([&] { aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(parent)); });
    return partition;
}

void add_row(api::ResultRows& rows, int64_t at_seconds, const char* metric,
             std::optional<double> actual, const core::ForecastPoint* forecast) {
    Datum values[6];
    bool nulls[6] = {};
    values[0] = TimestampTzGetDatum(pg::model_timestamp(at_seconds));
    values[1] = text_datum(metric);
    if (actual && !std::isnan(*actual))
        values[2] = Float8GetDatum(*actual);
    else
        nulls[2] = true;
    if (forecast != nullptr) {
        values[3] = Float8GetDatum(forecast->predicted);
        values[4] = Float8GetDatum(forecast->lower);
        values[5] = Float8GetDatum(forecast->upper);
    } else {
        nulls[3] = nulls[4] = nulls[5] = true;
    }
    rows.add(values, nulls);
}

// The last `hours` complete hours (actual) and the next `hours` (forecast)
// of each metric (load; size once sampled), one row per hour, `at` the start
// of the hour.
Datum forecast(FunctionCallInfo fcinfo) {
    const Oid partition = owned_managed_partition(fcinfo, 0);
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "hours must not be NULL");
    const int32 hours = PG_GETARG_INT32(1);
    if (hours < 1 || static_cast<size_t>(hours) > core::kMaxHorizonHours)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "hours must be between 1 and " + std::to_string(core::kMaxHorizonHours), "",
                        "It is how many hours of history and of forecast to show.");
    api::ResultRows rows(fcinfo);
    const int64_t now = pg::model_now_seconds();
    const std::optional<predictor::PartitionSeries> series = predictor::series_of(partition, now);
    if (!series || series->load.empty())
        return static_cast<Datum>(0); // no history yet
    // Load (statements/s), then size (bytes) once the worker sampled one.
    const int64_t hour = core::LoadHistory::kHourSeconds;
    auto add_metric = [&](const char* metric, const std::vector<double>& values,
                          const core::ForecastOptions& options) {
        const size_t shown = std::min(values.size(), static_cast<size_t>(hours));
        for (size_t i = values.size() - shown; i < values.size(); ++i)
            add_row(rows,
                    series->last_hour_start - static_cast<int64_t>(values.size() - 1 - i) * hour,
                    metric, values[i], nullptr);
        const core::Forecast f = core::forecast_hourly(values.data(), values.size(), options);
        for (size_t h = 0; h < f.hours.size(); ++h)
            add_row(rows, series->last_hour_start + static_cast<int64_t>(h + 1) * hour, metric,
                    std::nullopt, &f.hours[h]);
    };
    add_metric("load", series->load, predictor::load_forecast_options(static_cast<size_t>(hours)));
    if (std::any_of(series->size.begin(), series->size.end(),
                    [](double v) { return !std::isnan(v); }))
        add_metric("size", series->size,
                   predictor::size_forecast_options(static_cast<size_t>(hours)));
    return static_cast<Datum>(0);
}

} // namespace
} // namespace presplit

Datum presplit_forecast(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::forecast(fcinfo); });
}
