/* A VM traps to KCore (digest §3.5.4): its registers are saved; system-register traps and the
 * guest's share hypercalls are handled in place and the VM resumes; anything else (another
 * hypercall, PSCI SYSTEM_OFF, an interrupt) saves the vCPU and returns to the host. */
#include "core/cpu.h"
#include "core/mutant.h"
#include "core/pages.h"
#include "core/s2pt.h"
#include "core/vm.h"

/* One page of grant_stage2_loop / revoke_stage2_loop: the VM's entry for gfn is read twice (the
 * spec's two query points: pte, then level), and the frame backing gfn (grant-block-pfn: within a
 * block, the block's frame for that gfn) gains or loses one share with the host. Returns false
 * where the spec halts. */
static bool share_page(const struct kcore* kc, uint32_t vmid, uint64_t gfn, bool revoke) {
  const uint32_t npt = kc_npt_lock(vmid), host_npt = kc_npt_lock(KC_HOSTVISOR);
  struct kc_walk w;
  plat_lock_acquire(npt);
  kc_s2pt_walk(kc, vmid, gfn, &w);
  const uint64_t pte = w.pte;
  plat_lock_release(npt);
  plat_lock_acquire(npt);
  kc_s2pt_walk(kc, vmid, gfn, &w);
  plat_lock_release(npt);
  uint64_t pfn = kc_phys_page(pte) >> KC_PAGE_SHIFT;
  if (pfn == 0) return true;
  /* mutant 23: inside a block the block's first frame is shared, not gfn's own */
  if (w.level == 2 && !KC_MUTANT(23)) pfn += gfn & (KC_PTRS_PER_TABLE - 1u);
  plat_lock_acquire(KC_S2PAGE_ID);
  if (!revoke) {
    kc_grant_vm_page(kc, vmid, pfn);
    plat_lock_release(KC_S2PAGE_ID);
    return true;
  }
  plat_lock_acquire(host_npt);
  const enum kc_status st = kc_revoke_vm_page(kc, vmid, pfn);
  plat_lock_release(host_npt);
  plat_lock_release(KC_S2PAGE_ID);
  return st == KC_OK; /* else the host's stage-2 pool is exhausted */
}

/* The guest shares (grant) or unshares (revoke) n pages from addr. n is the guest's choice (up
 * to 2^52): runs of gfns the VM does not map change nothing and are passed in one go. */
static bool share_loop(const struct kcore* kc, uint32_t vmid, uint64_t addr, uint64_t n,
                       bool revoke) {
  /* mutant 25: the range's end is taken as inclusive: one page more is shared */
  const uint64_t g0 = addr >> KC_PAGE_SHIFT, end = g0 + n + (KC_MUTANT(25) ? 1u : 0u);
  for (uint64_t g = g0; g < end;) {
    const uint64_t next = kc_s2pt_next_mapped(kc, vmid, g, end);
    if (next > g) {
      g += plat_skip_sections(next - g, 2);
      if (g == next) continue;
    }
    if (!share_page(kc, vmid, g, revoke)) return false; /* grant-halt-check */
    ++g;
  }
  return true;
}

/* prep_abort_specx: how the host is to emulate an MMIO abort (unreachable from kc_vm_exit, whose
 * dispatcher halts on aborts first; kept as the spec writes it). */
static void prep_abort(const struct kcore* kc, uint32_t v, struct kc_ctxt* c) {
  const uint64_t n = kc_data_log(kc, v);
  const uint64_t esr = plat_doracle(v, n);
  kc_set_data_log(kc, v, n + 1u);
  if (c->regs.hpfar_el2 / 16u >= (KC_MAX_MMIO_ADDR >> KC_PAGE_SHIFT)) return; /* not MMIO */
  if ((esr & KC_ESR_WNR) == 0 && (esr & KC_ESR_S1PTW) == 0) {
    c->states.dirty = 1ull << ((esr >> 16) & 31u); /* a read: refresh Rd */
  } else {
    c->states.dirty = KC_DIRTY_PC_FLAG;
  }
}

/* prep_exit_vm: the vCPU's EL1 and FP state is saved, the reason for leaving prepared for the
 * host, the vCPU becomes inactive. */
static void prep_exit_vm(const struct kcore* kc, uint32_t v, uint64_t vcpu, struct kc_ctxt* c,
                         struct kc_cpu_regs* phys) {
  const uint64_t hsr_ec = (c->regs.esr_el2 & 0xFC000000u) >> KC_ESR_EC_SHIFT;
  const bool trap = c->regs.ec == KC_ARM_EXCEPTION_TRAP;
  if (trap &&
      !(hsr_ec == KC_ESR_EC_WFX || hsr_ec == KC_ESR_EC_HVC64 || hsr_ec == KC_ESR_EC_IABT_LOW ||
        hsr_ec == KC_ESR_EC_DABT_LOW || hsr_ec == KC_ESR_EC_HVC32))
    kc_halt(kc, "VM exit: a trap KCore does not handle");
  kc_save_sysregs(&c->regs, &phys->regs);
  kc_fpsimd_save(&c->regs, &phys->regs);
  kc_deactivate_traps(&phys->trap);
  kc_timer_enable_traps(&phys->trap);
  const uint32_t info = kc_info_lock(&kc->cfg, v);
  if (trap && hsr_ec == KC_ESR_EC_WFX) c->states.dirty = KC_DIRTY_PC_FLAG;
  if (trap && (hsr_ec == KC_ESR_EC_IABT_LOW || hsr_ec == KC_ESR_EC_DABT_LOW)) prep_abort(kc, v, c);
  /* mutant 15: the PSCI function id compared is SYSTEM_RESET's (0x84000009) */
  const uint64_t psci_off = KC_MUTANT(15) ? 0x84000009u : KC_PSCI_0_2_FN_SYSTEM_OFF;
  if (trap && hsr_ec == KC_ESR_EC_HVC64 && (c->regs.x[0] & 0xFFFFFFFFu) == psci_off) {
    plat_lock_acquire(info);
    kc_vm_state_of(kc, v)->state = KC_VM_POWEROFF;
    plat_lock_release(info);
  }
  plat_lock_acquire(info);
  uint32_t* state = &kc_vm_state_of(kc, v)->vcpu_state[vcpu];
  const bool active = *state == KC_VCPU_ACTIVE;
  if (active) *state = KC_VCPU_READY;
  plat_lock_release(info);
  if (!active) kc_halt(kc, "VM exit: the vCPU was not active");
}

