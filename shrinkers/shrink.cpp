// The shrink order (README.md has the rules of each pass):
//  1. cut the steps after the failing one (after every kept candidate, search.cpp);
//  2. remove whole VM lifecycles, with and without renumbering the later VMs (pass_vms.cpp);
//  3. delta debugging over the operations, chunks n/2 .. 1, from the end (pass_ops.cpp);
//     2 and 3 keep other CPUs' scheduled events at their place in the sequence (schedule.cpp);
//  4. move every operation argument towards 0: 0, canonical values, bisection; sizes and loop
//     counts try 1 and one page early (pass_args.cpp);
//  5. simplify the oracle answers: fallback seed, streams, soracle schedule, Parameters
//     (pass_oracle.cpp).
// Rounds repeat while a round makes the case structurally smaller (see shape()) and the budget
// lasts.
#include "shrinkers/shrink.hpp"

#include <fmt/format.h>

#include "shrinkers/op_fields.hpp"
#include "shrinkers/passes.hpp"
#include "shrinkers/search.hpp"

namespace hypdiff::shrinkers {

namespace {

// Counts the parts of a case: operations, nonzero arguments, oracle answers and nonzero ones,
// scheduled events and their nonzero log lengths, Parameters entries. A round that only makes
// nonzero values smaller does not start another: bisections are not monotone, and such rounds can
// creep down one page at a time for thousands of rounds.
std::size_t shape(const generators::Case& c) {
  std::size_t n = c.ops.size();
  for (const model::Op& op : c.ops)
    for (int f = 0; f < field_count(op); ++f) n += get_field(op, f) != 0;
  const model::OracleInputs& o = c.oracle;
  for (const auto* streams : {&o.data, &o.core})
    for (const auto& [key, answers] : *streams) {
      n += 1 + answers.size();
      for (model::Z a : answers) n += a != 0;
    }
  for (const auto& [len, events] : o.soracle) n += 1 + (len != 0) + events.size();
  const model::Params& p = o.params;
  const model::Params defaults;
  n += p.reg_desc.size() + p.shared_kvm.size() + p.shared_vcpu.size() + p.verify_img.size();
  n += (o.fallback_seed != 0) + (p.decrypt_gp_count != defaults.decrypt_gp_count) +
       (p.decrypt_sys_count != defaults.decrypt_sys_count);
  return n;
}

}  // namespace

std::string describe(const ShrinkStats& s) {
  std::string out = fmt::format("shrunk from {} to {} operations in {:.2f} s ({} candidates",
                                s.original_ops, s.final_ops, s.seconds, s.candidates);
  if (s.unrunnable > 0) out += fmt::format(", {} of them the target could not run", s.unrunnable);
  return out + ")";
}

ShrinkResult shrink(const generators::Case& failing, const Predicate& still_fails,
                    const ShrinkOptions& opts) {
  Search s(failing, still_fails, opts);
  for (bool progress = true; progress && !s.done();) {
    const std::size_t before = shape(s.best());
    progress = remove_vm_lifecycles(s);
    progress = remove_ops(s) || progress;
    progress = simplify_args(s) || progress;
    progress = simplify_oracle(s) || progress;
    progress = progress && shape(s.best()) < before;
  }
  return s.finish();
}

}  // namespace hypdiff::shrinkers
