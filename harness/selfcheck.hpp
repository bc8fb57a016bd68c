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
#include "harness/coverage.hpp"
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

// Human-readable coverage table and findings.
std::string format_report(const SelfCheckReport& r);

}  // namespace hypdiff::harness
