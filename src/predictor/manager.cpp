#include "predictor/manager.hpp"

#include "analyzer/key_axis.hpp"
#include "analyzer/managed_set.hpp"
#include "analyzer/stats_store.hpp"
#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/forecast.hpp"
#include "core/offpeak.hpp"
#include "core/prediction_policy.hpp"
#include "core/range_drift.hpp"
#include "core/range_handoff.hpp"
#include "core/server_choice.hpp"
#include "core/split_decision.hpp"
#include "migration/copy_rate.hpp"
#include "migration/layout.hpp"
#include "migration/shadows.hpp"
#include "migration/split_request.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "predictor/series.hpp"
#include "remote/split.hpp"
#include "switchover/switchover.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_set>

namespace presplit::predictor {
namespace {

constexpr int64_t kHour = core::LoadHistory::kHourSeconds;
constexpr const char* kPredicted = "predicted";

// For the forecasts view: what decide_round says of a crossing seen only
// through too wide an interval (core::too_wide_an_interval), or "".
std::string interval_too_wide_text(const core::Crossing& crossing, int64_t now,
                                   const core::PolicyOptions& options) {
    const std::optional<double> ratio = core::too_wide_an_interval(crossing, now, options);
    if (!ratio)
        return "";
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "; too uncertain to act on: the upper bound is %.3g times the forecast there, "
                  "no plan until the forecast itself crosses",
                  *ratio);
    return buf;
}

std::map<Oid, core::PartitionTrack> tracks;  // by partition; this process only
std::map<Oid, core::RangeTrack> ranges;      // the load split key, hourly: a moving hot range
std::map<Oid, core::HandoffMemory> handoffs; // that range itself, and as last measured whole
int64_t last_round_hour = -1;
// The earliest time a copy held in the last round would be let run (its
// window's start, or its scheduled start; core::copy_release_at), or a copy
// let run in a window must be held again (the window's end, which may be off
// the hour; core::copy_hold_at): a round runs then, not only at the next
// hour. 0: none.
int64_t next_release_at = 0;
// The settings a held or running copy depends on, as the last round saw
// them: a reload that changes them runs a round at once.
std::string last_round_settings;

std::string copy_settings() {
    return std::to_string(config::predict_mode) + " " +
           std::to_string(config::late_copy_outside_windows) + " " +
           (config::maintenance_window ? config::maintenance_window : "");
}

core::PredictMode mode() {
    return static_cast<core::PredictMode>(config::predict_mode);
}

Oid relation_owner(Oid relid) {
    return pg::call([&] {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for relation %u", relid);
        Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
        return owner;
    });
}

// The server time zone's offset from UTC now (local = UTC + offset).
int32_t utc_offset_seconds(int64_t now) {
    return pg::call([&] {
        struct pg_tm tm;
        fsec_t fsec;
        int tz = 0;
        if (timestamp2tm(pg::model_timestamp(now), &tz, &tm, &fsec, nullptr, nullptr) != 0)
            return 0;
        return -tz; // timestamp2tm: seconds west of UTC
    });
}

std::string time_text(int64_t seconds) {
    return pg::call([&] { return timestamptz_to_str(pg::model_timestamp(seconds)); });
}

std::string number_text(double value) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
}

// The position on a leaf's key axis of a key in its text form (a plan's
// split point).
std::optional<double> key_position(const std::string& text, const analyzer::ManagedLeaf& leaf) {
    // The worker runs as superuser: only the built-in key types the axis
    // knows get their input function called (a domain's CHECK, or another
    // type's input function, would be the table owner's code).
    if (leaf.axis.kind == analyzer::KeyAxis::Kind::unsupported)
        return std::nullopt;
    const Datum value = pg::call([&] {
        Oid input, ioparam;
        getTypeInputInfo(leaf.key_type, &input, &ioparam);
        return OidInputFunctionCall(input, const_cast<char*>(text.c_str()), ioparam, -1);
    });
    // place_key guards its own calls into PostgreSQL.
    const std::optional<analyzer::PlacedKey> placed =
        analyzer::place_key(leaf.axis, value, leaf.key_type);
    if (!placed)
        return std::nullopt;
    return placed->position;
}

struct Candidate {
    Oid relid = InvalidOid;
    Oid parent = InvalidOid;
    analyzer::ManagedLeaf leaf{};
    core::KeySampler sampler;
    std::vector<double> histogram; // the key's equal-frequency bounds (pg_statistic)
    core::Assessment assessment;
    std::string split_text; // of assessment.split, when ok
    double range_shift = 0; // how far the load's middle moves until the split's aim (range_drift)
    bool entering = false;  // a neighbour's range enters it within the forecast (range_handoff)
    bool handed = false;    // and brings the crossing: the split is the hand-off's
    double source_bytes = 0;
    std::optional<catalog::Plan> plan; // our active predicted plan
    bool other_plan = false;           // an active plan that is not ours
};

