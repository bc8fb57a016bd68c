// Shared pieces of the self-check properties: a generated case run step by step.
#pragma once

#include <rapidcheck.h>

#include <functional>
#include <memory>

#include "generators/case_gen.hpp"
#include "model/init.hpp"

namespace hypdiff::testing {

// Runs a freshly generated case on `prof`, calling f(before, op, result, step) for every step.
inline void for_each_step(const model::Profile& prof,
                          const std::function<void(const model::RData&, const model::Op&,
                                                   const model::StepResult&, int)>& f) {
  generators::GenOptions opts;
  opts.profile = prof;
  const generators::Case c = *generators::case_gen(opts);
  model::RData d =
      model::initial_state(c.cfg, prof, std::make_shared<const model::OracleInputs>(c.oracle));
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const model::StepResult r = model::apply(d, c.ops[i]);
    f(d, c.ops[i], r, static_cast<int>(i));
    if (r.after) d = *r.after;
  }
}

}  // namespace hypdiff::testing
