/* The host asks KCore to run a vCPU (digest §3.5.3): save the host, take the vCPU the host chose
 * (core_doracle), initialize it on its first run or refresh it on re-entry (mapping the page the
 * host says it faulted on), then load it into the physical registers. */
#include "core/cpu.h"
#include "core/mutant.h"
#include "core/vm.h"
#include "core/vm_map.h"

/* search_load_info_loop_h: where the remap window holds address `pc` of the VM's images (the
 * last match), or 0. */
static uint64_t search_load_info(const struct kc_vm_boot* vb, uint64_t pc) {
  uint64_t ret = 0;
  for (uint64_t i = 0; i < vb->next_load_info; ++i) {
    if (vb->load_addr[i] <= pc && pc - vb->load_addr[i] < vb->load_size[i])
      ret = pc - vb->load_addr[i] + vb->remap_addr[i];
  }
  return ret;
}

/* reset_sys_regs_specx: the system registers 47..70 of a vCPU about to run for the first time:
 * MPIDR from its id, ACTLR from the VM's oracle stream (cursor n), the rest the platform's reset
 * values (reg_desc). Returns the advanced cursor. */
static uint64_t reset_sys_regs(struct kc_ctxt* c, uint32_t vmid, uint64_t vcpu, uint64_t n) {
  for (uint64_t i = KC_SYSREGS_START; i < KC_SYSREGS_START + KC_SHADOW_SYS_REGS_SIZE; ++i) {
    uint64_t val;
    if (i == KC_REG_MPIDR_EL1) {
      val = (vcpu & 15u) + ((vcpu / 16u) & 255u) * 256u + ((vcpu / 4096u) & 255u) * 65536u +
            (1ull << 31);
    } else if (i == KC_REG_ACTLR) {
      val = plat_doracle(vmid, n++);
    } else {
      val = plat_param(KC_PARAM_REG_DESC, i, 0);
    }
    kc_ctxt_set(c, i, val);
  }
  return n;
}

/* First run (dirty == INVALID64): the entry point and PSTATE come from the VM's oracle stream and
 * the entry point must lie in a loaded image; the registers start from reset values. A vCPU whose
 * state was loaded encrypted (LOAD_CRYPT_VCPU) runs it as it is. */
static void first_run(const struct kcore* kc, uint32_t v, uint64_t vcpu, struct kc_ctxt* c) {
  const uint32_t info = kc_info_lock(&kc->cfg, v);
  plat_lock_acquire(info);
  const bool encrypted = kc_vm_boot_of(kc, v)->inc_exe != 0;
  plat_lock_release(info);
  if (encrypted) {
    c->states.dirty = 0;
    return;
  }
  const uint64_t n = kc_data_log(kc, v);
  const uint64_t pc = plat_doracle(v, n);
  kc_set_data_log(kc, v, n + 1u);
  plat_lock_acquire(info);
  const uint64_t at = search_load_info(kc_vm_boot_of(kc, v), pc);
  plat_lock_release(info);
  /* mutant 21: the entry point is looked up but a miss is not refused */
  if (at == 0 && !KC_MUTANT(21)) kc_halt(kc, "vcpu_run: the entry point lies in no loaded image");
  kc_clear_gprs(&c->regs);
  kc_reset_fp(&c->regs);
  c->states.pstate = plat_doracle(v, n + 1u);
  c->states.pc = pc;
  kc_set_data_log(kc, v, reset_sys_regs(c, v, vcpu, n + 2u));
  c->states.dirty = 0;
}

/* Re-entry after an exit: the registers the host emulated (dirty GPRs) take the VM's next oracle
 * values, a pending exception is injected (inject-test), the PC skips an emulated instruction,
 * then the page the host says the VM faulted on is given to it and mapped. */
