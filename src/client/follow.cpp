#include "client/follow.hpp"

#include <algorithm>
#include <cstdlib>
#include <regex>

namespace presplit::client {

SwapFacts parse_swap_detail(const std::string& detail) {
    SwapFacts facts;
    std::smatch match;
    static const std::regex tries(R"(in (\d+) tr(y|ies))");
    static const std::regex held(R"(held ([0-9.]+) ms)");
    if (std::regex_search(detail, match, tries))
        facts.tries = std::atoi(match[1].str().c_str());
    if (std::regex_search(detail, match, held))
        facts.held_ms = std::strtod(match[1].str().c_str(), nullptr);
    return facts;
}

namespace {

const char* arrow(const Style& style) {
    return style.unicode ? " → " : " -> ";
}

std::string points_text(const std::vector<std::string>& points) {
    std::string text;
    for (size_t i = 0; i < points.size(); ++i)
        text += (i == 0 ? "" : ", ") + points[i];
    return text;
}

bool finished_state(const std::string& state) {
    return state == "finalized" || state == "rolled_back" || state == "cancelled" ||
           state == "failed";
}

std::string channel_line(const ChannelStats& c) {
    std::string line =
        pad_right(c.channel, 3) + "  " + pad_left(format_count(c.statements), 9) + " reads";
    line += "  mean " + (c.mean_ms ? format_ms(*c.mean_ms) : std::string("-"));
    line += "  p95 " + (c.p95_ms ? format_ms(*c.p95_ms) : std::string("-"));
    line += "  " + format_count(c.errors) + (c.errors == 1 ? " error" : " errors");
    return line;
}

Json event_json(const PlanEvent& e) {
    return Json::object()
        .set("id", e.id)
        .set("at", e.at)
        .set("kind", e.kind)
        .set("from_state", e.from_state)
        .set("to_state", e.to_state)
        .set("detail", e.detail);
}

} // namespace

std::vector<std::string> PlanFollower::observe(const PlanSnapshot& snapshot, const Style& style) {
    std::vector<std::string> lines;
    const std::string plan = "plan " + std::to_string(plan_id_);
    if (!seen_) {
        std::string line = paint(style, "1", plan) + ": " + snapshot.source + " split at " +
                           points_text(snapshot.split_points) + ", " + snapshot.state;
        if (snapshot.weight && (snapshot.state == "switching" || snapshot.state == "synced"))
            line += ", new channel weight " + std::to_string(*snapshot.weight) + " %";
        if (snapshot.paused)
            line += ", paused";
        lines.push_back(line);
    }
    for (const PlanEvent& e : snapshot.events) {
        events_.push_back(e);
        std::string line = paint(style, "2", e.at) + "  ";
        if (e.kind == "state_change") {
            line += plan + ": " + e.from_state.value_or("?") + arrow(style) +
                    paint(style, "1", e.to_state.value_or("?"));
            if (e.detail)
                line += " (" + *e.detail + ")";
        } else {
            line += plan + ": " + e.kind + (e.detail ? ": " + *e.detail : "");
        }
        if (e.kind == "ramp_aborted") {
            aborted_ = e.detail.value_or("the new channel regressed");
            line = paint(style, "1;31", strip_escapes(line));
        } else if (e.kind == "weight") {
            ++weight_steps_;
        } else if (e.kind == "cutover") {
            cutover_ = parse_swap_detail(e.detail.value_or(""));
        }
        lines.push_back(line);
    }
    for (const ShadowProgress& shadow : snapshot.shadows) {
        auto before =
            std::find_if(last_.shadows.begin(), last_.shadows.end(),
                         [&](const ShadowProgress& s) { return s.ordinal == shadow.ordinal; });
        const std::string previous = seen_ && before != last_.shadows.end() ? before->phase : "";
        if (seen_ && previous != shadow.phase)
            lines.push_back("  shadow " + shadow.shadow + ": " +
                            (previous.empty() ? "" : previous + arrow(style)) + shadow.phase +
                            (shadow.phase == "done" || shadow.phase == "verifying"
                                 ? " (" + format_count(shadow.rows_copied) + " rows copied)"
                                 : ""));
    }
    if (snapshot.state == "switching" && !snapshot.channels.empty())
        channels_ = snapshot.channels;
    last_ = snapshot;
    last_.events.clear();
    seen_ = true;
    return lines;
}

std::vector<std::string> PlanFollower::live_block(const Style& style, int width) const {
    std::vector<std::string> lines;
    if (!seen_)
        return lines;
    const PlanSnapshot& s = last_;
    const int bar_width = std::clamp(width / 4, 10, 30);
    if (s.state == "planned" || s.state == "preparing") {
        lines.push_back(paint(style, "1", "preparing") + "  creating the shadows and capture");
    } else if (s.state == "backfilling") {
        int64_t copied = 0, estimated = 0;
        bool estimates = !s.shadows.empty();
        double rate = 0, eta = 0;
        size_t verifying = 0, done = 0;
        for (const ShadowProgress& shadow : s.shadows) {
            copied += shadow.rows_copied;
            if (shadow.rows_estimated)
                estimated += *shadow.rows_estimated;
            else
                estimates = false;
            if (shadow.phase == "copying" && shadow.rows_per_second)
                rate += *shadow.rows_per_second;
            if (shadow.eta_seconds)
                eta = std::max(eta, *shadow.eta_seconds);
            verifying += shadow.phase == "verifying";
            done += shadow.phase == "done";
        }
        if (!s.shadows.empty() && verifying + done == s.shadows.size()) {
            lines.push_back(paint(style, "1", "verifying") + "  " +
                            progress_bar(static_cast<double>(done) / s.shadows.size(), bar_width,
                                         style.unicode) +
                            "  " + std::to_string(done) + " of " +
                            std::to_string(s.shadows.size()) +
                            " shadows match their slice of the source");
        } else {
            const double fraction =
                estimates && estimated > 0 ? static_cast<double>(copied) / estimated : 0;
            std::string line =
                paint(style, "1", "copying") + "    " +
                paint(style, "32", progress_bar(fraction, bar_width, style.unicode)) + " ";
            line +=
                estimates && estimated > 0
                    ? pad_left(std::to_string(static_cast<int>(std::min(fraction, 1.0) * 100)), 3) +
                          " %  "
                    : std::string();
            line += format_count(copied) + " rows";
            if (estimates)
                line += " of ~" + format_count(estimated);
            if (rate > 0)
                line += "  " + format_count(static_cast<int64_t>(rate)) + " rows/s";
            if (eta > 0)
                line += "  ETA " + format_duration(eta);
            lines.push_back(line);
        }
    } else if (s.state == "synced") {
        lines.push_back(paint(style, "1", "synced") + "     " +
                        (s.switch_requested
                             ? "the shadows are current; the worker starts the switchover"
                             : "the shadows are current; nobody asked to switch"));
    } else if (s.state == "switching") {
        const int weight = s.weight.value_or(0);
        std::string line =
            paint(style, "1", "ramp") + "       " +
            paint(style, "34", progress_bar(weight / 100.0, bar_width, style.unicode)) +
            "  new channel " + std::to_string(weight) + " %";
        if (s.paused)
            line += paint(style, "33", "  paused");
        if (!s.ramp)
            line += "  (no ramp: set_weight and cutover are yours)";
        lines.push_back(line);
        for (const ChannelStats& c : s.channels)
            lines.push_back("           " + channel_line(c));
    }
    for (std::string& line : lines)
        line = truncate_to_width(line, static_cast<size_t>(std::max(width - 1, 10)));
    return lines;
}

std::optional<Outcome> PlanFollower::outcome() const {
    if (!seen_)
        return std::nullopt;
    const PlanSnapshot& s = last_;
    const std::string plan = "plan " + std::to_string(plan_id_);
    if (s.state == "cut_over")
        return Outcome{kExitDone, plan + " cut over"};
    if (s.state == "finalized")
        return Outcome{kExitDone, plan + " finalized"};
    if (s.state == "failed")
        return Outcome{kExitPlanFailed, plan + " failed: " + s.reason.value_or("no reason given")};
    if (s.state == "rolled_back" || s.state == "cancelled")
        return Outcome{kExitRolledBack,
                       plan + (s.state == "cancelled" ? " was cancelled" : " was rolled back")};
    if (aborted_ && s.state == "switching")
        return Outcome{kExitRampAborted, plan + ": the ramp aborted: " + *aborted_};
    if (s.state == "synced" && !s.switch_requested)
        return Outcome{kExitDone, plan + " is synced: the shadows are current, and nobody asked "
                                         "to switch"};
    return std::nullopt;
}

std::vector<std::string> PlanFollower::summary(const Style& style) const {
    std::vector<std::string> lines;
    if (!seen_)
        return lines;
    const PlanSnapshot& s = last_;
    const auto end = outcome();
    std::string headline =
        end ? end->description : "plan " + std::to_string(plan_id_) + " is " + s.state;
    if (s.state == "cut_over" || s.state == "finalized") {
        std::string shadows;
        for (const ShadowProgress& shadow : s.shadows)
            shadows += (shadows.empty() ? "" : ", ") + shadow.shadow;
        headline += ": " + s.source + " split at " + points_text(s.split_points) +
                    (shadows.empty() ? "" : " into " + shadows);
    }
    lines.push_back(paint(style, "1", headline));
    int64_t copied = 0;
    double copy_seconds = 0;
    for (const ShadowProgress& shadow : s.shadows) {
        copied += shadow.rows_copied;
        copy_seconds = std::max(copy_seconds, shadow.copy_seconds.value_or(0));
    }
    if (!s.shadows.empty()) {
        std::string line = "  copy      " + format_count(copied) + " rows into " +
                           std::to_string(s.shadows.size()) + " shadows";
        if (copy_seconds > 0)
            line += " in " + format_duration(copy_seconds) + " (" +
                    format_count(static_cast<int64_t>(copied / copy_seconds)) + " rows/s)";
        lines.push_back(line);
    }
    if (!channels_.empty()) {
        lines.push_back("  ramp      " + std::to_string(weight_steps_) +
                        (weight_steps_ == 1 ? " weight change" : " weight changes") +
                        " seen; reads served while switching:");
        for (const ChannelStats& c : channels_)
            lines.push_back("            " + channel_line(c));
    }
    if (cutover_) {
        std::string line = "  cutover   lock held ";
        line += cutover_->held_ms ? format_ms(*cutover_->held_ms) : std::string("?");
        if (cutover_->tries)
            line += " (" + std::to_string(*cutover_->tries) +
                    (*cutover_->tries == 1 ? " try)" : " tries)");
        lines.push_back(line);
    }
    lines.push_back("  elapsed   " + format_duration(s.age_seconds) +
                    " since the plan was created");
    const std::string id = std::to_string(plan_id_);
    if (s.state == "cut_over")
        lines.push_back("  next      pg_presplit finalize " + id + " (or pg_presplit rollback " +
                        id + " within presplit.rollback_window)");
    else if (aborted_ && s.state == "switching")
        lines.push_back("  next      pg_presplit resume " + id +
                        " to ramp again, or pg_presplit rollback " + id);
    else if (!finished_state(s.state) && !end)
        lines.push_back("  next      pg_presplit watch " + id + " to follow it again");
    return lines;
}

Json PlanFollower::to_json() const {
    Json plan = Json::object();
    const PlanSnapshot& s = last_;
    plan.set("plan", plan_id_);
    if (!seen_)
        return plan;
    Json points = Json::array();
    for (const auto& p : s.split_points)
        points.push(p);
    plan.set("parent", s.parent)
        .set("source", s.source)
        .set("split_points", points)
        .set("state", s.state)
        .set("reason", s.reason)
        .set("paused", s.paused)
        .set("new_channel_weight", s.weight);
    const auto end = outcome();
    plan.set("outcome", end ? Json(end->description) : Json());
    plan.set("exit_status", end ? Json(end->exit_status) : Json());
    Json shadows = Json::array();
    int64_t copied = 0;
    double copy_seconds = 0;
    for (const ShadowProgress& shadow : s.shadows) {
        copied += shadow.rows_copied;
        copy_seconds = std::max(copy_seconds, shadow.copy_seconds.value_or(0));
        shadows.push(Json::object()
                         .set("ordinal", shadow.ordinal)
                         .set("shadow", shadow.shadow)
                         .set("phase", shadow.phase)
                         .set("rows_copied", shadow.rows_copied)
                         .set("rows_estimated", shadow.rows_estimated));
    }
    plan.set("shadows", shadows);
    plan.set("copy", Json::object().set("rows", copied).set("seconds", copy_seconds));
    Json channels = Json::array();
    for (const ChannelStats& c : channels_)
        channels.push(Json::object()
                          .set("channel", c.channel)
                          .set("weight", c.weight)
                          .set("statements", c.statements)
                          .set("errors", c.errors)
                          .set("mean_ms", c.mean_ms)
                          .set("p95_ms", c.p95_ms));
    plan.set("channels", channels);
    plan.set(
        "cutover",
        cutover_
            ? Json::object().set("tries", cutover_->tries).set("lock_held_ms", cutover_->held_ms)
            : Json());
    plan.set("ramp_aborted", aborted_);
    Json events = Json::array();
    for (const PlanEvent& e : events_)
        events.push(event_json(e));
    plan.set("events", events);
    return plan;
}

std::string LiveDisplay::update(const std::vector<std::string>& permanent,
                                const std::vector<std::string>& live, int width) {
    std::string out;
    if (height_ > 0)
        out += "\x1b[" + std::to_string(height_) + "F\x1b[J"; // up to the block's start; clear
    for (const std::string& line : permanent)
        out += line + "\n";
    for (const std::string& line : live)
        out += truncate_to_width(line, static_cast<size_t>(std::max(width - 1, 10))) + "\n";
    height_ = static_cast<int>(live.size());
    return out;
}

} // namespace presplit::client
