// The corpus phase: regression cases on their recorded pairing, found cases on the pairing
// under test.
#include "harness/corpus_replay.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>

#include "harness/target.hpp"

namespace hypdiff::harness {
namespace {

namespace fs = std::filesystem;

const fs::path kRegression = fs::path(HYPDIFF_SOURCE_DIR) / "corpus" / "regression";

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("hypdiff-corpus-replay-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TargetByName maker(std::map<std::string, std::unique_ptr<Target>>& made) {
  return [&made](const std::string& name, std::string* err) -> Target* {
    auto& slot = made[name];
    if (!slot) slot = make_target(name, err);
    return slot.get();
  };
}

TEST(CorpusReplay, AChangedExpectationIsAMismatch) {
  TempDir tmp;
  // A quirk case recorded as a divergence: claim it passes, and claim another step.
  const fs::path src = kRegression / "quirk-assign-normalize.case";
  corpus::CaseFile f = corpus::load_case(src);
  ASSERT_TRUE(f.expect);
  ASSERT_EQ(f.expect->verdict, "divergence");
  corpus::CaseFile pass = f;
  pass.expect->verdict = "pass";
  corpus::save_case(tmp.path / "a-pass.case", pass);
  corpus::CaseFile step = f;
  step.expect->step = *f.expect->step + 1;
  corpus::save_case(tmp.path / "b-step.case", step);
  corpus::CaseFile none = f;
  none.expect.reset();
  corpus::save_case(tmp.path / "c-none.case", none);
  std::map<std::string, std::unique_ptr<Target>> made;
  const auto results = replay_regressions(tmp.path, maker(made), 10);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].problem.rfind("recorded pass, got divergence", 0), 0u) << results[0].problem;
  EXPECT_FALSE(results[1].ok);
  EXPECT_EQ(results[1].problem.rfind("recorded step", 0), 0u) << results[1].problem;
  EXPECT_FALSE(results[2].ok);
  EXPECT_NE(results[2].problem.find("no expect line"), std::string::npos);
}

TEST(CorpusReplay, FoundCasesMustPassOnThePairingUnderTest) {
  TempDir tmp;
  fs::copy_file(kRegression / "quirk-assign-normalize.case", tmp.path / "x.case");
  std::ofstream(tmp.path / "broken.case") << "hypdiff-case 1\nconfig max_vms=1\n";
  std::ofstream(tmp.path / "ignored.txt") << "not a case";
  std::string err;
  auto buggy = make_target("model:intended-assign-normalize", &err);
  auto good = make_target("model:intended", &err);
  ASSERT_TRUE(buggy && good) << err;

  const auto on_bug = replay_found(tmp.path, *buggy, good.get(), {});
  ASSERT_EQ(on_bug.size(), 2u);  // broken.case, x.case; not the .txt
  EXPECT_FALSE(on_bug[0].ok);
  EXPECT_NE(on_bug[0].problem.find("broken.case:"), std::string::npos) << on_bug[0].problem;
  EXPECT_FALSE(on_bug[1].ok);
  ASSERT_TRUE(on_bug[1].failure);
  EXPECT_EQ(on_bug[1].failure->cls, FailureClass::divergence);
  EXPECT_EQ(on_bug[1].problem.rfind("still fails: ", 0), 0u);
  EXPECT_EQ(on_bug[1].against, "model:intended");

  auto again = make_target("model:intended", &err);
  const auto fixed = replay_found(tmp.path, *again, good.get(), {});
  EXPECT_TRUE(fixed[1].ok) << fixed[1].problem;
  EXPECT_EQ(fixed[1].kind, CorpusKind::found);
}

TEST(CorpusReplay, AMissingDirectoryHoldsNoCases) {
  EXPECT_TRUE(case_files("/nonexistent/hypdiff").empty());
}

}  // namespace
}  // namespace hypdiff::harness
