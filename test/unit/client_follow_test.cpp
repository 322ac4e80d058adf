// Following a plan: what the user sees at each look, and how it ends.
#include "client/follow.hpp"
#include "client/status_report.hpp"

#include <gtest/gtest.h>

using namespace presplit::client;

namespace {

PlanSnapshot snapshot(const std::string& state) {
    PlanSnapshot s;
    s.id = 3;
    s.parent = "accounts";
    s.source = "accounts_0";
    s.split_points = {"50000"};
    s.state = state;
    s.switch_requested = true;
    s.age_seconds = 12;
    return s;
}

PlanEvent event(int64_t id, const std::string& kind, std::optional<std::string> from = {},
                std::optional<std::string> to = {}, std::optional<std::string> detail = {}) {
    return PlanEvent{id, "12:00:0" + std::to_string(id % 10), kind, from, to, detail};
}

const Style plain{false, false};

} // namespace

TEST(ClientFollow, ASplitFromCopyToCutover) {
    PlanFollower f(3);
    EXPECT_FALSE(f.outcome());
    PlanSnapshot s = snapshot("backfilling");
    s.events = {event(1, "plan_created"), event(2, "state_change", "planned", "preparing"),
                event(3, "state_change", "preparing", "backfilling")};
    s.shadows = {
        {0, "accounts_0_3_0", "copying", 25000, 50000, 5000.0, 5.0, 5.0},
        {1, "accounts_0_3_1", "waiting", 0, 50000, std::nullopt, std::nullopt, std::nullopt}};
    auto lines = f.observe(s, plain);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "plan 3: accounts_0 split at 50000, backfilling");
    EXPECT_EQ(lines[2], "12:00:02  plan 3: planned -> preparing");
    EXPECT_FALSE(f.outcome());
    auto block = f.live_block(plain, 100);
    ASSERT_EQ(block.size(), 1u);
    EXPECT_NE(block[0].find(" 25 %  25 000 rows of ~100 000  5 000 rows/s  ETA 5.0 s"),
              std::string::npos)
        << block[0];

    // The second shadow starts: a line per phase change.
    s = snapshot("backfilling");
    s.shadows = {{0, "accounts_0_3_0", "verifying", 50000, 50000, 5000.0, 0.0, 10.0},
                 {1, "accounts_0_3_1", "copying", 10000, 50000, 5000.0, 8.0, 2.0}};
    lines = f.observe(s, plain);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "  shadow accounts_0_3_0: copying -> verifying (50 000 rows copied)");
    EXPECT_EQ(lines[1], "  shadow accounts_0_3_1: waiting -> copying");

    // Switching: the ramp and each channel's reads.
    s = snapshot("switching");
    s.weight = 50;
    s.shadows = {{0, "accounts_0_3_0", "done", 50000, 50000, {}, 0.0, 10.0},
                 {1, "accounts_0_3_1", "done", 50000, 50000, {}, 0.0, 10.0}};
    s.channels = {{"old", 50, 1000, 0, 0.01, 0.02}, {"new", 50, 990, 1, 0.009, 0.015}};
    s.events = {event(4, "state_change", "backfilling", "synced"),
                event(5, "state_change", "synced", "switching"),
                event(6, "weight", {}, {}, "new channel 25 -> 50 (ramp)")};
    f.observe(s, plain);
    block = f.live_block(plain, 80);
    ASSERT_EQ(block.size(), 3u);
    EXPECT_NE(block[0].find("##########----------  new channel 50 %"), std::string::npos)
        << block[0];
    EXPECT_NE(block[2].find("new        990 reads  mean 0.009 ms  p95 0.015 ms  1 error"),
              std::string::npos)
        << block[2];
    EXPECT_FALSE(f.outcome());

    s.state = "cut_over";
    s.channels.clear(); // the channels' last numbers are kept from the switching looks
    s.events = {
        event(7, "state_change", "switching", "cut_over"),
        event(8, "cutover", {}, {}, "lock taken in 2 tries, held 3.1 ms to the end of the swap")};
    f.observe(s, plain);
    ASSERT_TRUE(f.outcome());
    EXPECT_EQ(f.outcome()->exit_status, kExitDone);
    EXPECT_TRUE(f.live_block(plain, 100).empty());
    auto summary = f.summary(plain);
    EXPECT_EQ(summary[0],
              "plan 3 cut over: accounts_0 split at 50000 into accounts_0_3_0, accounts_0_3_1");
    EXPECT_EQ(summary[1], "  copy      100 000 rows into 2 shadows in 10 s (10 000 rows/s)");
    EXPECT_EQ(summary[2], "  ramp      1 weight change seen; reads served while switching:");
    EXPECT_EQ(summary[5], "  cutover   lock held 3.1 ms (2 tries)");
    EXPECT_NE(summary.back().find("pg_presplit finalize 3"), std::string::npos);

    const std::string json = f.to_json().dump();
    EXPECT_NE(json.find(R"("state":"cut_over")"), std::string::npos);
    EXPECT_NE(json.find(R"("exit_status":0)"), std::string::npos);
    EXPECT_NE(json.find(R"("cutover":{"tries":2,"lock_held_ms":3.1})"), std::string::npos);
    EXPECT_NE(json.find(R"("copy":{"rows":100000,"seconds":10})"), std::string::npos);
    EXPECT_NE(json.find(R"("channel":"new","weight":50,"statements":990)"), std::string::npos);
}

