/* SMMU hypercalls (digest §3.5.1 HVCs 18-22, primitives §3.2): the host hands SMMU context banks
 * to itself or to VMs and maps DMA pages for them. A context's owner is read under SMMU_ID and
 * its VM info under INFO_ID + owner, taken next in the same section (ascending ids); the spec
 * names INFO_ID + HOSTVISOR and swapped smmu_id arguments in places (§7.2.10), which only
 * matters to its ghost lock flags. */
#include "core/cpu.h"
#include "core/hvc_impl.h"
#include "core/mutant.h"
#include "core/ownership.h"
#include "core/pages.h"
#include "core/spt.h"
#include "core/vm.h"

/* The owner's VM info lock, when the owner is a principal. Returns the lock taken, or 0. */
static uint32_t lock_owner_info(const struct kcore* kc, uint32_t owner) {
  if (!kc_is_vmid(&kc->cfg, owner)) return 0;
  const uint32_t lock = kc_info_lock(&kc->cfg, owner);
  plat_lock_acquire(lock);
  return lock;
}

static void unlock_owner_info(uint32_t lock) {
  if (lock) plat_lock_release(lock);
}

static bool verified_vm(const struct kcore* kc, uint32_t v) {
  return kc_is_vm(&kc->cfg, v) && kc_vm_state_of(kc, v)->state == KC_VM_VERIFIED;
}

/* SMMU_FREE_PGD(cbndx, index): a powered-off VM's context bank becomes free again. Freeing the
 * context of anyone else (the host's, a live VM's) halts; a free one stays free. */
void kc_hvc_smmu_free_pgd(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_smmu_cfg(&kc->cfg, h->a1) && kc_is_smmu(&kc->cfg, h->a2))) kc_hvc_bad(h);
  const uint32_t cbndx = (uint32_t)h->a1, index = (uint32_t)h->a2;
  plat_lock_acquire(KC_SMMU_ID);
  const uint32_t v = kc_smmu_owner(kc, index, cbndx);
  const uint32_t info = lock_owner_info(kc, v);
  /* mutant 32: the owner's state is not checked: a live VM's (or the host's) bank is freed */
  const bool ok =
      v == KC_INVALID || kc_vm_state_of(kc, v)->state == KC_VM_POWEROFF || KC_MUTANT(32);
  if (ok) kc_set_smmu_owner(kc, index, cbndx, KC_INVALID);
  unlock_owner_info(info);
  plat_lock_release(KC_SMMU_ID);
  if (!ok) kc_halt(kc, "SMMU_FREE_PGD: the context's owner is alive");
}

/* SMMU_ALLOC_PGD(cbndx, vmid, index): a free context bank the SMMU has goes to vmid (the host or
 * a VM that is not VERIFIED yet), with an empty table. An owned one is left alone. */
void kc_hvc_smmu_alloc_pgd(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_smmu_cfg(&kc->cfg, h->a1) && h->a2 < kc_corevisor(&kc->cfg) &&
        kc_is_smmu(&kc->cfg, h->a3)))
    kc_hvc_bad(h);
  const uint32_t cbndx = (uint32_t)h->a1, vmid = (uint32_t)h->a2, index = (uint32_t)h->a3;
  const uint32_t info = kc_info_lock(&kc->cfg, vmid);
  plat_lock_acquire(KC_SPT_ID);
  plat_lock_acquire(KC_SMMU_ID);
  plat_lock_acquire(info);
  const char* why = 0;
  if (!(cbndx < kc->cfg.smmus[index].context_banks)) {
    why = "SMMU_ALLOC_PGD: the SMMU has no such context bank";
  } else if (kc_smmu_owner(kc, index, cbndx) != KC_INVALID) {
    /* already allocated: ignored */
  } else if (verified_vm(kc, vmid)) {
    why = "SMMU_ALLOC_PGD: a VERIFIED VM's devices are fixed";
  } else {
    kc_set_smmu_owner(kc, index, cbndx, vmid);
    kc_spt_clear_root(kc, cbndx, index);
  }
  plat_lock_release(info);
  plat_lock_release(KC_SMMU_ID);
  plat_lock_release(KC_SPT_ID);
  if (why) kc_halt(kc, why);
}

