// Loading targets through the C ABI: refusals with one-line reasons, and the model behind the
// ABI (tests/harness/model_plugin.cpp) agreeing with the model step for step.
#include "harness/lib_target.hpp"

#include <gtest/gtest.h>

#include "generators/case_gen.hpp"
#include "harness/ctxt_regs.hpp"
#include "harness/model_target.hpp"
#include "harness/runner.hpp"
#include "oracles/projection.hpp"

namespace hypdiff::harness {
namespace {

TEST(LibTarget, TheAbiContextLayoutIsTheModelsRecordLayout) {
  EXPECT_EQ(ctxt_reg_count(), std::size_t{HD_CTXT_SIZE});
}

TEST(LibTarget, RefusesWhatIsNotATargetWithOneLine) {
  std::string err;
  EXPECT_FALSE(LibTarget::load("/nonexistent/libnothing.so", &err));
  EXPECT_NE(err.find("cannot load target library"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_FALSE(LibTarget::load("libm.so.6", &err));
  EXPECT_NE(err.find("exports no hypdiff_target_v1"), std::string::npos) << err;
  EXPECT_FALSE(make_target("lib:", &err));
  EXPECT_NE(err.find("needs a library path"), std::string::npos);
}

TEST(LibTarget, ModelBehindTheAbiAgreesWithTheModelOnGeneratedCases) {
  std::string err;
  auto lib = make_target(std::string("lib:") + HYPDIFF_MODEL_PLUGIN, &err);
  ASSERT_TRUE(lib) << err;
  EXPECT_NE(lib->describe().find("model-plugin"), std::string::npos);
  ModelTarget ref("model", model::Profile::intended());
  Runner runner(*lib, &ref);
  generators::GenOptions o;
  o.max_ops = 40;
  std::size_t steps = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    const generators::Case c = generators::generate_case(o, seed);
    const CaseResult r = runner.run(c);
    ASSERT_FALSE(r.failure) << "seed " << seed << ": " << r.failure->summary << "\n"
                            << (r.failure->details.empty() ? "" : r.failure->details.front());
    steps += r.steps;
    // Beyond the projections: every principal's view of the final states is the same.
    for (model::Z v = 0; v <= 3; ++v) EXPECT_TRUE(oracles::obs_eq(v, lib->state(), ref.state()));
  }
  EXPECT_GT(steps, 1500u);
}

TEST(LibTarget, ArgumentsBeyondSixtyFourBitsAreRefused) {
  std::string err;
  auto lib = make_target(std::string("lib:") + HYPDIFF_MODEL_PLUGIN, &err);
  ASSERT_TRUE(lib) << err;
  lib->reset(model::MachineConfig{}, nullptr);
  EXPECT_THROW(lib->step(model::HostHvc{{model::pow2(64), 0, 0, 0, 0, 0}}), TargetError);
  EXPECT_THROW(lib->step(model::SetReg{0, -1}), TargetError);
}

TEST(LibTarget, AConfigurationTheTargetRefusesIsATargetError) {
  std::string err;
  auto lib = make_target(std::string("lib:") + HYPDIFF_MODEL_PLUGIN, &err);
  ASSERT_TRUE(lib) << err;
  model::MachineConfig cfg;
  cfg.max_vms = 0;
  EXPECT_THROW(lib->reset(cfg, nullptr), TargetError);
}

}  // namespace
}  // namespace hypdiff::harness