static void re_entry(const struct kcore* kc, uint32_t v, struct kc_ctxt* c, uint64_t dirty) {
  uint64_t n = kc_data_log(kc, v);
  if (c->regs.ec == KC_ARM_EXCEPTION_TRAP) {
    for (uint32_t i = 0; i <= 30; ++i) {
      if (dirty & (1ull << i)) c->regs.x[i] = plat_doracle(v, n++); /* sync-dirty-cursor */
    }
  }
  if (dirty & KC_PENDING_EXCEPT_INJECT_FLAG) {
    c->regs.elr_el1 = c->states.pc;
    c->states.spsr_0 = c->states.pstate;
    c->states.esr_el1 = KC_ESR_EC_UNKNOWN;
    c->states.pstate = KC_PSTATE_FAULT_BITS_64;
  }
  if (dirty & KC_DIRTY_PC_FLAG) c->states.pc += 4u;
  c->states.dirty = 0;
  c->regs.far_el2 = 0;
  kc_set_data_log(kc, v, n);

  const uint64_t c1 = kc_core_data_log(kc, v);
  const uint64_t addr = plat_core_doracle(v, c1);
  if (!(KC_PAGE_SIZE <= addr && addr < KC_KVM_ADDR_SPACE)) {
    kc_set_core_data_log(kc, v, c1 + 1u);
    return;
  }
  const uint64_t pte = plat_core_doracle(v, c1 + 1u);
  const uint64_t level = plat_core_doracle(v, c1 + 2u);
  kc_set_core_data_log(kc, v, c1 + 3u);
  kc_prot_and_map_vm(kc, v, addr, pte, level);
}

/* vcpu_run_switch_to_vm: the vCPU's context into the physical registers, traps for the VM. */
static void switch_to_vm(const struct kcore* kc, uint32_t v, const struct kc_ctxt* c,
                         struct kc_cpu_regs* phys) {
  kc_vm_el2_restore(&phys->regs, &c->regs, kc_vttbr(kc, v));
  kc_restore_sysregs(c, &phys->regs);
  kc_fpsimd_restore(&c->regs, &phys->regs);
  /* mutant 39: the vCPU's x0..x30 are not loaded: it runs with the host's */
  if (!KC_MUTANT(39)) kc_gprs_from_core(&c->regs, &phys->regs);
  kc_timer_enable_traps(&phys->trap);
  kc_activate_traps(&phys->trap);
}

enum kc_step kc_vcpu_run(const struct kcore* kc, uint64_t vmid) {
  struct kc_cpu* cpu = kc_cpu_of(kc);
  if (!(cpu->ihost && !cpu->icore)) return KC_STEP_UNDEFINED;
  struct kc_cpu_regs* phys = plat_cpu_regs();
  phys->regs.x[0] = vmid;
  if (cpu->halted) kc_halt(kc, "the CPU has halted");

  /* vcpu_run_swith_to_core: the host's state is saved only for a VM id. */
  if (!kc_is_vm(&kc->cfg, vmid)) kc_halt(kc, "vcpu_run: not a VM");
  struct kc_ctxt* host = kc_ctxt_of(kc, KC_HOSTVISOR, (uint64_t)cpu->cur_vcpuid);
  kc_gprs_to_core(&host->regs, &phys->regs);
  kc_save_sysregs(&host->regs, &phys->regs);
  kc_fpsimd_save(&host->regs, &phys->regs);
  const uint32_t v = (uint32_t)vmid;
  cpu->icore = 1;
  cpu->cur_vmid = v;
  cpu->cur_vcpuid = -1;

  /* vcpu_run_process */
  const uint64_t c0 = kc_core_data_log(kc, v);
  const uint64_t vcpu = plat_core_doracle(v, c0);
  if (!kc_is_vcpu(&kc->cfg, vcpu)) kc_halt(kc, "vcpu_run: the host named no vCPU");
  cpu->cur_vcpuid = (int32_t)vcpu;
  kc_set_core_data_log(kc, v, c0 + 1u);
  const uint32_t info = kc_info_lock(&kc->cfg, v);
  plat_lock_acquire(info);
  struct kc_vm_state* vs = kc_vm_state_of(kc, v);
  /* mutant 13: only the VM's state is checked: an unregistered vCPU runs */
  const bool ok =
      vs->state == KC_VM_VERIFIED && (vs->vcpu_state[vcpu] == KC_VCPU_READY || KC_MUTANT(13));
  if (ok) vs->vcpu_state[vcpu] = KC_VCPU_ACTIVE;
  plat_lock_release(info);
  if (!ok) kc_halt(kc, "vcpu_run: the VM is not VERIFIED or the vCPU not READY");
  struct kc_ctxt* c = kc_ctxt_of(kc, v, vcpu);
  if (c->states.dirty == KC_INVALID64) {
    first_run(kc, v, vcpu, c);
  } else {
    re_entry(kc, v, c, c->states.dirty);
  }

  switch_to_vm(kc, v, c, phys);
  cpu->icore = 0;
  cpu->ihost = 0;
  return KC_STEP_DONE;
}