/* local_smmu_assign_page: for a VM's context, frame pfn becomes the VM's (at gfn) unless it is
 * already; the count INVALID marks it as DMA-assigned (§7.2.5, kept). */
static const char* smmu_assign_page(const struct kcore* kc, uint32_t v, uint64_t pfn,
                                    uint64_t gfn) {
  if (!kc_is_vm(&kc->cfg, v)) return 0; /* free, or the host's: nothing to transfer */
  if (verified_vm(kc, v)) return "SMMU_LPAE_MAP: a VERIFIED VM's devices are fixed";
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (p.owner == v) return 0;
  if (p.owner != KC_HOSTVISOR) return "SMMU_LPAE_MAP: the frame is not the host's to give";
  if (p.count != 0) return "SMMU_LPAE_MAP: the host frame is mapped by an SMMU";
  if (kc_unmap_host(kc, pfn) != KC_OK) return "SMMU_LPAE_MAP: the host's stage-2 pool is exhausted";
  /* mutant 35: a DMA page is assigned with count 0, like a page assigned by a fault */
  const struct kc_s2page mine = {v, KC_MUTANT(35) ? 0 : KC_INVALID, gfn};
  kc_s2page_set(kc, pfn, &mine);
  return 0;
}

/* local_smmu_map_page: the context maps iova to a frame its owner has at exactly that gfn. */
static const char* smmu_map_page(const struct kcore* kc, uint32_t v, uint32_t cbndx, uint32_t index,
                                 uint64_t iova, uint64_t pte) {
  if (v == KC_INVALID) return 0;
  if (verified_vm(kc, v)) return "SMMU_LPAE_MAP: a VERIFIED VM's devices are fixed";
  const uint64_t pfn = kc_phys_page(pte) >> KC_PAGE_SHIFT;
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  /* mutant 31: the frame's owner and gfn are not checked: a context maps any frame */
  if (!(p.owner == v && p.gfn == iova >> KC_PAGE_SHIFT) && !KC_MUTANT(31))
    return "SMMU_LPAE_MAP: the frame is not the owner's at that address";
  if (kc_spt_map(kc, cbndx, index, iova, pte) != KC_OK)
    return "SMMU_LPAE_MAP: the SMMU table pool is exhausted";
  kc_s2page_smmu_map(kc, pfn);
  return 0;
}

/* SMMU_LPAE_MAP(iova, paddr, prot, cbndx, index): the frame first goes to the context's owner,
 * then the context maps it (smmu-pte-attr: the pte carries AF | SH). */
void kc_hvc_smmu_lpae_map(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_paddr(h->a1) && kc_is_paddr(h->a2) && h->a3 < (1ull << 63) - 1u &&
        kc_phys_page(h->a3) == 0 && kc_is_smmu_cfg(&kc->cfg, h->a4) && kc_is_smmu(&kc->cfg, h->a5)))
    kc_hvc_bad(h);
  const uint32_t cbndx = (uint32_t)h->a4, index = (uint32_t)h->a5;
  const uint64_t pte = h->a2 | h->a3 | KC_SMMU_PTE_AF_SH;
  const uint32_t npt = kc_npt_lock(KC_HOSTVISOR);

  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(KC_SMMU_ID);
  plat_lock_acquire(npt);
  uint32_t v = kc_smmu_owner(kc, index, cbndx);
  uint32_t info = lock_owner_info(kc, v);
  const char* why = smmu_assign_page(kc, v, h->a2 >> KC_PAGE_SHIFT, h->a1 >> KC_PAGE_SHIFT);
  unlock_owner_info(info);
  plat_lock_release(npt);
  plat_lock_release(KC_SMMU_ID);
  plat_lock_release(KC_S2PAGE_ID);
  if (why) kc_halt(kc, why);

  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(KC_SPT_ID);
  plat_lock_acquire(KC_SMMU_ID);
  v = kc_smmu_owner(kc, index, cbndx);
  info = lock_owner_info(kc, v);
  why = smmu_map_page(kc, v, cbndx, index, h->a1, pte);
  unlock_owner_info(info);
  plat_lock_release(KC_SMMU_ID);
  plat_lock_release(KC_SPT_ID);
  plat_lock_release(KC_S2PAGE_ID);
  if (why) kc_halt(kc, why);
}

