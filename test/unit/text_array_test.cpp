#include "core/text_array.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

TEST(TextArray, ParsesWhatArrayOutPrints) {
    auto parsed = parse_text_array(R"({1,"two words","quote\"d","back\\slash",NULL,"NULL",""})");
    ASSERT_TRUE(parsed);
    TextArray expected{"1", "two words", "quote\"d", "back\\slash", std::nullopt, "NULL", ""};
    EXPECT_EQ(*parsed, expected);
}

TEST(TextArray, EmptyArray) {
    auto parsed = parse_text_array("{}");
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->empty());
}

TEST(TextArray, RejectsWhatIsNotAOneDimensionalLiteral) {
    EXPECT_FALSE(parse_text_array(""));
    EXPECT_FALSE(parse_text_array("1,2"));
    EXPECT_FALSE(parse_text_array("{{1,2},{3,4}}"));
    EXPECT_FALSE(parse_text_array(R"({"unterminated})"));
    EXPECT_FALSE(parse_text_array(R"({"a"b})"));
}

TEST(TextArray, FormatRoundTrips) {
    TextArray values{"500000",     "with,comma", "with\"quote", "with\\backslash",
                     std::nullopt, "NULL",       "{braces}",    " spaced "};
    auto parsed = parse_text_array(format_text_array(values));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, values);
    EXPECT_EQ(format_text_array({}), "{}");
}
