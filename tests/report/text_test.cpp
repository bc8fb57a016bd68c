#include "report/text.hpp"

#include <gtest/gtest.h>

namespace hypdiff::report {
namespace {

TEST(HtmlEscape, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(html_escape("<a href=\"x\">'b' & c</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;b&#39; &amp; c&lt;/a&gt;");
}

TEST(HtmlEscape, LeavesOtherTextAlone) {
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("VM 2: s2page[0x41].owner = 3 (é)"), "VM 2: s2page[0x41].owner = 3 (é)");
}

TEST(HtmlEscape, AnEscapedScriptTagIsText) {
  const std::string s = html_escape("</pre><script>alert(1)</script>");
  EXPECT_EQ(s.find('<'), std::string::npos);
  EXPECT_EQ(s, "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
}

TEST(FmtCount, GroupsThousands) {
  EXPECT_EQ(fmt_count(0), "0");
  EXPECT_EQ(fmt_count(999), "999");
  EXPECT_EQ(fmt_count(1000), "1,000");
  EXPECT_EQ(fmt_count(1234567), "1,234,567");
}

TEST(FmtTick, ShortLabels) {
  EXPECT_EQ(fmt_tick(0), "0");
  EXPECT_EQ(fmt_tick(2.5), "2.5");
  EXPECT_EQ(fmt_tick(800), "800");
  EXPECT_EQ(fmt_tick(15000), "15k");
  EXPECT_EQ(fmt_tick(1200000), "1.2M");
  EXPECT_EQ(fmt_tick(0.001), "0.001");
  EXPECT_EQ(fmt_tick(-20), "-20");
}

TEST(FmtDuration, PicksAUnitByLength) {
  EXPECT_EQ(fmt_duration(0.4231), "0.42 s");
  EXPECT_EQ(fmt_duration(12.34), "12.3 s");
  EXPECT_EQ(fmt_duration(245), "4 min 05 s");
  EXPECT_EQ(fmt_duration(7380), "2 h 03 min");
  EXPECT_EQ(fmt_duration(-3), "0.00 s");
}

TEST(FmtUtc, FormatsUnixTime) {
  EXPECT_EQ(fmt_utc(0), "1970-01-01 00:00:00 UTC");
  EXPECT_EQ(fmt_utc(1795834972), "2026-11-28 03:02:52 UTC");
}

}  // namespace
}  // namespace hypdiff::report
