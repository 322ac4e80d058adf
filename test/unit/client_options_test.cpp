#include "client/options.hpp"

#include <gtest/gtest.h>

using namespace presplit::client;

namespace {
Options parse(std::vector<std::string> args) {
    return parse_arguments(args);
}
} // namespace

TEST(ClientOptions, SplitWithEverything) {
    Options o = parse({"-h",
                       "db1",
                       "-p5433",
                       "--username=alice",
                       "-d",
                       "service=x",
                       "split",
                       "public.accounts_0",
                       "--at",
                       "100,200",
                       "--at=300",
                       "--no-ramp",
                       "--server",
                       "local,node2",
                       "--server",
                       "node3",
                       "--server=node4",
                       "--on-interrupt",
                       "rollback",
                       "--json",
                       "--interval",
                       "0.2"});
    EXPECT_EQ(o.command, Command::split);
    EXPECT_EQ(o.target, "public.accounts_0");
    EXPECT_EQ(*o.connection.host, "db1");
    EXPECT_EQ(*o.connection.port, "5433");
    EXPECT_EQ(*o.connection.user, "alice");
    EXPECT_EQ(*o.connection.dbname, "service=x");
    EXPECT_EQ(o.split_points, (std::vector<std::string>{"100", "200", "300"}));
    EXPECT_FALSE(o.ramp);
    EXPECT_EQ(o.servers, (std::vector<std::string>{"local", "node2", "node3", "node4"}));
    EXPECT_EQ(o.on_interrupt, OnInterrupt::rollback);
    EXPECT_TRUE(o.json);
    EXPECT_DOUBLE_EQ(o.interval_seconds, 0.2);
}

TEST(ClientOptions, SplitPointsAsAnArrayLiteralKeepCommas) {
    Options o = parse({"split", "t_0", "--at", R"({"a,b",c})"});
    EXPECT_EQ(o.split_points, (std::vector<std::string>{"a,b", "c"}));
}

TEST(ClientOptions, CommandsAndTheirArguments) {
    EXPECT_EQ(parse({"status"}).command, Command::status);
    EXPECT_FALSE(parse({"watch"}).plan);
    EXPECT_EQ(*parse({"watch", "7"}).plan, 7);
    EXPECT_EQ(*parse({"rollback", "3"}).plan, 3);
    Options finalize = parse({"finalize", "3", "--keep-old"});
    EXPECT_TRUE(finalize.keep_old);
    EXPECT_EQ(parse({"cancel", "3"}).command, Command::cancel);
    EXPECT_EQ(parse({"pause", "3"}).command, Command::pause);
    EXPECT_EQ(parse({"resume", "3"}).command, Command::resume);
    Options heat = parse({"heat", "accounts", "--buckets", "10", "--svg", "h.svg"});
    EXPECT_EQ(heat.buckets, 10);
    EXPECT_EQ(*heat.svg_file, "h.svg");
    Options forecast = parse({"forecast", "accounts_0", "--hours=24", "--metric", "size"});
    EXPECT_EQ(forecast.hours, 24);
    EXPECT_EQ(forecast.metric, "size");
    EXPECT_EQ(parse({"--color", "never", "status"}).color, ColorMode::never);
    EXPECT_TRUE(parse({"status", "-w"}).connection.never_prompt);
    EXPECT_TRUE(parse({"-W", "status"}).connection.force_prompt);
}

TEST(ClientOptions, HelpAndVersionNeedNoCommand) {
    EXPECT_TRUE(parse({"--help"}).help);
    EXPECT_TRUE(parse({"-?"}).help);
    EXPECT_TRUE(parse({"--version"}).version);
    EXPECT_TRUE(parse({"-V"}).version);
    EXPECT_NE(help_text().find("Exit status"), std::string::npos);
}

TEST(ClientOptions, BadArgumentsSayWhatIsWrong) {
    auto message = [](std::vector<std::string> args) {
        try {
            parse_arguments(args);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message({}), "no command given");
    EXPECT_EQ(message({"frobnicate"}), "unknown command \"frobnicate\"");
    EXPECT_EQ(message({"status", "--frob"}), "unknown option \"--frob\"");
    EXPECT_EQ(message({"status", "-x"}), "unknown option \"-x\"");
    EXPECT_EQ(message({"split", "t_0"}),
              "split needs --at KEY[,KEY...]: where to split the partition");
    EXPECT_EQ(message({"split"}), "split needs one PARTITION");
    EXPECT_EQ(message({"split", "a", "b", "--at", "1"}), "split needs one PARTITION, got 2");
    EXPECT_EQ(message({"split", "t_0", "--at", "1,,2"}), "--at: empty split point in \"1,,2\"");
    EXPECT_EQ(message({"rollback"}), "rollback needs one PLAN id");
    EXPECT_EQ(message({"rollback", "x"}),
              "PLAN must be an integer from 1 to 9223372036854775807, not \"x\"");
    EXPECT_EQ(message({"rollback", "0"}),
              "PLAN must be an integer from 1 to 9223372036854775807, not \"0\"");
    EXPECT_EQ(message({"status", "extra"}), "status takes no argument, got \"extra\"");
    EXPECT_EQ(message({"status", "--at", "1"}), "option \"--at\" is for split, not status");
    EXPECT_EQ(message({"status", "--svg", "x.svg"}),
              "option \"--svg\" is for heat and forecast, not status");
    EXPECT_EQ(message({"heat", "t", "--buckets", "0"}),
              "--buckets must be an integer from 1 to 1000, not \"0\"");
    EXPECT_EQ(message({"forecast", "t", "--metric", "cpu"}),
              "--metric must be load or size, not \"cpu\"");
    EXPECT_EQ(message({"split", "t_0", "--at", "1", "--on-interrupt", "later"}),
              "--on-interrupt must be pause, rollback or detach, not \"later\"");
    EXPECT_EQ(message({"split", "t_0", "--at", "1", "--server", "a"}),
              "--server names one server per new partition: 2 for 1 split point(s), got 1 "
              "(\"local\" keeps one here)");
    EXPECT_EQ(message({"status", "-h"}), "option \"-h\" needs a value");
    EXPECT_EQ(message({"status", "--json=yes"}), "option \"--json\" takes no value");
    EXPECT_EQ(message({"watch", "1", "--interval", "0"}),
              "--interval must be a number of seconds from 0.05 to 3600, not \"0\"");
    EXPECT_EQ(message({"-w", "-W", "status"}),
              "-w (--no-password) and -W (--password) contradict each other");
}
