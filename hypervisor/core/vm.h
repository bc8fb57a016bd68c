/* VM and vCPU bookkeeping in KCore's memory (digest §1.1 VMInfo, §1.2 smmu_vmid, shadow_ctxts):
 * each principal's VM info (the spec's VS and VB, one page each), the owner of every SMMU
 * context bank, and the shadow register contexts. The locks that protect them are the spec's:
 * INFO_ID + v for VM info v, SMMU_ID for smmu_vmid; a context belongs to the CPU running it. */
#ifndef KCORE_VM_H
#define KCORE_VM_H

#include <stdint.h>

#include "core/ctxt.h"
#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KC_MAX_VCPUS 256u    /* config: vcpus_per_vm <= 256 */
#define KC_MAX_LOAD_INFO 64u /* config: max_load_info <= 64 */

/* VS (StateInfo): VM and vCPU lifecycle. */
struct kc_vm_state {
  uint32_t state; /* UNUSED, READY, VERIFIED, POWEROFF */
  uint32_t power; /* vm_power: the spec never uses it */
  uint64_t kvm;   /* vm_kvm = shared_kvm(vmid), written by REGISTER_KVM, never read */
  uint32_t vcpu_state[KC_MAX_VCPUS]; /* UNUSED, READY, ACTIVE */
  uint64_t vcpu[KC_MAX_VCPUS];       /* vm_vcpu[c] = shared_vcpu(vmid, c) */
};

/* VB (BootInfo): the VM image load table. */
struct kc_vm_boot {
  uint64_t next_load_info;
  uint64_t inc_exe; /* 1: the vCPU state was loaded encrypted (LOAD_CRYPT_VCPU) */
  uint64_t load_addr[KC_MAX_LOAD_INFO];
  uint64_t load_size[KC_MAX_LOAD_INFO];
  uint64_t remap_addr[KC_MAX_LOAD_INFO];   /* where the image sits in the EL2 remap window */
  uint64_t mapped_pages[KC_MAX_LOAD_INFO]; /* pages of it remapped so far */
};

/* VM info of principal v (0..COREVISOR); panics for any other v. */
struct kc_vm_state* kc_vm_state_of(const struct kcore* kc, uint64_t v);
struct kc_vm_boot* kc_vm_boot_of(const struct kcore* kc, uint64_t v);

/* smmu_vmid[smmu_id(index, cbndx)]: the owner of a context bank, INVALID when free. */
uint32_t kc_smmu_owner(const struct kcore* kc, uint32_t index, uint32_t cbndx);
void kc_set_smmu_owner(const struct kcore* kc, uint32_t index, uint32_t cbndx, uint32_t owner);

/* The shadow context ctxt_id(v, c) = v * vcpus_per_vm + c, for v in 0..max_vms: the host's
 * per-CPU contexts (v = 0, c = cpu) and every VM vCPU's. Panics outside that range. */
struct kc_ctxt* kc_ctxt_of(const struct kcore* kc, uint64_t v, uint64_t vcpu);

/* Writes the boot values: every VM info UNUSED and zero, every SMMU context free, host contexts
 * zero, vCPU contexts zero and never run (dirty = INVALID64). */
void kc_vm_init(const struct kcore* kc);

#ifdef __cplusplus
}
#endif

#endif
