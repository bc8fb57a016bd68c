// The shrink driver with synthetic predicates that need no model: each names the exact case the
// shrinker must reach.
#include "shrinkers/shrink.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "generators/case_gen.hpp"
#include "model/constants.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::shrinkers {
namespace {

using generators::Case;
using model::Z;
using testing::hvc;
namespace k = model::k;

const model::HostHvc* as_hvc(const model::Op& op) { return std::get_if<model::HostHvc>(&op); }

// Noise: a generated case, so that every operation type and oracle part is present.
Case noisy_case(std::uint64_t seed) {
  generators::GenOptions o;
  o.min_ops = 40;
  o.max_ops = 40;
  return generators::generate_case(o, seed);
}

// Fails at a VERIFY_VM_IMAGE (17) that follows a REGISTER_KVM (24) whose x1 is at least 3.
std::optional<std::size_t> verify_after_register(const Case& c) {
  bool seen = false;
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const model::HostHvc* h = as_hvc(c.ops[i]);
    if (!h) continue;
    if (seen && h->x[0] == 17) return i;
    if (h->x[0] == 24 && h->x[1] >= 3) seen = true;
  }
  return std::nullopt;
}

Case with_verify_after_register(std::uint64_t seed) {
  Case c = noisy_case(seed);
  // A halt may end a generated case early, so the positions are clamped.
  const auto at = [&](std::size_t i) {
    return c.ops.begin() + static_cast<long>(std::min(i, c.ops.size()));
  };
  c.ops.insert(at(25), hvc(17, 9, 1, 2, 3, 4));
  c.ops.insert(at(5), hvc(24, 0x1234567, 0x1234, 5, 6, 7));
  return c;
}

TEST(Shrink, KeepsExactlyTheTwoOperationsWithMinimalArguments) {
  const Case c = with_verify_after_register(1);
  const ShrinkResult r = shrink(c, verify_after_register);
  ASSERT_EQ(r.c.ops.size(), 2u);
  EXPECT_EQ(r.c.ops[0], hvc(24, 3));
  EXPECT_EQ(r.c.ops[1], hvc(17));
  EXPECT_EQ(r.failing_step, 1u);
  // The predicate never looks at the oracle, so every answer goes.
  EXPECT_EQ(r.c.oracle, model::OracleInputs{});
  EXPECT_EQ(r.c.cfg, c.cfg);
  EXPECT_EQ(r.stats.original_ops, c.ops.size());
  EXPECT_EQ(r.stats.final_ops, 2u);
  EXPECT_GT(r.stats.accepted, 0u);
  EXPECT_LT(r.stats.accepted, r.stats.candidates);
  EXPECT_FALSE(r.stats.budget_exhausted);
  EXPECT_GE(r.stats.seconds, 0.0);
}

TEST(Shrink, SameInputSameResult) {
  const Case c = with_verify_after_register(2);
  const ShrinkResult a = shrink(c, verify_after_register);
  const ShrinkResult b = shrink(c, verify_after_register);
  EXPECT_EQ(a.c.ops, b.c.ops);
  EXPECT_EQ(a.c.oracle, b.c.oracle);
  EXPECT_EQ(a.failing_step, b.failing_step);
  EXPECT_EQ(a.stats.candidates, b.stats.candidates);
  EXPECT_EQ(a.stats.accepted, b.stats.accepted);
}

// Fails at step 0 when principal 2's data stream holds a nonzero answer.
std::optional<std::size_t> nonzero_data_of_2(const Case& c) {
  const auto it = c.oracle.data.find(2);
  if (c.ops.empty() || it == c.oracle.data.end()) return std::nullopt;
  for (Z v : it->second)
    if (v != 0) return 0;
  return std::nullopt;
}

TEST(Shrink, OracleShrinksToOneAnswerOfOne) {
  Case c = noisy_case(3);
  c.oracle.fallback_seed = 77;
  c.oracle.data[2] = {0, 5, 0, 0x123456, 9, 0};
  c.oracle.data[1] = {1, 2, 3};
  c.oracle.core[2] = {4, 5};
  c.oracle.soracle[3].push_back({1, {model::EventKind::OMAP_HOST, {0x300000, 0, 0, 0}}});
  c.oracle.soracle[3].push_back({1, {model::EventKind::OMAP_HOST, {0x301000, 0, 0, 0}}});
  c.oracle.params.reg_desc[47] = 5;
  c.oracle.params.shared_kvm[1] = 6;
  c.oracle.params.shared_vcpu[{1, 0}] = 7;
  c.oracle.params.verify_img[2] = 0;
  c.oracle.params.decrypt_gp_count = 3;
  c.oracle.params.decrypt_sys_count = 2;
  const ShrinkResult r = shrink(c, nonzero_data_of_2);
  model::OracleInputs want;
  want.data[2] = {1};
  EXPECT_EQ(r.c.oracle, want);
  ASSERT_EQ(r.c.ops.size(), 1u);
  EXPECT_EQ(r.failing_step, 0u);
}

TEST(Shrink, DecryptCountsStayWhenTheFailureNeedsThem) {
  Case c = noisy_case(4);
  c.oracle.params.decrypt_gp_count = 3;
  const auto pred = [](const Case& x) -> std::optional<std::size_t> {
    if (x.ops.empty() || x.oracle.params.decrypt_gp_count != 3) return std::nullopt;
    return 0;
  };
  const ShrinkResult r = shrink(c, pred);
  EXPECT_EQ(r.c.oracle.params.decrypt_gp_count, 3);
  EXPECT_EQ(r.c.oracle.params.decrypt_sys_count, 24);
}

