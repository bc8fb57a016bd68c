// Library targets that crash, hang or are no targets at all (tests/harness/bad_plugin.cpp and
// abi_plugin.c): each gives a verdict or a one-line load error, never the end of the harness;
// the Runner names the step, check's shrinker reduces a crashing case, and a following case on
// the same target passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include "generators/case_gen.hpp"
#include "harness/check.hpp"
#include "harness/lib_target.hpp"
#include "harness/model_target.hpp"
#include "harness/runner.hpp"

namespace hypdiff::harness {
namespace {

const model::Op kBadHvc = model::HostHvc{{0xBAD, 0, 0, 0, 0, 0}};

generators::Case gen(std::uint64_t seed, int max_ops = 40) {
  generators::GenOptions o;
  o.min_ops = max_ops;
  o.max_ops = max_ops;
  return generators::generate_case(o, seed);
}

// `c` with the faulting hypercall inserted before operation `at`.
generators::Case with_bad_hvc(generators::Case c, std::size_t at) {
  c.ops.insert(c.ops.begin() + static_cast<std::ptrdiff_t>(at), kBadHvc);
  return c;
}

bool is_bad_hvc(const model::Op& op) {
  const auto* h = std::get_if<model::HostHvc>(&op);
  return h && h->x[0] == 0xBAD;
}

// The bad plugin, misbehaving as `spec` says (HYPDIFF_BAD is read when an instance opens).
std::unique_ptr<LibTarget> bad(const char* spec) {
  setenv("HYPDIFF_BAD", spec, 1);
  std::string err;
  auto t = LibTarget::load(HYPDIFF_BAD_PLUGIN, &err);
  EXPECT_TRUE(t) << err;
  return t;
}

class Crashes : public testing::Test {
 protected:
  void TearDown() override { unsetenv("HYPDIFF_BAD"); }
  ModelTarget model_{"model", model::Profile::intended()};
};

TEST_F(Crashes, ASegfaultAtStepNIsACrashVerdictAtStepN) {
  auto lib = bad("segv@17");
  Runner runner(*lib, &model_);
  const CaseResult r = runner.run(gen(1));
  ASSERT_TRUE(r.failure);
  const Failure& f = *r.failure;
  EXPECT_EQ(f.cls, FailureClass::crash);
  EXPECT_EQ(f.step, 17u);
  EXPECT_EQ(f.field, "SIGSEGV");
  EXPECT_FALSE(f.principal);
  EXPECT_EQ(f.summary, "target " + lib->name() + " crashed at step 17 (SIGSEGV)");
  ASSERT_EQ(f.details.size(), 1u);
  EXPECT_EQ(f.details[0], lib->name() + ": SIGSEGV in step");
  EXPECT_EQ(r.steps, 17u);
  EXPECT_EQ(f.signature(), "crash/-/SIGSEGV/" + std::string(model::handler_name(f.handler)));
  EXPECT_STREQ(failure_class_name(FailureClass::crash), "crash");
  EXPECT_EQ(failure_class_from_name("crash"), FailureClass::crash);
  EXPECT_EQ(failure_class_from_name("hang"), FailureClass::hang);
  // A short case on the same target runs on a fresh instance and passes.
  const CaseResult again = runner.run(gen(2, 10));
  EXPECT_FALSE(again.failure) << again.failure->summary;
  EXPECT_EQ(again.steps, 10u);
}

TEST_F(Crashes, AbortAndStackOverflowAtTheBadHypercall) {
  for (const auto& [spec, sig] :
       {std::pair{"abort", "SIGABRT"}, std::pair{"overflow", "SIGSEGV"}}) {
    auto lib = bad(spec);
    Runner runner(*lib, &model_);
    const CaseResult r = runner.run(with_bad_hvc(gen(3), 5));
    ASSERT_TRUE(r.failure) << spec;
    EXPECT_EQ(r.failure->cls, FailureClass::crash);
    EXPECT_EQ(r.failure->step, 5u);
    EXPECT_EQ(r.failure->field, sig);
    EXPECT_TRUE(is_bad_hvc(r.failure->operation));
    EXPECT_FALSE(runner.run(gen(3)).failure) << spec;
  }
}

TEST_F(Crashes, ALoopInAStepIsAHangVerdictAfterTheTimeout) {
  auto lib = bad("hang");
  RunOptions opts;
  opts.step_timeout = 0.2;
  Runner runner(*lib, &model_, opts);
  const auto t0 = std::chrono::steady_clock::now();
  const CaseResult r = runner.run(with_bad_hvc(gen(4), 8));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, FailureClass::hang);
  EXPECT_EQ(r.failure->step, 8u);
  EXPECT_EQ(r.failure->field, "timeout");
  EXPECT_EQ(r.failure->summary,
            "target " + lib->name() + " hung at step 8 (no answer after 0.2 s)");
  EXPECT_GE(took, 0.2);
  EXPECT_LT(took, 3.0);
  EXPECT_FALSE(runner.run(gen(4)).failure);
}

TEST_F(Crashes, ALoopCallingBackIntoTheHarnessIsAHangToo) {
  auto lib = bad("hang-in-callbacks@3");
  RunOptions opts;
  opts.step_timeout = 0.2;
  Runner runner(*lib, &model_, opts);
  const CaseResult r = runner.run(gen(5));
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, FailureClass::hang);
  EXPECT_EQ(r.failure->step, 3u);
  EXPECT_FALSE(runner.run(gen(5, 3)).failure);
}

