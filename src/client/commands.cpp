#include "client/commands.hpp"

#include "client/chart.hpp"
#include "client/follow.hpp"
#include "client/heat.hpp"
#include "client/json.hpp"
#include "client/status_report.hpp"
#include "client/svg.hpp"
#include "core/text_array.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <unistd.h>

namespace presplit::client {
namespace {

// A failure the client itself finds (not the server's refusal): printed as
// "pg_presplit: error: ..." with an optional hint, and an exit status.
struct ClientFailure {
    int exit_status;
    std::string message;
    std::string hint;
};

void print_lines(const std::vector<std::string>& lines) {
    for (const std::string& line : lines)
        std::cout << line << "\n";
    std::cout.flush();
}

void print_json(const Json& document) {
    std::cout << document.dump() << "\n";
    std::cout.flush();
}

std::string array_text(const std::vector<std::string>& values) {
    core::TextArray array(values.begin(), values.end());
    return core::format_text_array(array);
}

std::vector<std::string> parse_array(const std::string& literal) {
    std::vector<std::string> values;
    if (auto parsed = core::parse_text_array(literal))
        for (const auto& element : *parsed)
            values.push_back(element.value_or("NULL"));
    return values;
}

void require_extension(pq::Connection& conn) {
    auto result = conn.exec("SELECT current_database() AS database, "
                            "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = "
                            "'pg_presplit') AS version");
    if (result.is_null(0, "version"))
        throw ClientFailure{kExitServerError,
                            "pg_presplit is not installed in database \"" +
                                result.text(0, "database") + "\"",
                            "Connect to the database where it is (-d), or run CREATE EXTENSION "
                            "pg_presplit there."};
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
    file.close();
    if (!file)
        throw ClientFailure{kExitUsage, "could not write \"" + path + "\"",
                            "Check that its directory exists and is writable."};
}

// ---------------------------------------------------------------- status

int run_status(const Options& options, const Output& output, pq::Connection& conn) {
    StatusReport report;
    report.database = conn.exec("SELECT current_database() AS d").text(0, "d");
    auto partitions = conn.exec(R"(
SELECT m.parent::text AS parent, m.partition_key::text AS partition_key, m.key_type::text AS key_type,
       m.partition::text AS partition, m.bound, m.estimated_rows, m.total_bytes,
       s.reads, s.writes, s.per_second_now, s.per_second_last_hour, s.per_second_last_day, s.load_share
  FROM presplit.managed_tables m
  LEFT JOIN presplit.partition_stats s ON s.partition = m.partition
 ORDER BY m.parent::text)");
    for (int r = 0; r < partitions.rows(); ++r) {
        const std::string parent = partitions.text(r, "parent");
        if (report.tables.empty() || report.tables.back().parent != parent)
            report.tables.push_back(
                {parent, partitions.text(r, "partition_key"), partitions.text(r, "key_type"), {}});
        if (partitions.is_null(r, "partition"))
            continue; // a table without partitions
        PartitionRow row;
        row.partition = partitions.text(r, "partition");
        row.bound = partitions.text(r, "bound");
        row.estimated_rows = partitions.integer(r, "estimated_rows");
        row.total_bytes = partitions.integer(r, "total_bytes").value_or(0);
        row.reads = partitions.integer(r, "reads");
        row.writes = partitions.integer(r, "writes");
        row.per_second_now = partitions.number(r, "per_second_now");
        row.per_second_last_hour = partitions.number(r, "per_second_last_hour");
        row.per_second_last_day = partitions.number(r, "per_second_last_day");
        row.load_share = partitions.number(r, "load_share");
        report.tables.back().partitions.push_back(row);
    }
    for (TableRow& table : report.tables)
        std::stable_sort(table.partitions.begin(), table.partitions.end(),
                         [](const PartitionRow& a, const PartitionRow& b) {
                             return bound_less(a.bound, b.bound);
                         });
    auto plans = conn.exec(R"(
SELECT p.id, p.parent::text AS parent, coalesce(p.source::text, '') AS source,
       p.split_points::text AS split_points, p.state, p.origin, p.new_channel_weight, p.paused,
       p.ramp, p.switch_requested, extract(epoch FROM now() - p.updated_at) AS since,
       (to_jsonb(p) ->> 'copy_held')::boolean AS copy_held, -- (not in a 0.1.0 catalog)
       (SELECT coalesce(sum(g.rows_copied), 0) FROM presplit.progress g WHERE g.plan_id = p.id) AS rows_copied,
       (SELECT sum(g.rows_estimated) FROM presplit.progress g WHERE g.plan_id = p.id) AS rows_estimated
  FROM presplit.plans p
 WHERE p.finished_at IS NULL
 ORDER BY p.id)");
    for (int r = 0; r < plans.rows(); ++r) {
        ActivePlan plan;
        plan.id = plans.integer(r, "id").value_or(0);
        plan.parent = plans.text(r, "parent");
        plan.source = plans.text(r, "source");
        plan.split_points = plans.text(r, "split_points");
        plan.state = plans.text(r, "state");
        plan.origin = plans.text(r, "origin");
        if (auto weight = plans.integer(r, "new_channel_weight"))
            plan.weight = static_cast<int>(*weight);
        plan.paused = plans.boolean(r, "paused");
        plan.ramp = plans.boolean(r, "ramp");
        plan.switch_requested = plans.boolean(r, "switch_requested");
        plan.copy_held = plans.boolean(r, "copy_held");
        plan.since_seconds = plans.number(r, "since").value_or(0);
        plan.rows_copied = plans.integer(r, "rows_copied").value_or(0);
        plan.rows_estimated = plans.integer(r, "rows_estimated");
        report.plans.push_back(plan);
    }
    auto worker = conn.exec(R"(
SELECT w.pid, w.database,
       greatest(extract(epoch FROM clock_timestamp() - w.last_heartbeat), 0) AS heartbeat_age,
       w.loops, w.starts, w.extension_present,
       (SELECT setting::float8 / 1000 FROM pg_catalog.pg_settings WHERE name = 'presplit.naptime') AS naptime
  FROM presplit.worker_status w)");
    if (worker.rows() > 0) {
        WorkerHealth& w = report.worker;
        if (auto pid = worker.integer(0, "pid"))
            w.pid = static_cast<int>(*pid);
        w.database = worker.text(0, "database");
        w.heartbeat_age_seconds = worker.number(0, "heartbeat_age");
        w.loops = worker.integer(0, "loops").value_or(0);
        w.starts = worker.integer(0, "starts").value_or(0);
        w.extension_present = worker.boolean(0, "extension_present");
        w.naptime_seconds = worker.number(0, "naptime").value_or(1);
    }
    if (options.json)
        print_json(status_json(report));
    else
        print_lines(render_status(report, output.style));
    return kExitDone;
}

// ---------------------------------------------------------------- following plans

PlanSnapshot load_snapshot(pq::Connection& conn, int64_t id, int64_t& last_event) {
    const pq::Params plan_param{std::to_string(id)};
    auto plan = conn.exec(R"(
SELECT p.parent::text AS parent, coalesce(p.source::text, '') AS source,
       p.split_points::text AS split_points, p.state, p.switch_requested, p.ramp, p.paused,
       p.new_channel_weight, p.reason, extract(epoch FROM now() - p.created_at) AS age
  FROM presplit.plans p WHERE p.id = $1)",
                          plan_param);
    if (plan.rows() == 0)
        throw ClientFailure{kExitServerError,
                            "there is no split plan " + std::to_string(id) + " that you may see",
                            "presplit.plans lists the plans of the tables you own; pg_presplit "
                            "status shows the active ones."};
    PlanSnapshot s;
    s.id = id;
    s.parent = plan.text(0, "parent");
    s.source = plan.text(0, "source");
    s.split_points = parse_array(plan.text(0, "split_points"));
    s.state = plan.text(0, "state");
    s.switch_requested = plan.boolean(0, "switch_requested");
    s.ramp = plan.boolean(0, "ramp");
    s.paused = plan.boolean(0, "paused");
    if (auto weight = plan.integer(0, "new_channel_weight"))
        s.weight = static_cast<int>(*weight);
    s.reason = plan.get(0, "reason");
    s.age_seconds = plan.number(0, "age").value_or(0);

