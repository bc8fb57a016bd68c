#include "model/pagetable.hpp"

#include <algorithm>

namespace hypdiff::model {

namespace {

// Flattened keys of the nested "table allocated" maps (records.hpp).
Z pud_key(Z addr) { return (k::pgd_index(addr) << 9) | k::pud_index(addr); }
Z pmd_key(Z addr) { return (pud_key(addr) << 9) | k::pmd_index(addr); }
Z spt_pmd_key(Z addr) { return (k::stage2_pgd_index(addr) << 9) | k::pmd_index(addr); }

// The bump pointer after allocating a table page for a slot that has none yet.
Z next_if_absent(bool present, Z next) { return present ? next : next + k::PAGE_SIZE; }

}  // namespace

// Coq: TrapHandlerSpec.local_mmap_loop_h
MmapLoopResult local_mmap_loop_h(Z n, Z gfn, Z pfn, Z level, Z pte, ZMap<PtEntry> pt) {
  const Z count = std::max<Z>(n, 0);  // Z.to_nat
  for (Z i = 0; i < count; ++i) pt.set(gfn + i, PtEntry{pfn + i, level, pte});
  return MmapLoopResult{gfn + count, pfn + count, std::move(pt)};
}

// Coq: TrapHandlerSpec.local_mmap_h
MmapResult local_mmap_h(const MachineConfig& cfg, Z vmid, Z addr, Z level, Z pte, NPT npt) {
  const Z g = k::pgd_index(addr);
  const Z pgd_next = next_if_absent(npt.pgd_t.get(g), npt.pt_pgd_next);
  const Z pud_next = next_if_absent(npt.pud_t.get(pud_key(addr)), npt.pt_pud_next);
  const Z pfn = zdiv(k::phys_page(pte), k::PAGE_SIZE);
  if (level == 2) {
    // The pmd pool is not checked: a block needs no PTE table (§7.2.21).
    if (!(pgd_next <= cfg.pud_start(vmid) && pud_next <= cfg.pmd_start(vmid))) {
      return MmapResult{true, std::move(npt)};
    }
    // pfn is not aligned down: entry i of the block maps pfn + i whatever pte's low bits say.
    const Z gfn = zdiv(zdiv(addr, k::PAGE_SIZE), k::PMD_PAGE_NUM) * k::PMD_PAGE_NUM;
    npt.pt = local_mmap_loop_h(k::PMD_PAGE_NUM, gfn, pfn, 2, pte, std::move(npt.pt)).pt;
    npt.pgd_t.set(g, true);
    npt.pud_t.set(pud_key(addr), true);
    npt.pmd_t.set(pmd_key(addr), false);
    npt.pt_pgd_next = pgd_next;
    npt.pt_pud_next = pud_next;
    return MmapResult{false, std::move(npt)};
  }
  const Z gfn = zdiv(addr, k::PAGE_SIZE);
  if (npt.pt.get(gfn).level == 2) return MmapResult{true, std::move(npt)};  // cannot split a block
  const Z pmd_next = next_if_absent(npt.pmd_t.get(pmd_key(addr)), npt.pt_pmd_next);
  if (!(pgd_next <= cfg.pud_start(vmid) && pud_next <= cfg.pmd_start(vmid) &&
        pmd_next <= cfg.pool_end(vmid))) {
    return MmapResult{true, std::move(npt)};
  }
  npt.pt.set(gfn, PtEntry{pfn, 3, pte});
  npt.pgd_t.set(g, true);
  npt.pud_t.set(pud_key(addr), true);
  npt.pmd_t.set(pmd_key(addr), true);
  npt.pt_pgd_next = pgd_next;
  npt.pt_pud_next = pud_next;
  npt.pt_pmd_next = pmd_next;
  return MmapResult{false, std::move(npt)};
}

// Coq: TrapHandlerSpec.local_spt_map_h
SptMapResult local_spt_map_h(const MachineConfig& cfg, Z cbndx, Z index, Z addr, Z pte, SPT spt) {
  const Z ttbr = cfg.smmu_ttbr(index, cbndx);
  const Z gfn = zdiv(addr, k::PAGE_SIZE);
  const Z pfn = zdiv(k::phys_page(pte), k::PAGE_SIZE);
  const Z g = k::stage2_pgd_index(addr);
  ZMap<bool> pgd_t = spt.spt_pgd_t.get(ttbr);
  ZMap<bool> pmd_t = spt.spt_pmd_t.get(ttbr);
  const Z pgd_next = next_if_absent(pgd_t.get(g), spt.spt_pgd_next);
  const Z pmd_next = next_if_absent(pmd_t.get(spt_pmd_key(addr)), spt.spt_pmd_next);
  if (!(pgd_next <= k::SMMU_PMD_START && pmd_next <= k::SMMU_POOL_END)) {
    return SptMapResult{true, std::move(spt)};
  }
  spt.spt_pt.set(ttbr, spt.spt_pt.get(ttbr).with(gfn, SptEntry{pfn, pte}));
  pgd_t.set(g, true);
  pmd_t.set(spt_pmd_key(addr), true);
  spt.spt_pgd_t.set(ttbr, std::move(pgd_t));
  spt.spt_pmd_t.set(ttbr, std::move(pmd_t));
  spt.spt_pgd_next = pgd_next;
  spt.spt_pmd_next = pmd_next;
  return SptMapResult{false, std::move(spt)};
}

}  // namespace hypdiff::model
