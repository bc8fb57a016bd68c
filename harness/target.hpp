// A Target is anything hypdiff can run a case on: the spec model with a profile, and (later) the
// reference hypervisor natively or in QEMU, or a third party's library. The harness drives it
// one operation at a time and reads back the abstract state the oracles judge. The abstraction
// from concrete state (page-table walks, descriptor decoding) is the target's job.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.hpp"
#include "model/op.hpp"
#include "model/oracle_inputs.hpp"
#include "model/profile.hpp"
#include "model/state.hpp"

namespace hypdiff::harness {

// The target cannot go on (crashed, unreachable, refused the configuration). One line.
class TargetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Target {
 public:
  virtual ~Target() = default;
  // The name it was created from ("model:literal") and a one-line description.
  virtual std::string name() const = 0;
  virtual std::string describe() const = 0;
  // Starts a case: the machine as configured, every oracle answer the case provides.
  virtual void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) = 0;
  // Runs one operation; the abstract state afterwards is state(). An undefined step (the spec's
  // None) leaves the state as it was.
  virtual model::StepKind step(const model::Op& op) = 0;
  virtual const model::RData& state() const = 0;
  // Confidentiality needs a second run from an indistinguishable state. Targets that can start
  // from an abstract state (the model can; hardware cannot) return the step's result from `d`.
  virtual bool can_step_from() const { return false; }
  // The handlers this target can run (a step of another kind is a TargetError). Generation
  // draws only these, so a target that realizes part of the vocabulary still gets cases it
  // can judge. Every handler unless a target says otherwise.
  virtual model::HandlerMask realized() const { return model::kAllHandlers; }
  virtual model::StepResult step_from(const model::RData& d, const model::Op& op) const;

  // Pipelining: start() hands a step to the target and may return before it is done; finish()
  // completes it and returns what step() would have, after which state() is the state after
  // it. The Runner starts step i+1 as soon as step i is finished and then does step i's
  // reference step and checks, so a target whose steps run in another process (QEMU) runs in
  // parallel with them. So state() must stay the finished step's until the next finish(). At
  // most one step is started; after a failure the Runner leaves one started, and the next
  // reset() drops it (by default the next start() replaces it). The defaults run step() in
  // finish(), which suits targets that run in the harness's own thread.
  virtual void start(const model::Op& op) { started_ = op; }
  virtual model::StepKind finish();

  // What the target saw during the last finished step that the abstract state cannot show (the
  // QEMU target: an access that went through a stale TLB entry). The Runner puts them first in
  // the details of a failure at that step.
  virtual std::vector<std::string> notes() const { return {}; }

 private:
  std::optional<model::Op> started_;
};

// The model's profile when `name` is a model target ("model", "model:literal",
// "model:intended", "model:literal+hlock" ...), used by the generator to stay state-aware.
std::optional<model::Profile> model_profile(std::string_view name, std::string* error);

// Creates a target from its name; nullptr and a one-line message in *error for an unknown or
// malformed name.
std::unique_ptr<Target> make_target(std::string_view name, std::string* error);

// The names make_target accepts, for --help and error messages.
std::string target_names_help();

// Targets that live in libraries the harness must not depend on (the QEMU target links the
// harness): the program registers a factory for `name` at start-up, and make_target consults it.
// The factory returns nullptr and a one-line message in *error on failure.
using TargetFactory = std::unique_ptr<Target> (*)(std::string_view name, std::string* error);
void register_target(std::string name, TargetFactory factory, std::string help);

// The first step of `ops` whose handler `t` does not run, if any.
std::optional<std::size_t> first_unrealized(const std::vector<model::Op>& ops, const Target& t);

}  // namespace hypdiff::harness