    auto progress = conn.exec(R"(
SELECT ordinal, coalesce(shadow::text, '') AS shadow, phase, rows_copied, rows_estimated,
       rows_per_second, extract(epoch FROM eta) AS eta,
       extract(epoch FROM updated_at - started_at) AS copy_seconds
  FROM presplit.progress WHERE plan_id = $1 ORDER BY ordinal)",
                              plan_param);
    for (int r = 0; r < progress.rows(); ++r) {
        ShadowProgress shadow;
        shadow.ordinal = static_cast<int>(progress.integer(r, "ordinal").value_or(0));
        shadow.shadow = progress.text(r, "shadow");
        shadow.phase = progress.text(r, "phase");
        shadow.rows_copied = progress.integer(r, "rows_copied").value_or(0);
        shadow.rows_estimated = progress.integer(r, "rows_estimated");
        shadow.rows_per_second = progress.number(r, "rows_per_second");
        shadow.eta_seconds = progress.number(r, "eta");
        shadow.copy_seconds = progress.number(r, "copy_seconds");
        s.shadows.push_back(shadow);
    }
    auto channels = conn.exec(R"(
SELECT channel, weight, statements, errors, mean_ms, p95_ms
  FROM presplit.channels WHERE plan_id = $1 ORDER BY channel DESC)",
                              plan_param);
    for (int r = 0; r < channels.rows(); ++r) {
        ChannelStats c;
        c.channel = channels.text(r, "channel");
        c.weight = static_cast<int>(channels.integer(r, "weight").value_or(0));
        c.statements = channels.integer(r, "statements").value_or(0);
        c.errors = channels.integer(r, "errors").value_or(0);
        c.mean_ms = channels.number(r, "mean_ms");
        c.p95_ms = channels.number(r, "p95_ms");
        s.channels.push_back(c);
    }
    auto events = conn.exec(R"(
SELECT id, to_char(at, 'HH24:MI:SS.MS') AS at, kind, from_state, to_state, detail
  FROM presplit.events WHERE plan_id = $1 AND id > $2 ORDER BY id)",
                            {std::to_string(id), std::to_string(last_event)});
    for (int r = 0; r < events.rows(); ++r) {
        PlanEvent e;
        e.id = events.integer(r, "id").value_or(0);
        e.at = events.text(r, "at");
        e.kind = events.text(r, "kind");
        e.from_state = events.get(r, "from_state");
        e.to_state = events.get(r, "to_state");
        e.detail = events.get(r, "detail");
        last_event = std::max(last_event, e.id);
        s.events.push_back(e);
    }
    return s;
}

