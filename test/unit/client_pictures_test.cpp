// The client's pictures: key heat strips, charts, SVG documents.
#include "client/chart.hpp"
#include "client/heat.hpp"
#include "client/svg.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace presplit::client;

namespace {

HeatMap sample_heat() {
    HeatMap map;
    map.table = "accounts";
    map.buckets = 4;
    map.rows = {{"accounts_0", "0", "100000", {0, 10, 40, 5}},
                {"accounts_1", "100000", "200000", {}},
                {"a<b&c", "x", "y", {1, 1, 1, 1}}};
    return map;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

TimeChart sample_forecast() {
    TimeChart chart;
    chart.title = "accounts_0: load";
    chart.unit = "statements/s";
    chart.now = 1000000;
    for (int h = -24; h <= 0; ++h)
        chart.actual.push_back({chart.now + h * 3600.0, 100.0 + 50 * (h % 2 == 0)});
    for (int h = 1; h <= 24; ++h) {
        chart.predicted.push_back({chart.now + h * 3600.0, 120.0 + 10 * h});
        chart.interval.push_back({chart.now + h * 3600.0, 100.0 + 8 * h, 140.0 + 12 * h});
    }
    chart.threshold = 300;
    chart.crossing = chart.now + 15 * 3600;
    chart.crossing_label = "2024-01-01 15:00";
    chart.offpeak = {{chart.now + 2 * 3600, chart.now + 6 * 3600}};
    return chart;
}

} // namespace

TEST(ClientHeat, ColoursGoFromDarkToBright) {
    const Rgb cold = heat_color(0), warm = heat_color(0.25), hot = heat_color(1);
    EXPECT_LT(cold.r + cold.g + cold.b, warm.r + warm.g + warm.b);
    EXPECT_LT(warm.r + warm.g + warm.b, hot.r + hot.g + hot.b);
    EXPECT_EQ(hex_color(hot), "#fcffa4");
    EXPECT_EQ(hex_color(heat_color(7)), "#fcffa4"); // clamped
    EXPECT_EQ(hex_color(Rgb{1, 2, 255}), "#0102ff");
}

TEST(ClientHeat, TerminalStripsPlainAndColoured) {
    HeatMap map = sample_heat();
    EXPECT_EQ(map.max_bucket(), 40);
    EXPECT_EQ(map.total(map.rows[0]), 55);
    auto plain = render_heat(map, Style{false, false});
    ASSERT_EQ(plain.size(), 6u); // title, header, 3 partitions, legend
    // No access, then the density grows with the square root of the share.
    EXPECT_NE(plain[2].find("|.*@=| 100000  55 sampled"), std::string::npos) << plain[2];
    EXPECT_NE(plain[3].find("(no accesses sampled yet)"), std::string::npos);
    EXPECT_NE(plain[5].find("40 per bucket"), std::string::npos);
    for (const auto& line : plain)
        EXPECT_EQ(line.find('\x1b'), std::string::npos);

    auto coloured = render_heat(map, Style{true, true});
    // One background-coloured cell per bucket: 4 on the first partition.
    EXPECT_EQ(count(coloured[2], "\x1b[48;2;"), 4u);
    EXPECT_NE(coloured[2].find("\x1b[48;2;48;48;56m"), std::string::npos); // no access
    EXPECT_EQ(strip_escapes(coloured[2]).find("▕    ▏"), strip_escapes(coloured[2]).find("▕"));
}

TEST(ClientChart, NiceNumbersAndLabels) {
    EXPECT_DOUBLE_EQ(nice_ceiling(0.7), 0.8);
    EXPECT_DOUBLE_EQ(nice_ceiling(1.2), 1.5);
    EXPECT_DOUBLE_EQ(nice_ceiling(2.2), 2.5);
    EXPECT_DOUBLE_EQ(nice_ceiling(380), 400);
    EXPECT_DOUBLE_EQ(nice_ceiling(351), 400);
    EXPECT_DOUBLE_EQ(nice_ceiling(801), 1000);
    EXPECT_EQ(axis_ticks(300), 3);
    EXPECT_EQ(axis_ticks(8000), 4);
    EXPECT_DOUBLE_EQ(nice_ceiling(0), 1);
    EXPECT_EQ(axis_ticks(500), 5);
    EXPECT_EQ(axis_ticks(2000), 4);
    EXPECT_EQ(axis_label(12500, "statements/s"), "12.5k");
    EXPECT_EQ(axis_label(2.5e6, "statements/s"), "2.5M");
    EXPECT_EQ(axis_label(3 * 1024 * 1024, "bytes"), "3 MB");
    EXPECT_EQ(relative_time(0), "now");
    EXPECT_EQ(relative_time(-24 * 3600), "-24 h");
    EXPECT_EQ(relative_time(30 * 60), "+30 min");
    EXPECT_EQ(relative_time(4 * 86400), "+4 d");
}

TEST(ClientChart, ForecastInTheTerminal) {
    TimeChart chart = sample_forecast();
    EXPECT_DOUBLE_EQ(chart.top(), 500); // 1.05 x the highest upper bound (428), rounded up
    auto lines = render_time_chart(chart, Style{false, false}, 80, 10);
    // title, 10 rows, axis, time labels, off-peak row, legend on two lines
    ASSERT_EQ(lines.size(), 16u);
    EXPECT_EQ(lines[0], "accounts_0: load (statements/s)");
    EXPECT_EQ(lines[1].substr(0, 5), "500 +");
    // The history's bars on the left half, the forecast and its interval on the right.
    const std::string& bottom = lines[10];
    EXPECT_NE(bottom.find('#'), std::string::npos);
    int threshold_row = -1;
    for (int r = 1; r <= 10; ++r)
        if (lines[r].find("--------") != std::string::npos)
            threshold_row = r;
    // 300 of 500 in 10 rows: the row of 250 to 300 (a value on a boundary
    // belongs to the row below it), the 6th from the bottom.
    EXPECT_EQ(threshold_row, 5);
    // Off-peak from +2 h to +6 h: a mark under a twelfth of the 48 h axis.
    const size_t marks = std::count(lines[13].begin(), lines[13].end(), '=');
    EXPECT_GE(marks, 5u);
    EXPECT_LE(marks, 7u);
    EXPECT_NE(lines[12].find("-24 h"), std::string::npos);
    EXPECT_NE(lines[12].find("now"), std::string::npos);
    EXPECT_NE(lines[12].find("+24 h"), std::string::npos);
    const std::string legend = lines[14] + lines[15];
    for (const char* item : {"# actual", "o forecast", ": interval", "- threshold 300",
                             "! crossing +15 h (2024-01-01 15:00)", "= off-peak"})
        EXPECT_NE(legend.find(item), std::string::npos) << item << " in " << legend;
    // The crossing is marked at one column in every row but the forecast's.
    size_t column = lines[1].find('!');
    ASSERT_NE(column, std::string::npos);
    int marked = 0;
    for (int r = 1; r <= 10; ++r)
        marked += lines[r].size() > column && lines[r][column] == '!';
    EXPECT_EQ(marked, 9);
    for (const auto& line : lines)
        EXPECT_LE(line.size(), 80u);
}

TEST(ClientChart, HistoryAloneAndNothing) {
    TimeChart chart = sample_forecast();
    chart.predicted.clear();
    chart.interval.clear();
    chart.threshold.reset();
    chart.crossing.reset();
    chart.offpeak.clear();
    auto lines = render_time_chart(chart, Style{true, true}, 60, 6);
    EXPECT_EQ(strip_escapes(lines.back()), "   █ actual");
    TimeChart empty;
    empty.title = "t";
    empty.unit = "bytes";
    auto none = render_time_chart(empty, Style{false, false}, 60, 6);
    ASSERT_EQ(none.size(), 2u);
    EXPECT_EQ(none[1], "  no history recorded yet");
}

TEST(ClientChart, BarsScaleToTheLargest) {
    BarChart chart{"Load of accounts",
                   "statements/s",
                   {{"accounts_0", {{"last minute", 20}, {"last hour", 10}}},
                    {"accounts_1", {{"last minute", 0}}}},
                   "averages"};
    auto lines = render_bar_chart(chart, Style{false, false}, 60);
    ASSERT_EQ(lines.size(), 5u);
    const size_t full = std::count(lines[1].begin(), lines[1].end(), '#');
    const size_t half = std::count(lines[2].begin(), lines[2].end(), '#');
    EXPECT_LE(full - half * 2, 1u);
    EXPECT_GT(half, 10u);
    EXPECT_EQ(std::count(lines[3].begin(), lines[3].end(), '#'), 0);
    EXPECT_EQ(lines[4], "averages");
}

TEST(ClientSvg, HeatIsAStandaloneDocument) {
    const std::string svg = heat_svg(sample_heat());
    EXPECT_EQ(
        svg.rfind(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"",
            0),
        0u);
    EXPECT_NE(svg.find("<title>Key heat of accounts</title>"), std::string::npos);
    EXPECT_NE(svg.find("a&lt;b&amp;c"), std::string::npos); // names are escaped
    EXPECT_EQ(svg.find("a<b"), std::string::npos);
    EXPECT_NE(svg.find("no accesses sampled yet"), std::string::npos);
    EXPECT_NE(svg.find("linearGradient id=\"heat\""), std::string::npos);
    EXPECT_NE(svg.find("40 accesses per bucket"), std::string::npos);
    // Every bucket of the sampled rows is a rect of its colour: the busiest is the hottest.
    EXPECT_NE(svg.find("fill=\"#fcffa4\""), std::string::npos);
    EXPECT_EQ(svg.find("http", svg.find("xmlns") + 40), std::string::npos); // nothing fetched
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(ClientSvg, ForecastHasAxesLegendAndMarks) {
    const std::string svg = time_chart_svg({sample_forecast()});
    for (const char* part :
         {">actual<", ">forecast<", ">interval<", ">threshold<", ">predicted crossing<",
          ">off-peak window<", "threshold 300", "crossing +15 h (2024-01-01 15:00)", ">-24 h<",
          ">now<", ">+24 h<", ">statements/s<", ">500<", "stroke-dasharray=\"6 3\""})
        EXPECT_NE(svg.find(part), std::string::npos) << part;
    TimeChart history = sample_forecast();
    history.predicted.clear();
    history.interval.clear();
    history.threshold.reset();
    history.crossing.reset();
    history.offpeak.clear();
    const std::string alone = time_chart_svg({history});
    EXPECT_NE(alone.find(">actual<"), std::string::npos);
    EXPECT_EQ(alone.find(">forecast<"), std::string::npos);
    EXPECT_EQ(alone.find(">threshold<"), std::string::npos);
}

TEST(ClientSvg, BarsAndEscaping) {
    BarChart chart{"Load of \"t\"", "statements/s", {{"p<0>", {{"last hour", 3}}}}, "note & more"};
    const std::string svg = bar_chart_svg(chart);
    EXPECT_NE(svg.find("Load of &quot;t&quot;"), std::string::npos);
    EXPECT_NE(svg.find("p&lt;0&gt;"), std::string::npos);
    EXPECT_NE(svg.find("note &amp; more"), std::string::npos);
    EXPECT_EQ(xml_escape(std::string("a\x01") + "'"), "a\xEF\xBF\xBD&apos;");
}
