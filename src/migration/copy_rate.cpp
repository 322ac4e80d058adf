#include "migration/copy_rate.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "utils/fmgrprotos.h"
#include "utils/syscache.h"
}

#include <algorithm>

namespace presplit::migration {

core::CopyRate current_copy_rate() {
    core::CopyRateOptions options;
    options.clock_rate = config::clock_rate;
    return core::copy_rate(catalog::recent_copy_measures(core::kRecentCopies), options);
}

SourceSize source_size(Oid relid) {
    return pg::call([&] {
        SourceSize size;
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            return size;
        size.rows = std::max(
            0.0, static_cast<double>(reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->reltuples));
        ReleaseSysCache(tuple);
        size.bytes = static_cast<double>(
            DatumGetInt64(DirectFunctionCall1(pg_total_relation_size, ObjectIdGetDatum(relid))));
        return size;
    });
}

core::RemoteCopyEstimate estimate_remote_copy(Oid source, const core::CopyRate& rate,
                                              std::optional<double> max_rows) {
    SourceSize size = source_size(source);
    if (max_rows && size.rows > *max_rows) {
        size.bytes *= *max_rows / size.rows;
        size.rows = *max_rows;
    }
    return core::estimate_remote_copy(size.rows, size.bytes, config::backfill_max_rows_per_second,
                                      rate, config::clock_rate);
}

} // namespace presplit::migration
