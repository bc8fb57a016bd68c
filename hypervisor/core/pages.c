/* Frame transfers between the host, VMs and KCore (see pages.h). The host's stage-2 table is an
 * identity map, so the host's entry for frame pfn is at gfn = pfn. */
#include "core/pages.h"

#include "core/mutant.h"
#include "core/ownership.h"
#include "core/s2pt.h"

enum kc_status kc_map_host(const struct kcore* kc, uint64_t addr) {
  const uint64_t pfn = addr >> KC_PAGE_SHIFT;
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (KC_MUTANT(2)) {
    /* mutant 2: "private" taken to mean KCore's only: the host may map any VM's frame */
    if (p.owner == kc_corevisor(&kc->cfg)) return KC_E_DENIED;
  } else {
    if (!(p.owner == KC_INVALID || p.owner == KC_HOSTVISOR || p.count > 0)) return KC_E_DENIED;
  }
  const uint64_t pa = pfn << KC_PAGE_SHIFT;
  /* mutant 45: every frame is mapped as normal memory, devices (no owner) included */
  const bool device = p.owner == KC_INVALID && !KC_MUTANT(45);
  const uint64_t pte = device ? (pa | KC_PAGE_S2_DEVICE | KC_S2_RDWR) : (pa | KC_PAGE_S2_KERNEL);
  return kc_s2pt_map(kc, KC_HOSTVISOR, addr, 3, pte);
}

enum kc_status kc_unmap_host(const struct kcore* kc, uint64_t pfn) {
  struct kc_walk w;
  kc_s2pt_walk(kc, KC_HOSTVISOR, pfn, &w);
  if (w.pte == 0) return KC_OK;
  return kc_s2pt_map(kc, KC_HOSTVISOR, pfn << KC_PAGE_SHIFT, 3, KC_PAGE_GUEST);
}

/* The spec's flatmem[pfn] := doracle(vmid)(data_log[vmid]): the platform realizes the value. */
static void fill_from_oracle(const struct kcore* kc, uint32_t vmid, uint64_t pfn) {
  const uint64_t n = kc_data_log(kc, vmid);
  plat_page_filled(pfn, vmid, n);
  kc_set_data_log(kc, vmid, n + 1u);
}

enum kc_status kc_assign_pfn_to_vm(const struct kcore* kc, uint32_t vmid, uint64_t gfn,
                                   uint64_t pfn) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (p.owner == KC_HOSTVISOR) {
    if (p.count != 0) return KC_E_DENIED; /* still mapped by a host SMMU context */
    const struct kc_s2page mine = {vmid, 0, gfn};
    kc_s2page_set(kc, pfn, &mine);
    /* mutant 1: the new owner is recorded but the host's stage-2 entry is left in place */
    const enum kc_status st = KC_MUTANT(1) ? KC_OK : kc_unmap_host(kc, pfn);
    if (st != KC_OK) return st;
    fill_from_oracle(kc, vmid, pfn);
    return KC_OK;
  }
  if (p.owner == vmid && (p.gfn == KC_INVALID64 || p.gfn == gfn)) {
    const struct kc_s2page norm = {vmid, p.count == KC_INVALID ? 0 : p.count, gfn};
    kc_s2page_set(kc, pfn, &norm);
    return KC_OK;
  }
  return KC_E_DENIED;
}

/* Zeroes frame pfn; the frame is RAM (only RAM frames change hands). */
static void scrub(uint64_t pfn) { kc_zero_page(pfn << KC_PAGE_SHIFT); }

enum kc_status kc_clear_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (p.owner != vmid) return KC_OK;
  const enum kc_status st = kc_unmap_host(kc, pfn);
  if (st != KC_OK) return st;
  if (!KC_MUTANT(28)) scrub(pfn); /* before the host may map it again (mutant 28: not scrubbed) */
  kc_s2page_give_to_host(kc, pfn);
  return KC_OK;
}

void kc_grant_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn) {
  (void)kc_s2page_share(kc, pfn, vmid);
}

enum kc_status kc_revoke_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn) {
  /* mutant 22: "the last share" tested on the count after the decrement against 1, i.e. the
   * host loses the page one revoke early and keeps it after the real last one */
  const uint32_t last = KC_MUTANT(22) ? 2u : 1u;
  if (kc_s2page_unshare(kc, pfn, vmid) != last) return KC_OK;
  /* mutant 24: the page goes back to private but the host's mapping of it stays */
  const enum kc_status st = KC_MUTANT(24) ? KC_OK : kc_unmap_host(kc, pfn);
  if (st != KC_OK) return st;
  fill_from_oracle(kc, vmid, pfn);
  return KC_OK;
}
