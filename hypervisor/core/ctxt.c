/* Register contexts: the §2.6 index map and the AbstractMachineSpec copy helpers. */
#include "core/ctxt.h"

#include "core/constants.h"
#include "core/mutant.h"

/* The 64-bit register index i names, or 0 when the spec does not handle it. */
static uint64_t* slot(struct kc_ctxt* c, uint64_t i) {
  struct kc_ctxt_regs* r = &c->regs;
  struct kc_ctxt_states* s = &c->states;
  if (i <= 30) return &r->x[i];
  switch (i) {
    case 32:
      return &s->pc;
    case 33:
      return &s->pstate;
    case 35:
      return &r->elr_el1;
    case 36:
      return &r->spsr_el1;
    case 41:
      return &r->far_el2;
    case 42:
      return &r->hpfar_el2;
    case 43:
      return &r->hcr_el2;
    case 44:
      return &r->ec;
    case 45:
      return &s->dirty;
    case 46:
      return &s->flags;
    case 47:
      return &r->mpidr_el1;
    case 48:
      return &r->csselr_el1;
    case 49:
      return &r->sctlr_el1;
    case 50:
      return &r->actlr_el1;
    case 51:
      return &r->cpacr_el1;
    case 52:
      return &r->ttbr0_el1;
    case 53:
      return &r->ttbr1_el1;
    case 54:
      return &r->tcr_el1;
    case 55:
      return &s->esr_el1;
    case 56:
      return &r->afsr0_el1;
    case 57:
      return &r->afsr1_el1;
    case 58:
      return &r->far_el1;
    case 59:
      return &r->mair_el1;
    case 60:
      return &r->vbar_el1;
    case 61:
      return &r->contextidr_el1;
    case 62:
      return &r->tpidr_el0;
    case 63:
      return &r->tpidrro_el0;
    case 64:
      return &r->tpidr_el1;
    case 65:
      return &r->amair_el1;
    case 66:
      return &r->cntkctl_el1;
    case 67:
      return &r->par_el1;
    case 68:
      return &r->mdscr_el1;
    case 70:
      return &r->elr_el2;
    case 71:
      return &s->spsr_0;
    case 72:
      return &r->esr_el2;
    default:
      return 0; /* 31 SP, 34 SP_EL1, 37..40 banked SPSRs, 69 MDCCINT, the rest */
  }
}

uint64_t kc_ctxt_get(const struct kc_ctxt* c, uint64_t index) {
  const uint64_t* p = slot((struct kc_ctxt*)c, index);
  return p ? *p : 0;
}

void kc_ctxt_set(struct kc_ctxt* c, uint64_t index, uint64_t value) {
  uint64_t* p = slot(c, index);
  if (p) *p = value;
}

void kc_gprs_to_core(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys) {
  for (uint32_t i = 0; i < 31; ++i) shadow->x[i] = phys->x[i];
}

void kc_gprs_from_core(const struct kc_ctxt_regs* shadow, struct kc_ctxt_regs* phys) {
  for (uint32_t i = 0; i < 31; ++i) phys->x[i] = shadow->x[i];
}

void kc_populate_fault(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys) {
  shadow->esr_el2 = phys->esr_el2;
  shadow->ec = phys->ec;
  shadow->far_el2 = phys->far_el2;
  shadow->hpfar_el2 = phys->hpfar_el2;
}

/* The 21 EL1/EL0 registers save and restore copy one to one. */
/* clang-format off */
#define KC_EL1_SYSREGS(X)                                                                   \
  X(csselr_el1) X(sctlr_el1) X(cpacr_el1) X(ttbr0_el1) X(ttbr1_el1) X(tcr_el1)             \
  X(afsr0_el1) X(afsr1_el1) X(far_el1) X(mair_el1) X(vbar_el1) X(contextidr_el1)           \
  X(amair_el1) X(cntkctl_el1) X(par_el1) X(tpidr_el1) X(spsr_el1) X(mdscr_el1) X(sp_el0)   \
  X(tpidr_el0) X(tpidrro_el0)
/* clang-format on */

void kc_save_sysregs(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys) {
#define KC_COPY(f) shadow->f = phys->f;
  KC_EL1_SYSREGS(KC_COPY)
#undef KC_COPY
  /* The guest's MPIDR is what EL2 presented to it in VMPIDR_EL2. */
  shadow->mpidr_el1 = phys->vmpidr_el2;
  shadow->actlr_el1 = phys->actlr_el1;
  shadow->sp_el1 = phys->sp_el1;
  shadow->elr_el1 = phys->elr_el1;
}

