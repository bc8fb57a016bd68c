// The native target (KCore behind the target ABI, hypervisor/native/target.c) against the model:
// the differential check of issue 4 in miniature, its coverage, the incremental export against
// the full one, and the same library loaded with lib:.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "generators/case_gen.hpp"
#include "harness/check.hpp"
#include "harness/lib_target.hpp"
#include "harness/model_target.hpp"
#include "harness/runner.hpp"
#include "oracles/projection.hpp"

namespace hypdiff::harness {
namespace {

// Cases per check test: the sanitizer build runs fewer (KCORE_NATIVE_CASES overrides).
std::uint64_t case_count() {
  if (const char* e = std::getenv("KCORE_NATIVE_CASES")) return std::strtoull(e, nullptr, 10);
#ifdef HYPDIFF_NATIVE_DEFAULT_CASES
  return HYPDIFF_NATIVE_DEFAULT_CASES;
#else
  return 2000;
#endif
}

std::unique_ptr<LibTarget> native() {
  std::string err;
  auto t = make_target("native", &err);
  EXPECT_TRUE(t) << err;
  return std::unique_ptr<LibTarget>(dynamic_cast<LibTarget*>(t.release()));
}

TEST(NativeTarget, AgreesWithTheModelOnGeneratedCasesAndCoversEveryHandler) {
  auto t = native();
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->incremental());
  ModelTarget ref("model", model::Profile::intended());
  CheckOptions o;
  o.seed = 1;
  o.cases = case_count();
  o.shrink = false;
  const CheckReport rep = run_check(*t, &ref, o);
  for (const FoundFailure& f : rep.failures) {
    ADD_FAILURE() << f.failure.summary << " (case " << f.case_index << ", step " << f.failure.step
                  << ": " << f.failure.op << ")\n"
                  << (f.failure.details.empty() ? "" : f.failure.details.front());
  }
  EXPECT_EQ(rep.cases, o.cases);
  EXPECT_GT(rep.steps, o.cases * 10);
  // Every handler and hypercall 13..29 ran to completion on KCore at least once.
  EXPECT_EQ(rep.coverage.gaps(), "") << rep.coverage.table();
}

TEST(NativeTarget, ChangeExportsAddUpToTheFullExport) {
  auto t = native();
  ASSERT_TRUE(t);
  t->set_verify_export(true);  // a TargetError at the first disagreement
  ModelTarget ref("model", model::Profile::intended());
  Runner runner(*t, &ref);
  generators::GenOptions g;
  std::size_t steps = 0;
  for (std::uint64_t seed = 1; seed <= case_count() / 10; ++seed) {
    const CaseResult r = runner.run(generators::generate_case(g, seed));
    ASSERT_FALSE(r.failure) << "seed " << seed << ": " << r.failure->summary;
    steps += r.steps;
  }
  EXPECT_GT(steps, case_count());
}

TEST(NativeTarget, ADifferentReferenceIsCaught) {
  // The check above is not vacuous: against the model with one quirk turned back to the literal
  // Coq (an emulated SMMU access "advances the PC" into esr_el2), KCore diverges.
  auto t = native();
  ASSERT_TRUE(t);
  ModelTarget ref("model:intended-pc-advance",
                  *model::Profile::parse("intended-pc-advance", nullptr));
  CheckOptions o;
  o.seed = 1;
  o.cases = 2000;
  o.max_failures = 1;
  o.shrink = false;
  const CheckReport rep = run_check(*t, &ref, o);
  ASSERT_EQ(rep.failures.size(), 1u);
  EXPECT_EQ(rep.failures[0].failure.cls, FailureClass::divergence);
}

TEST(NativeTarget, OneMachinePerProcess) {
  auto a = native();
  auto b = native();
  ASSERT_TRUE(a && b);
  a->reset(model::MachineConfig{}, nullptr);
  try {
    b->reset(model::MachineConfig{}, nullptr);
    ADD_FAILURE() << "a second native machine was opened";
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("one machine per process"), std::string::npos) << e.what();
  }
}

TEST(NativeTarget, TheSharedLibraryIsTheSameTarget) {
  std::string err;
  auto lib = make_target(std::string("lib:") + HYPDIFF_NATIVE_LIB, &err);
  ASSERT_TRUE(lib) << err;
  EXPECT_NE(lib->describe().find("kcore-native"), std::string::npos) << lib->describe();
  ModelTarget ref("model", model::Profile::intended());
  Runner runner(*lib, &ref);
  generators::GenOptions g;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    const CaseResult r = runner.run(generators::generate_case(g, seed));
    ASSERT_FALSE(r.failure) << "seed " << seed << ": " << r.failure->summary;
    for (model::Z v = 0; v <= 3; ++v) EXPECT_TRUE(oracles::obs_eq(v, lib->state(), ref.state()));
  }
}

}  // namespace
}  // namespace hypdiff::harness