// Asks on the terminal what Ctrl-C should do; detach when nobody can answer.
OnInterrupt ask_what_to_do(const std::vector<PlanFollower>& followers) {
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return OnInterrupt::detach;
    std::string plans;
    for (const PlanFollower& f : followers)
        if (!f.outcome())
            plans += (plans.empty() ? "" : ", ") + std::string("plan ") +
                     std::to_string(f.plan_id()) + " is " + f.last().state;
    std::cerr << "\nInterrupted: " << plans
              << ".\n  [p]ause the ramp, [r]oll back, [d]etach (the worker goes on), or "
                 "[c]ontinue watching? ";
    std::cerr.flush();
    pq::clear_interrupt();
    char answer[64];
    if (std::fgets(answer, sizeof answer, stdin) == nullptr || pq::interrupted())
        return OnInterrupt::detach; // end of input, or Ctrl-C again
    switch (answer[0]) {
    case 'p':
    case 'P':
        return OnInterrupt::pause;
    case 'r':
    case 'R':
        return OnInterrupt::rollback;
    case 'c':
    case 'C':
        return OnInterrupt::ask; // go on watching
    default:
        return OnInterrupt::detach;
    }
}

const char* interrupt_name(OnInterrupt action) {
    switch (action) {
    case OnInterrupt::pause:
        return "pause";
    case OnInterrupt::rollback:
        return "rollback";
    case OnInterrupt::detach:
        return "detach";
    case OnInterrupt::ask:
        break;
    }
    return "ask";
}