// The servers a predicted split of a partition of `parent` may go to: the
// table's own list, else presplit.predict_servers (its check hook refused a
// value that is no list). Empty: this server.
std::vector<std::string> predict_servers_of(const std::optional<catalog::ManagedTable>& table) {
    if (table && table->predict_servers)
        return *table->predict_servers;
    return core::parse_server_list(config::predict_servers ? config::predict_servers : "")
        .value_or(std::vector<std::string>{});
}
std::vector<std::string> predict_servers_of(Oid parent) {
    return predict_servers_of(catalog::find_managed_table(parent));
}

// The words of one decision's event: the action and its numbers.
std::string event_text(const core::Decision& d, const std::string& key_text,
                       const core::CopyRate& rate) {
    const core::PredictionEvent& e = d.event;
    const bool load = e.metric == core::SplitMetric::load;
    const char* unit = load ? " statements/s" : " bytes";
    // Sizes in whole bytes (5128192, not 5.12819e+06).
    auto value_text = [load](double value) {
        if (load)
            return number_text(value);
        char buffer[48];
        std::snprintf(buffer, sizeof buffer, "%.0f", value);
        return std::string(buffer);
    };
    std::string text = std::string(core::to_string(e.action)) + ": " + core::to_string(e.metric) +
                       " " + value_text(e.current) + unit + " now, threshold " +
                       value_text(e.threshold) + unit;
    if (e.predicted_crossing != 0)
        text += "; predicted crossing " + time_text(e.predicted_crossing) + " (upper bound " +
                value_text(e.upper_at_crossing) + ")";
    if (!key_text.empty())
        text += "; split point " + key_text + " (" + core::to_string(e.split_kind) + ")";
    const bool scheduled = e.copy_start != 0 || e.copy_finish != 0;
    if (scheduled)
        text += "; copy " + std::string(core::to_string(e.copy_verdict)) +
                (e.copy_start != 0 ? ", from " + time_text(e.copy_start) : "") +
                (e.copy_finish != 0 ? " until " + time_text(e.copy_finish) : "");
    // The rate the schedule was made with, measured or assumed.
    if (e.action == core::Action::create_plan || e.action == core::Action::copy ||
        e.action == core::Action::hold_copy)
        text += (scheduled ? " at the " : "; ") + rate.reason;
    if (e.drift != 0)
        text += "; drift " + number_text(e.drift);
    if (!e.reason.empty())
        text += "; " + e.reason;
    return text;
}

// A split key must lie strictly inside the partition's bounds (else the
// split leaves one side empty, or is no split of this partition).
core::SplitChoice inside_bounds(core::SplitChoice split, const analyzer::ManagedLeaf& leaf,
                                const char* what) {
    if (split.ok() && ((leaf.has_lower && !(split.key > leaf.lower)) ||
                       (leaf.has_upper && !(split.key < leaf.upper)))) {
        const std::string why = std::string("the ") + what + " split point " +
                                number_text(split.key) +
                                " lies on or outside the partition's bounds";
        split = core::SplitChoice{};
        split.reason = why;
    }
    return split;
}

std::vector<core::TimeWindow> offpeak_windows(const std::vector<std::vector<double>>& loads,
                                              int64_t first_hour_start, int64_t now,
                                              int64_t until) {
    const std::string setting = config::maintenance_window ? config::maintenance_window : "";
    // (The setting's check hook refuses a value that does not parse.)
    const core::MaintenanceWindowParse fixed = core::parse_maintenance_window(setting);
    if (fixed.ok && !fixed.windows.empty())
        return core::expand_daily_windows(fixed.windows, now, until, utc_offset_seconds(now));
    // The whole server's load: the partitions' series summed hour by hour,
    // aligned on their last hour (an hour no partition has is unknown).
    size_t hours = 0;
    for (const auto& load : loads)
        hours = std::max(hours, load.size());
    std::vector<double> total(hours, std::nan(""));
    for (const auto& load : loads)
        for (size_t i = 0; i < load.size(); ++i) {
            double& sum = total[hours - load.size() + i];
            if (!std::isnan(load[i]))
                sum = std::isnan(sum) ? load[i] : sum + load[i];
        }
    const core::Forecast server =
        core::forecast_hourly(total.data(), total.size(), load_forecast_options(48));
    return core::predict_offpeak_windows(server.hours, first_hour_start, now, until,
                                         core::OffpeakOptions{});
}

} // namespace

