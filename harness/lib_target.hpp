// A target in a shared library implementing the target ABI (harness/include/hypdiff/target.h):
// `--target lib:/path/to/lib.so`. The library's exported state is turned back into the model's
// abstract state, so the oracles judge it with the same code as the model. Every call into the
// library runs under a Guard: a crash or hang throws TargetCrashed / TargetHung and loses the
// instance (it is never called again, not even to close it); the next reset opens a fresh one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/guard.hpp"
#include "harness/target.hpp"
#include "hypdiff/target.h"

namespace hypdiff::harness {

class LibTarget final : public Target, public Guarded {
 public:
  // nullptr and a one-line message when the library cannot be used.
  static std::unique_ptr<LibTarget> load(const std::string& path, std::string* error);
  // A target linked into hypdiff (`--target native`); nullptr and a message if `ops` is unusable.
  static std::unique_ptr<LibTarget> linked(const std::string& name, const hd_target_v1* ops,
                                           std::string* error);
  // "" when `ops` (from `where`) can be driven, else why not, in one line.
  static std::string check_ops(const std::string& where, const hd_target_v1* ops);
  ~LibTarget() override;
  LibTarget(const LibTarget&) = delete;
  LibTarget& operator=(const LibTarget&) = delete;

  std::string name() const override { return name_; }
  std::string describe() const override;
  void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) override;
  model::StepKind step(const model::Op& op) override;
  const model::RData& state() const override { return d_; }
  Guard& guard() override { return guard_; }

  // Whether the library reports only changes after a step (ABI version 2, export_changes).
  bool incremental() const;
  // For target authors: after each step also take the full export and require that it equals
  // the state the changes gave (a TargetError saying where they differ, otherwise).
  void set_verify_export(bool on) { verify_export_ = on; }

  // Callbacks of hd_oracle (public for the C trampolines).
  std::uint64_t data(std::uint64_t v, std::uint64_t n) const;
  std::uint64_t core(std::uint64_t v, std::uint64_t n) const;
  std::size_t other_cpus(std::uint64_t log_length, hd_event* out, std::size_t cap) const;
  std::uint64_t next_events(std::uint64_t from) const;
  const model::Params& params() const { return oracle_->params; }

 private:
  // `name` as the target is called ("lib:/x.so"); `handle` is dlclosed at the end unless null.
  LibTarget(std::string name, void* handle, const hd_target_v1* ops)
      : name_(std::move(name)), handle_(handle), ops_(ops), guard_(name_) {}
  template <class F>
  void call(const char* what, F&& f);
  void close_instance();
  [[noreturn]] void fail(const std::string& what);
  void import_state(bool full);

  std::string name_;
  void* handle_ = nullptr;
  const hd_target_v1* ops_ = nullptr;
  void* inst_ = nullptr;
  std::optional<model::MachineConfig> cfg_;
  model::OraclePtr oracle_;
  hd_oracle c_oracle_{};
  model::RData base_;  // the initial state: map defaults, environment, unexported fields
  model::RData d_;
  bool verify_export_ = false;
  Guard guard_;
};

}  // namespace hypdiff::harness
