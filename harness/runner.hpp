// The Runner drives a target and (optionally) a reference in lockstep over a case and asks the
// oracles for a verdict after every step:
//   outcome         the two ended the step differently (ok / halted / undefined);
//   divergence      some principal observes the two states differently (its projection, which
//                   includes the registers a hypercall returns in);
//   invariant       the target's state breaks state_inv;
//   integrity       a step by someone else changed what an inactive principal observes;
//   confidentiality an access step run from a state the actor cannot tell apart from the real
//                   one gives the actor a different view (targets that can_step_from only);
//   crash           the target (or the reference) died of a signal in a step, or in the reset
//                   before step 0 (harness/guard.hpp);
//   hang            it did not answer within RunOptions::step_timeout.
// A case stops at its first failure, and when both sides halt (a panicked hypervisor runs no
// further steps).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "generators/case.hpp"
#include "harness/coverage.hpp"
#include "harness/guard.hpp"
#include "harness/target.hpp"

namespace hypdiff::harness {

enum class FailureClass : std::uint8_t {
  outcome,
  divergence,
  invariant,
  integrity,
  confidentiality,
  crash,
  hang
};
const char* failure_class_name(FailureClass c);
std::optional<FailureClass> failure_class_from_name(std::string_view name);

struct Failure {
  FailureClass cls = FailureClass::outcome;
  std::optional<model::Z> principal;  // whom it concerns (none for outcome, invariant, crash, hang)
  std::size_t step = 0;               // index of the failing operation
  model::Handler handler = model::Handler::host_hvc;
  model::Op operation;  // the failing operation
  std::string op;       // the same, as model::to_string prints it
  // First diverging field / broken clause / "ok-vs-halted" (reference-vs-target) / the signal
  // ("SIGSEGV") or "timeout", prefixed "reference-" when the reference crashed or hung.
  std::string field;
  std::string summary;               // one line
  std::vector<std::string> details;  // per-principal diff lines, clause list...

  // What must stay the same while shrinking and what campaigns deduplicate on:
  // class, principal kind (host / VM), field, handler of the failing step.
  std::string signature() const;
};

struct RunOptions {
  bool invariants = true;
  bool integrity = true;
  bool confidentiality = true;
  std::size_t diff_lines = 40;  // per principal
  // Seconds a call into a guarded target (one step, a reset) may take before it is a hang.
  double step_timeout = 10;
};

struct CaseResult {
  std::optional<Failure> failure;
  std::size_t steps = 0;  // operations run on the target
  std::uint64_t checks = 0;
};

// Called after each step of a case with the step index and both outcomes (reference outcome
// absent without a reference).
using StepHook = std::function<void(std::size_t index, const model::Op& op, model::StepKind target,
                                    std::optional<model::StepKind> ref)>;

class Runner {
 public:
  // `reference` may be null: then only the property checks run.
  Runner(Target& target, Target* reference, RunOptions opts = {});
  CaseResult run(const generators::Case& c, const StepHook& hook = {});
  const Coverage& coverage() const { return coverage_; }

 private:
  // Which side is being called, and for which step, when a guarded call fails.
  struct Call {
    const Target* target = nullptr;
    std::size_t step = 0;
    bool reset = false;
  };
  void run_case(const generators::Case& c, const StepHook& hook, CaseResult& res, Call& call);
  Failure fault(const TargetFault& e, const Call& call, const generators::Case& c) const;
  std::optional<Failure> compare(std::size_t i, const model::Op& op, model::StepKind kt,
                                 model::StepKind kr, CaseResult& res);
  std::optional<Failure> check_target(std::size_t i, const model::Op& op,
                                      const model::RData& before, CaseResult& res);
  Target& target_;
  Target* reference_;
  // The reference's and the target's states when compare() last found them alike, and that
  // step: the next comparison looks only at what changed since.
  std::optional<std::pair<model::RData, model::RData>> last_same_;
  std::optional<std::size_t> same_at_;
  // Target::notes() of the last finished target step, and that step's index.
  std::vector<std::string> notes_;
  std::size_t notes_step_ = 0;
  RunOptions opts_;
  Coverage coverage_;
};

// "host", "VM 2".
std::string principal_label(model::Z v);

}  // namespace hypdiff::harness
