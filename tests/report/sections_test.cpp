#include "report/sections.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/report/count.hpp"

namespace hypdiff::report {
namespace {

namespace fs = std::filesystem;
using report::testing::count_of;

campaign::Batch batch(std::uint64_t n, double at, std::uint64_t steps, double seconds) {
  campaign::Batch b;
  b.batch = n;
  b.cases = 10;
  b.steps = steps;
  b.seconds = seconds;
  b.at = at;
  b.coverage.by_handler[0] = {5, 1, 0};
  b.coverage.by_hvc[13] = {2, 0, 0};
  b.coverage.by_hvc[21] = {0, 1, 0};
  return b;
}

campaign::FailureEntry failure(std::string sig, double at, std::size_t length) {
  campaign::FailureEntry f;
  f.signature = std::move(sig);
  f.cls = "divergence";
  f.principal = "host";
  f.field = "npt";
  f.handler = "host_hvc";
  f.op = "host_hvc(x0=13)";
  f.summary = "host sees <npt> differ";
  f.details = {"host: npt[0x40] 1 -> 2"};
  f.case_file = "failures/" + f.signature + ".case";
  f.length = length;
  f.original_length = 40;
  f.at = at;
  return f;
}

campaign::Journal journal() {
  campaign::Journal j;
  // Out of time order, as parallel workers journal them.
  j.batches = {batch(0, 10, 1000, 5), batch(2, 30, 3000, 10), batch(1, 20, 2000, 5),
               batch(3, 40, 4000, 10)};
  j.elapsed = 40;
  return j;
}

TEST(TimeUnit, ByCampaignLength) {
  EXPECT_STREQ(time_unit(100).name, "s");
  EXPECT_STREQ(time_unit(600).name, "min");
  EXPECT_DOUBLE_EQ(time_unit(600).seconds, 60);
  EXPECT_STREQ(time_unit(4 * 3600).name, "h");
}

TEST(Throughput, StepsPerSecondPerTimeSlice) {
  const auto p = throughput_points(journal(), 4, {1, "s"});
  ASSERT_EQ(p.size(), 4u);
  // Slices of 10 s: [0,10) none, [10,20) batch 0, [20,30) batch 1, [30,40] batches 2 and 3.
  EXPECT_DOUBLE_EQ(p[0].x, 5);
  EXPECT_DOUBLE_EQ(p[0].y, 0);
  EXPECT_DOUBLE_EQ(p[1].y, 100);
  EXPECT_DOUBLE_EQ(p[2].y, 200);
  EXPECT_DOUBLE_EQ(p[3].y, 700);
  EXPECT_DOUBLE_EQ(p[3].x, 35);
}

TEST(Throughput, PerWorkerRateSkipsEmptySlices) {
  const auto p = worker_rate_points(journal(), 4, {1, "s"});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_DOUBLE_EQ(p[0].y, 200);  // 1000 steps in 5 worker-seconds
  EXPECT_DOUBLE_EQ(p[1].y, 400);
  EXPECT_DOUBLE_EQ(p[2].y, 350);  // 7000 in 20
}

TEST(Throughput, CumulativeCasesInTimeOrder) {
  const auto p = cumulative_cases(journal(), {60, "min"});
  ASSERT_EQ(p.size(), 5u);
  EXPECT_DOUBLE_EQ(p[0].y, 0);
  EXPECT_DOUBLE_EQ(p[2].x, 20.0 / 60);
  EXPECT_DOUBLE_EQ(p[2].y, 20);
  EXPECT_DOUBLE_EQ(p[4].y, 40);
}

TEST(Throughput, CumulativeSignaturesCountsEachOnce) {
  campaign::Journal j = journal();
  j.failures = {failure("b", 25, 3), failure("a", 12, 5), failure("a", 30, 2)};
  const auto p = cumulative_signatures(j, {1, "s"});
  ASSERT_EQ(p.size(), 4u);  // start, a at 12, b at 25, carried to 40
  EXPECT_DOUBLE_EQ(p[1].x, 12);
  EXPECT_DOUBLE_EQ(p[2].y, 2);
  EXPECT_DOUBLE_EQ(p[3].x, 40);
  EXPECT_DOUBLE_EQ(p[3].y, 2);
}

TEST(Throughput, EmptyJournalSaysSo) {
  const campaign::Journal j;
  EXPECT_TRUE(throughput_points(j, 4, {1, "s"}).empty());
  const std::string s = throughput_section(j);
  EXPECT_NE(s.find("No batch has finished yet"), std::string::npos);
  EXPECT_EQ(count_of(s, "<svg"), 0u);
}

TEST(Throughput, SectionDrawsTwoChartsWithoutFailuresAndThreeWith) {
  campaign::Journal j = journal();
  EXPECT_EQ(count_of(throughput_section(j), "<svg"), 2u);
  j.failures = {failure("a", 12, 5)};
  EXPECT_EQ(count_of(throughput_section(j), "<svg"), 3u);
}

TEST(Coverage, HighlightsHandlersAndHypercallsWithoutAnOkStep) {
  const std::string s = coverage_section(journal());
  EXPECT_EQ(count_of(s, "<svg"), 2u);
  // Handlers: 9 bars, all but host_hvc and set_reg gaps (7). Hypercalls: 17 bars, all but 13.
  EXPECT_EQ(count_of(s, "class=\"bar-label\""), 9u + 17u);
  EXPECT_EQ(count_of(s, "<rect class=\"gap\""), 7u + 16u);
  EXPECT_NE(s.find("font-weight=\"bold\">21 SMMU_LPAE_IOVA_TO_PHYS</text>"), std::string::npos);
  EXPECT_NE(s.find(">13 TIMER_SET_CNTVOFF</text>"), std::string::npos);
  EXPECT_NE(s.find("4 steps, none ok"), std::string::npos);  // hvc 21: 4 halted
  EXPECT_NE(s.find("Gaps: host_npt"), std::string::npos);
  // The counts table: 9 handlers + 17 hypercalls, gaps marked.
  EXPECT_EQ(count_of(s, "<tr class=\"gap\">"), 7u + 16u);
}

TEST(Coverage, HypercallLabels) {
  EXPECT_EQ(hvc_label(13), "13 TIMER_SET_CNTVOFF");
  EXPECT_EQ(hvc_label(29), "29 LOAD_CRYPT_VCPU");
  EXPECT_EQ(hvc_label(24), "24 REGISTER_KVM");
  EXPECT_EQ(hvc_label(-1), "other numbers");
}

class FailuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hypdiff_report_sections_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "failures");
    std::ofstream(dir_ / "failures/a.case") << "# hypdiff case\nop host_hvc <x0=13>\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FailuresTest, OneRowAndOneArticlePerSignature) {
  campaign::Journal j = journal();
  j.failures = {failure("a", 25, 3), failure("b", 12, 5), failure("a", 30, 2), failure("a", 14, 7)};
  const std::string s = failures_section(j, dir_);
  EXPECT_EQ(count_of(s, "<article"), 2u);
  EXPECT_NE(s.find("2 distinct signatures in 4 journaled failures"), std::string::npos);
  // a: 3 hits, smallest length 2, first found at 14 s (batch 0).
  EXPECT_NE(s.find("<td data-v=\"3\">3</td><td data-v=\"2\">2</td><td data-v=\"14\">14.0 s (batch "
                   "0)</td>"),
            std::string::npos);
  EXPECT_NE(s.find("from 40 to 2 operations"), std::string::npos);
  // The case file text of a, escaped; b's file is missing and the page says so.
  EXPECT_NE(s.find("op host_hvc &lt;x0=13&gt;"), std::string::npos);
  EXPECT_NE(s.find("failures/b.case</code> is missing"), std::string::npos);
  EXPECT_NE(s.find("host sees &lt;npt&gt; differ"), std::string::npos);
  EXPECT_NE(s.find("<pre class=\"diff\">host: npt[0x40] 1 -&gt; 2\n</pre>"), std::string::npos);
}

