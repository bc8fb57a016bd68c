// KCore and the model side by side: the same machine, the same oracle answers (data streams,
// Parameters, other CPUs' events), the same operations. After each step the two must agree on
// the outcome (ok / halted / undefined), on the number of query points, and on every piece of
// state the spec defines, which diff() compares in full.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "model/init.hpp"
#include "model/op.hpp"
#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {

// The model's view of KCore's register structures.
model::CtxtRegs to_model(const kc_ctxt_regs& r);
model::TrapRegs to_model(const kc_trap_regs& t);
model::CtxtStates to_model(const kc_ctxt_states& s);
// The named fields that differ between two register files ("" when equal).
std::string regs_diff(const model::CtxtRegs& want, const model::CtxtRegs& got);

class Twin : public ::testing::Test {
 public:
  void SetUp() override { reset(); }
  void TearDown() override;

  // Boots both on `cfg` with `oracle` (which the model shares).
  void reset(model::OracleInputs oracle = {}, kc_config cfg = default_config());
  static kc_config default_config();

  // One operation on both. Checks that the outcomes, the query-point counts and the whole
  // states agree (as non-fatal failures naming the differences); returns the model's outcome.
  model::StepKind step(const model::Op& op);
  model::StepKind hvc(const std::array<uint64_t, 6>& x);
  model::StepKind fault(uint64_t hpfar, uint64_t esr = 0, uint64_t far = 0);
  model::StepKind run_vcpu(uint64_t vmid) { return step(model::VcpuRun{Z(vmid)}); }
  model::StepKind exit_vm(uint64_t ec, uint64_t esr, std::array<uint64_t, 4> x = {},
                          uint64_t hpfar = 0, uint64_t far = 0) {
    model::VmExit e{Z(ec), Z(esr), {}, Z(hpfar), Z(far)};
    for (std::size_t i = 0; i < 4; ++i) e.x[i] = Z(x[i]);
    return step(e);
  }
  // The operation on KCore only: KN_PANICKED, or how the entry point returned in *st.
  kn_outcome kc_step_only(const model::Op& op, kc_step* st);

  // Every difference between KCore's state and the model's, one per line, at most `limit`.
  std::string diff(std::size_t limit = 20) const;

  // Oracle answers written before the step that reads them (the model reads the same object).
  void set_core(uint64_t v, uint64_t n, uint64_t value);
  void set_data(uint64_t v, uint64_t n, uint64_t value);
  // Direct state edits on both, for setting up situations cheaply.
  void set_vm_state(uint32_t vmid, uint32_t state);
  void set_page(uint64_t pfn, const model::S2Page& p);
  void set_dirty(uint64_t vmid, uint64_t vcpu, uint64_t dirty);

  uint64_t x0() const { return kn_cpu_regs(0)->regs.x[0]; }
  kc_s2page page(uint64_t pfn) const {
    kc_s2page p;
    kc_s2page_get(&kc, pfn, &p);
    return p;
  }
  kc_spt_entry spt_walk(uint32_t cbndx, uint32_t index, uint64_t gfn) const {
    kc_spt_entry e;
    kc_spt_walk(&kc, cbndx, index, gfn, &e);
    return e;
  }
  kc_walk walk_of(uint64_t v, uint64_t gfn) const {
    kc_walk w;
    kc_s2pt_walk(&kc, static_cast<uint32_t>(v), gfn, &w);
    return w;
  }

  kcore kc{};
  model::RData d;
  std::shared_ptr<const model::OracleInputs> oracle;
  std::shared_ptr<model::OracleInputs> oracle_rw;  // the same object
  // Query points of the current step, and other CPUs' events applied in it.
  uint64_t step_sections = 0, step_injected = 0, step_log0 = 0;
  uint64_t injected_total = 0;
};

}  // namespace hypdiff::kcore_test
