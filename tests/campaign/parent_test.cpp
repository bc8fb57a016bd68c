// The parent's pieces that need no workers: which journal a session resumes, and the summary.
#include "campaign/parent.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace hypdiff::campaign {
namespace {

namespace fs = std::filesystem;

class ParentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hypdiff_parent_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = dir_ / "journal.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path file_;
};

TEST_F(ParentTest, ResumesOnlyAJournalWithAWholeLine) {
  EXPECT_FALSE(journal_to_resume(file_).has_value());    // no file: a new campaign
  std::ofstream(file_) << "{\"type\":\"start\",\"vers";  // killed while writing the start record
  EXPECT_FALSE(journal_to_resume(file_).has_value());
  {
    JournalWriter w(file_);  // repairs the torn line
    Config c;
    c.seed = 7;
    c.batch_cases = 10;
    w.start(c);
  }
  const auto j = journal_to_resume(file_);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->config.seed, 7u);
  std::ofstream(file_, std::ios::app) << "{\"type\":\"party\"}\n";
  EXPECT_THROW(journal_to_resume(file_), JournalError);
}

TEST_F(ParentTest, AMergedJournalIsNotResumed) {
  {
    JournalWriter w(file_);
    Config c;
    c.batch_cases = 10;
    w.start(c);
    w.merged({0, 1}, 2);
    w.stop("merged", 1);
  }
  try {
    journal_to_resume(file_);
    ADD_FAILURE() << "no error";
  } catch (const SetupError& e) {
    EXPECT_EQ(std::string(e.what()),
              file_.string() + " is a merge of shards; resume the shard directories instead");
  }
}

TEST_F(ParentTest, ADirectoryThatCannotBeCreatedIsASetupError) {
  std::ofstream(dir_ / "file") << "x";
  SessionOptions o;
  o.dir = dir_ / "file" / "sub";
  o.cases = 10;
  Config c;
  c.batch_cases = 10;
  try {
    run_session(o, c, std::nullopt);
    ADD_FAILURE() << "no error";
  } catch (const SetupError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cannot create " + (o.dir / "cases").string() + ": ", 0),
              0u)
        << e.what();
  }
}

SessionResult sample_result() {
  SessionResult r;
  r.reason = "done";
  r.session = {2, 20, 500, 1};
  r.seconds = 2.0;
  r.at = 12.25;
  r.journal.config.target = "model:literal";
  r.journal.config.batch_cases = 10;
  for (std::uint64_t b : {0, 1, 2}) {
    Batch x;
    x.batch = b;
    x.cases = 10;
    x.steps = 250;
    r.journal.batches.push_back(x);
  }
  r.journal.crashes.push_back({0, 3, "killed by SIGABRT", 5});
  r.skipped = {3};
  FailureEntry f;
  f.signature = "divergence/host/npt/host_hvc";
  f.length = 3;
  f.original_length = 40;
  f.batch = 1;
  f.case_file = "cases/divergence-host-npt-host_hvc-0123abcd.case";
  r.smallest[f.signature] = f;
  r.corpus_files[f.signature] = "corpus/found/x.case";
  return r;
}

TEST_F(ParentTest, SummaryTextAndJson) {
  SessionOptions o;
  o.dir = "runs/c";
  o.jobs = 2;
  const SessionResult r = sample_result();
  const fs::path out = dir_ / "summary.txt";
  std::FILE* f = std::fopen(out.c_str(), "w");
  ASSERT_NE(f, nullptr);
  print_summary(f, o, r);
  std::fclose(f);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "campaign runs/c: done\n"
            "  this session: 2 batches, 20 cases, 500 steps in 2.0 s (250 steps/s with 2 "
            "workers)\n"
            "  in all: 3 batches, 30 cases, 750 steps, 12.2 s; 1 worker crashes, 1 batches "
            "skipped\n"
            "  1 distinct failures\n"
            "    divergence/host/npt/host_hvc  3 ops (from 40)  "
            "runs/c/cases/divergence-host-npt-host_hvc-0123abcd.case\n"
            "  replay: ./hypdiff replay FILE\n");
  const nlohmann::json j = summary_json(o, r);
  EXPECT_EQ(j.at("stop"), "done");
  EXPECT_EQ(j.at("dir"), "runs/c");
  EXPECT_EQ(j.at("config").at("target"), "model:literal");
  EXPECT_EQ(j.at("session").dump(),
            R"({"batches":2,"cases":20,"seconds":2.0,"steps":500,"steps_per_second":250.0,)"
            R"("worker_crashes":1,"workers":2})");
  EXPECT_EQ(j.at("batches"), 3);
  EXPECT_EQ(j.at("cases"), 30);
  EXPECT_EQ(j.at("steps"), 750);
  EXPECT_EQ(j.at("seconds"), 12.25);
  EXPECT_EQ(j.at("worker_crashes"), 1);
  EXPECT_EQ(j.at("skipped_batches").dump(), "[3]");
  EXPECT_EQ(j.at("failures").dump(),
            R"([{"batch":1,"corpus_file":"corpus/found/x.case",)"
            R"("file":"runs/c/cases/divergence-host-npt-host_hvc-0123abcd.case","length":3,)"
            R"("original_length":40,"signature":"divergence/host/npt/host_hvc"}])");
}

}  // namespace
}  // namespace hypdiff::campaign
