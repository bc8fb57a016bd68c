/* Register contexts (digest §1.1 CtxtRegs, TrapRegs, CtxtStates; §2.6 register indices) and the
 * register-copy helpers of AbstractMachineSpec (§3.0). The same layout serves the physical
 * register file the platform hands the core on a trap (plat_cpu_regs) and the shadow contexts
 * KCore keeps in its memory: the host's per-CPU context and one per VM vCPU. Freestanding. */
#ifndef KCORE_CTXT_H
#define KCORE_CTXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A 128-bit SIMD&FP register. */
struct kc_q {
  uint64_t lo, hi;
};

/* CtxtRegs: the spec's 100 registers, in the spec's order. `ec` is the abstract exit code the
 * trap vector records (ARM_EXCEPTION_TRAP, ARM_EXCEPTION_INTERRUPT, ...). */
struct kc_ctxt_regs {
  uint64_t x[31];
  struct kc_q fp_q[32];
  uint64_t fp_fpsr, fp_fpcr;
  uint64_t csselr_el1, sctlr_el1, cpacr_el1, ttbr0_el1, ttbr1_el1, tcr_el1, afsr0_el1, afsr1_el1,
      far_el1, mair_el1, vbar_el1, contextidr_el1, amair_el1, cntkctl_el1, par_el1, tpidr_el1,
      spsr_el1, mdscr_el1, sp_el0, tpidr_el0, tpidrro_el0, spsr_el2, vmpidr_el2, mpidr_el1,
      actlr_el1, sp_el1, elr_el1, elr_el2, vttbr_el2, hcr_el2, tpidr_el2, esr_el2, ec, far_el2,
      hpfar_el2;
};

/* TrapRegs */
struct kc_trap_regs {
  uint64_t pmuselr_el0, pmuserenr_el0, mdcr_el2, cptr_el2, cnthctl_el2;
};

/* CtxtStates: vCPU state kept only in the shadow context. dirty = INVALID64: never run. */
struct kc_ctxt_states {
  uint64_t pc, pstate, dirty, flags, esr_el1, spsr_0;
};

/* A shadow context. */
struct kc_ctxt {
  struct kc_ctxt_regs regs;
  struct kc_trap_regs trap;
  struct kc_ctxt_states states;
};

/* The physical register file of one CPU (the spec's `regs`, whose ctxt_states are unused). */
struct kc_cpu_regs {
  struct kc_ctxt_regs regs;
  struct kc_trap_regs trap;
};

/* §2.6 register indices the core uses by name. */
enum {
  KC_REG_PC = 32,
  KC_REG_PSTATE = 33,
  KC_REG_MPIDR_EL1 = 47,
  KC_REG_ACTLR = 50,
  KC_SYSREGS_START = 47,
  KC_SHADOW_SYS_REGS_SIZE = 24,
};

/* get/set_shadow_ctxt_specx: the register index i names (§2.6); indices the spec does not handle
 * (SP, SP_EL1, the banked SPSRs, MDCCINT, anything else) read 0 and ignore writes. */
uint64_t kc_ctxt_get(const struct kc_ctxt* c, uint64_t index);
void kc_ctxt_set(struct kc_ctxt* c, uint64_t index, uint64_t value);

/* host_to_core / vm_to_core: the shadow's x0..x30 := the physical ones. */
void kc_gprs_to_core(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys);
/* core_to_host / core_to_vm: the physical x0..x30 := the shadow's. */
void kc_gprs_from_core(const struct kc_ctxt_regs* shadow, struct kc_ctxt_regs* phys);
/* exit_populate_fault: esr_el2, ec, far_el2, hpfar_el2 from the physical registers. */
void kc_populate_fault(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys);
/* save_sysregs: the EL1 state the trap left in hardware (PC and PSTATE are not saved). */
void kc_save_sysregs(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys);
/* restore_sysregs: the EL1 state, and ELR_EL2/SPSR_EL2 from the vCPU's pc/pstate. */
void kc_restore_sysregs(const struct kc_ctxt* shadow, struct kc_ctxt_regs* phys);
void kc_fpsimd_save(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys);
void kc_fpsimd_restore(const struct kc_ctxt_regs* shadow, struct kc_ctxt_regs* phys);
void kc_activate_traps(struct kc_trap_regs* t);
void kc_deactivate_traps(struct kc_trap_regs* t);
void kc_timer_enable_traps(struct kc_trap_regs* t);
void kc_vm_el2_restore(struct kc_ctxt_regs* phys, const struct kc_ctxt_regs* shadow,
                       uint64_t vttbr);
void kc_host_el2_restore(struct kc_ctxt_regs* phys, uint64_t vttbr);
void kc_clear_gprs(struct kc_ctxt_regs* r);
void kc_reset_fp(struct kc_ctxt_regs* r);
void kc_ctxt_copy(struct kc_ctxt* dst, const struct kc_ctxt* src);

#ifdef __cplusplus
}
#endif

#endif