// Follows plans until each has ended for this command (follow.hpp), or
// Ctrl-C. Prints as it goes (terminal: a live block; otherwise a line per
// change; --json: nothing until the one document at the end).
int follow(const Options& options, const Output& output, pq::Connection& conn,
           const std::vector<int64_t>& ids, bool from_first_event, Json document) {
    std::vector<PlanFollower> followers;
    std::vector<int64_t> last_events;
    for (int64_t id : ids) {
        followers.emplace_back(id);
        int64_t last = 0;
        if (!from_first_event) {
            // Only what happens from now on; but a plan whose ramp aborted
            // (and was not resumed since) has ended for watch already.
            auto before = conn.exec(R"(
SELECT coalesce(max(e.id), 0) AS id,
       (SELECT a.kind || ':' || coalesce(a.detail, '') FROM presplit.events a
         WHERE a.plan_id = $1 AND a.kind IN ('ramp_aborted', 'resumed')
         ORDER BY a.id DESC LIMIT 1) AS last_ramp_event
  FROM presplit.events e WHERE e.plan_id = $1)",
                                    {std::to_string(id)});
            last = before.integer(0, "id").value_or(0);
            const std::string ramp_event = before.text(0, "last_ramp_event");
            if (ramp_event.rfind("ramp_aborted:", 0) == 0)
                followers.back().note_aborted(ramp_event.substr(13));
        }
        last_events.push_back(last);
    }
    LiveDisplay display;
    const bool live = output.terminal && !options.json;
    std::optional<OnInterrupt> interrupted_with;
    std::vector<std::string> interrupt_lines;
    while (true) {
        std::vector<std::string> permanent, block;
        bool all_ended = true;
        for (size_t i = 0; i < followers.size(); ++i) {
            PlanSnapshot snapshot = load_snapshot(conn, ids[i], last_events[i]);
            auto lines = followers[i].observe(snapshot, output.style);
            permanent.insert(permanent.end(), lines.begin(), lines.end());
            if (!followers[i].outcome()) {
                all_ended = false;
                auto part = followers[i].live_block(output.style, output.width);
                block.insert(block.end(), part.begin(), part.end());
            }
        }
        if (!options.json) {
            if (live)
                std::cout << display.update(
                    permanent, all_ended ? std::vector<std::string>{} : block, output.width);
            else
                print_lines(permanent);
            std::cout.flush();
        }
        if (all_ended)
            break;
        if (pq::interrupted()) {
            OnInterrupt action = options.on_interrupt;
            if (action == OnInterrupt::ask) {
                if (live) { // the question goes below the block
                    display.keep();
                }
                action = ask_what_to_do(followers);
                if (action == OnInterrupt::ask) { // continue
                    pq::clear_interrupt();
                    continue;
                }
            }
            interrupted_with = action;
            for (size_t i = 0; i < followers.size(); ++i) {
                PlanFollower& f = followers[i];
                if (f.outcome())
                    continue;
                const std::string id = std::to_string(f.plan_id());
                if (action == OnInterrupt::pause) {
                    conn.exec("SELECT presplit.pause($1::bigint)", {id});
                    interrupt_lines.push_back("plan " + id + " paused: pg_presplit resume " + id +
                                              " ramps again, pg_presplit watch " + id +
                                              " follows it");
                } else if (action == OnInterrupt::rollback) {
                    pq::clear_interrupt();
                    conn.exec_cancellable("SELECT presplit.rollback($1::bigint)", {id});
                    interrupt_lines.push_back("plan " + id + " rolled back");
                } else {
                    interrupt_lines.push_back("plan " + id +
                                              " left to the worker: pg_presplit watch " + id +
                                              " follows it again");
                }
                // The state it was left in.
                PlanSnapshot snapshot = load_snapshot(conn, f.plan_id(), last_events[i]);
                auto lines = f.observe(snapshot, output.style);
                if (!options.json) {
                    if (live)
                        std::cout << display.update(lines, {}, output.width);
                    else
                        print_lines(lines);
                }
            }
            break;
        }
        pq::sleep_seconds(options.interval_seconds);
    }
    if (live)
        display.keep();

    int status = kExitDone;
    Json plans = Json::array();
    for (const PlanFollower& f : followers) {
        auto end = f.outcome();
        if (end && end->exit_status != kExitDone && status == kExitDone)
            status = end->exit_status;
        plans.push(f.to_json());
    }
    if (interrupted_with)
        status = kExitInterrupted;
    if (options.json) {
        document.set("plans", plans);
        document.set("interrupted",
                     interrupted_with ? Json(interrupt_name(*interrupted_with)) : Json());
        document.set("exit_status", status);
        print_json(document);
        return status;
    }
    std::vector<std::string> summary;
    for (const PlanFollower& f : followers) {
        auto lines = f.summary(output.style);
        summary.insert(summary.end(), lines.begin(), lines.end());
    }
    for (const std::string& line : interrupt_lines)
        summary.push_back(paint(output.style, "33", line));
    std::cout << "\n";
    print_lines(summary);
    return status;
}

bool split_takes_servers(pq::Connection& conn) {
    return conn
        .exec(R"(
SELECT EXISTS (SELECT FROM pg_catalog.pg_proc
                WHERE proname = 'split_partition'
                  AND pronamespace = 'presplit'::regnamespace
                  AND 'servers' = ANY (proargnames)) AS yes)")
        .boolean(0, "yes");
}

int run_split(const Options& options, const Output& output, pq::Connection& conn) {
    pq::Params params{options.target, array_text(options.split_points),
                      options.ramp ? "true" : "false"};
    std::string call = "SELECT presplit.split_partition($1::regclass, $2::text[], $3::boolean";
    if (!options.servers.empty()) {
        if (!split_takes_servers(conn))
            throw ClientFailure{
                kExitServerError,
                "this server's pg_presplit cannot split onto other servers "
                "(presplit.split_partition has no servers argument)",
                "Leave out --server, or update the extension (ALTER EXTENSION pg_presplit "
                "UPDATE: 0.1.1 splits onto other servers)."};
        core::TextArray servers;
        for (const std::string& name : options.servers)
            servers.push_back(name == "local" ? std::nullopt : std::optional<std::string>(name));
        params.push_back(core::format_text_array(servers));
        call += ", servers => $4::name[]";
    }
    call += ") AS plan";
    const int64_t plan = conn.exec_cancellable(call, params).integer(0, "plan").value_or(0);
    // Ctrl-C from here on is follow()'s: it asks (or does --on-interrupt) after
    // its first look at the plan.
    Json document = Json::object().set("command", "split").set("plan", plan);
    return follow(options, output, conn, {plan}, /*from_first_event=*/true, document);
}

