// Integrity (local_unchanged, §5.2): a non-halting step taken while a valid principal is inactive
// before and after leaves that principal's view unchanged, up to other CPUs' oracle steps.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "oracles/noninterference.hpp"
#include "tests/properties/common.hpp"

namespace hypdiff::testing {
namespace {

RC_GTEST_PROP(SelfCheck, StepsByOthersLeaveInactivePrincipalsUnchanged, ()) {
  int applicable = 0;
  for_each_step(model::Profile::intended(), [&](const model::RData& before, const model::Op& op,
                                                const model::StepResult& r, int step) {
    if (!r.after || r.after->halt) return;
    for (model::Z v = 0; v <= before.cfg().max_vms; ++v) {
      if (!oracles::integrity_applies(v, before, *r.after)) continue;
      ++applicable;
      if (auto bad = oracles::check_integrity(v, before, *r.after)) {
        RC_FAIL("step " + std::to_string(step) + " (" + model::to_string(op) +
                "): " + bad->summary);
      }
    }
  });
  RC_TAG(applicable > 0 ? "integrity checked" : "no applicable step");
}

}  // namespace
}  // namespace hypdiff::testing