TEST_F(FailuresTest, LongDiffsShowTheirFirstLinesAndFoldTheRest) {
  campaign::Journal j = journal();
  campaign::FailureEntry f = failure("a", 25, 3);
  f.details.clear();
  for (int i = 0; i < 30; ++i)
    f.details.push_back("host sees owner[pfn " + std::to_string(i) + "]");
  j.failures = {f};
  const std::string s = failures_section(j, dir_);
  EXPECT_EQ(count_of(s, "host sees owner[pfn "), 30u);
  EXPECT_NE(s.find("<details class=\"more\"><summary>6 more lines</summary><pre class=\"diff\">"
                   "host sees owner[pfn 24]\n"),
            std::string::npos);
}

TEST_F(FailuresTest, NoFailuresSaysSo) {
  const std::string s = failures_section(journal(), dir_);
  EXPECT_NE(s.find("No failures"), std::string::npos);
  EXPECT_EQ(count_of(s, "<table"), 0u);
}

TEST(Summary, HeadlineNumbers) {
  Input in;
  in.journal = journal();
  in.journal.config.target = "native";
  in.journal.config.against = "model";
  in.journal.config.seed = 77;
  in.journal.config.shard_index = 1;
  in.journal.config.shard_count = 3;
  in.journal.sessions = {0, 3600};
  campaign::WorkerCrash c;
  c.worker = 2;
  c.reason = "killed by <SIGSEGV>";
  in.journal.crashes = {c};
  const std::string s = summary_section(in);
  EXPECT_NE(s.find("<td>native against model</td>"), std::string::npos);
  EXPECT_NE(s.find("<td>77</td>"), std::string::npos);
  EXPECT_NE(s.find("2 of 3"), std::string::npos);
  EXPECT_NE(s.find("<div class=\"value\">40</div><div class=\"label\">cases"), std::string::npos);
  EXPECT_NE(s.find("<div class=\"value\">10,000</div><div class=\"label\">steps"),
            std::string::npos);
  EXPECT_NE(s.find("<div class=\"value\">250</div><div class=\"label\">steps/s"),
            std::string::npos);
  EXPECT_NE(s.find("2, first started 1970-01-01 00:00:00 UTC, last started 1970-01-01 01:00:00"),
            std::string::npos);
  EXPECT_NE(s.find("killed by &lt;SIGSEGV&gt;"), std::string::npos);
  EXPECT_NE(s.find("not cleanly"), std::string::npos);
}

}  // namespace
}  // namespace hypdiff::report
