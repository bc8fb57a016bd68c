// Register helpers of AbstractMachineSpec (`*_specx`): pure functions on register records.
#pragma once

#include <utility>

#include "model/profile.hpp"
#include "model/records.hpp"

namespace hypdiff::model {

// §2.6: read/write a shadow-context register by index. Unhandled indices read 0 / write nothing.
// "Skip one instruction": pc + 4. The spec's registers are unbounded integers; a machine's wrap
// at 2^64 (reg-wrap, docs/spec-deviations.md).
Z advance_pc(const Profile& prof, Z pc);

Z get_shadow_ctxt_specx(int index, const CtxtRegs& cr, const CtxtStates& cs);
void set_shadow_ctxt_specx(int index, Z value, CtxtRegs& cr, CtxtStates& cs);
// Index given as a Z (guest-controlled `reg` fields); out-of-int-range indices are "anything else".
Z get_shadow_ctxt_specx(Z index, const CtxtRegs& cr, const CtxtStates& cs);
void set_shadow_ctxt_specx(Z index, Z value, CtxtRegs& cr, CtxtStates& cs);

// gp = shadow copy, rgp = physical register file (§3.0 "Register-copy helpers").
CtxtRegs host_to_core_specx(CtxtRegs gp, const CtxtRegs& rgp);  // = vm_to_core
CtxtRegs vm_to_core_specx(CtxtRegs gp, const CtxtRegs& rgp);
CtxtRegs core_to_host_specx(const CtxtRegs& gp, CtxtRegs rgp);  // = core_to_vm
CtxtRegs core_to_vm_specx(const CtxtRegs& gp, CtxtRegs rgp);
CtxtRegs exit_populate_fault_specx(CtxtRegs gp, const CtxtRegs& rgp);
CtxtRegs save_sysregs_specx(CtxtRegs sys, const CtxtRegs& rsys);
CtxtRegs restore_sysregs_specx(const CtxtRegs& sys, const CtxtStates& csts, CtxtRegs rsys);
CtxtRegs fpsimd_save_state_specx(CtxtRegs gp, const CtxtRegs& rgp);
CtxtRegs fpsimd_restore_state_specx(const CtxtRegs& gp, CtxtRegs rgp);
TrapRegs activate_traps_specx(TrapRegs t);
TrapRegs deactivate_traps_specx(TrapRegs t);
TrapRegs timer_enable_traps_specx(TrapRegs t);
CtxtRegs vm_el2_restore_state_specx(CtxtRegs rc, const CtxtRegs& c, Z vttbr);
CtxtRegs host_el2_restore_state_specx(CtxtRegs rc, Z vttbr);
CtxtRegs clear_shadow_gp_regs_specx(CtxtRegs gp);
CtxtRegs reset_fp_regs_specx(CtxtRegs gp);

}  // namespace hypdiff::model