bool manager_round_due() {
    if (mode() == core::PredictMode::off)
        return false;
    const int64_t now = pg::model_now_seconds();
    const int64_t hour = now / kHour;
    const bool release = next_release_at != 0 && now >= next_release_at;
    std::string settings = copy_settings();
    if (hour == last_round_hour && !release && settings == last_round_settings)
        return false;
    last_round_hour = hour;
    last_round_settings = std::move(settings);
    next_release_at = 0; // the round sets it again (or a failed round waits for the hour)
    return true;
}

std::vector<ManagerAction> run_manager_round() {
    const core::PredictMode predict = mode();
    const int64_t now = pg::model_now_seconds();
    const int64_t horizon = config::prediction_horizon_seconds;
    const size_t horizon_hours =
        std::min<size_t>(core::kMaxHorizonHours, static_cast<size_t>(horizon / kHour) + 1);
    core::PolicyOptions options;
    options.horizon_seconds = horizon;
    options.copy.outside_windows = config::late_copy_outside_windows;
    if (!catalog::has_prediction_catalog())
        return {}; // a 0.1.0 catalog, until ALTER EXTENSION pg_presplit UPDATE
    analyzer::refresh_managed_set();

    std::map<Oid, catalog::Plan> predicted_plans; // by source
    for (catalog::Plan& plan : catalog::active_plans_of_origin(kPredicted))
        predicted_plans.emplace(plan.source, std::move(plan));
    std::map<Oid, std::optional<catalog::ManagedTable>> tables;

    std::vector<analyzer::PartitionEntry> entries;
    analyzer::for_each_entry(MyDatabaseId,
                             [&](const analyzer::PartitionEntry& e) { entries.push_back(e); });

    // First pass: every managed partition's load forecast (once), from its
    // own history.
    struct Forecasted {
        const analyzer::PartitionEntry* entry;
        analyzer::ManagedLeaf leaf; // a copy: the set may be rebuilt by the statements below
        PartitionSeries series;
        core::Forecast load;
        double load_threshold, size_threshold;
    };
    std::vector<Forecasted> forecasted;
    std::vector<std::vector<double>> loads;
    int64_t first_hour_start = (now / kHour) * kHour;
    for (const analyzer::PartitionEntry& entry : entries) {
        const analyzer::ManagedLeaf* found = analyzer::find_leaf(entry.relid);
        if (found == nullptr)
            continue; // no longer a managed leaf
        const analyzer::ManagedLeaf leaf_copy = *found;
        PartitionSeries series = series_of_entry(entry, now);
        loads.push_back(series.load);
        first_hour_start = series.last_hour_start + kHour;
        auto table = tables.find(leaf_copy.parent);
        if (table == tables.end())
            table = tables.emplace(leaf_copy.parent, catalog::find_managed_table(leaf_copy.parent))
                        .first;
        if (!table->second)
            continue;
        core::Forecast f = core::forecast_hourly(series.load.data(), series.load.size(),
                                                 load_forecast_options(horizon_hours));
        forecasted.push_back(
            {&entry, leaf_copy, std::move(series), std::move(f),
             table->second->split_load_threshold.value_or(config::split_load_threshold),
             static_cast<double>(table->second->split_size_threshold.value_or(
                 static_cast<int64_t>(config::split_size_threshold_mb) * 1024 * 1024))});
    }

    // A moving hot range about to cross into the partition of the same table
    // next to it: its load goes from the source's forecast to the
    // neighbour's (core/range_handoff.hpp). Number and time keys of bounded
    // partitions only; neighbours by parent and bound.
    std::vector<core::HandoffPartition> handoff_parts(forecasted.size());
    for (size_t i = 0; i < forecasted.size(); ++i) {
        const Forecasted& fc = forecasted[i];
        core::HandoffPartition& part = handoff_parts[i];
        part.own = std::move(forecasted[i].load.hours);
        if (fc.leaf.axis.kind != analyzer::KeyAxis::Kind::number || !fc.leaf.has_lower ||
            !fc.leaf.has_upper)
            continue; // table 0: takes no part
        part.table = fc.leaf.parent;
        part.lo = fc.leaf.lower;
        part.hi = fc.leaf.upper;
        part.sampler = &fc.entry->sampler;
        part.memory = &handoffs[fc.entry->relid]; // zeroed when new
    }
    core::hand_off_ranges(&handoff_parts, first_hour_start, now);
    // A partition gone (split, detached, dropped, no longer managed, or out
    // of the analyzer) is forgotten: without this the worker's memory would
    // grow with every partition it ever saw (~2 kB each for the hand-off).
    // Losing a partition's memory is safe (core/prediction_policy.hpp).
    std::unordered_set<Oid> present;
    for (const Forecasted& fc : forecasted)
        present.insert(fc.entry->relid);
    const auto forget_gone = [&present](auto& memory) {
        for (auto it = memory.begin(); it != memory.end();)
            it = present.count(it->first) ? std::next(it) : memory.erase(it);
    };
    forget_gone(tracks);
    forget_gone(ranges);
    forget_gone(handoffs);

    // Second pass: each partition assessed on its forecast with the
    // hand-offs.
    std::vector<Candidate> candidates;
    std::vector<catalog::PredictionRow> rows;
    for (size_t i = 0; i < forecasted.size(); ++i) {
        const analyzer::PartitionEntry& entry = *forecasted[i].entry;
        const analyzer::ManagedLeaf* leaf = &forecasted[i].leaf;
        const PartitionSeries& series = forecasted[i].series;
        const double load_threshold = forecasted[i].load_threshold;
        const double size_threshold = forecasted[i].size_threshold;
        const core::HandoffPartition& handoff = handoff_parts[i];
        // The forecast: its model and score, and its hours with the hand-offs.
        core::Forecast& f = forecasted[i].load;
        f.hours = handoff.adjusted;

        Candidate c;
        c.relid = entry.relid;
        c.parent = leaf->parent;
        c.leaf = *leaf;
        c.sampler = entry.sampler;
        // The bytes the copy rate is measured in (migration/copy_rate.hpp).
        c.source_bytes = migration::source_size(entry.relid).bytes;
        c.entering = handoff.incoming.found;

        double current = series.load.empty() ? 0 : series.load.back();
        if (std::isnan(current))
            current = 0;
        core::LoadSplitOptions split_options;
        split_options.images_only = !analyzer::positions_are_keys(leaf->axis);
        core::SplitChoice split = core::choose_load_split(c.sampler, split_options);
        if (split.ok() && leaf->axis.kind == analyzer::KeyAxis::Kind::unsupported) {
            split = core::SplitChoice{};
            split.reason = "the key's type is not sampled";
        }
        split = inside_bounds(split, *leaf, "sampled");
        // A hot range moving through the keys: the split where the load's
        // middle will be the day after the crossing (core/range_drift.hpp).
        const double lo = c.leaf.has_lower ? c.leaf.lower : -1e300;
        const double hi = c.leaf.has_upper ? c.leaf.upper : 1e300;
        core::RangeTrack& range = ranges[c.relid]; // zeroed when new
        if (split.kind == core::SplitKind::load_balance && !split_options.images_only)
            core::observe_range(&range, now, split.key, lo, hi);
        bool handed = false; // the split is the hand-off's
        {
            const core::RangeMotion motion = core::range_motion(range, now);
            const auto known = tracks.find(c.relid);
            const core::Crossing crossing = core::predict_crossing(
                f.hours, first_hour_start, now, current, load_threshold, options.headroom);
            const int64_t aim = core::aim_time(
                crossing, known != tracks.end() ? known->second.last_crossing_at : 0, now);
            c.range_shift = core::range_shift(motion, now, aim, lo, hi);
            if (!split_options.images_only)
                split = inside_bounds(core::aim_load_split(split, motion, now, aim, lo, hi), *leaf,
                                      "sampled");
            // The crossing comes with a neighbour's range (its own history
            // sees none, or a later one): split where that load will be.
            if (const std::optional<core::SplitChoice> entering = core::incoming_split(
                    handoff.incoming, crossing, handoff.own, c.sampler, first_hour_start, now,
                    current, load_threshold, options.headroom, aim, lo, hi)) {
                split = inside_bounds(*entering, *leaf, "hand-off");
                handed = true;
            }
        }
        c.handed = handed;
        const std::string load_split_text = !split.ok() ? ""
                                            : split_options.images_only
                                                ? analyzer::image_text(split.image)
                                                : analyzer::position_text(leaf->axis, split.key);

        // Sizes: the worker's hourly samples, forecast additively; the split
        // at the median of the rows (the key's histogram as ANALYZE left it).
        // As far as the forecast reaches (7 days), not just the horizon: a
        // big copy may need more nights than the horizon holds, and the
        // policy makes its plan when the copy must start (docs/prediction.md,
        // Big copies). The view still shows crossings within the horizon.
        core::Forecast size_f{};
        core::SplitChoice size_split;
        std::string size_split_text;
        if (size_threshold > 0) {
            size_f = core::forecast_hourly(series.size.data(), series.size.size(),
                                           size_forecast_options(core::kMaxHorizonHours));
            if (!analyzer::positions_are_keys(leaf->axis)) {
                size_split.reason = "size splits need a key type whose axis positions are keys "
                                    "(numbers, times, uuid), not text";
            } else {
                c.histogram = key_histogram(c.relid, *leaf);
                if (c.histogram.empty())
                    size_split.reason = "no histogram of the partition key: ANALYZE the partition "
                                        "(a key with few distinct values has none)";
                else
                    size_split =
                        inside_bounds(core::choose_size_split(c.histogram, 0.5), *leaf, "median");
            }
            if (size_split.ok())
                size_split_text = analyzer::position_text(leaf->axis, size_split.key);
        }

        // An append hot spot (the sampled accesses at the right edge of the
        // keys the partition holds, as its histogram says): split just above
        // the largest key, so that the coming rows go to the new partition.
        // The sampler holds reads and inserts alike: a time series' reads
        // follow its newest rows too. Numbers and times only (a step of 1: an
        // integer, a day of date, a microsecond).
        core::SplitChoice append;
        append.reason = "append hot spots are looked for in number and time keys";
        std::string append_text;
        if (leaf->axis.kind == analyzer::KeyAxis::Kind::number) {
            if (c.histogram.empty())
                c.histogram = key_histogram(c.relid, *leaf);
            if (c.histogram.size() < 2) {
                append.reason = "no histogram of the partition key to find its largest key";
            } else {
                append = inside_bounds(core::choose_append_split(c.sampler, c.histogram.front(),
                                                                 c.histogram.back(),
                                                                 core::AppendOptions{}),
                                       *leaf, "append");
                if (append.ok())
                    append_text = analyzer::position_text(leaf->axis, append.key);
            }
        }

        core::MetricInput load_in;
        load_in.forecast = &f.hours;
        load_in.current = current;
        load_in.threshold = load_threshold;
        load_in.split = split;
        core::MetricInput size_in;
        size_in.forecast = size_f.hours.empty() ? nullptr : &size_f.hours;
        size_in.current = c.source_bytes;
        size_in.threshold = size_threshold;
        size_in.split = size_split;
        c.assessment = core::assess_partition(load_in, size_in, append, first_hour_start, now,
                                              options.headroom);
        if (c.assessment.split.kind == core::SplitKind::append_edge)
            c.split_text = append_text;
        else if (c.assessment.split.ok())
            c.split_text =
                c.assessment.metric == core::SplitMetric::size ? size_split_text : load_split_text;

        // The view's rows: one per metric.
        const core::Crossing load_crossing =
            core::predict_crossing(f.hours, first_hour_start, now, current, load_threshold);
        catalog::PredictionRow row;
        row.partition = c.relid;
        row.parent = c.parent;
        row.metric = "load";
        row.current = current;
        row.threshold = load_threshold;
        if (load_crossing.found && load_crossing.at - now <= horizon)
            row.predicted_crossing = load_crossing.at;
        // An append hot spot wins over each metric's own split.
        const core::SplitChoice& load_shown = append.ok() ? append : split;
        if (load_shown.ok())
            row.split_point = append.ok() ? append_text : load_split_text;
        row.model = core::model_name(f.model);
        row.mase = f.mase;
        if (!(load_threshold > 0))
            row.reason = "no load threshold";
        else if (!row.predicted_crossing)
            row.reason = "no crossing within the horizon";
        else
            row.reason =
                handed && !append.ok()
                    ? (split.ok() ? "split (hand-off) at " : "no split (hand-off): ") + split.reason
                : load_shown.ok() ? "split at " + load_shown.reason
                                  : "no split: " + load_shown.reason;
        if (c.entering && !handed)
            row.reason += "; with a neighbour's range entering: " + handoff.incoming.reason;
        if (row.predicted_crossing && c.assessment.metric == core::SplitMetric::load)
            row.reason += interval_too_wide_text(c.assessment.crossing, now, options);
        if (f.short_history)
            row.reason += " (under two days of history: trend only)";
        rows.push_back(row);
        if (size_threshold > 0) {
            catalog::PredictionRow size_row;
            size_row.partition = c.relid;
            size_row.parent = c.parent;
            size_row.metric = "size";
            size_row.current = c.source_bytes;
            size_row.threshold = size_threshold;
            const core::Crossing size_crossing = core::predict_crossing(
                size_f.hours, first_hour_start, now, c.source_bytes, size_threshold);
            if (size_crossing.found && size_crossing.at - now <= horizon)
                size_row.predicted_crossing = size_crossing.at;
            const core::SplitChoice& size_shown = append.ok() ? append : size_split;
            if (size_shown.ok())
                size_row.split_point = append.ok() ? append_text : size_split_text;
            if (!size_f.hours.empty()) {
                size_row.model = core::model_name(size_f.model);
                size_row.mase = size_f.mase;
            }
            if (size_f.hours.empty())
                size_row.reason = "no size sampled yet (presplit.size_sample_interval): a "
                                  "crossing shows once reached";
            else if (!size_row.predicted_crossing)
                size_row.reason = "no crossing within the horizon";
            else
                size_row.reason = size_shown.ok() ? "split at " + size_shown.reason
                                                  : "no split: " + size_shown.reason;
            if (size_row.predicted_crossing && c.assessment.metric == core::SplitMetric::size)
                size_row.reason += interval_too_wide_text(c.assessment.crossing, now, options);
            if (!size_f.hours.empty() && size_f.short_history)
                size_row.reason += " (under two days of history: trend only)";
            rows.push_back(size_row);
        }

        auto plan = predicted_plans.find(c.relid);
        if (plan != predicted_plans.end())
            c.plan = plan->second;
        else
            c.other_plan = catalog::find_active_plan_for_source(c.relid).has_value();
        candidates.push_back(std::move(c));
    }

    const int64_t until = now + 2 * horizon + core::kDaySeconds;
    const std::vector<core::TimeWindow> windows =
        offpeak_windows(loads, first_hour_start, now, until);
    catalog::replace_predictions(rows, now);
    std::vector<catalog::OffpeakWindowRow> window_rows;
    for (const core::TimeWindow& w : windows)
        window_rows.push_back(
            {w.starts, w.ends,
             std::isnan(w.predicted_load) ? std::nullopt : std::optional(w.predicted_load)});
    catalog::replace_offpeak_windows(window_rows);

    if (predict == core::PredictMode::off)
        return {};
    // Earliest crossing first: they compete for the caps.
    std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        const core::Crossing& x = a.assessment.crossing;
        const core::Crossing& y = b.assessment.crossing;
        if (x.found != y.found)
            return x.found;
        return x.found && x.at < y.at;
    });

    const core::CopyRate copy_rate = migration::current_copy_rate();
    // The cap counts the plans with work ahead (copy, capture, switchover),
    // as the bytes below count only sources still in their table: a cut-over
    // plan keeps its old source only for a rollback.
    size_t plans_counted = static_cast<size_t>(
        std::count_if(predicted_plans.begin(), predicted_plans.end(), [](const auto& entry) {
            return entry.second.state != core::PlanState::cut_over;
        }));
    double shadow_bytes = 0;
    for (const Candidate& c : candidates)
        if (c.plan)
            shadow_bytes += c.source_bytes;

    std::vector<ManagerAction> actions;
    for (Candidate& c : candidates) {
        if (c.other_plan)
            continue; // a DBA's plan: the partition is theirs
        core::RoundInput in;
        in.now = now;
        in.mode = predict;
        in.assessment = c.assessment;
        in.source_bytes = c.source_bytes;
        in.copy_bytes_per_second = copy_rate.bytes_per_second;
        in.windows = &windows;
        // This partition's own plan is not counted against it (if counted:
        // a cut-over one is not).
        in.predicted_plans =
            plans_counted - (c.plan && c.plan->state != core::PlanState::cut_over ? 1 : 0);
        in.shadow_bytes = shadow_bytes - (c.plan ? c.source_bytes : 0);
        std::string key_text = c.split_text;
        if (c.plan) {
            in.plan_state = c.plan->state;
            key_text = c.plan->split_points.front();
            if (auto key = key_position(key_text, c.leaf)) {
                in.plan_key = *key;
                // A size split divides the rows, a load split the load
                // (along a moving hot range); an append split sits at the
                // edge on purpose (no drift). The kind is the plan's own
                // (presplit.plan.split_kind), else this process's memory.
                const auto known = tracks.find(c.relid);
                std::optional<core::SplitKind> stored =
                    c.plan->split_kind ? core::parse_split_kind(*c.plan->split_kind) : std::nullopt;
                const core::SplitKind kind =
                    stored && *stored != core::SplitKind::none ? *stored
                    : known != tracks.end() && known->second.plan_kind != core::SplitKind::none
                        ? known->second.plan_kind
                        : core::SplitKind::load_balance;
                in.plan_kind = kind;
                const double drift =
                    kind == core::SplitKind::append_edge ? 0
                    : kind == core::SplitKind::size_quantile
                        ? (c.histogram.size() >= 2
                               ? std::fabs(core::share_below_bounds(c.histogram, *key) - 0.5)
                               : std::nan(""))
                        : core::load_split_drift(c.sampler, *key, c.range_shift,
                                                 c.leaf.has_lower ? c.leaf.lower : -1e300,
                                                 c.leaf.has_upper ? c.leaf.upper : 1e300);
                // While the crossing comes with a neighbour's entering
                // range, the load the split is aimed at is still in the
                // neighbour: no drift.
                in.drift = std::isnan(drift) || c.handed ? 0 : drift;
            }
            in.bytes_remaining = c.plan->backfill_done ? 0 : c.source_bytes;
        }
        // Onto another server (the plan's targets, or the predict servers a
        // new plan would go to): that copy, PostgreSQL's table sync, cannot
        // pause, and is scheduled to fit in one window with the estimate the
        // worker starts it by (migration/copy_rate.hpp).
        bool remote = false;
        if (c.plan) {
            // A switching or cut-over plan is the switchover's (decide_round
            // looks no further); a synced one's copy is done, but its drift
            // rule asks whether a new copy would still make it.
            const core::PlanState state = c.plan->state;
            const bool decided =
                state != core::PlanState::switching && state != core::PlanState::cut_over;
            if (decided && catalog::has_remote_targets(c.plan->id)) {
                remote = true;
                if (state != core::PlanState::synced) {
                    const migration::PlanLayout layout = migration::load_layout(*c.plan);
                    in.remote_copy_begun = !remote::remote_copy_would_start(layout);
                    // Copied in chunks, begun: it stops between chunks, so
                    // it is scheduled (held outside the windows) like a
                    // local copy, for at most the whole source while
                    // chunks are left.
                    if (remote::remote_chunks_left(layout))
                        in.bytes_remaining = c.source_bytes;
                }
            }
        } else {
            remote = !predict_servers_of(tables.at(c.parent)).empty();
        }
        if (remote)
            in.remote_copy = migration::estimate_remote_copy(c.relid, copy_rate);
        core::PartitionTrack& track = tracks[c.relid]; // zeroed when new
        const core::Decision d = core::decide_round(&track, in, options);
        for (const int64_t release : {core::copy_release_at(d, track, predict, windows, now),
                                      core::copy_hold_at(d, predict, windows, now)})
            if (release != 0 && (next_release_at == 0 || release < next_release_at))
                next_release_at = release;

        ManagerAction action;
        action.partition = c.relid;
        if (c.plan)
            action.plan_id = c.plan->id;
        if (d.emit || d.action == core::Action::create_plan ||
            d.action == core::Action::cancel_plan || d.action == core::Action::start_switchover)
            action.event = event_text(d, key_text, copy_rate);
        switch (d.action) {
        case core::Action::none:
        case core::Action::advise:
        case core::Action::refuse:
            if (!action.event)
                continue;
            action.kind = ManagerAction::Kind::event;
            break;
        case core::Action::create_plan:
            action.kind = ManagerAction::Kind::create_plan;
            action.split_point = c.split_text;
            action.split_kind = c.assessment.split.kind;
            // Held unless its schedule runs it now, as decide_round then
            // decides for the plan's copy: inside a window from the scheduled
            // start, outside the windows only from the time they fall short.
            action.copy_held = !d.schedule.runs_at(now, windows, /*started=*/false,
                                                   /*outside_begun=*/false);
            ++plans_counted;
            shadow_bytes += c.source_bytes;
            break;
        case core::Action::copy:
            action.kind = ManagerAction::Kind::release_copy;
            break;
        case core::Action::hold_copy:
            action.kind = ManagerAction::Kind::hold_copy;
            break;
        case core::Action::cancel_plan:
            action.kind = ManagerAction::Kind::cancel_plan;
            break;
        case core::Action::start_switchover:
            action.kind = ManagerAction::Kind::start_switchover;
            break;
        }
        actions.push_back(std::move(action));
    }
    return actions;
}

