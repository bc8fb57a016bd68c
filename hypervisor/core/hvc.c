/* The host hypercall handler (digest §3.5.1): the host's x0..x30 go to its shadow context, x0
 * picks the hypercall, the results go back to the physical registers unless it halted. Here also
 * the hypercalls on VM identities and vCPU state (24, 25, 28, 29); the others are in hvc_*.c. */
#include "core/cpu.h"
#include "core/hvc_impl.h"
#include "core/mutant.h"
#include "core/vm.h"

void kc_hvc_bad(const struct kc_hvc* h) { kc_halt(h->kc, "hypercall arguments refused"); }

/* REGISTER_KVM: the next VM id (CORE_ID), then its VM info (INFO_ID + v); the id goes to x0. */
static void register_kvm(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  struct kc_globals* g = kc_globals_of(kc);
  plat_lock_acquire(KC_CORE_ID);
  const uint64_t v = g->next_vmid;
  const bool fresh_id = v < kc_corevisor(&kc->cfg);
  if (fresh_id) g->next_vmid = v + 1u;
  plat_lock_release(KC_CORE_ID);
  if (!fresh_id) kc_halt(kc, "REGISTER_KVM: every VM id is taken");

  const uint32_t lock = kc_info_lock(&kc->cfg, (uint32_t)v);
  plat_lock_acquire(lock);
  struct kc_vm_state* vs = kc_vm_state_of(kc, v);
  const bool unused = vs->state == KC_VM_UNUSED;
  if (unused) {
    vs->kvm = plat_param(KC_PARAM_SHARED_KVM, v, 0);
    vs->state = KC_VM_READY;
  }
  plat_lock_release(lock);
  /* mutant 11: the id is read back from the global after the increment: the next VM's id */
  h->host->regs.x[0] = KC_MUTANT(11) ? g->next_vmid : v; /* even when the VM info was taken */
  if (!unused) kc_halt(kc, "REGISTER_KVM: the VM info is in use");
}

/* REGISTER_VCPU(vmid, vcpuid): a READY VM's unused vCPU becomes READY and never run. */
static void register_vcpu(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_vcpu(&kc->cfg, h->a2))) kc_hvc_bad(h);
  const uint32_t lock = kc_info_lock(&kc->cfg, (uint32_t)h->a1);
  plat_lock_acquire(lock);
  struct kc_vm_state* vs = kc_vm_state_of(kc, h->a1);
  /* mutant 12: only the vCPU's state is checked: a VERIFIED (running) VM gains vCPUs */
  const bool ok =
      (vs->state == KC_VM_READY || KC_MUTANT(12)) && vs->vcpu_state[h->a2] == KC_VCPU_UNUSED;
  if (ok) {
    vs->vcpu[h->a2] = plat_param(KC_PARAM_SHARED_VCPU, h->a1, h->a2);
    vs->vcpu_state[h->a2] = KC_VCPU_READY;
    kc_ctxt_of(kc, h->a1, h->a2)->states.dirty = KC_INVALID64; /* register-vcpu-dirty */
  }
  plat_lock_release(lock);
  if (!ok) kc_halt(kc, "REGISTER_VCPU: the VM is not READY or the vCPU is registered");
}

/* LOAD_CRYPT_VCPU(vmid, vcpuid): the vCPU's state, decrypted from what the host supplies (the
 * host's oracle stream), goes into the vCPU's context (crypt-vcpu-target). As the spec's
 * decrypt functions do, it starts from the host's registers and overwrites x0.. and the system
 * registers 47.. with decrypted values. */
