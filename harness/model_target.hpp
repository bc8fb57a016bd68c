// The spec model as a target: "model:<profile>" runs model::apply with that profile.
#pragma once

#include <optional>

#include "harness/target.hpp"

namespace hypdiff::harness {

class ModelTarget final : public Target {
 public:
  ModelTarget(std::string name, model::Profile profile)
      : name_(std::move(name)), profile_(profile) {}
  std::string name() const override { return name_; }
  std::string describe() const override;
  void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) override;
  model::StepKind step(const model::Op& op) override;
  const model::RData& state() const override;
  bool can_step_from() const override { return true; }
  model::StepResult step_from(const model::RData& d, const model::Op& op) const override;

 private:
  std::string name_;
  model::Profile profile_;
  std::optional<model::RData> d_;
};

}  // namespace hypdiff::harness