namespace {

std::string refusal_text(const std::string& server, const pg::Error& error) {
    std::string text = "server \"" + server + "\": " + error.what();
    std::string hint = error.hint();
    if (!hint.empty() && hint.back() == '.')
        hint.pop_back();
    if (!hint.empty())
        text += " (" + hint + ")";
    return text;
}

} // namespace

PredictedPlan create_predicted_plan(Oid source, const std::string& split_point, bool copy_held,
                                    core::SplitKind kind) {
    // As the owner: validate_source checks the owner's rights, the shadows
    // and capture are the owner's, and so is every connection to another
    // server (the owner's user mapping; docs/security.md).
    const Oid owner = relation_owner(source);
    pg::RunAsTableOwner as_owner(owner);
    migration::SplitRequest request = migration::validate_source(source);
    request.split_points = {split_point};
    PredictedPlan created;
    const std::vector<std::string> servers = predict_servers_of(request.parent);
    if (!servers.empty()) {
        // The upper piece (an append hot spot's new right-edge partition)
        // goes to another server; split_partition's own checks decide which
        // can take it. They change nothing, here or there, and raise only
        // pg::Error, each in a subtransaction whose rollback undoes what
        // the refusal left (an open SPI connection, a role switch); an
        // interrupt (a PgError) ends the round as usual.
        std::string refusals;
        const std::map<std::string, int> targets = catalog::active_targets_by_server();
        for (const std::string& server : core::servers_to_try(servers, targets)) {
            request.servers = {std::nullopt, server};
            try {
                pg::in_subtransaction([&] { remote::check_remote_targets(request); },
                                      /*recoverable=*/ERRCODE_SUCCESSFUL_COMPLETION);
                break;
            } catch (const pg::Error& error) {
                refusals += (refusals.empty() ? "" : "; ") + refusal_text(server, error);
                request.servers.clear();
            }
        }
        if (request.servers.empty()) {
            created.note =
                "no plan: no server of the predict servers can take its upper piece: " + refusals +
                ". Advice only until that is fixed; the next round tries again";
            return created;
        }
        const auto found = targets.find(*request.servers.back());
        created.note = "its upper piece onto server \"" + *request.servers.back() + "\" (" +
                       std::to_string(found == targets.end() ? 0 : found->second) +
                       " targets of active plans there; the copy starts when the subscription is "
                       "created, once the copy is released)";
        if (!refusals.empty())
            created.note += "; passed over: " + refusals;
    }
    created.id = migration::start_plan(request, kPredicted, owner, copy_held);
    if (kind != core::SplitKind::none)
        catalog::set_split_kind(*created.id, core::to_string(kind));
    // Last, as split_partition does: a table made on another server is not
    // undone by a rollback here.
    if (!request.servers.empty())
        remote::create_remote_targets(
            migration::load_layout(*catalog::load_plan(*created.id, /*lock=*/true)));
    return created;
}

