#include "report/svg.hpp"

#include <gtest/gtest.h>

#include "tests/report/count.hpp"

namespace hypdiff::report::svg {
namespace {

using report::testing::attr_after;
using report::testing::count_of;

TEST(NiceDomain, RoundsOutwardToStepsOfOneTwoOrFive) {
  const Domain d = nice_domain(0, 97, 6);
  EXPECT_DOUBLE_EQ(d.lo, 0);
  EXPECT_DOUBLE_EQ(d.step, 20);
  EXPECT_DOUBLE_EQ(d.hi, 100);
  const Domain e = nice_domain(3.2, 4.1, 5);
  EXPECT_DOUBLE_EQ(e.step, 0.5);
  EXPECT_DOUBLE_EQ(e.lo, 3);
  EXPECT_DOUBLE_EQ(e.hi, 4.5);
}

TEST(NiceDomain, AnEmptyRangeStillHasTicks) {
  const Domain z = nice_domain(0, 0, 6);
  EXPECT_DOUBLE_EQ(z.lo, 0);
  EXPECT_GT(z.hi, 0);
  const Domain p = nice_domain(12, 12, 6);
  EXPECT_LE(p.lo, 12);
  EXPECT_GT(p.hi, 12);
}

TEST(LogTicks, PowersOfTenAroundTheRange) {
  const std::vector<double> t = log_ticks(0.03, 25);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_DOUBLE_EQ(t.front(), 0.01);
  EXPECT_DOUBLE_EQ(t.back(), 100);
  EXPECT_EQ(log_ticks(1, 1).size(), 2u);
  EXPECT_TRUE(log_ticks(0, 5).empty());
}

LineChart two_series() {
  LineChart c;
  c.title = "Throughput";
  c.x_label = "campaign time (s)";
  c.y_label = "steps/s";
  c.series = {{"all workers", "#1565c0", {{0, 10}, {10, 500}, {20, 480}, {30, 520}}},
              {"per worker", "#ef6c00", {{5, 250}, {25, 260}}}};
  return c;
}

TEST(LineChart, OnePolylinePerSeriesWithItsPoints) {
  const std::string s = line_chart(two_series());
  EXPECT_EQ(count_of(s, "<svg"), 1u);
  EXPECT_EQ(count_of(s, "</svg>"), 1u);
  EXPECT_EQ(count_of(s, "class=\"series\""), 2u);
  const std::string pts = attr_after(s, "data-name=\"all workers\"", "points");
  EXPECT_EQ(count_of(pts, ","), 4u);  // four x,y pairs
  EXPECT_EQ(count_of(attr_after(s, "data-name=\"per worker\"", "points"), ","), 2u);
  EXPECT_EQ(count_of(s, "class=\"point\""), 6u);
}

TEST(LineChart, HasTitleAxisLabelsTicksAndLegend) {
  const std::string s = line_chart(two_series());
  EXPECT_NE(s.find(">Throughput</text>"), std::string::npos);
  EXPECT_EQ(count_of(s, "class=\"axis-label\""), 2u);
  EXPECT_NE(s.find(">campaign time (s)</text>"), std::string::npos);
  EXPECT_NE(s.find(">steps/s</text>"), std::string::npos);
  // y from 0 to 600 in steps of 200; x from 0 to 30 in steps of 5.
  EXPECT_NE(s.find("class=\"tick\" x=\"66\" y=\"38.0\" text-anchor=\"end\">600</text>"),
            std::string::npos);
  EXPECT_NE(s.find("text-anchor=\"end\">0</text>"), std::string::npos);
  EXPECT_NE(s.find("text-anchor=\"middle\">30</text>"), std::string::npos);
  EXPECT_EQ(count_of(s, "class=\"tick\""), 4u + 7u);
  EXPECT_EQ(count_of(s, "class=\"legend-item\""), 2u);
  EXPECT_NE(s.find(">per worker</text>"), std::string::npos);
}

TEST(LineChart, ManyPointsDrawNoMarkers) {
  LineChart c = two_series();
  c.series.resize(1);
  c.series[0].points.clear();
  for (int i = 0; i < 500; ++i) c.series[0].points.push_back({double(i), double(i % 7)});
  const std::string s = line_chart(c);
  EXPECT_EQ(count_of(attr_after(s, "class=\"series\"", "points"), ","), 500u);
  EXPECT_EQ(count_of(s, "class=\"point\""), 0u);
}

TEST(LineChart, NoPointsSaysNoData) {
  LineChart c = two_series();
  for (auto& s : c.series) s.points.clear();
  const std::string s = line_chart(c);
  EXPECT_EQ(count_of(s, "class=\"no-data\""), 1u);
  EXPECT_EQ(count_of(s, "class=\"series\""), 0u);
  EXPECT_EQ(count_of(s, "</svg>"), 1u);
}

TEST(LineChart, EscapesItsTexts) {
  LineChart c = two_series();
  c.title = "<b>x</b>";
  c.series[0].name = "a&b";
  const std::string s = line_chart(c);
  EXPECT_EQ(s.find("<b>"), std::string::npos);
  EXPECT_NE(s.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(s.find("data-name=\"a&amp;b\""), std::string::npos);
}

BarChart outcomes() {
  BarChart c;
  c.title = "Steps per handler";
  c.value_label = "share of steps";
  c.stacks = {"ok", "halted", "undefined"};
  c.colors = {"green", "orange", "gray"};
  c.percent = true;
  c.bars = {{"host_hvc", {80, 15, 5}, false, "100 steps", ""},
            {"vm_exit", {0, 3, 0}, true, "3 steps, none ok", ""},
            {"dev_load", {0, 0, 0}, true, "never ran", ""}};
  return c;
}

TEST(BarChart, OneSegmentPerNonZeroValue) {
  const std::string s = bar_chart(outcomes());
  EXPECT_EQ(count_of(s, "class=\"seg\""), 4u);
  EXPECT_EQ(count_of(s, "class=\"bar-label\""), 3u);
  EXPECT_EQ(count_of(s, "class=\"note\""), 3u);
  EXPECT_EQ(count_of(s, "class=\"legend-item\""), 3u);
  EXPECT_NE(s.find("<title>host_hvc: halted 15 (15.0%)</title>"), std::string::npos);
}

TEST(BarChart, PercentAxisAndHighlightedGaps) {
  const std::string s = bar_chart(outcomes());
  EXPECT_EQ(count_of(s, "class=\"tick\""), 6u);
  EXPECT_NE(s.find(">0%</text>"), std::string::npos);
  EXPECT_NE(s.find(">100%</text>"), std::string::npos);
  EXPECT_EQ(count_of(s, "class=\"gap\""), 2u);
  EXPECT_NE(s.find("font-weight=\"bold\">vm_exit</text>"), std::string::npos);
  EXPECT_NE(s.find(">share of steps</text>"), std::string::npos);
  // A full bar of the only non-zero stack spans the whole axis (200 to 710).
  EXPECT_NE(s.find("<rect class=\"seg\" x=\"200.0\" y=\"61\" width=\"510.0\""), std::string::npos);
}

TEST(BarChart, LogAxisHasPowerOfTenTicks) {
  BarChart c;
  c.title = "Time to first failure";
  c.value_label = "seconds";
  c.stacks = {"killed", "survived"};
  c.log = true;
  c.bars = {{"1 a", {0.004, 0}, false, "", ""},
            {"2 b", {0.3, 0}, false, "", ""},
            {"3 c", {0, 30}, true, "survived", ""},
            {"4 d", {}, false, "equivalent", ""}};
  const std::string s = bar_chart(c);
  EXPECT_EQ(count_of(s, "class=\"seg\""), 3u);
  for (const char* t :
       {">0.001</text>", ">0.01</text>", ">0.1</text>", ">1</text>", ">10</text>", ">100</text>"})
    EXPECT_NE(s.find(t), std::string::npos) << t;
  EXPECT_EQ(count_of(s, "class=\"tick\""), 6u);
}

TEST(BarChart, NoBarsSaysNoData) {
  BarChart c = outcomes();
  c.bars.clear();
  const std::string s = bar_chart(c);
  EXPECT_EQ(count_of(s, "class=\"no-data\""), 1u);
  EXPECT_EQ(count_of(s, "class=\"seg\""), 0u);
}

}  // namespace
}  // namespace hypdiff::report::svg