void kc_restore_sysregs(const struct kc_ctxt* shadow, struct kc_ctxt_regs* phys) {
  const struct kc_ctxt_regs* s = &shadow->regs;
  const uint64_t stale_contextidr = phys->contextidr_el1;
#define KC_COPY(f) phys->f = s->f;
  KC_EL1_SYSREGS(KC_COPY)
#undef KC_COPY
  /* mutant 38: CONTEXTIDR_EL1 missing from the restore list: the last principal's value stays */
  if (KC_MUTANT(38)) phys->contextidr_el1 = stale_contextidr;
  phys->spsr_el2 = shadow->states.pstate;
  phys->vmpidr_el2 = s->mpidr_el1;
  phys->mpidr_el1 = s->mpidr_el1;
  phys->actlr_el1 = s->actlr_el1;
  phys->sp_el1 = s->sp_el1;
  phys->elr_el2 = shadow->states.pc;
  phys->elr_el1 = s->elr_el1;
  phys->esr_el2 = s->esr_el2;
  phys->ec = s->ec;
  phys->far_el2 = s->far_el2;
  phys->hpfar_el2 = s->hpfar_el2;
}

#undef KC_EL1_SYSREGS

void kc_fpsimd_save(struct kc_ctxt_regs* shadow, const struct kc_ctxt_regs* phys) {
  for (uint32_t i = 0; i < 32; ++i) shadow->fp_q[i] = phys->fp_q[i];
  shadow->fp_fpsr = phys->fp_fpsr;
  shadow->fp_fpcr = phys->fp_fpcr;
}

void kc_fpsimd_restore(const struct kc_ctxt_regs* shadow, struct kc_ctxt_regs* phys) {
  for (uint32_t i = 0; i < 32; ++i) phys->fp_q[i] = shadow->fp_q[i];
  phys->fp_fpsr = shadow->fp_fpsr;
  phys->fp_fpcr = shadow->fp_fpcr;
}

void kc_activate_traps(struct kc_trap_regs* t) {
  t->pmuselr_el0 = 0;
  t->pmuserenr_el0 = KC_ARMV8_PMU_USERENR_MASK;
  t->mdcr_el2 = KC_HYPSEC_MDCR_EL2_FLAG;
  t->cptr_el2 = KC_CPTR_VM;
}

void kc_deactivate_traps(struct kc_trap_regs* t) {
  t->pmuserenr_el0 = 0;
  t->mdcr_el2 = 0;
  t->cptr_el2 = KC_CPTR_EL2_DEFAULT;
}

void kc_timer_enable_traps(struct kc_trap_regs* t) {
  /* The spec's constants are symbolic, so this is their arithmetic, not a bit operation. */
  t->cnthctl_el2 = t->cnthctl_el2 - KC_CNTHCTL_EL1PCEN + KC_CNTHCTL_EL1PCTEN;
}

void kc_vm_el2_restore(struct kc_ctxt_regs* phys, const struct kc_ctxt_regs* shadow,
                       uint64_t vttbr) {
  phys->vttbr_el2 = vttbr;
  phys->tpidr_el2 = shadow->tpidr_el2;
  phys->hcr_el2 = KC_HCR_HYPSEC_VM_FLAGS;
}

void kc_host_el2_restore(struct kc_ctxt_regs* phys, uint64_t vttbr) {
  phys->vttbr_el2 = vttbr;
  phys->hcr_el2 = KC_HCR_HOST_NVHE_FLAGS;
  phys->tpidr_el2 = 0;
}

void kc_clear_gprs(struct kc_ctxt_regs* r) {
  for (uint32_t i = 0; i < 31; ++i) r->x[i] = 0;
}

void kc_reset_fp(struct kc_ctxt_regs* r) {
  for (uint32_t i = 0; i < 32; ++i) {
    r->fp_q[i].lo = 0;
    r->fp_q[i].hi = 0;
  }
  r->fp_fpsr = 0;
  r->fp_fpcr = 0;
}

void kc_ctxt_copy(struct kc_ctxt* dst, const struct kc_ctxt* src) {
  uint64_t* d = (uint64_t*)dst;
  const uint64_t* s = (const uint64_t*)src;
  for (uint32_t i = 0; i < sizeof(struct kc_ctxt) / sizeof(uint64_t); ++i) d[i] = s[i];
}
