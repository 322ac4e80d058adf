// The query pattern analyzer's SQL face: the functions behind the views
// presplit.partition_stats, presplit.split_suggestions and
// presplit.analyzer_status, and presplit.key_heat / presplit.size_history /
// presplit.reset_stats.
#include "analyzer/key_axis.hpp"
#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "api/arguments.hpp"
#include "api/plan_access.hpp"
#include "api/result_rows.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "catalog/objectaddress.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(presplit_partition_stats);
PG_FUNCTION_INFO_V1(presplit_split_suggestions);
PG_FUNCTION_INFO_V1(presplit_key_heat);
PG_FUNCTION_INFO_V1(presplit_size_history);
PG_FUNCTION_INFO_V1(presplit_reset_stats);
PG_FUNCTION_INFO_V1(presplit_analyzer_status);
}

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace presplit {
namespace {

using analyzer::PartitionEntry;

// Minimum accesses a split candidate must have counted to be suggested.
constexpr uint64_t kMinSplitSamples = 20;

using api::text_datum;
using Rows = api::ResultRows;

Datum partition_stats(FunctionCallInfo fcinfo) {
    Rows rows(fcinfo);
    const int64_t now = analyzer::now_seconds();
    analyzer::for_each_entry(MyDatabaseId, [&](const PartitionEntry& entry) {
        if (!api::has_owner_privileges(entry.parent))
            return; // another owner's statistics
        core::LoadCounters total = entry.history.total();
        auto rate = [&](int64_t window) {
            return entry.history.rate_per_second(now, window, &core::LoadCounters::reads) +
                   entry.history.rate_per_second(now, window, &core::LoadCounters::writes);
        };
        Datum values[10];
        bool nulls[10] = {};
        values[0] = ObjectIdGetDatum(entry.relid);
        values[1] = ObjectIdGetDatum(entry.parent);
        values[2] = Int64GetDatum(static_cast<int64>(total.reads));
        values[3] = Int64GetDatum(static_cast<int64>(total.writes));
        values[4] = Int64GetDatum(static_cast<int64>(total.rows_read));
        values[5] = Int64GetDatum(static_cast<int64>(total.rows_written));
        values[6] = Float8GetDatum(static_cast<double>(total.time_us) / 1000.0);
        values[7] = Float8GetDatum(rate(60));
        values[8] = Float8GetDatum(rate(3600));
        values[9] = Float8GetDatum(rate(24 * 3600));
        rows.add(values, nulls);
    });
    return static_cast<Datum>(0);
}

// A suggested split in the key type's text form: the position itself where
// positions are keys, else the candidate's image (a real key).
std::optional<std::string> split_point_text(const analyzer::ManagedLeaf& leaf,
                                            const core::SplitSuggestion& suggestion) {
    if (!suggestion.valid)
        return std::nullopt;
    if (analyzer::positions_are_keys(leaf.axis))
        return analyzer::position_text(leaf.axis, suggestion.key);
    if (suggestion.image.size == 0)
        return std::nullopt;
    return analyzer::image_text(suggestion.image);
}

Datum split_suggestions(FunctionCallInfo fcinfo) {
    Rows rows(fcinfo);
    analyzer::refresh_managed_set();
    analyzer::for_each_entry(MyDatabaseId, [&](const PartitionEntry& entry) {
        const analyzer::ManagedLeaf* leaf = analyzer::find_leaf(entry.relid);
        if (leaf == nullptr || leaf->axis.kind == analyzer::KeyAxis::Kind::unsupported ||
            !api::has_owner_privileges(entry.parent))
            return;
        const core::SplitSuggestion suggestion =
            entry.sampler.suggest(kMinSplitSamples, !analyzer::positions_are_keys(leaf->axis));
        const std::optional<std::string> split_point = split_point_text(*leaf, suggestion);
        Datum values[7];
        bool nulls[7] = {};
        values[0] = ObjectIdGetDatum(entry.relid);
        values[1] = ObjectIdGetDatum(entry.parent);
        if (split_point) {
            values[2] = text_datum(*split_point);
            values[3] = Float8GetDatum(suggestion.left_share);
            values[4] = Float8GetDatum(suggestion.right_share);
            values[5] = Float8GetDatum(suggestion.contained_share);
        } else {
            nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
        }
        values[6] = Int64GetDatum(static_cast<int64>(suggestion.samples));
        rows.add(values, nulls);
    });
    return static_cast<Datum>(0);
}

struct HeatBucket {
    int32 number;
    std::string lower, upper;
    uint64_t accesses;
};

// A partition's sampled accesses in `buckets` equal-width buckets between its
// bounds (an unbounded side ends at the farthest candidate key). Where
// positions are not keys (text), a bucket's edges must be keys to be shown:
// each inner edge moves to the nearest candidate key (a real key), and edges
// that meet merge, so the buckets are not of equal width and may be fewer.
std::vector<HeatBucket> heat_buckets(const analyzer::ManagedLeaf& leaf,
                                     const core::KeySampler& sampler, int32 buckets) {
    const bool positions_are_keys = analyzer::positions_are_keys(leaf.axis);
    // Candidates that can label an edge, by position.
    std::vector<std::pair<double, std::string>> marks;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < sampler.candidate_count(); ++i) {
        const core::SplitCandidate candidate = sampler.candidate(i);
        if (!positions_are_keys && candidate.image.size == 0)
            continue;
        lo = std::min(lo, candidate.key);
        hi = std::max(hi, candidate.key);
        if (!positions_are_keys)
            marks.emplace_back(candidate.key, analyzer::image_text(candidate.image));
    }
    std::sort(marks.begin(), marks.end());
    std::string lo_text = marks.empty() ? "" : marks.front().second;
    std::string hi_text = marks.empty() ? "" : marks.back().second;
    if (leaf.has_lower) {
        lo = leaf.lower;
        lo_text = leaf.lower_text;
    }
    if (leaf.has_upper) {
        hi = leaf.upper;
        hi_text = leaf.upper_text;
    } else if (std::isfinite(hi)) {
        hi = std::nextafter(hi, std::numeric_limits<double>::infinity());
    }
    std::vector<HeatBucket> result;
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
        return result;
    const double width = (hi - lo) / buckets;
    if (positions_are_keys) {
        std::vector<uint64_t> counts(static_cast<size_t>(buckets));
        sampler.heat(lo, hi, counts.size(), counts.data());
        for (int32 b = 0; b < buckets; b++)
            result.push_back({b + 1, analyzer::position_text(leaf.axis, lo + width * b),
                              analyzer::position_text(leaf.axis, lo + width * (b + 1)),
                              counts[static_cast<size_t>(b)]});
        return result;
    }
    std::vector<double> edges{lo};
    std::vector<std::string> labels{lo_text};
    for (int32 b = 1; b < buckets; b++) {
        const double target = lo + width * b;
        // The candidate nearest the equal-width edge.
        auto next =
            std::lower_bound(marks.begin(), marks.end(), std::make_pair(target, std::string()));
        auto nearest = next;
        if (next == marks.end() ||
            (next != marks.begin() && target - std::prev(next)->first < next->first - target))
            nearest = std::prev(next);
        if (nearest == marks.end() || !(nearest->first > edges.back()) || !(nearest->first < hi))
            continue;
        edges.push_back(nearest->first);
        labels.push_back(nearest->second);
    }
    edges.push_back(hi);
    labels.push_back(hi_text);
    std::vector<uint64_t> counts(edges.size() - 1);
    sampler.heat_between(edges.data(), edges.size(), counts.data());
    for (size_t b = 0; b + 1 < edges.size(); b++)
        result.push_back({static_cast<int32>(b + 1), labels[b], labels[b + 1], counts[b]});
    return result;
}

Datum key_heat(FunctionCallInfo fcinfo) {
    Oid parent = api::required_oid(fcinfo, 0, "parent");
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "buckets must not be NULL");
    int32 buckets = PG_GETARG_INT32(1);
    if (buckets < 1 || buckets > 10000)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "buckets must be between 1 and 10000");
    // The owner's (42P01 if there is no such relation), before anything is
    // said about the table.
    pg::call([&] {
        if (!pg_class_ownercheck(parent, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(parent)),
                           get_rel_name(parent));
    });
    analyzer::refresh_managed_set();
    if (!analyzer::is_managed_parent(parent))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, "table \"" + api::relation_name(parent) +
                                                      "\" is not managed by pg_presplit");
    Rows rows(fcinfo);
    analyzer::for_each_entry(MyDatabaseId, [&](const PartitionEntry& entry) {
        const analyzer::ManagedLeaf* leaf = analyzer::find_leaf(entry.relid);
        if (entry.parent != parent || leaf == nullptr ||
            leaf->axis.kind == analyzer::KeyAxis::Kind::unsupported)
            return;
        for (const HeatBucket& bucket : heat_buckets(*leaf, entry.sampler, buckets)) {
            Datum values[5];
            bool nulls[5] = {};
            values[0] = ObjectIdGetDatum(entry.relid);
            values[1] = Int32GetDatum(bucket.number);
            values[2] = text_datum(bucket.lower);
            values[3] = text_datum(bucket.upper);
            values[4] = Int64GetDatum(static_cast<int64>(bucket.accesses));
            rows.add(values, nulls);
        }
    });
    return static_cast<Datum>(0);
}