int run_watch(const Options& options, const Output& output, pq::Connection& conn) {
    std::vector<int64_t> ids;
    if (options.plan) {
        ids.push_back(*options.plan);
    } else {
        auto active =
            conn.exec("SELECT id FROM presplit.plans WHERE finished_at IS NULL ORDER BY id");
        for (int r = 0; r < active.rows(); ++r)
            ids.push_back(active.integer(r, "id").value_or(0));
        if (ids.empty()) {
            if (options.json)
                print_json(Json::object()
                               .set("command", "watch")
                               .set("plans", Json::array())
                               .set("interrupted", Json())
                               .set("exit_status", kExitDone));
            else
                std::cout << "no active split plan to watch\n";
            return kExitDone;
        }
    }
    Json document = Json::object().set("command", "watch");
    return follow(options, output, conn, ids, /*from_first_event=*/false, document);
}

// ---------------------------------------------------------------- plan actions

int run_plan_action(const Options& options, const Output& output, pq::Connection& conn) {
    const std::string id = std::to_string(*options.plan);
    const int64_t before = conn.exec("SELECT coalesce(max(id), 0) AS id FROM presplit.events "
                                     "WHERE plan_id = $1",
                                     {id})
                               .integer(0, "id")
                               .value_or(0);
    std::string done;
    switch (options.command) {
    case Command::rollback:
        conn.exec_cancellable("SELECT presplit.rollback($1::bigint)", {id});
        done = "rolled back";
        break;
    case Command::finalize:
        conn.exec_cancellable("SELECT presplit.finalize($1::bigint, $2::boolean)",
                              {id, options.keep_old ? "false" : "true"});
        done = options.keep_old ? "finalized (the old partition kept as a plain table)"
                                : "finalized (the old partition dropped)";
        break;
    case Command::cancel:
        conn.exec_cancellable("SELECT presplit.cancel($1::bigint)", {id});
        done = "cancelled";
        break;
    case Command::pause:
        conn.exec("SELECT presplit.pause($1::bigint)", {id});
        done = "paused";
        break;
    case Command::resume:
        conn.exec("SELECT presplit.resume($1::bigint)", {id});
        done = "resumed";
        break;
    default:
        throw std::logic_error("not a plan action");
    }
    int64_t last = before;
    PlanFollower follower(*options.plan);
    PlanSnapshot snapshot = load_snapshot(conn, *options.plan, last);
    // Only what this command did: the events after the call, without the header.
    follower.observe(PlanSnapshot{snapshot.id,
                                  snapshot.parent,
                                  snapshot.source,
                                  snapshot.split_points,
                                  snapshot.state,
                                  snapshot.switch_requested,
                                  snapshot.ramp,
                                  snapshot.paused,
                                  snapshot.weight,
                                  snapshot.reason,
                                  snapshot.age_seconds,
                                  snapshot.shadows,
                                  snapshot.channels,
                                  {}},
                     output.style);
    snapshot.shadows.clear();
    auto lines = follower.observe(snapshot, output.style);
    std::optional<SwapFacts> swap;
    for (const PlanEvent& e : snapshot.events)
        if (e.kind == "cutover" || e.kind == "rollback_swap" || e.kind == "finalization" ||
            e.kind == "cancellation")
            swap = parse_swap_detail(e.detail.value_or(""));
    if (options.json) {
        Json events = Json::array();
        for (const PlanEvent& e : snapshot.events)
            events.push(Json::object()
                            .set("id", e.id)
                            .set("at", e.at)
                            .set("kind", e.kind)
                            .set("from_state", e.from_state)
                            .set("to_state", e.to_state)
                            .set("detail", e.detail));
        print_json(Json::object()
                       .set("command", command_name(options.command))
                       .set("plan", *options.plan)
                       .set("state", snapshot.state)
                       .set("paused", snapshot.paused)
                       .set("lock_held_ms", swap ? Json(swap->held_ms) : Json())
                       .set("events", events)
                       .set("exit_status", kExitDone));
        return kExitDone;
    }
    print_lines(lines);
    std::string line = "plan " + id + " " + done;
    if (options.command == Command::pause || options.command == Command::resume)
        line += " (" + snapshot.state + ")";
    if (swap && swap->held_ms)
        line += " (lock held " + format_ms(*swap->held_ms) + ")";
    std::cout << paint(output.style, "1", line) << "\n";
    return kExitDone;
}

