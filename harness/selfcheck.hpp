// The model's self-check: run random reachable sequences through the spec model and check the
// proved theorems on every step (invariant preservation, integrity, confidentiality of memory
// and DMA accesses), counting per handler and per hypercall number how steps ended. A failure
// here means the model (or the spec) is wrong, not a hypervisor.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "generators/options.hpp"
#include "model/op.hpp"

namespace hypdiff::harness {

struct SelfCheckOptions {
  generators::GenOptions gen;
  int cases = 2000;
  std::uint64_t seed = 1;
  bool invariants = true;
  bool integrity = true;
  bool confidentiality = true;
  std::size_t max_findings = 20;  // findings kept in full; all are counted
};

// Steps per outcome: index by model::StepKind.
using Counts = std::array<std::uint64_t, 3>;

struct Coverage {
  std::array<Counts, model::kHandlerCount> by_handler{};
  std::map<int, Counts> by_hvc;  // hypercall number 13..29; -1 = any other number
};

struct Finding {
  std::string property;  // "invariant", "integrity", "confidentiality"
  int case_index = 0;
  int step = 0;
  std::string op;
  std::string detail;
};

struct SelfCheckReport {
  Coverage coverage;
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t skipped_steps = 0;  // steps after a case's first finding (counted, not run)
  std::uint64_t checks = 0;         // individual property checks performed
  std::uint64_t finding_count = 0;  // failed checks; a case stops at its first failing step
  std::map<std::string, std::uint64_t> findings_by_property;
  std::vector<Finding> findings;
  double seconds = 0;
};

// `progress(cases_done)` is called after each case when set.
SelfCheckReport run_selfcheck(const SelfCheckOptions& opts,
                              const std::function<void(int)>& progress = {});

// The hypercall numbers the report must cover, 13..29.
inline constexpr int kFirstHvc = 13;
inline constexpr int kLastHvc = 29;

// Human-readable coverage table and findings.
std::string format_report(const SelfCheckReport& r);

}  // namespace hypdiff::harness