TEST(ClientFollow, HowAPlanEnds) {
    auto end_of = [](PlanSnapshot s, std::vector<PlanEvent> events = {}) {
        PlanFollower f(3);
        s.events = std::move(events);
        f.observe(s, plain);
        return f.outcome();
    };
    EXPECT_FALSE(end_of(snapshot("switching")));
    EXPECT_EQ(end_of(snapshot("finalized"))->exit_status, kExitDone);
    PlanSnapshot failed = snapshot("failed");
    failed.reason = "shadow 0 does not match";
    EXPECT_EQ(end_of(failed)->exit_status, kExitPlanFailed);
    EXPECT_EQ(end_of(failed)->description, "plan 3 failed: shadow 0 does not match");
    EXPECT_EQ(end_of(snapshot("rolled_back"))->exit_status, kExitRolledBack);
    EXPECT_EQ(end_of(snapshot("cancelled"))->exit_status, kExitRolledBack);
    PlanSnapshot prepared = snapshot("synced");
    prepared.switch_requested = false;
    EXPECT_EQ(end_of(prepared)->exit_status, kExitDone);
    EXPECT_FALSE(end_of(snapshot("synced")));
    PlanSnapshot aborted = snapshot("switching");
    aborted.paused = true;
    auto abort = end_of(aborted, {event(9, "ramp_aborted", {}, {}, "new p95 3 ms > 1.5 x old")});
    ASSERT_TRUE(abort);
    EXPECT_EQ(abort->exit_status, kExitRampAborted);
    EXPECT_EQ(abort->description, "plan 3: the ramp aborted: new p95 3 ms > 1.5 x old");
}

TEST(ClientFollow, SwapDetails) {
    SwapFacts one = parse_swap_detail("lock taken in 1 tries, held 27.0 ms to the end of the swap");
    EXPECT_EQ(*one.tries, 1);
    EXPECT_DOUBLE_EQ(*one.held_ms, 27.0);
    EXPECT_FALSE(parse_swap_detail("something else").held_ms);
}

TEST(ClientFollow, LiveDisplayRedrawsOnlyItsBlock) {
    LiveDisplay display;
    EXPECT_EQ(display.update({"event"}, {"bar 1", "line"}, 80), "event\nbar 1\nline\n");
    // Up two lines to the block's start, clear to the end, then the new lines.
    EXPECT_EQ(display.update({}, {"bar 2"}, 80), "\x1b[2F\x1b[Jbar 2\n");
    display.keep();
    EXPECT_EQ(display.update({"done"}, {}, 80), "done\n");
    EXPECT_EQ(display.update({}, {std::string(100, 'x')}, 40), std::string(39, 'x') + "\n");
}

