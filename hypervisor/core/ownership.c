/* The ownership array: RAM frame pfn's entry is at s2page + 16 (pfn - ram_base_pfn). */
#include "core/ownership.h"

#include "core/mutant.h"

_Static_assert(sizeof(struct kc_s2page) == 16, "s2page entries are 16 bytes");

static struct kc_s2page* entry(const struct kcore* kc, uint64_t pfn) {
  const uint64_t off = (pfn - kc->cfg.ram_base_pfn) * sizeof(struct kc_s2page);
  return (struct kc_s2page*)plat_phys(kc->lay.s2page + off);
}

static struct kc_s2page host_page(uint64_t pfn) {
  const struct kc_s2page p = {KC_HOSTVISOR, 0, pfn + KC_SMMU_HOST_OFFSET};
  return p;
}

void kc_s2page_boot(const struct kcore* kc) {
  const uint64_t first = kc->cfg.ram_base_pfn;
  for (uint64_t pfn = first; pfn < first + kc->cfg.ram_pages; ++pfn)
    *entry(kc, pfn) = host_page(pfn);
}

void kc_s2page_get(const struct kcore* kc, uint64_t pfn, struct kc_s2page* out) {
  if (kc_is_ram(&kc->cfg, pfn)) {
    *out = *entry(kc, pfn);
    return;
  }
  out->owner = KC_INVALID;
  out->count = 0;
  out->gfn = KC_INVALID64;
}

void kc_s2page_set(const struct kcore* kc, uint64_t pfn, const struct kc_s2page* p) {
  if (!kc_is_ram(&kc->cfg, pfn)) plat_panic("ownership change of a frame outside RAM");
  *entry(kc, pfn) = *p;
}

void kc_s2page_give_to_host(const struct kcore* kc, uint64_t pfn) {
  if (KC_MUTANT(29)) {
    /* mutant 29: only the owner changes; the VM's share count and gfn stay in the entry */
    struct kc_s2page q;
    kc_s2page_get(kc, pfn, &q);
    q.owner = KC_HOSTVISOR;
    kc_s2page_set(kc, pfn, &q);
    return;
  }
  const struct kc_s2page p = host_page(pfn);
  kc_s2page_set(kc, pfn, &p);
}

bool kc_s2page_share(const struct kcore* kc, uint64_t pfn, uint32_t vmid) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (!(p.owner == vmid && p.count < kc->cfg.max_share_count)) return false;
  p.count += 1;
  kc_s2page_set(kc, pfn, &p);
  return true;
}

uint32_t kc_s2page_unshare(const struct kcore* kc, uint64_t pfn, uint32_t vmid) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (!(p.owner == vmid && p.count > 0)) return 0;
  const uint32_t before = p.count;
  p.count -= 1;
  kc_s2page_set(kc, pfn, &p);
  return before;
}

void kc_s2page_smmu_map(const struct kcore* kc, uint64_t pfn) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (p.owner == KC_HOSTVISOR && p.count < kc_smmu_ids(&kc->cfg)) {
    p.count += 1;
    kc_s2page_set(kc, pfn, &p);
  }
}

void kc_s2page_smmu_unmap(const struct kcore* kc, uint64_t pfn) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  if (p.owner == KC_HOSTVISOR && p.count > 0) {
    p.count -= 1;
    kc_s2page_set(kc, pfn, &p);
  }
}
