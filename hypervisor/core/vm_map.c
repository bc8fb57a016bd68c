/* prot_and_map_vm_s2pt_spec_h with its loop prot_and_map_vm_loop_h, and local_map_pfn_vm. */
#include "core/vm_map.h"

#include "core/cpu.h"
#include "core/pages.h"
#include "core/s2pt.h"

/* One assignment: frame pfn becomes vmid's at gfn (S2PAGE_ID, the host's NPT lock). */
static void assign(const struct kcore* kc, uint32_t vmid, uint64_t gfn, uint64_t pfn) {
  const uint32_t npt = kc_npt_lock(KC_HOSTVISOR);
  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(npt);
  const enum kc_status st = kc_assign_pfn_to_vm(kc, vmid, gfn, pfn);
  plat_lock_release(npt);
  plat_lock_release(KC_S2PAGE_ID);
  if (st == KC_E_DENIED) kc_halt(kc, "VM map: the frame is not the host's to give");
  if (st != KC_OK) kc_halt(kc, "VM map: the host's stage-2 pool is exhausted");
}

/* local_map_pfn_vm: normal memory with every attribute bit, a block without the table bit. */
static void map_pfn_vm(const struct kcore* kc, uint32_t vmid, uint64_t addr, uint64_t pte,
                       bool block) {
  const uint64_t pa = kc_phys_page(pte);
  const uint64_t desc =
      block ? ((pa | KC_PAGE_S2_KERNEL) & KC_NOT_PMD_TABLE_BIT) : (pa | KC_PAGE_S2_KERNEL);
  const uint32_t npt = kc_npt_lock(vmid);
  plat_lock_acquire(npt);
  const enum kc_status st = kc_s2pt_map(kc, vmid, addr, block ? 2 : 3, desc);
  plat_lock_release(npt);
  if (st != KC_OK) kc_halt(kc, "VM map: the VM's stage-2 map failed");
}

void kc_prot_and_map_vm(const struct kcore* kc, uint32_t vmid, uint64_t addr, uint64_t pte,
                        uint64_t level) {
  const uint64_t pfn = kc_phys_page(pte) >> KC_PAGE_SHIFT;
  const uint64_t gfn = addr >> KC_PAGE_SHIFT;
  if (level == 2) {
    const uint64_t gfn0 = gfn & ~(uint64_t)(KC_PTRS_PER_TABLE - 1u);
    for (uint64_t i = 0; i < KC_PTRS_PER_TABLE; ++i) assign(kc, vmid, gfn0 + i, pfn + i);
  } else {
    assign(kc, vmid, gfn, pfn);
  }
  map_pfn_vm(kc, vmid, addr, pte, level == 2);
}
