#include "model/regs.hpp"

#include <limits>

#include "model/constants.hpp"

namespace hypdiff::model {

Z advance_pc(const Profile& prof, Z pc) {
  const Z next = pc + 4;
  return prof.reg_wrap ? zmod(next, pow2(64)) : next;
}

namespace {

// The register a shadow-context index names (§2.6), or nullptr for indices the spec ignores
// (SP, SP_EL1, the banked SPSRs, MDCCINT and anything out of range). One table serves both the
// getter and the setter, so they cannot disagree.
template <class R, class S>
auto* slot(int index, R& cr, S& cs) {
  using P = decltype(&cr.sp_el0);
  if (index >= 0 && index <= 30) return P{&cr.x[static_cast<std::size_t>(index)]};
  switch (index) {
    case k::REG_PC:
      return P{&cs.pc};
    case k::REG_PSTATE:
      return P{&cs.pstate};
    case k::REG_ELR_EL1:
      return P{&cr.elr_el1};
    case k::REG_SPSR_EL1:
      return P{&cr.spsr_el1};
    case k::REG_FAR_EL2:
      return P{&cr.far_el2};
    case k::REG_HPFAR_EL2:
      return P{&cr.hpfar_el2};
    case k::REG_HCR_EL2:
      return P{&cr.hcr_el2};
    case k::REG_EC:
      return P{&cr.ec};
    case k::REG_DIRTY:
      return P{&cs.dirty};
    case k::REG_FLAGS:
      return P{&cs.flags};
    case k::REG_MPIDR_EL1:
      return P{&cr.mpidr_el1};
    case k::REG_CSSELR:
      return P{&cr.csselr_el1};
    case k::REG_SCTLR:
      return P{&cr.sctlr_el1};
    case k::REG_ACTLR:
      return P{&cr.actlr_el1};
    case k::REG_CPACR:
      return P{&cr.cpacr_el1};
    case k::REG_TTBR0:
      return P{&cr.ttbr0_el1};
    case k::REG_TTBR1:
      return P{&cr.ttbr1_el1};
    case k::REG_TCR:
      return P{&cr.tcr_el1};
    case k::REG_ESR_EL1:
      return P{&cs.esr_el1};
    case k::REG_AFSR0:
      return P{&cr.afsr0_el1};
    case k::REG_AFSR1:
      return P{&cr.afsr1_el1};
    case k::REG_FAR_EL1:
      return P{&cr.far_el1};
    case k::REG_MAIR:
      return P{&cr.mair_el1};
    case k::REG_VBAR:
      return P{&cr.vbar_el1};
    case k::REG_CONTEXTIDR:
      return P{&cr.contextidr_el1};
    case k::REG_TPIDR_EL0:
      return P{&cr.tpidr_el0};
    case k::REG_TPIDRRO_EL0:
      return P{&cr.tpidrro_el0};
    case k::REG_TPIDR_EL1:
      return P{&cr.tpidr_el1};
    case k::REG_AMAIR:
      return P{&cr.amair_el1};
    case k::REG_CNTKCTL:
      return P{&cr.cntkctl_el1};
    case k::REG_PAR:
      return P{&cr.par_el1};
    case k::REG_MDSCR:
      return P{&cr.mdscr_el1};
    case k::REG_ELR_EL2:
      return P{&cr.elr_el2};
    case k::REG_SPSR_0:
      return P{&cs.spsr_0};
    case k::REG_ESR_EL2:
      return P{&cr.esr_el2};
    default:
      return P{nullptr};
  }
}

bool int_index(Z index) {
  return index >= std::numeric_limits<int>::min() && index <= std::numeric_limits<int>::max();
}

}  // namespace

// Coq: AbstractMachineSpec.get_shadow_ctxt_specx
Z get_shadow_ctxt_specx(int index, const CtxtRegs& cr, const CtxtStates& cs) {
  const Z* p = slot(index, cr, cs);
  return p ? *p : 0;
}

// Coq: AbstractMachineSpec.set_shadow_ctxt_specx
void set_shadow_ctxt_specx(int index, Z value, CtxtRegs& cr, CtxtStates& cs) {
  if (Z* p = slot(index, cr, cs)) *p = value;
}

Z get_shadow_ctxt_specx(Z index, const CtxtRegs& cr, const CtxtStates& cs) {
  return int_index(index) ? get_shadow_ctxt_specx(static_cast<int>(index), cr, cs) : 0;
}

void set_shadow_ctxt_specx(Z index, Z value, CtxtRegs& cr, CtxtStates& cs) {
  if (int_index(index)) set_shadow_ctxt_specx(static_cast<int>(index), value, cr, cs);
}

// Coq: AbstractMachineSpec.host_to_core_specx
CtxtRegs host_to_core_specx(CtxtRegs gp, const CtxtRegs& rgp) {
  gp.x = rgp.x;
  return gp;
}

// Coq: AbstractMachineSpec.vm_to_core_specx
CtxtRegs vm_to_core_specx(CtxtRegs gp, const CtxtRegs& rgp) { return host_to_core_specx(gp, rgp); }

// Coq: AbstractMachineSpec.core_to_host_specx
CtxtRegs core_to_host_specx(const CtxtRegs& gp, CtxtRegs rgp) {
  rgp.x = gp.x;
  return rgp;
}

// Coq: AbstractMachineSpec.core_to_vm_specx
CtxtRegs core_to_vm_specx(const CtxtRegs& gp, CtxtRegs rgp) { return core_to_host_specx(gp, rgp); }

// Coq: AbstractMachineSpec.exit_populate_fault_specx
CtxtRegs exit_populate_fault_specx(CtxtRegs gp, const CtxtRegs& rgp) {
  gp.esr_el2 = rgp.esr_el2;
  gp.ec = rgp.ec;
  gp.far_el2 = rgp.far_el2;
  gp.hpfar_el2 = rgp.hpfar_el2;
  return gp;
}

// The 21 EL1/EL0 system registers save_sysregs and restore_sysregs copy one to one.
#define HYPDIFF_EL1_SYSREGS(X)                                                          \
  X(csselr_el1)                                                                         \
  X(sctlr_el1)                                                                          \
  X(cpacr_el1)                                                                          \
  X(ttbr0_el1) X(ttbr1_el1) X(tcr_el1) X(afsr0_el1) X(afsr1_el1) X(far_el1) X(mair_el1) \
      X(vbar_el1) X(contextidr_el1) X(amair_el1) X(cntkctl_el1) X(par_el1) X(tpidr_el1) \
          X(spsr_el1) X(mdscr_el1) X(sp_el0) X(tpidr_el0) X(tpidrro_el0)

// Coq: AbstractMachineSpec.save_sysregs_specx
CtxtRegs save_sysregs_specx(CtxtRegs sys, const CtxtRegs& rsys) {
#define HYPDIFF_COPY(f) sys.f = rsys.f;
  HYPDIFF_EL1_SYSREGS(HYPDIFF_COPY)
#undef HYPDIFF_COPY
  // The guest's MPIDR lives in the physical VMPIDR_EL2. PC and PSTATE are not saved (§7.2.20).
  sys.mpidr_el1 = rsys.vmpidr_el2;
  sys.actlr_el1 = rsys.actlr_el1;
  sys.sp_el1 = rsys.sp_el1;
  sys.elr_el1 = rsys.elr_el1;
  return sys;
}

// Coq: AbstractMachineSpec.restore_sysregs_specx
CtxtRegs restore_sysregs_specx(const CtxtRegs& sys, const CtxtStates& csts, CtxtRegs rsys) {
#define HYPDIFF_COPY(f) rsys.f = sys.f;
  HYPDIFF_EL1_SYSREGS(HYPDIFF_COPY)
#undef HYPDIFF_COPY
  rsys.spsr_el2 = csts.pstate;
  rsys.vmpidr_el2 = sys.mpidr_el1;
  rsys.mpidr_el1 = sys.mpidr_el1;
  rsys.actlr_el1 = sys.actlr_el1;
  rsys.sp_el1 = sys.sp_el1;
  rsys.elr_el2 = csts.pc;
  rsys.elr_el1 = sys.elr_el1;
  rsys.esr_el2 = sys.esr_el2;
  rsys.ec = sys.ec;
  rsys.far_el2 = sys.far_el2;
  rsys.hpfar_el2 = sys.hpfar_el2;
  return rsys;
}

#undef HYPDIFF_EL1_SYSREGS

// Coq: AbstractMachineSpec.fpsimd_save_state_specx
CtxtRegs fpsimd_save_state_specx(CtxtRegs gp, const CtxtRegs& rgp) {
  gp.fp_q = rgp.fp_q;
  gp.fp_fpsr = rgp.fp_fpsr;
  gp.fp_fpcr = rgp.fp_fpcr;
  return gp;
}

// Coq: AbstractMachineSpec.fpsimd_restore_state_specx
CtxtRegs fpsimd_restore_state_specx(const CtxtRegs& gp, CtxtRegs rgp) {
  rgp.fp_q = gp.fp_q;
  rgp.fp_fpsr = gp.fp_fpsr;
  rgp.fp_fpcr = gp.fp_fpcr;
  return rgp;
}

// Coq: AbstractMachineSpec.activate_traps_specx
TrapRegs activate_traps_specx(TrapRegs t) {
  t.pmuselr_el0 = 0;
  t.pmuserenr_el0 = k::ARMV8_PMU_USERENR_MASK;
  t.mdcr_el2 = k::HYPSEC_MDCR_EL2_FLAG;
  t.cptr_el2 = k::CPTR_VM;
  return t;
}

// Coq: AbstractMachineSpec.deactivate_traps_specx
TrapRegs deactivate_traps_specx(TrapRegs t) {
  t.pmuserenr_el0 = 0;
  t.mdcr_el2 = 0;
  t.cptr_el2 = k::CPTR_EL2_DEFAULT;
  return t;
}

// Coq: AbstractMachineSpec.timer_enable_traps_specx
TrapRegs timer_enable_traps_specx(TrapRegs t) {
  // The constants are symbolic, so this is arithmetic, not a bit operation.
  t.cnthctl_el2 = t.cnthctl_el2 - k::CNTHCTL_EL1PCEN + k::CNTHCTL_EL1PCTEN;
  return t;
}

// Coq: AbstractMachineSpec.vm_el2_restore_state_specx
CtxtRegs vm_el2_restore_state_specx(CtxtRegs rc, const CtxtRegs& c, Z vttbr) {
  rc.vttbr_el2 = vttbr;
  rc.tpidr_el2 = c.tpidr_el2;
  rc.hcr_el2 = k::HCR_HYPSEC_VM_FLAGS;
  return rc;
}

// Coq: AbstractMachineSpec.host_el2_restore_state_specx
CtxtRegs host_el2_restore_state_specx(CtxtRegs rc, Z vttbr) {
  rc.vttbr_el2 = vttbr;
  rc.hcr_el2 = k::HCR_HOST_NVHE_FLAGS;
  rc.tpidr_el2 = 0;
  return rc;
}

// Coq: AbstractMachineSpec.clear_shadow_gp_regs_specx
CtxtRegs clear_shadow_gp_regs_specx(CtxtRegs gp) {
  gp.x.fill(0);
  return gp;
}

// Coq: AbstractMachineSpec.reset_fp_regs_specx
CtxtRegs reset_fp_regs_specx(CtxtRegs gp) {
  gp.fp_q.fill(0);
  gp.fp_fpsr = 0;
  gp.fp_fpcr = 0;
  return gp;
}

}  // namespace hypdiff::model
