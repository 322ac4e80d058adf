#include "client/json.hpp"
#include "client/text.hpp"

#include <cmath>
#include <gtest/gtest.h>

using namespace presplit::client;

TEST(ClientText, Counts) {
    EXPECT_EQ(format_count(0), "0");
    EXPECT_EQ(format_count(999), "999");
    EXPECT_EQ(format_count(1000), "1 000");
    EXPECT_EQ(format_count(1234567), "1 234 567");
    EXPECT_EQ(format_count(-45000), "-45 000");
}

TEST(ClientText, Durations) {
    EXPECT_EQ(format_duration(0.44), "0.4 s");
    EXPECT_EQ(format_duration(12.7), "12 s");
    EXPECT_EQ(format_duration(185), "3 min 05 s");
    EXPECT_EQ(format_duration(2 * 3600 + 7 * 60 + 30), "2 h 07 min");
    EXPECT_EQ(format_duration(-1), "-");
    EXPECT_EQ(format_duration(NAN), "-");
}

TEST(ClientText, BytesAndMilliseconds) {
    EXPECT_EQ(format_bytes(512), "512 bytes");
    EXPECT_EQ(format_bytes(2048), "2 kB");
    EXPECT_EQ(format_bytes(6717440), "6.41 MB");
    EXPECT_EQ(format_bytes(50LL * 1024 * 1024 * 1024), "50 GB");
    EXPECT_EQ(format_ms(0.0123), "0.012 ms");
    EXPECT_EQ(format_ms(3.14), "3.1 ms");
    EXPECT_EQ(format_ms(250.4), "250.4 ms");
    EXPECT_EQ(format_number(2.5), "2.5");
    EXPECT_EQ(format_number(100), "100");
    EXPECT_EQ(format_number(0.0842), "0.0842");
}

TEST(ClientText, ProgressBars) {
    EXPECT_EQ(progress_bar(0.5, 10, false), "#####-----");
    EXPECT_EQ(progress_bar(1.7, 4, false), "####");
    EXPECT_EQ(progress_bar(-1, 4, false), "----");
    EXPECT_EQ(progress_bar(0.5, 4, true), "██░░");
    // Eighths: 0.3 of 4 cells is 1 cell and 1.6 eighths -> one full block, one eighth.
    EXPECT_EQ(progress_bar(0.3, 4, true), "█▏░░");
    EXPECT_EQ(display_width(progress_bar(0.37, 20, true)), 20u);
}

TEST(ClientText, EscapesStripAndDoNotCount) {
    Style colour{true, true};
    const std::string painted = paint(colour, "1;31", "hot");
    EXPECT_EQ(painted, "\x1b[1;31mhot\x1b[0m");
    EXPECT_EQ(strip_escapes(painted), "hot");
    EXPECT_EQ(strip_escapes("a\x1b[48;2;1;2;3m b\x1b]0;title\a c"), "a b c");
    EXPECT_EQ(display_width(painted + "█▏"), 5u);
    EXPECT_EQ(paint(Style{}, "1", "plain"), "plain");
    EXPECT_EQ(pad_left(painted, 5), "  " + painted);
    EXPECT_EQ(pad_right("ab", 4), "ab  ");
}

TEST(ClientText, TruncationKeepsEscapesAndResets) {
    EXPECT_EQ(truncate_to_width("abcdef", 3), "abc");
    EXPECT_EQ(truncate_to_width("ab", 3), "ab");
    const std::string cut = truncate_to_width("\x1b[32m███████\x1b[0m", 3);
    EXPECT_EQ(strip_escapes(cut), "███");
    EXPECT_EQ(cut.substr(cut.size() - 4), "\x1b[0m");
}

TEST(ClientJson, WritesValidCompactJson) {
    Json doc = Json::object()
                   .set("name", "a \"quoted\"\nline\\")
                   .set("n", 42)
                   .set("x", 0.25)
                   .set("big", 6717440.0)
                   .set("nan", std::nan(""))
                   .set("none", std::optional<int>())
                   .set("some", std::optional<std::string>("s"))
                   .set("ok", true)
                   .set("list", Json::array().push(1).push("two").push(Json()));
    EXPECT_EQ(doc.dump(), R"({"name":"a \"quoted\"\nline\\","n":42,"x":0.25,"big":6717440,)"
                          R"("nan":null,"none":null,"some":"s","ok":true,"list":[1,"two",null]})");
    EXPECT_EQ(json_quote(std::string("\x01\x7f") + "é"), "\"\\u0001\\u007fé\"");
    doc.set("n", 43);
    EXPECT_EQ(doc.get("n")->integer(), 43);
    EXPECT_EQ(doc.get("missing"), nullptr);
    EXPECT_THROW(Json().push(1), std::logic_error);
}
