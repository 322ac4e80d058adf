#include "client/status_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace presplit::client {

bool WorkerHealth::healthy() const {
    return pid && heartbeat_age_seconds &&
           *heartbeat_age_seconds < std::max(10.0, 5 * naptime_seconds);
}

std::string WorkerHealth::verdict() const {
    if (!pid)
        return "not running";
    if (!heartbeat_age_seconds)
        return "started, no heartbeat yet";
    return healthy() ? "healthy"
                     : "late: no heartbeat for " + format_duration(*heartbeat_age_seconds);
}

namespace {

// The lower bound's first value: "FOR VALUES FROM ('10') TO ..." -> "10".
std::string lower_value(const std::string& bound) {
    const size_t from = bound.find("FROM (");
    if (from == std::string::npos)
        return bound; // DEFAULT, or not a range bound
    size_t start = from + 6;
    if (start < bound.size() && bound[start] == '\'') {
        std::string value;
        for (size_t i = start + 1; i < bound.size(); ++i) {
            if (bound[i] == '\'') {
                if (i + 1 < bound.size() && bound[i + 1] == '\'') {
                    value += '\'';
                    ++i;
                    continue;
                }
                break;
            }
            value += bound[i];
        }
        return value;
    }
    const size_t end = bound.find_first_of(",)", start);
    return bound.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

bool is_number(const std::string& text, double& value) {
    if (text.empty())
        return false;
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return *end == '\0';
}

std::string optional_rate(const std::optional<double>& rate) {
    return rate ? format_number(*rate) : std::string("-");
}

} // namespace

bool bound_less(const std::string& a, const std::string& b) {
    const std::string la = lower_value(a), lb = lower_value(b);
    if (la == lb)
        return a < b;
    if (la == "MINVALUE" || lb == "MAXVALUE")
        return true;
    if (lb == "MINVALUE" || la == "MAXVALUE")
        return false;
    if (a.find("FROM (") == std::string::npos) // DEFAULT last
        return false;
    if (b.find("FROM (") == std::string::npos)
        return true;
    double na, nb;
    if (is_number(la, na) && is_number(lb, nb))
        return na < nb;
    return la < lb;
}

std::vector<std::string> render_status(const StatusReport& report, const Style& style) {
    std::vector<std::string> lines;
    lines.push_back(paint(style, "1", "Managed tables") + " in database " + report.database);
    if (report.tables.empty())
        lines.push_back("  none: SELECT presplit.manage('table') registers one");
    for (const TableRow& table : report.tables) {
        lines.push_back("  " + paint(style, "1", table.parent) + " (partitioned by " +
                        table.partition_key + " " + table.key_type + ")");
        std::vector<std::vector<std::string>> cells = {
            {"partition", "bound", "rows", "size", "load/s now", "last hour", "share"}};
        for (const PartitionRow& p : table.partitions)
            cells.push_back({p.partition, p.bound,
                             p.estimated_rows ? format_count(*p.estimated_rows) : "-",
                             format_bytes(p.total_bytes), optional_rate(p.per_second_now),
                             optional_rate(p.per_second_last_hour),
                             p.load_share ? format_number(*p.load_share * 100, 3) + " %" : "-"});
        std::vector<size_t> widths(cells[0].size(), 0);
        for (const auto& row : cells)
            for (size_t i = 0; i < row.size(); ++i)
                widths[i] = std::max(widths[i], display_width(row[i]));
        for (size_t r = 0; r < cells.size(); ++r) {
            std::string line = "    ";
            for (size_t i = 0; i < cells[r].size(); ++i) {
                const bool left = i < 2;
                line += (i ? "  " : "") + (left ? pad_right(cells[r][i], widths[i])
                                                : pad_left(cells[r][i], widths[i]));
            }
            while (!line.empty() && line.back() == ' ')
                line.pop_back();
            lines.push_back(r == 0 ? paint(style, "2", line) : line);
        }
    }
    lines.push_back("");
    lines.push_back(paint(style, "1", "Active plans"));
    if (report.plans.empty())
        lines.push_back("  none");
    for (const ActivePlan& plan : report.plans) {
        std::string line = "  plan " + std::to_string(plan.id) + "  " + plan.source + " at " +
                           plan.split_points + "  " + paint(style, "1", plan.state);
        if (plan.state == "backfilling")
            line += ", " + format_count(plan.rows_copied) + " rows copied" +
                    (plan.rows_estimated ? " of ~" + format_count(*plan.rows_estimated) : "");
        if (plan.weight && (plan.state == "switching" || plan.state == "synced"))
            line += ", new channel weight " + std::to_string(*plan.weight) + " %";
        if (plan.paused)
            line += ", paused";
        if (plan.copy_held &&
            (plan.state == "planned" || plan.state == "preparing" || plan.state == "backfilling"))
            line += ", copy held until its scheduled start";
        if (plan.state == "switching" && !plan.ramp)
            line += ", no ramp";
        if (plan.state == "synced" && !plan.switch_requested)
            line += ", waiting for split_partition";
        if (plan.origin != "manual")
            line += " (" + plan.origin + ")";
        line += ", for " + format_duration(plan.since_seconds);
        lines.push_back(line);
    }
    lines.push_back("");
    const WorkerHealth& w = report.worker;
    std::string worker = paint(style, "1", "Worker") + "  ";
    worker += paint(style, w.healthy() ? "32" : "1;31", w.verdict());
    if (w.pid)
        worker += ": pid " + std::to_string(*w.pid) + ", database " + w.database +
                  (w.heartbeat_age_seconds
                       ? ", last heartbeat " + format_duration(*w.heartbeat_age_seconds) + " ago"
                       : "") +
                  ", " + format_count(w.loops) + " rounds, started " + std::to_string(w.starts) +
                  (w.starts == 1 ? " time" : " times");
    lines.push_back(worker);
    return lines;
}

Json status_json(const StatusReport& report) {
    Json tables = Json::array();
    for (const TableRow& table : report.tables) {
        Json partitions = Json::array();
        for (const PartitionRow& p : table.partitions)
            partitions.push(Json::object()
                                .set("partition", p.partition)
                                .set("bound", p.bound)
                                .set("estimated_rows", p.estimated_rows)
                                .set("total_bytes", p.total_bytes)
                                .set("reads", p.reads)
                                .set("writes", p.writes)
                                .set("per_second_now", p.per_second_now)
                                .set("per_second_last_hour", p.per_second_last_hour)
                                .set("per_second_last_day", p.per_second_last_day)
                                .set("load_share", p.load_share));
        tables.push(Json::object()
                        .set("parent", table.parent)
                        .set("partition_key", table.partition_key)
                        .set("key_type", table.key_type)
                        .set("partitions", partitions));
    }
    Json plans = Json::array();
    for (const ActivePlan& plan : report.plans)
        plans.push(Json::object()
                       .set("plan", plan.id)
                       .set("parent", plan.parent)
                       .set("source", plan.source)
                       .set("split_points", plan.split_points)
                       .set("state", plan.state)
                       .set("origin", plan.origin)
                       .set("new_channel_weight", plan.weight)
                       .set("paused", plan.paused)
                       .set("ramp", plan.ramp)
                       .set("switch_requested", plan.switch_requested)
                       .set("copy_held", plan.copy_held)
                       .set("rows_copied", plan.rows_copied)
                       .set("rows_estimated", plan.rows_estimated)
                       .set("seconds_in_state", plan.since_seconds));
    const WorkerHealth& w = report.worker;
    Json worker = Json::object()
                      .set("pid", w.pid)
                      .set("database", w.database)
                      .set("heartbeat_age_seconds", w.heartbeat_age_seconds)
                      .set("loops", w.loops)
                      .set("starts", w.starts)
                      .set("extension_present", w.extension_present)
                      .set("healthy", w.healthy())
                      .set("verdict", w.verdict());
    return Json::object()
        .set("command", "status")
        .set("database", report.database)
        .set("tables", tables)
        .set("plans", plans)
        .set("worker", worker);
}

} // namespace presplit::client