// ---------------------------------------------------------------- heat

struct Target {
    std::string parent;                  // the managed table
    std::vector<std::string> partitions; // in key order; one if a partition was named
    std::vector<std::string> bounds;
    bool is_partition = false;
};

// A managed table or one of its partitions, as the user named it; nullopt
// if it is neither (the server's functions then say why).
std::optional<Target> resolve_target(pq::Connection& conn, const std::string& name) {
    auto rows = conn.exec(R"(
SELECT m.parent::text AS parent, m.partition::text AS partition, m.bound,
       m.partition = to_regclass($1) AS named
  FROM presplit.managed_tables m
 WHERE m.parent = to_regclass($1)
    OR m.parent = (SELECT t.parent FROM presplit.managed_tables t WHERE t.partition = to_regclass($1)))",
                          {name});
    if (rows.rows() == 0)
        return std::nullopt;
    Target target;
    target.parent = rows.text(0, "parent");
    std::vector<std::pair<std::string, std::string>> partitions; // bound, name
    for (int r = 0; r < rows.rows(); ++r) {
        if (rows.is_null(r, "partition"))
            continue;
        if (rows.boolean(r, "named")) {
            target.is_partition = true;
            partitions = {{rows.text(r, "bound"), rows.text(r, "partition")}};
            break;
        }
        partitions.emplace_back(rows.text(r, "bound"), rows.text(r, "partition"));
    }
    std::stable_sort(partitions.begin(), partitions.end(),
                     [](const auto& a, const auto& b) { return bound_less(a.first, b.first); });
    for (const auto& [bound, partition] : partitions) {
        target.bounds.push_back(bound);
        target.partitions.push_back(partition);
    }
    return target;
}

int run_heat(const Options& options, const Output& output, pq::Connection& conn) {
    auto target = resolve_target(conn, options.target);
    // Not managed (or not visible): key_heat says which, with its SQLSTATE.
    const std::string parent = target ? target->parent : options.target;
    auto heat = conn.exec(R"(
SELECT partition::text AS partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat($1::regclass, $2::int) ORDER BY partition::text, bucket)",
                          {parent, std::to_string(options.buckets)});
    HeatMap map;
    map.table = parent;
    map.buckets = options.buckets;
    std::map<std::string, HeatRow> rows;
    for (int r = 0; r < heat.rows(); ++r) {
        HeatRow& row = rows[heat.text(r, "partition")];
        row.partition = heat.text(r, "partition");
        if (row.accesses.empty())
            row.lower_bound = heat.text(r, "lower_bound");
        row.upper_bound = heat.text(r, "upper_bound");
        row.accesses.push_back(heat.integer(r, "accesses").value_or(0));
    }
    if (target) {
        for (const std::string& partition : target->partitions) {
            auto found = rows.find(partition);
            HeatRow row = found != rows.end() ? found->second : HeatRow{partition, "", "", {}};
            map.rows.push_back(row);
        }
    } else {
        for (auto& [name, row] : rows)
            map.rows.push_back(row);
    }
    if (options.svg_file)
        write_file(*options.svg_file, heat_svg(map));
    if (options.json) {
        Json partitions = Json::array();
        for (const HeatRow& row : map.rows) {
            Json accesses = Json::array();
            for (int64_t count : row.accesses)
                accesses.push(count);
            partitions.push(Json::object()
                                .set("partition", row.partition)
                                .set("lower_bound", row.lower_bound)
                                .set("upper_bound", row.upper_bound)
                                .set("total", map.total(row))
                                .set("accesses", accesses));
        }
        print_json(Json::object()
                       .set("command", "heat")
                       .set("table", map.table)
                       .set("buckets", map.buckets)
                       .set("max_bucket", map.max_bucket())
                       .set("svg", options.svg_file)
                       .set("partitions", partitions));
        return kExitDone;
    }
    print_lines(render_heat(map, output.style));
    if (options.svg_file)
        std::cout << "wrote " << *options.svg_file << "\n";
    return kExitDone;
}

// ---------------------------------------------------------------- forecast

struct Predictor {
    bool forecast = false, forecasts = false, offpeak = false;
};

// Whether the server's pg_presplit has the predictor's objects (issue 13's
// interface): found in the catalog, so that this client works before and after.
Predictor find_predictor(pq::Connection& conn) {
    auto r = conn.exec(R"(
SELECT to_regprocedure('presplit.forecast(regclass, integer)') IS NOT NULL AS forecast,
       to_regclass('presplit.forecasts') IS NOT NULL AS forecasts,
       to_regclass('presplit.offpeak_windows') IS NOT NULL AS offpeak)");
    return {r.boolean(0, "forecast"), r.boolean(0, "forecasts"), r.boolean(0, "offpeak")};
}