static void load_crypt_vcpu(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_vcpu(&kc->cfg, h->a2))) kc_hvc_bad(h);
  const uint64_t gp = plat_param(KC_PARAM_DECRYPT_GP_COUNT, 0, 0);
  const uint64_t sys = plat_param(KC_PARAM_DECRYPT_SYS_COUNT, 0, 0);
  if (gp > 31 || sys > KC_SHADOW_SYS_REGS_SIZE) plat_panic("decrypt counts out of range");

  const uint32_t lock = kc_info_lock(&kc->cfg, (uint32_t)h->a1);
  plat_lock_acquire(lock);
  const struct kc_vm_state* vs = kc_vm_state_of(kc, h->a1);
  const bool ok = vs->state == KC_VM_READY && vs->vcpu_state[h->a2] == KC_VCPU_READY;
  if (ok) {
    const uint64_t n = kc_data_log(kc, KC_HOSTVISOR);
    struct kc_ctxt* vcpu = kc_ctxt_of(kc, h->a1, h->a2);
    const struct kc_trap_regs trap = vcpu->trap;
    kc_ctxt_copy(vcpu, h->host);
    vcpu->trap = trap;
    for (uint64_t i = 0; i < gp; ++i) vcpu->regs.x[i] = plat_doracle(KC_HOSTVISOR, n + i);
    for (uint64_t i = 0; i < sys; ++i)
      kc_ctxt_set(vcpu, KC_SYSREGS_START + i, plat_doracle(KC_HOSTVISOR, n + gp + i));
    kc_vm_boot_of(kc, h->a1)->inc_exe = 1;
    kc_set_data_log(kc, KC_HOSTVISOR, n + gp + sys);
  }
  plat_lock_release(lock);
  if (!ok) kc_halt(kc, "LOAD_CRYPT_VCPU: the VM or the vCPU is not READY");
}

static void dispatch(const struct kc_hvc* h, uint64_t x0) {
  switch (x0) {
    case KC_HVC_CLEAR_VM_S2_RANGE:
      kc_hvc_clear_vm_s2_range(h);
      break;
    case KC_HVC_SET_BOOT_INFO:
      kc_hvc_set_boot_info(h);
      break;
    case KC_HVC_REMAP_VM_IMAGE:
      kc_hvc_remap_vm_image(h);
      break;
    case KC_HVC_VERIFY_VM_IMAGE:
      kc_hvc_verify_vm_image(h);
      break;
    case KC_HVC_SMMU_FREE_PGD:
      kc_hvc_smmu_free_pgd(h);
      break;
    case KC_HVC_SMMU_ALLOC_PGD:
      kc_hvc_smmu_alloc_pgd(h);
      break;
    case KC_HVC_SMMU_LPAE_MAP:
      kc_hvc_smmu_lpae_map(h);
      break;
    case KC_HVC_SMMU_LPAE_IOVA_TO_PHYS:
      kc_hvc_smmu_iova_to_phys(h);
      break;
    case KC_HVC_SMMU_CLEAR:
      kc_hvc_smmu_clear(h);
      break;
    case KC_HVC_PHYS_ADDR_IOREMAP:
      kc_hvc_phys_addr_ioremap(h);
      break;
    case KC_HVC_REGISTER_KVM:
      register_kvm(h);
      break;
    case KC_HVC_REGISTER_VCPU:
      register_vcpu(h);
      break;
    case KC_HVC_ENCRYPT_BUF:
      kc_hvc_encrypt_buf(h);
      break;
    case KC_HVC_DECRYPT_BUF:
      kc_hvc_decrypt_buf(h);
      break;
    case KC_HVC_SAVE_CRYPT_VCPU:
      if (!(kc_is_vm(&h->kc->cfg, h->a1) && kc_is_vcpu(&h->kc->cfg, h->a2))) kc_hvc_bad(h);
      break;
    case KC_HVC_LOAD_CRYPT_VCPU:
      load_crypt_vcpu(h);
      break;
    default:
      break; /* TIMER_SET_CNTVOFF and unknown numbers: nothing */
  }
}

enum kc_step kc_host_hvc(const struct kcore* kc, const uint64_t x[6]) {
  struct kc_cpu* cpu = kc_cpu_of(kc);
  if (!(cpu->ihost && !cpu->icore)) return KC_STEP_UNDEFINED;
  struct kc_cpu_regs* phys = plat_cpu_regs();
  for (uint32_t i = 0; i < 6; ++i) phys->regs.x[i] = x[i];
  if (cpu->halted) kc_halt(kc, "the CPU has halted");

  struct kc_ctxt* host = kc_ctxt_of(kc, cpu->cur_vmid, (uint64_t)cpu->cur_vcpuid);
  kc_gprs_to_core(&host->regs, &phys->regs);
  cpu->icore = 1;
  const struct kc_hvc h = {kc,
                           host,
                           host->regs.x[1],
                           host->regs.x[2],
                           host->regs.x[3],
                           host->regs.x[4],
                           host->regs.x[5]};
  dispatch(&h, host->regs.x[0]);
  kc_gprs_from_core(&host->regs, &phys->regs);
  cpu->icore = 0;
  return KC_STEP_DONE;
}