TEST_F(Crashes, CrashesInOpenResetAndExportAreVerdictsToo) {
  for (const char* spec : {"segv@open", "segv@reset"}) {
    auto lib = bad(spec);
    Runner runner(*lib, &model_);
    const CaseResult r = runner.run(gen(6));
    ASSERT_TRUE(r.failure) << spec;
    EXPECT_EQ(r.failure->cls, FailureClass::crash);
    EXPECT_EQ(r.failure->step, 0u);
    EXPECT_EQ(r.steps, 0u);
    EXPECT_NE(r.failure->summary.find("crashed in reset, before step 0 (SIGSEGV)"),
              std::string::npos)
        << r.failure->summary;
  }
  auto lib = bad("abort@export");
  Runner runner(*lib, &model_);
  const CaseResult r = runner.run(gen(6));
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->step, 0u);
  EXPECT_EQ(r.failure->field, "SIGABRT");
  EXPECT_EQ(r.failure->details.at(0), lib->name() + ": SIGABRT in export_state");
}

TEST_F(Crashes, ACrashingReferenceIsTheReferencesVerdict) {
  auto lib = bad("segv@2");
  Runner runner(model_, lib.get());
  const CaseResult r = runner.run(gen(1));
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, FailureClass::crash);
  EXPECT_EQ(r.failure->step, 2u);
  EXPECT_EQ(r.failure->field, "reference-SIGSEGV");
  EXPECT_EQ(r.failure->summary, "reference " + lib->name() + " crashed at step 2 (SIGSEGV)");
}

TEST_F(Crashes, OtherTargetErrorsAndModelBugsStillPropagate) {
  auto lib = bad("");
  Runner runner(*lib, &model_);
  generators::Case c = gen(8, 5);
  c.ops.insert(c.ops.begin(), model::HostHvc{{model::pow2(64), 0, 0, 0, 0, 0}});  // > 64 bits
  try {
    runner.run(c);
    FAIL() << "no TargetError";
  } catch (const TargetFault&) {
    FAIL() << "an argument the ABI cannot carry is no crash";
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }

  // A reference with a bug in it: the bug, not a verdict.
  class Buggy final : public Target {
   public:
    std::string name() const override { return "buggy"; }
    std::string describe() const override { return ""; }
    void reset(const model::MachineConfig&, model::OraclePtr) override {}
    model::StepKind step(const model::Op&) override { throw model::ModelBug("planted"); }
    const model::RData& state() const override { throw model::ModelBug("no state"); }
  } buggy;
  Runner with_bug(*lib, &buggy);
  EXPECT_THROW(with_bug.run(gen(8, 5)), model::ModelBug);
}

TEST_F(Crashes, TheShrinkerReducesACrashingCaseToTheFaultingOperation) {
  auto lib = bad("segv");
  Runner runner(*lib, &model_);
  const generators::Case c = with_bad_hvc(gen(9, 40), 25);
  const CaseResult r = runner.run(c);
  ASSERT_TRUE(r.failure);
  ASSERT_EQ(r.failure->step, 25u);
  const ShrunkCase s = shrink_case(*lib, &model_, {}, c, *r.failure, {});
  EXPECT_LE(s.c.ops.size(), 2u);
  ASSERT_FALSE(s.c.ops.empty());
  EXPECT_TRUE(is_bad_hvc(s.c.ops.back()));
  EXPECT_EQ(s.failure.signature(), r.failure->signature());
  EXPECT_EQ(s.failure.step, s.c.ops.size() - 1);
  EXPECT_GT(s.stats.candidates, 5u);  // each failing candidate reopened the instance
  EXPECT_FALSE(runner.run(gen(9, 40)).failure);
}

TEST_F(Crashes, CheckFindsShrinksAndDeduplicatesCrashes) {
  auto lib = bad("segv@7");
  CheckOptions opts;
  opts.cases = 30;
  opts.gen.max_ops = 30;
  const CheckReport rep = run_check(*lib, &model_, opts);
  EXPECT_EQ(rep.cases, 30u);
  ASSERT_FALSE(rep.failures.empty());
  std::uint64_t failing = 0;
  for (const FoundFailure& ff : rep.failures) {
    // One per handler of the operation at step 7 (the signature's last part).
    EXPECT_EQ(ff.failure.cls, FailureClass::crash);
    EXPECT_EQ(ff.failure.step, 7u);
    EXPECT_EQ(ff.failure.signature(),
              "crash/-/SIGSEGV/" + std::string(model::handler_name(ff.failure.handler)));
    EXPECT_EQ(ff.shrunk.ops.size(), 8u);  // eight operations reach step 7
    failing += ff.duplicates + 1;
  }
  EXPECT_LT(rep.failures.size(), rep.failing_cases);
  EXPECT_EQ(rep.failing_cases, failing);
}

// Libraries that are not usable targets: one line each, nothing loaded.
TEST(AbiErrors, RefusedWithOneLine) {
  const std::pair<const char*, const char*> cases[] = {
      {HYPDIFF_ABI_NO_ENTRY, "exports no hypdiff_target_v1"},
      {HYPDIFF_ABI_VERSION_99, "implements target ABI version 99, this hypdiff speaks"},
      {HYPDIFF_ABI_NULL_CLOSE, "hypdiff_target_v1 leaves a required function empty"}};
  for (const auto& [path, want] : cases) {
    std::string err;
    EXPECT_FALSE(LibTarget::load(path, &err));
    EXPECT_NE(err.find(want), std::string::npos) << err;
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace hypdiff::harness
