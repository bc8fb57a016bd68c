#include "harness/model_target.hpp"

#include "model/init.hpp"

namespace hypdiff::harness {

std::string ModelTarget::describe() const {
  return "the executable spec model, profile " + profile_.name();
}

void ModelTarget::reset(const model::MachineConfig& cfg, model::OraclePtr oracle) {
  if (auto why = cfg.validate()) throw TargetError(name_ + ": " + *why);
  d_ = model::initial_state(cfg, profile_, std::move(oracle));
}

model::StepKind ModelTarget::step(const model::Op& op) {
  if (!d_) throw TargetError(name_ + ": step before reset");
  model::StepResult r = model::apply(*d_, op);
  if (r.after) d_ = std::move(*r.after);
  return r.kind;
}

const model::RData& ModelTarget::state() const {
  if (!d_) throw TargetError(name_ + ": state before reset");
  return *d_;
}

model::StepResult ModelTarget::step_from(const model::RData& d, const model::Op& op) const {
  return model::apply(d, op);
}

}  // namespace hypdiff::harness