TEST(Shrink, SizesGoToOneAndAddressesStayPageAligned) {
  Case c;
  c.ops = {hvc(13), hvc(k::HVC_CLEAR_VM_S2_RANGE, 3, 0x08003000, 0x5000), hvc(13)};
  const auto pred = [](const Case& x) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < x.ops.size(); ++i) {
      const model::HostHvc* h = as_hvc(x.ops[i]);
      if (h && h->x[0] == k::HVC_CLEAR_VM_S2_RANGE && h->x[2] >= 0x10000 && h->x[3] > 0) return i;
    }
    return std::nullopt;
  };
  const ShrinkResult r = shrink(c, pred);
  ASSERT_EQ(r.c.ops.size(), 1u);
  EXPECT_EQ(r.c.ops[0], hvc(k::HVC_CLEAR_VM_S2_RANGE, 0, 0x10000, 1));
}

TEST(Shrink, GuestShareSizeBisectsInWholePages) {
  // A grant of 5 pages whose failure needs more than one page: the result is two pages, not
  // 4097 bytes, since page-aligned sizes bisect in whole pages.
  Case c;
  c.ops = {model::VmExit{k::ARM_EXCEPTION_TRAP,
                         k::ESR_ELx_EC_HVC64 << k::ESR_ELx_EC_SHIFT | 0x1234,
                         {k::HVC_KVM_SET_DESC_PFN, 7, 0x50123000, 5 * 4096},
                         0,
                         0}};
  const auto pred = [](const Case& x) -> std::optional<std::size_t> {
    const auto* e = x.ops.empty() ? nullptr : std::get_if<model::VmExit>(&x.ops[0]);
    if (!e || e->x[0] != k::HVC_KVM_SET_DESC_PFN || e->x[3] <= 4096) return std::nullopt;
    return 0;
  };
  const ShrinkResult r = shrink(c, pred);
  ASSERT_EQ(r.c.ops.size(), 1u);
  EXPECT_EQ(r.c.ops[0],
            (model::Op{model::VmExit{0, 0, {k::HVC_KVM_SET_DESC_PFN, 0, 0, 8192}, 0, 0}}));
}

TEST(Shrink, BudgetOfCandidatesIsRespected) {
  const Case c = with_verify_after_register(5);
  ShrinkOptions o;
  o.max_candidates = 10;
  const ShrinkResult r = shrink(c, verify_after_register, o);
  EXPECT_LE(r.stats.candidates, 10u);
  EXPECT_TRUE(r.stats.budget_exhausted);
  // Whatever was reached still fails, at the step reported.
  EXPECT_EQ(verify_after_register(r.c), r.failing_step);
  EXPECT_LE(r.c.ops.size(), c.ops.size());
}

TEST(Shrink, ZeroSecondsMeansOnlyTheCheck) {
  const Case c = with_verify_after_register(6);
  ShrinkOptions o;
  o.max_seconds = 0;
  const ShrinkResult r = shrink(c, verify_after_register, o);
  EXPECT_EQ(r.stats.candidates, 1u);
  EXPECT_EQ(r.stats.accepted, 0u);
  EXPECT_TRUE(r.stats.budget_exhausted);
  EXPECT_EQ(r.c.ops, c.ops);
  EXPECT_EQ(r.failing_step, *verify_after_register(c));
}

TEST(Shrink, CaseThatDoesNotFailIsRefused) {
  const Case c = noisy_case(7);
  int calls = 0;
  const auto never = [&](const Case&) -> std::optional<std::size_t> {
    ++calls;
    return std::nullopt;
  };
  EXPECT_THROW(shrink(c, never), std::invalid_argument);
  EXPECT_EQ(calls, 1);
}

TEST(Shrink, PredicateErrorsPropagate) {
  const Case c = with_verify_after_register(8);
  int calls = 0;
  const auto flaky = [&](const Case& x) -> std::optional<std::size_t> {
    if (++calls == 3) throw std::runtime_error("target died");
    return verify_after_register(x);
  };
  EXPECT_THROW(shrink(c, flaky), std::runtime_error);
}

TEST(Shrink, RedundantSetRegsGo) {
  // Only the last write of x3 before the hypercall matters.
  Case c;
  c.ops = {model::SetReg{3, 1}, model::SetReg{3, 2}, model::SetReg{4, 9}, model::SetReg{3, 0x55},
           hvc(13)};
  const auto pred = [](const Case& x) -> std::optional<std::size_t> {
    Z x3 = 0;
    for (std::size_t i = 0; i < x.ops.size(); ++i) {
      if (const auto* s = std::get_if<model::SetReg>(&x.ops[i]); s && s->reg == 3) x3 = s->value;
      if (as_hvc(x.ops[i]) && x3 == 0x55) return i;
    }
    return std::nullopt;
  };
  const ShrinkResult r = shrink(c, pred);
  EXPECT_EQ(r.c.ops, (std::vector<model::Op>{model::SetReg{3, 0x55}, hvc(0)}));
}

}  // namespace
}  // namespace hypdiff::shrinkers
