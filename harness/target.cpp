#include "harness/target.hpp"

#include "harness/lib_target.hpp"
#include "harness/model_target.hpp"
#include "native/target.h"

namespace hypdiff::harness {

namespace {
struct Registered {
  std::string name;
  TargetFactory factory;
  std::string help;
};
std::vector<Registered>& registry() {
  static std::vector<Registered> r;
  return r;
}
}  // namespace

void register_target(std::string name, TargetFactory factory, std::string help) {
  for (auto& r : registry()) {
    if (r.name == name) {
      r = {std::move(name), factory, std::move(help)};
      return;
    }
  }
  registry().push_back({std::move(name), factory, std::move(help)});
}

std::optional<std::size_t> first_unrealized(const std::vector<model::Op>& ops, const Target& t) {
  const model::HandlerMask m = t.realized();
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (!(m & model::handler_bit(model::handler_of(ops[i])))) return i;
  return std::nullopt;
}

model::StepResult Target::step_from(const model::RData&, const model::Op&) const {
  throw TargetError(name() + " cannot start a step from an abstract state");
}

model::StepKind Target::finish() {
  if (!started_) throw TargetError(name() + ": finish() without start()");
  const model::Op op = std::move(*started_);
  started_.reset();
  return step(op);
}

std::optional<model::Profile> model_profile(std::string_view name, std::string* error) {
  if (name == "model") return model::Profile::intended();
  constexpr std::string_view prefix = "model:";
  if (name.substr(0, prefix.size()) != prefix) {
    if (error) *error = "'" + std::string(name) + "' is not a model target";
    return std::nullopt;
  }
  std::string why;
  auto p = model::Profile::parse(name.substr(prefix.size()), &why);
  if (!p && error) *error = "bad profile in target '" + std::string(name) + "': " + why;
  return p;
}

std::unique_ptr<Target> make_target(std::string_view name, std::string* error) {
  if (name == "model" || name.substr(0, 6) == "model:") {
    auto p = model_profile(name, error);
    if (!p) return nullptr;
    return std::make_unique<ModelTarget>(std::string(name), *p);
  }
  if (name == "native") return LibTarget::linked("native", kn_target_ops(), error);
  if (name.substr(0, 4) == "lib:") {
    if (name.size() == 4) {
      if (error) *error = "target 'lib:' needs a library path, e.g. lib:./libmytarget.so";
      return nullptr;
    }
    return LibTarget::load(std::string(name.substr(4)), error);
  }
  for (const auto& r : registry()) {
    // "qemu" and "qemu:..." go to the factory registered as "qemu".
    if (name == r.name || name.substr(0, r.name.size() + 1) == r.name + ":")
      return r.factory(name, error);
  }
  if (error)
    *error = "unknown target '" + std::string(name) + "' (known: " + target_names_help() + ")";
  return nullptr;
}

std::string target_names_help() {
  std::string out = "native";
  for (const auto& r : registry()) out += ", " + r.help;
  return out + ", model, model:intended, model:literal, model:<profile>[+id|-id...], lib:PATH";
}

}  // namespace hypdiff::harness