constexpr size_t kMaxChartedPartitions = 6;

int run_forecast(const Options& options, const Output& output, pq::Connection& conn) {
    auto target = resolve_target(conn, options.target);
    if (!target) {
        // Let the server say what the name is not (42P01, 42501), or say it.
        conn.exec("SELECT $1::regclass", {options.target});
        throw ClientFailure{kExitServerError,
                            "\"" + options.target +
                                "\" is not a managed table or one of its partitions",
                            "SELECT presplit.manage('table') registers a table; pg_presplit status "
                            "lists the managed ones."};
    }
    const bool load = options.metric == "load";
    const std::string unit = load ? "statements/s" : "bytes";
    const Predictor predictor = find_predictor(conn);

    // What the analyzer keeps for each partition (also: which are busiest).
    auto stats = conn.exec(R"(
SELECT m.partition::text AS partition, m.total_bytes,
       s.per_second_now, s.per_second_last_hour, s.per_second_last_day
  FROM presplit.managed_tables m
  LEFT JOIN presplit.partition_stats s ON s.partition = m.partition
 WHERE m.parent = $1::regclass AND m.partition IS NOT NULL)",
                           {target->parent});
    struct Averages {
        std::optional<double> now, hour, day;
        double bytes = 0;
    };
    std::map<std::string, Averages> averages;
    for (int r = 0; r < stats.rows(); ++r)
        averages[stats.text(r, "partition")] = {
            stats.number(r, "per_second_now"), stats.number(r, "per_second_last_hour"),
            stats.number(r, "per_second_last_day"), stats.number(r, "total_bytes").value_or(0)};
    std::vector<std::string> partitions = target->partitions;
    size_t left_out = 0;
    if (partitions.size() > kMaxChartedPartitions) {
        // The busiest (or largest) ones.
        auto weight = [&](const std::string& p) {
            const Averages& a = averages[p];
            return load ? a.hour.value_or(0) : a.bytes;
        };
        std::stable_sort(partitions.begin(), partitions.end(),
                         [&](const auto& a, const auto& b) { return weight(a) > weight(b); });
        left_out = partitions.size() - kMaxChartedPartitions;
        partitions.resize(kMaxChartedPartitions);
    }

    Json document = Json::object()
                        .set("command", "forecast")
                        .set("target", options.target)
                        .set("table", target->parent)
                        .set("metric", options.metric)
                        .set("unit", unit)
                        .set("predictor", predictor.forecast)
                        .set("svg", options.svg_file);
    Json partitions_json = Json::array();
    std::vector<std::string> lines;

    if (predictor.forecast) {
        const double now =
            conn.exec("SELECT extract(epoch FROM now()) AS now").number(0, "now").value_or(0);
        std::vector<TimeWindow> windows;
        Json windows_json = Json::array();
        if (predictor.offpeak) {
            auto w = conn.exec(
                "SELECT extract(epoch FROM starts) AS starts, extract(epoch FROM ends) AS ends, "
                "predicted_load FROM presplit.offpeak_windows ORDER BY starts");
            for (int r = 0; r < w.rows(); ++r) {
                windows.push_back(
                    {w.number(r, "starts").value_or(0), w.number(r, "ends").value_or(0)});
                windows_json.push(Json::object()
                                      .set("starts", windows.back().starts)
                                      .set("ends", windows.back().ends)
                                      .set("predicted_load", w.number(r, "predicted_load")));
            }
        }
        std::vector<TimeChart> charts;
        for (const std::string& partition : partitions) {
            TimeChart chart;
            chart.title = partition + ": " + options.metric;
            chart.unit = unit;
            chart.now = now;
            chart.offpeak = windows;
            auto rows = conn.exec(R"(
SELECT extract(epoch FROM at) AS at, actual, predicted, lower, upper
  FROM presplit.forecast($1::regclass, $2::int) WHERE metric = $3 ORDER BY at)",
                                  {partition, std::to_string(options.hours), options.metric});
            Json history = Json::array(), forecast = Json::array();
            for (int r = 0; r < rows.rows(); ++r) {
                const double at = rows.number(r, "at").value_or(0);
                if (auto actual = rows.number(r, "actual")) {
                    chart.actual.push_back({at, *actual});
                    history.push(Json::object().set("at", at).set("value", *actual));
                }
                auto predicted = rows.number(r, "predicted");
                auto lower = rows.number(r, "lower"), upper = rows.number(r, "upper");
                if (predicted)
                    chart.predicted.push_back({at, *predicted});
                if (lower && upper)
                    chart.interval.push_back({at, *lower, *upper});
                if (predicted || (lower && upper))
                    forecast.push(Json::object()
                                      .set("at", at)
                                      .set("predicted", predicted)
                                      .set("lower", lower)
                                      .set("upper", upper));
            }
            Json entry = Json::object()
                             .set("partition", partition)
                             .set("history", history)
                             .set("forecast", forecast);
            if (predictor.forecasts) {
                auto f = conn.exec(R"(
SELECT threshold, extract(epoch FROM predicted_crossing) AS crossing,
       to_char(predicted_crossing, 'YYYY-MM-DD HH24:MI') AS crossing_label,
       current, split_point, model, mase, reason
  FROM presplit.forecasts WHERE partition = $1::regclass AND metric = $2)",
                                   {partition, options.metric});
                if (f.rows() > 0) {
                    auto threshold = f.number(0, "threshold");
                    if (threshold && *threshold > 0)
                        chart.threshold = threshold;
                    chart.crossing = f.number(0, "crossing");
                    chart.crossing_label = f.text(0, "crossing_label");
                    entry.set("current", f.number(0, "current"))
                        .set("threshold", chart.threshold)
                        .set("predicted_crossing", chart.crossing)
                        .set("split_point", f.get(0, "split_point"))
                        .set("model", f.get(0, "model"))
                        .set("mase", f.number(0, "mase"))
                        .set("reason", f.get(0, "reason"));
                }
            }
            partitions_json.push(entry);
            auto drawn = render_time_chart(chart, output.style, output.width, 12);
            lines.insert(lines.end(), drawn.begin(), drawn.end());
            lines.push_back("");
            charts.push_back(chart);
        }
        document.set("offpeak_windows", windows_json);
        if (options.svg_file)
            write_file(*options.svg_file, time_chart_svg(charts));
    } else {
        BarChart chart;
        chart.unit = unit;
        chart.title = (load ? "Load of " : "Size of ") +
                      (target->is_partition ? partitions[0] : target->parent);
        chart.note = load ? "averages the analyzer keeps; forecasts need a pg_presplit with the "
                            "predictor (presplit.forecast)"
                          : "current sizes; forecasts need a pg_presplit with the predictor "
                            "(presplit.forecast)";
        for (const std::string& partition : partitions) {
            const Averages& a = averages[partition];
            BarGroup group{partition, {}};
            if (load) {
                group.bars = {{"last minute", a.now.value_or(0)},
                              {"last hour", a.hour.value_or(0)},
                              {"last day", a.day.value_or(0)}};
            } else {
                group.bars = {{"size", a.bytes}};
            }
            chart.groups.push_back(group);
            partitions_json.push(Json::object()
                                     .set("partition", partition)
                                     .set("per_second_now", a.now)
                                     .set("per_second_last_hour", a.hour)
                                     .set("per_second_last_day", a.day)
                                     .set("total_bytes", static_cast<int64_t>(a.bytes)));
        }
        lines = render_bar_chart(chart, output.style, output.width);
        if (options.svg_file)
            write_file(*options.svg_file, bar_chart_svg(chart));
    }
    if (left_out > 0)
        lines.push_back(std::to_string(left_out) +
                        " quieter partitions not shown: name one to see it");
    document.set("partitions", partitions_json).set("partitions_not_shown", left_out);
    if (options.json) {
        print_json(document);
        return kExitDone;
    }
    print_lines(lines);
    if (options.svg_file)
        std::cout << "wrote " << *options.svg_file << "\n";
    return kExitDone;
}

} // namespace

int run_command(const Options& options, const Output& output, pq::Connection& conn) {
    try {
        require_extension(conn);
        switch (options.command) {
        case Command::status:
            return run_status(options, output, conn);
        case Command::split:
            return run_split(options, output, conn);
        case Command::watch:
            return run_watch(options, output, conn);
        case Command::rollback:
        case Command::finalize:
        case Command::cancel:
        case Command::pause:
        case Command::resume:
            return run_plan_action(options, output, conn);
        case Command::heat:
            return run_heat(options, output, conn);
        case Command::forecast:
            return run_forecast(options, output, conn);
        case Command::none:
            break;
        }
        throw std::logic_error("no command");
    } catch (const ClientFailure& failure) {
        std::cerr << "pg_presplit: error: " << failure.message << "\n";
        if (!failure.hint.empty())
            std::cerr << "HINT:  " << failure.hint << "\n";
        return failure.exit_status;
    }
}

} // namespace presplit::client
