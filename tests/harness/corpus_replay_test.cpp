// The corpus phase: regression cases on their recorded pairing, found cases on the pairing
// under test.
#include "harness/corpus_replay.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>

#include "harness/target.hpp"
#include "model/op.hpp"

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
  TargetCache targets;
  const auto results = replay_regressions(tmp.path, targets.by_name(), 10);
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

// A model target that says it runs host hypercalls only, as the QEMU target did at first.
class HvcOnly final : public Target {
 public:
  explicit HvcOnly(std::unique_ptr<Target> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "hvc-only"; }
  std::string describe() const override { return "hvc-only"; }
  void reset(const model::MachineConfig& cfg, model::OraclePtr o) override {
    inner_->reset(cfg, std::move(o));
  }
  model::StepKind step(const model::Op& op) override { return inner_->step(op); }
  const model::RData& state() const override { return inner_->state(); }
  model::HandlerMask realized() const override {
    return model::handler_bit(model::Handler::host_hvc);
  }

 private:
  std::unique_ptr<Target> inner_;
};

TEST(CorpusReplay, CasesWithStepsATargetDoesNotRunAreSkippedNotFailed) {
  TempDir tmp;
  corpus::CaseFile hvc = corpus::load_case(kRegression / "quirk-assign-normalize.case");
  hvc.expect.reset();
  corpus::save_case(tmp.path / "a-hvc.case", hvc);  // host hypercalls only
  corpus::CaseFile mixed = hvc;
  mixed.c.ops.insert(mixed.c.ops.begin() + 2, model::SetReg{3, 7});
  corpus::save_case(tmp.path / "b-mixed.case", mixed);
  std::string err;
  HvcOnly target(make_target("model:intended", &err));
  auto reference = make_target("model:intended", &err);
  ASSERT_TRUE(reference) << err;
  EXPECT_EQ(first_unrealized(hvc.c.ops, target), std::nullopt);
  EXPECT_EQ(first_unrealized(mixed.c.ops, target), std::optional<std::size_t>(2));

  const auto r = replay_found(tmp.path, target, reference.get(), {});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].ok);
  EXPECT_FALSE(r[0].skipped);
  EXPECT_EQ(r[0].steps, hvc.c.ops.size());
  EXPECT_TRUE(r[1].ok);
  ASSERT_TRUE(r[1].skipped);
  EXPECT_EQ(*r[1].skipped, "step 2 is set_reg, which hvc-only does not run");
  EXPECT_EQ(r[1].steps, 0u);
}

TEST(CorpusReplay, AStandInRunsRegressionCasesUnderItsOwnName) {
  TempDir tmp;
  fs::copy_file(kRegression / "quirk-assign-normalize.case", tmp.path / "x.case");
  std::string err;
  auto stand_in = make_target("model:intended-assign-normalize", &err);
  ASSERT_TRUE(stand_in) << err;
  TargetCache targets;
  // The case records model:intended-assign-normalize; an identical target under another name
  // stands in for it and must reproduce the verdict.
  targets.stand_in("model:intended-assign-normalize", *stand_in);
  auto lent = make_target("model:intended", &err);
  targets.lend(*lent);
  EXPECT_EQ(targets.get("model:intended", &err), lent.get());
  const auto r = replay_regressions(tmp.path, targets.by_name(), 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok) << r[0].problem;
  EXPECT_FALSE(r[0].stand_in);  // same name: not a stand-in
  EXPECT_EQ(targets.get("model:intended-assign-normalize", &err), stand_in.get());

  // Under another name the result says so, and the verdict must still be the recorded one.
  HvcOnly other(make_target("model:intended-assign-normalize", &err));
  TargetCache cache2;
  cache2.stand_in("model:intended-assign-normalize", other);
  const auto r2 = replay_regressions(tmp.path, cache2.by_name(), 10);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_TRUE(r2[0].ok) << r2[0].problem;
  EXPECT_TRUE(r2[0].stand_in);
  EXPECT_EQ(r2[0].target, "hvc-only");
  EXPECT_EQ(r2[0].against, "model:intended");
  EXPECT_EQ(cache2.get("no-such-target", &err), nullptr);
  EXPECT_NE(err.find("unknown target 'no-such-target'"), std::string::npos) << err;
}

TEST(CorpusReplay, AMissingDirectoryHoldsNoCases) {
  EXPECT_TRUE(case_files("/nonexistent/hypdiff").empty());
}

}  // namespace
}  // namespace hypdiff::harness