// The partition's size samples, oldest first: one per hour of the last 21
// days that has one. For whoever has the privileges of the managed table's
// owner, as its statistics in partition_stats (a partition may have
// another owner than its table); the partition's owner is checked first
// (42501 before anything is said about it), as key_heat does.
Datum size_history(FunctionCallInfo fcinfo) {
    Oid partition = api::required_oid(fcinfo, 0, "partition");
    pg::call([&] {
        if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(partition)))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                            errmsg("relation with OID %u does not exist", partition)));
        if (!pg_class_ownercheck(partition, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(partition)),
                           get_rel_name(partition));
    });
    analyzer::refresh_managed_set();
    const analyzer::ManagedLeaf* leaf = analyzer::find_leaf(partition);
    if (leaf == nullptr)
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "\"" + api::relation_name(partition) +
                            "\" is not a partition of a table managed by pg_presplit");
    const Oid parent = leaf->parent;
    if (!api::has_owner_privileges(parent))
        pg::call([&] { aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(parent)); });
    Rows rows(fcinfo);
    std::vector<analyzer::PartitionEntry> entry(1);
    if (!analyzer::copy_entry(MyDatabaseId, partition, entry[0]))
        return static_cast<Datum>(0); // not sampled yet
    std::vector<core::SizeSample> samples(core::SizeHistory::kHours);
    samples.resize(
        entry[0].sizes.hour_series(analyzer::now_seconds(), samples.data(), samples.size()));
    for (const core::SizeSample& sample : samples) {
        if (sample.at_seconds == 0)
            continue;
        Datum values[3];
        bool nulls[3] = {};
        values[0] =
            TimestampTzGetDatum(pg::call([&] { return time_t_to_timestamptz(sample.at_seconds); }));
        values[1] = Int64GetDatum(sample.rows);
        nulls[1] = sample.rows < 0;
        values[2] = Int64GetDatum(sample.bytes);
        rows.add(values, nulls);
    }
    return static_cast<Datum>(0);
}