void apply_action(const ManagerAction& action) {
    const std::string relation = pg::qualified_relation_name(action.partition);
    std::optional<int64_t> plan_id = action.plan_id;
    std::optional<catalog::Plan> plan;
    if (plan_id) {
        // Locked, and still ours and active: the DBA may have acted since.
        plan = catalog::load_plan(*plan_id, /*lock=*/true);
        if (!plan || core::is_terminal(plan->state))
            return;
    }
    const bool needs_plan = action.kind != ManagerAction::Kind::event &&
                            action.kind != ManagerAction::Kind::create_plan;
    if (needs_plan && !plan)
        return; // (decide_round acts on a plan only when the catalog has one)
    switch (action.kind) {
    case ManagerAction::Kind::event:
        break;
    case ManagerAction::Kind::create_plan: {
        const PredictedPlan created = create_predicted_plan(action.partition, action.split_point,
                                                            action.copy_held, action.split_kind);
        plan_id = created.id;
        std::string event = action.event.value_or("");
        // Not created: what was decided stays advice, with the reason.
        const std::string decided = core::to_string(core::Action::create_plan);
        if (!created.id && event.compare(0, decided.size(), decided) == 0)
            event = core::to_string(core::Action::advise) + event.substr(decided.size());
        if (!created.note.empty())
            event += "; " + created.note;
        catalog::log_event(plan_id, relation, "prediction", event);
        return;
    }
    case ManagerAction::Kind::hold_copy:
        catalog::set_copy_held(*plan_id, true);
        break;
    case ManagerAction::Kind::release_copy:
        catalog::set_copy_held(*plan_id, false);
        break;
    case ManagerAction::Kind::cancel_plan:
        if (!core::can_transition(plan->state, core::PlanState::cancelled) ||
            core::main_path_position(plan->state).value_or(0) >
                core::main_path_position(core::PlanState::synced).value_or(0))
            return; // switching began meanwhile: the switchover owns it
        switchover::cancel(*plan,
                           "cancelled by the predictive manager: " + action.event.value_or(""));
        break;
    case ManagerAction::Kind::start_switchover:
        catalog::request_switch(*plan_id, /*ramp=*/true);
        break;
    }
    if (action.event)
        catalog::log_event(plan_id, relation, "prediction", action.event);
}

} // namespace presplit::predictor