/* SMMU_LPAE_IOVA_TO_PHYS(iova, cbndx, index): x0 := where the context maps iova (0 + offset when
 * it maps nothing there). */
void kc_hvc_smmu_iova_to_phys(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_paddr(h->a1) && kc_is_smmu_cfg(&kc->cfg, h->a2) && kc_is_smmu(&kc->cfg, h->a3)))
    kc_hvc_bad(h);
  struct kc_spt_entry e;
  plat_lock_acquire(KC_SPT_ID);
  if (KC_MUTANT(34)) { /* mutant 34: the walk gets (index, cbndx), smmu_id's argument order */
    kc_spt_walk(kc, (uint32_t)h->a3, (uint32_t)h->a2, h->a1 >> KC_PAGE_SHIFT, &e);
  } else {
    kc_spt_walk(kc, (uint32_t)h->a2, (uint32_t)h->a3, h->a1 >> KC_PAGE_SHIFT, &e);
  }
  plat_lock_release(KC_SPT_ID);
  /* mutant 37: the iova's offset in its page is dropped */
  h->host->regs.x[0] = kc_phys_page(e.pte) + (KC_MUTANT(37) ? 0 : h->a1 & (KC_PAGE_SIZE - 1u));
}

/* SMMU_CLEAR(iova, cbndx, index): the context stops mapping iova; a host frame it mapped counts
 * one SMMU mapping fewer. A VERIFIED or powered-off VM's context cannot change. */
void kc_hvc_smmu_clear(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_paddr(h->a1) && kc_is_smmu_cfg(&kc->cfg, h->a2) && kc_is_smmu(&kc->cfg, h->a3)))
    kc_hvc_bad(h);
  const uint32_t cbndx = (uint32_t)h->a2, index = (uint32_t)h->a3;
  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(KC_SPT_ID);
  plat_lock_acquire(KC_SMMU_ID);
  const uint32_t v = kc_smmu_owner(kc, index, cbndx);
  const uint32_t info = lock_owner_info(kc, v);
  const char* why = 0;
  /* mutant 33: > for >= on the VM's state: a VERIFIED VM's context can still be changed */
  if (v == KC_INVALID) {
    /* a free context maps nothing */
  } else if (kc_is_vm(&kc->cfg, v) &&
             (KC_MUTANT(33) ? kc_vm_state_of(kc, v)->state > KC_VM_VERIFIED
                            : kc_vm_state_of(kc, v)->state >= KC_VM_VERIFIED)) {
    why = "SMMU_CLEAR: a VERIFIED VM's devices are fixed";
  } else {
    struct kc_spt_entry e;
    kc_spt_walk(kc, cbndx, index, h->a1 >> KC_PAGE_SHIFT, &e);
    if (e.pte != 0 && kc_spt_map(kc, cbndx, index, h->a1, 0) != KC_OK) {
      why = "SMMU_CLEAR: the SMMU table pool is exhausted";
    } else {
      kc_s2page_smmu_unmap(kc, kc_phys_page(e.pte) >> KC_PAGE_SHIFT);
    }
  }
  unlock_owner_info(info);
  plat_lock_release(KC_SMMU_ID);
  plat_lock_release(KC_SPT_ID);
  plat_lock_release(KC_S2PAGE_ID);
  if (why) kc_halt(kc, why);
}