TEST(ClientStatus, BoundsInKeyOrder) {
    EXPECT_TRUE(bound_less("FOR VALUES FROM ('9') TO ('10')", "FOR VALUES FROM ('10') TO ('20')"));
    EXPECT_TRUE(
        bound_less("FOR VALUES FROM (MINVALUE) TO ('0')", "FOR VALUES FROM ('-5') TO ('0')"));
    EXPECT_TRUE(bound_less("FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')",
                           "FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')"));
    EXPECT_TRUE(
        bound_less("FOR VALUES FROM ('it''s') TO ('z')", "FOR VALUES FROM ('z') TO (MAXVALUE)"));
    EXPECT_FALSE(bound_less("DEFAULT", "FOR VALUES FROM ('1') TO ('2')"));
}

TEST(ClientStatus, ReportAndHealth) {
    StatusReport report;
    report.database = "db";
    report.tables = {
        {"accounts",
         "id",
         "bigint",
         {{"accounts_0", "FOR VALUES FROM ('0') TO ('10')", 10, 8192, 5, 1, 2.5, 1.0, 0.5, 0.8}}}};
    ActivePlan plan;
    plan.id = 4;
    plan.source = "accounts_0";
    plan.split_points = "{5}";
    plan.state = "switching";
    plan.weight = 30;
    plan.paused = true;
    plan.origin = "manual";
    plan.since_seconds = 3;
    report.plans = {plan};
    report.worker.pid = 77;
    report.worker.database = "db";
    report.worker.heartbeat_age_seconds = 0.5;
    report.worker.naptime_seconds = 1;
    auto lines = render_status(report, plain);
    EXPECT_NE(lines[3].find("accounts_0  FOR VALUES FROM ('0') TO ('10')    10  8 kB"),
              std::string::npos)
        << lines[3];
    EXPECT_NE(lines[3].find("80 %"), std::string::npos);
    EXPECT_EQ(lines[6],
              "  plan 4  accounts_0 at {5}  switching, new channel weight 30 %, paused, for 3.0 s");
    EXPECT_NE(lines[8].find("Worker  healthy: pid 77"), std::string::npos) << lines[8];
    report.worker.heartbeat_age_seconds = 30;
    EXPECT_FALSE(report.worker.healthy());
    EXPECT_EQ(report.worker.verdict(), "late: no heartbeat for 30 s");
    report.worker.pid.reset();
    EXPECT_EQ(report.worker.verdict(), "not running");
    const std::string json = status_json(report).dump();
    EXPECT_NE(json.find(R"("partitions":[{"partition":"accounts_0")"), std::string::npos);
    EXPECT_NE(json.find(R"("healthy":false,"verdict":"not running")"), std::string::npos);
}

TEST(ClientStatus, PredictedPlanHeldToItsStart) {
    StatusReport report;
    report.database = "db";
    ActivePlan plan;
    plan.id = 9;
    plan.source = "hot_0";
    plan.split_points = "{1000}";
    plan.state = "backfilling";
    plan.origin = "predicted";
    plan.copy_held = true;
    plan.rows_copied = 10;
    report.plans = {plan};
    auto lines = render_status(report, plain);
    bool found = false;
    for (const std::string& line : lines)
        if (line.find("plan 9") != std::string::npos) {
            found = true;
            EXPECT_NE(line.find("10 rows copied, copy held until its scheduled start (predicted)"),
                      std::string::npos)
                << line;
        }
    EXPECT_TRUE(found);
    EXPECT_NE(status_json(report).dump().find(R"("copy_held":true)"), std::string::npos);
    // Once synced there is nothing left to hold: not said.
    report.plans[0].state = "synced";
    for (const std::string& line : render_status(report, plain))
        EXPECT_EQ(line.find("off-peak"), std::string::npos) << line;
}
