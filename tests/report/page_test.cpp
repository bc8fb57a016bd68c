#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "report/report.hpp"
#include "tests/report/count.hpp"

namespace hypdiff::report {
namespace {

namespace fs = std::filesystem;
using report::testing::count_of;

class PageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hypdiff_report_page_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string read(const fs::path& p) const {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

TEST_F(PageTest, AnEmptyJournalGivesAPageThatSaysSo) {
  Input in;
  in.dir = dir_;
  const std::string page = render_page(in);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<title>hypdiff campaign: native against model, seed 1</title>"),
            std::string::npos);
  EXPECT_NE(page.find("No batch has finished yet, so there is no throughput"), std::string::npos);
  EXPECT_NE(page.find("No batch has finished yet, so there is no coverage"), std::string::npos);
  EXPECT_NE(page.find("No failures"), std::string::npos);
  EXPECT_NE(page.find("No mutant scores"), std::string::npos);
  for (const char* id : {"summary", "throughput", "coverage", "failures", "mutants"})
    EXPECT_EQ(count_of(page, std::string("<section id=\"") + id + "\""), 1u) << id;
  EXPECT_EQ(count_of(page, "</section>"), 5u);
  EXPECT_NE(page.find("setAttribute('data-rendered', 'ok')"), std::string::npos);
}

TEST_F(PageTest, SelfContained) {
  Input in;
  in.dir = dir_;
  in.title = "<T & T>";
  const std::string page = render_page(in);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_NE(page.find("<h1>&lt;T &amp; T&gt;</h1>"), std::string::npos);
}

TEST_F(PageTest, WritesAtomically) {
  const fs::path out = dir_ / "r.html";
  write_atomically(out, "first");
  write_atomically(out, "second");
  EXPECT_EQ(read(out), "second");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary file left behind
}

TEST_F(PageTest, AnUnwritableOutputIsAnError) {
  try {
    write_atomically(dir_ / "no/such/dir/r.html", "x");
    FAIL() << "no error";
  } catch (const ReportError& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir_ / "no/such/dir/r.html").string() + ": cannot write: No such file or directory");
  }
  // Renaming over a directory fails after the write: the temporary file is removed.
  fs::create_directories(dir_ / "taken.html");
  EXPECT_THROW(write_atomically(dir_ / "taken.html", "x"), ReportError);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(PageTest, WriteReportChecksTheDirectory) {
  Options o;
  o.dir = dir_ / "missing";
  try {
    write_report(o);
    FAIL() << "no error";
  } catch (const ReportError& e) {
    EXPECT_EQ(std::string(e.what()), (dir_ / "missing").string() + ": no such campaign directory");
  }
  std::ofstream(dir_ / "file") << "x";
  o.dir = dir_ / "file";
  EXPECT_THROW(write_report(o), ReportError);
  o.dir = dir_;  // a directory without a journal
  EXPECT_THROW(write_report(o), campaign::JournalError);
}

}  // namespace
}  // namespace hypdiff::report
