// From reachable states, every non-halting step preserves shared_inv and state_inv (§5.3, §6.3).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "oracles/invariants.hpp"
#include "tests/properties/common.hpp"

namespace hypdiff::testing {
namespace {

RC_GTEST_PROP(SelfCheck, NonHaltingStepsPreserveTheInvariants, ()) {
  for_each_step(model::Profile::intended(), [](const model::RData&, const model::Op& op,
                                               const model::StepResult& r, int step) {
    if (!r.after || r.after->halt) return;
    const auto bad = oracles::check_state_inv(*r.after, 3);
    if (!bad.empty()) {
      RC_FAIL("step " + std::to_string(step) + " (" + model::to_string(op) + ") breaks " +
              bad[0].clause + " at " + bad[0].where + ": " + bad[0].detail);
    }
  });
}

}  // namespace
}  // namespace hypdiff::testing
