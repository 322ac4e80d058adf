#include "core/server_choice.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

using Names = std::vector<std::string>;

TEST(ParseServerList, EmptyAndBlankAreTheEmptyList) {
    EXPECT_EQ(parse_server_list(""), Names{});
    EXPECT_EQ(parse_server_list("  \t "), Names{});
}

TEST(ParseServerList, NamesAsPostgreSQLReadsIdentifiers) {
    EXPECT_EQ(parse_server_list("node2"), (Names{"node2"}));
    EXPECT_EQ(parse_server_list(" Node2 ,node3"), (Names{"node2", "node3"}));
    EXPECT_EQ(parse_server_list("\"Node 2\", \"a\"\"b\""), (Names{"Node 2", "a\"b"}));
}

TEST(ParseServerList, RefusesWhatIsNoListOfNames) {
    EXPECT_FALSE(parse_server_list("node2,"));
    EXPECT_FALSE(parse_server_list(",node2"));
    EXPECT_FALSE(parse_server_list("node2,,node3"));
    EXPECT_FALSE(parse_server_list("node2 node3"));
    EXPECT_FALSE(parse_server_list("\"node2"));
    EXPECT_FALSE(parse_server_list("\"\""));
}

TEST(ServersToTry, FewestTargetsFirstTiesInListOrder) {
    EXPECT_EQ(servers_to_try({"a", "b", "c"}, {}), (Names{"a", "b", "c"}));
    EXPECT_EQ(servers_to_try({"a", "b", "c"}, {{"a", 2}, {"b", 1}}), (Names{"c", "b", "a"}));
    EXPECT_EQ(servers_to_try({"a", "b", "c"}, {{"a", 1}, {"c", 1}}), (Names{"b", "a", "c"}));
    // Targets on servers not in the list do not matter.
    EXPECT_EQ(servers_to_try({"b", "a"}, {{"z", 5}}), (Names{"b", "a"}));
}

TEST(ServersToTry, DuplicatesDropped) {
    EXPECT_EQ(servers_to_try({"a", "b", "a"}, {}), (Names{"a", "b"}));
    EXPECT_EQ(servers_to_try({}, {{"a", 1}}), Names{});
}

} // namespace
