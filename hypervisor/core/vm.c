/* VM info, SMMU context owners and shadow contexts at the addresses kc_layout gives. */
#include "core/vm.h"

#include "core/mutant.h"
#include "core/s2pt.h"

_Static_assert(sizeof(struct kc_vm_state) <= KC_PAGE_SIZE, "VS fits one page");
_Static_assert(sizeof(struct kc_vm_boot) <= KC_PAGE_SIZE, "VB fits one page");
_Static_assert(sizeof(struct kc_ctxt) <= KC_CTXT_SLOT, "a context fits its slot");
_Static_assert(KC_PAGE_SIZE % KC_CTXT_SLOT == 0, "no context straddles a page");

static uint64_t vminfo_page(const struct kcore* kc, uint64_t v, uint32_t which) {
  if (v >= kc_principals(&kc->cfg)) plat_panic("VM info of a principal that does not exist");
  return kc->lay.vminfo + (2u * v + which) * KC_PAGE_SIZE;
}

struct kc_vm_state* kc_vm_state_of(const struct kcore* kc, uint64_t v) {
  return (struct kc_vm_state*)plat_phys(vminfo_page(kc, v, 0));
}

struct kc_vm_boot* kc_vm_boot_of(const struct kcore* kc, uint64_t v) {
  return (struct kc_vm_boot*)plat_phys(vminfo_page(kc, v, 1));
}

static volatile uint32_t* owner_slot(const struct kcore* kc, uint32_t index, uint32_t cbndx) {
  if (!kc_is_smmu(&kc->cfg, index) || !kc_is_smmu_cfg(&kc->cfg, cbndx))
    plat_panic("owner of an SMMU context that does not exist");
  const uint64_t id = kc_smmu_id(&kc->cfg, index, cbndx);
  return (volatile uint32_t*)plat_phys(kc->lay.smmu_vmid + 4u * id);
}

uint32_t kc_smmu_owner(const struct kcore* kc, uint32_t index, uint32_t cbndx) {
  return *owner_slot(kc, index, cbndx);
}

void kc_set_smmu_owner(const struct kcore* kc, uint32_t index, uint32_t cbndx, uint32_t owner) {
  *owner_slot(kc, index, cbndx) = owner;
}

struct kc_ctxt* kc_ctxt_of(const struct kcore* kc, uint64_t v, uint64_t vcpu) {
  if (v > kc->cfg.max_vms || vcpu >= kc->cfg.vcpus_per_vm)
    plat_panic("context of a vCPU that does not exist");
  const uint64_t id = v * kc->cfg.vcpus_per_vm + vcpu;
  return (struct kc_ctxt*)plat_phys(kc->lay.ctxts + id * KC_CTXT_SLOT);
}

void kc_vm_init(const struct kcore* kc) {
  const struct kc_config* cfg = &kc->cfg;
  for (uint32_t v = 0; v < kc_principals(cfg); ++v) {
    kc_zero_page(vminfo_page(kc, v, 0));
    kc_zero_page(vminfo_page(kc, v, 1));
  }
  for (uint32_t i = 0; i < cfg->smmu_num; ++i) {
    /* mutant 16: the owners are left as zeroed memory says: every bank is the host's */
    const uint32_t free_bank = KC_MUTANT(16) ? KC_HOSTVISOR : KC_INVALID;
    for (uint32_t cb = 0; cb < cfg->smmu_ctxt_banks; ++cb) kc_set_smmu_owner(kc, i, cb, free_bank);
  }
  const uint64_t n = ((uint64_t)cfg->max_vms + 1u) * cfg->vcpus_per_vm;
  for (uint64_t off = 0; off < n * KC_CTXT_SLOT; off += KC_PAGE_SIZE)
    kc_zero_page(kc->lay.ctxts + off);
  for (uint32_t v = 1; v <= cfg->max_vms; ++v) {
    for (uint32_t c = 0; c < cfg->vcpus_per_vm; ++c)
      kc_ctxt_of(kc, v, c)->states.dirty = KC_INVALID64;
  }
}
