// Random operation sequences through KCore and the model: the host's hypercalls (13-29), stage-2
// faults (RAM, devices, SMMU registers), vCPU runs and register writes; the VM's exits (system
// registers, share and unshare hypercalls, PSCI off, interrupts). Random oracle answers,
// Parameters and other CPUs' events. After every step Twin::step compares outcome, query points
// and the whole state. Arguments are drawn from what exists (VMs by state, image frames, SMMU
// banks, mapped pages) with a share of hostile values. KCORE_DIFF_SEQS sets the number of
// sequences (default 1000; 300 in the sanitizer build, where the point is memory errors and
// the release build keeps the full count), KCORE_DIFF_SEED the first sequence's seed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <sstream>

#include "tests/hypervisor/random_ops.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

#ifndef KCORE_DIFF_DEFAULT_SEQS
#define KCORE_DIFF_DEFAULT_SEQS 1000
#endif

class RandomDiff : public Twin {};

uint64_t env_or(const char* name, uint64_t otherwise) {
  const char* s = std::getenv(name);
  return s ? std::strtoull(s, nullptr, 0) : otherwise;
}

TEST_F(RandomDiff, SequencesMatchTheModel) {
  const uint64_t n = env_or("KCORE_DIFF_SEQS", KCORE_DIFF_DEFAULT_SEQS),
                 seed = env_or("KCORE_DIFF_SEED", 0x5EED0000);
  uint64_t steps = 0, injected = 0, sections = 0;
  std::map<std::string, uint64_t> ok, halts;
  for (uint64_t seq = 0; seq < n; ++seq) {
    Gen g(seed + seq);
    reset(g.oracle());
    std::ostringstream trail;
    const uint64_t len = 20 + g.below(80);
    for (uint64_t i = 0; i < len; ++i) {
      const model::Op op = g.op(*this);
      trail << "  " << model::to_string(op) << "\n";
      const StepKind k = step(op);
      ++steps;
      sections += kn_sections();
      if (HasFailure()) {
        ADD_FAILURE() << "sequence " << seq << " diverged at step " << i << ":\n" << trail.str();
        return;
      }
      if (k == StepKind::halted) ++halts[kn_panic_reason() ? kn_panic_reason() : "?"];
      if (k != StepKind::ok) break;  // a halted machine does nothing more
      std::string what = model::handler_name(model::handler_of(op));
      if (const auto* h = std::get_if<model::HostHvc>(&op))
        what += " " + std::to_string(static_cast<uint64_t>(h->x[0]));
      ++ok[what];
    }
    injected += injected_total;
  }
  std::ostringstream hist;
  for (const auto& [what, count] : ok) hist << "\n  " << count << " " << what;
  hist << "\nhalts:";
  for (const auto& [why, count] : halts) hist << "\n  " << count << " " << why;
  std::printf("%llu sequences, %llu steps, %llu query points, %llu other-CPU events\nok:%s\n",
              (unsigned long long)n, (unsigned long long)steps, (unsigned long long)sections,
              (unsigned long long)injected, hist.str().c_str());
  EXPECT_GT(steps, n * 15);
  // Every hypercall, and every kind of step, succeeded at least once.
  for (uint64_t num = 13; num <= 29; ++num)
    EXPECT_GT(ok["host_hvc " + std::to_string(num)], 0u) << num;
  for (const char* h : {"host_npt", "host_vcpu_run", "vm_exit", "set_reg"})
    EXPECT_GT(ok[h], 0u) << h;
}

}  // namespace
}  // namespace hypdiff::kcore_test
