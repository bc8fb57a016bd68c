// Stale translations (docs/qemu.md, "Stale translations"): the hardware's TLB is what the
// native target lacks. KCore without its TLB invalidation (mutant 9, equivalent natively) lets
// an access through a translation its table no longer holds; EL2 reports what the hardware did,
// the Runner catches the difference from the model and names the cause in the failure's
// details, and the shrinker keeps it. The original KCore passes the same cases.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "generators/case_gen.hpp"
#include "harness/check.hpp"
#include "harness/runner.hpp"
#include "model/op.hpp"
#include "qemu/host/qemu_target.hpp"
#include "qemu/layout.h"

namespace hypdiff::qemu {
namespace {

// The note comes first in the details, before the diff it explains.
bool mentions_stale_tlb(const harness::Failure& f) {
  return !f.details.empty() && f.details.front().find("stale TLB entry") != std::string::npos;
}

// Case 638 of `check --seed 1` is the first of that run to reach a stale translation under
// mutant 9 (`mutants --target qemu --only 9` finds it there).
generators::Case first_stale_case() {
  return generators::generate_case(generators::GenOptions{}, harness::case_seed(1, 638));
}

TEST(QemuTlb, AMissingTlbInvalidationIsCaughtNamedAndShrunk) {
  std::string err;
  auto model = harness::make_target("model", &err);
  ASSERT_NE(model, nullptr) << err;
  QemuTarget qemu;
  const generators::Case c = first_stale_case();

  qemu.set_mutant(9);
  harness::Runner runner(qemu, model.get());
  const harness::CaseResult r = runner.run(c);
  ASSERT_TRUE(r.failure.has_value()) << "mutant 9 survived case 638";
  EXPECT_TRUE(mentions_stale_tlb(*r.failure)) << r.failure->summary;
  EXPECT_GE(qemu.stats().stale_translations, 1u);
  const auto* cpu0 = static_cast<const hq_cpu_info*>(qemu.machine()->guest(HQ_PERCPU_PA));
  EXPECT_GE(cpu0->stale, 1u);

  const harness::ShrunkCase s =
      harness::shrink_case(qemu, model.get(), harness::RunOptions{}, c, *r.failure, {});
  EXPECT_LE(s.c.ops.size(), 12u);
  EXPECT_EQ(s.failure.signature(), r.failure->signature());
  EXPECT_TRUE(mentions_stale_tlb(s.failure));
  std::printf("%zu operations shrunk to %zu; %s at step %zu (%s)\n", c.ops.size(), s.c.ops.size(),
              s.failure.signature().c_str(), s.failure.step, s.failure.op.c_str());

  qemu.set_mutant(0);
  const auto stale0 = qemu.stats().stale_translations;
  for (const generators::Case* k : {&c, &s.c}) {
    const harness::CaseResult ok = runner.run(*k);
    EXPECT_FALSE(ok.failure.has_value()) << ok.failure->summary;
  }
  EXPECT_EQ(qemu.stats().stale_translations, stale0);
}

}  // namespace
}  // namespace hypdiff::qemu