/* switch_to_host: the host's context on this CPU back into the physical registers. */
static void switch_to_host(const struct kcore* kc, struct kc_cpu* cpu, struct kc_cpu_regs* phys) {
  const uint32_t id = plat_cpu_id();
  const struct kc_ctxt* host = kc_ctxt_of(kc, KC_HOSTVISOR, id);
  kc_host_el2_restore(&phys->regs, kc_vttbr(kc, KC_HOSTVISOR));
  kc_restore_sysregs(host, &phys->regs);
  /* mutant 40: the host's FP/SIMD registers are not restored: it sees the VM's */
  if (!KC_MUTANT(40)) kc_fpsimd_restore(&host->regs, &phys->regs);
  kc_gprs_from_core(&host->regs, &phys->regs);
  cpu->cur_vmid = KC_HOSTVISOR;
  cpu->cur_vcpuid = (int32_t)id;
  cpu->ihost = 1;
  cpu->icore = 0;
}

/* vm_exit_dispatcher_spec_h for a trap. Returns whether the VM exits to the host. Where the spec
 * halts, the VM's registers are restored first (the spec takes its "resume" path, halted). */
static bool dispatch_trap(const struct kcore* kc, struct kc_cpu* cpu, uint32_t v, struct kc_ctxt* c,
                          struct kc_cpu_regs* phys) {
  const uint64_t ec = (c->regs.esr_el2 >> KC_ESR_EC_SHIFT) & 63u;
  const char* why = 0;
  if (ec == KC_ESR_EC_SYS64) {
    /* pc-advance: skip the trapped instruction (mutant 43: not skipped) */
    if (!KC_MUTANT(43)) phys->regs.elr_el2 += 4u;
  } else if (ec == KC_ESR_EC_HVC64) {
    const uint64_t call = c->regs.x[0], size = c->regs.x[3];
    if (call != KC_HVC_KVM_SET_DESC_PFN && call != KC_HVC_KVM_UNSET_DESC_PFN) return true;
    /* ceil(size / 4096) without overflow: the guest picks size. */
    const uint64_t n = (size >> KC_PAGE_SHIFT) + ((size & (KC_PAGE_SIZE - 1u)) != 0);
    if (!share_loop(kc, v, c->regs.x[2], n, call == KC_HVC_KVM_UNSET_DESC_PFN))
      why = "revoke: the host's stage-2 pool is exhausted";
  } else if (KC_MUTANT(44)) {
    return true; /* mutant 44: a trap the dispatcher does not handle goes to the host */
  } else {
    why = "VM exit: a trap KCore does not handle";
  }
  kc_gprs_from_core(&c->regs, &phys->regs);
  cpu->icore = 0;
  if (why) kc_halt(kc, why);
  return false;
}

enum kc_step kc_vm_exit(const struct kcore* kc, uint64_t ec, uint64_t esr, const uint64_t x[4],
                        uint64_t hpfar, uint64_t far) {
  struct kc_cpu* cpu = kc_cpu_of(kc);
  if (cpu->ihost || cpu->icore) return KC_STEP_UNDEFINED;
  struct kc_cpu_regs* phys = plat_cpu_regs();
  phys->regs.ec = ec;
  phys->regs.esr_el2 = esr;
  for (uint32_t i = 0; i < 4; ++i) phys->regs.x[i] = x[i];
  phys->regs.hpfar_el2 = hpfar;
  phys->regs.far_el2 = far;
  if (cpu->halted) kc_halt(kc, "the CPU has halted");

  /* vm_exit_pre_process */
  const uint32_t v = cpu->cur_vmid;
  /* mutant 41: the exit is saved into the VM's first vCPU, whichever vCPU ran */
  const uint64_t vcpu = KC_MUTANT(41) ? 0 : (uint64_t)cpu->cur_vcpuid;
  struct kc_ctxt* c = kc_ctxt_of(kc, v, vcpu);
  kc_gprs_to_core(&c->regs, &phys->regs);
  kc_populate_fault(&c->regs, &phys->regs);
  cpu->icore = 1;
  if (ec == KC_ARM_EXCEPTION_TRAP) {
    if (!dispatch_trap(kc, cpu, v, c, phys)) return KC_STEP_DONE; /* the VM resumes */
  } else if (ec != KC_ARM_EXCEPTION_INTERRUPT) {
    kc_halt(kc, "VM exit: an unknown exit code");
  } else if (KC_MUTANT(50)) {
    /* mutant 50: an interrupt exit re-enters the VM; the host never sees its interrupt */
    kc_gprs_from_core(&c->regs, &phys->regs);
    cpu->icore = 0;
    return KC_STEP_DONE;
  }
  prep_exit_vm(kc, v, vcpu, c, phys);
  switch_to_host(kc, cpu, phys);
  return KC_STEP_DONE;
}
