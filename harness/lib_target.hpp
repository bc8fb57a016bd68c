// A target in a shared library implementing the target ABI (harness/include/hypdiff/target.h):
// `--target lib:/path/to/lib.so`. The library's exported state is turned back into the model's
// abstract state, so the oracles judge it with the same code as the model.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/target.hpp"
#include "hypdiff/target.h"

namespace hypdiff::harness {

class LibTarget final : public Target {
 public:
  // nullptr and a one-line message when the library cannot be used.
  static std::unique_ptr<LibTarget> load(const std::string& path, std::string* error);
  ~LibTarget() override;
  LibTarget(const LibTarget&) = delete;
  LibTarget& operator=(const LibTarget&) = delete;

  std::string name() const override { return "lib:" + path_; }
  std::string describe() const override;
  void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) override;
  model::StepKind step(const model::Op& op) override;
  const model::RData& state() const override { return d_; }

  // Callbacks of hd_oracle (public for the C trampolines).
  std::uint64_t data(std::uint64_t v, std::uint64_t n) const;
  std::uint64_t core(std::uint64_t v, std::uint64_t n) const;
  std::size_t other_cpus(std::uint64_t log_length, hd_event* out, std::size_t cap) const;
  std::uint64_t next_events(std::uint64_t from) const;
  const model::Params& params() const { return oracle_->params; }

 private:
  LibTarget(std::string path, void* handle, const hd_target_v1* ops)
      : path_(std::move(path)), handle_(handle), ops_(ops) {}
  void close_instance();
  [[noreturn]] void fail(const std::string& what) const;
  void import_state();

  std::string path_;
  void* handle_ = nullptr;
  const hd_target_v1* ops_ = nullptr;
  void* inst_ = nullptr;
  std::optional<model::MachineConfig> cfg_;
  model::OraclePtr oracle_;
  hd_oracle c_oracle_{};
  model::RData base_;  // the initial state: map defaults, environment, unexported fields
  model::RData d_;
};

}  // namespace hypdiff::harness