Datum reset_stats(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) {
        if (!pg::call([] { return superuser(); }))
            throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                            "only a superuser can reset the statistics of every table", "",
                            "Pass a table you own: presplit.reset_stats('my_table').");
        analyzer::reset(MyDatabaseId, InvalidOid);
        PG_RETURN_VOID();
    }
    Oid parent = PG_GETARG_OID(0);
    pg::call([&] {
        if (!pg_class_ownercheck(parent, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(parent));
    });
    analyzer::refresh_managed_set();
    if (!analyzer::is_managed_parent(parent))
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, "table \"" + api::relation_name(parent) +
                                                      "\" is not managed by pg_presplit");
    analyzer::reset(MyDatabaseId, parent);
    PG_RETURN_VOID();
}

Datum analyzer_status(FunctionCallInfo fcinfo) {
    analyzer::StoreStatus status = analyzer::status();
    TupleDesc desc;
    if (pg::call([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) !=
        TYPEFUNC_COMPOSITE)
        throw pg::Error(ERRCODE_INTERNAL_ERROR, "presplit._analyzer_status must return a record");
    Datum values[5];
    bool nulls[5] = {};
    values[0] = Int32GetDatum(status.capacity);
    values[1] = Int32GetDatum(status.used);
    values[2] = Int32GetDatum(status.allocated);
    values[3] = Int64GetDatum(static_cast<int64>(status.evictions));
    values[4] = Int64GetDatum(static_cast<int64>(status.bytes_per_partition));
    return pg::call(
        [&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)); });
}

} // namespace
} // namespace presplit

Datum presplit_partition_stats(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::partition_stats(fcinfo); });
}
Datum presplit_split_suggestions(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::split_suggestions(fcinfo); });
}
Datum presplit_key_heat(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::key_heat(fcinfo); });
}
Datum presplit_size_history(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::size_history(fcinfo); });
}
Datum presplit_reset_stats(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::reset_stats(fcinfo); });
}
Datum presplit_analyzer_status(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::analyzer_status(fcinfo); });
}
