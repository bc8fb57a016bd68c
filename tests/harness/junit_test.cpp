// The JUnit writer: escaping and the counts CI systems read.
#include "harness/junit.hpp"

#include <gtest/gtest.h>

namespace hypdiff::harness {
namespace {

TEST(JUnit, EscapesMarkupAndDropsWhatXmlCannotCarry) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("tab\tnew\nline"), "tab\tnew\nline");
  EXPECT_EQ(xml_escape(std::string("nul\0bell\a", 9)), "nul?bell?");
  EXPECT_EQ(xml_escape("caf\xc3\xa9"), "caf\xc3\xa9");              // valid UTF-8 stays
  EXPECT_EQ(xml_escape("bad\xff\xc3"), "bad??");                    // invalid bytes do not
  EXPECT_EQ(xml_escape("\xe2\x82"), "??");                          // a cut sequence
  EXPECT_EQ(xml_escape("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!");  // four bytes
}

TEST(JUnit, SkippedCasesAreCountedAndSaySo) {
  JUnitSuite s;
  JUnitCase skip;
  skip.classname = "hypdiff.corpus.found";
  skip.name = "vm.case";
  skip.skipped = "step 3 is vm_exit, which qemu does not run";
  JUnitCase ok;
  ok.name = "hvc.case";
  s.cases = {skip, ok};
  const std::string x = junit_xml(s);
  EXPECT_NE(x.find("tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"vm.case\" time=\"0.000\">\n      <skipped message=\"step 3 is "
                   "vm_exit, which qemu does not run\"/>\n    </testcase>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"hvc.case\" time=\"0.000\"/>"), std::string::npos) << x;
}

TEST(JUnit, CountsFailuresAndWritesEveryCase) {
  JUnitSuite s;
  s.name = "hypdiff check native against model";
  s.timestamp = "2026-11-28T05:00:00Z";
  s.hostname = "ci";
  s.seconds = 1.5;
  s.properties = {{"seed", "7"}};
  JUnitCase ok;
  ok.classname = "hypdiff.corpus.regression";
  ok.name = "pass-a.case";
  ok.seconds = 0.25;
  JUnitCase bad;
  bad.classname = "hypdiff.check.failure";
  bad.name = "divergence/host/gfn/host_hvc";
  bad.failure = JUnitCase::Failed{"host observes <x> differently", "divergence", "line 1\nline 2"};
  bad.system_out = "replay: ./hypdiff replay f.case";
  s.cases = {ok, bad};
  const std::string x = junit_xml(s);
  EXPECT_NE(x.find("<testsuites tests=\"2\" failures=\"1\" errors=\"0\" time=\"1.500\">"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testsuite name=\"hypdiff check native against model\" tests=\"2\" "
                   "failures=\"1\""),
            std::string::npos);
  EXPECT_NE(x.find("<property name=\"seed\" value=\"7\"/>"), std::string::npos);
  EXPECT_NE(x.find("<testcase classname=\"hypdiff.corpus.regression\" name=\"pass-a.case\" "
                   "time=\"0.250\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<failure message=\"host observes &lt;x&gt; differently\" "
                   "type=\"divergence\">line 1\nline 2</failure>"),
            std::string::npos);
  EXPECT_NE(x.find("<system-out>replay: ./hypdiff replay f.case</system-out>"), std::string::npos);
  EXPECT_EQ(x.rfind("</testsuites>\n"), x.size() - 14);
}

TEST(JUnit, TimestampIsIso8601Utc) {
  const std::string t = utc_timestamp();
  ASSERT_EQ(t.size(), 20u) << t;
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t.back(), 'Z');
}

}  // namespace
}  // namespace hypdiff::harness
