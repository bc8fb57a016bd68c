// SMMU primitives (spec §3.2): context-bank ownership and the SMMU page tables.

#include "model/concurrency.hpp"
#include "model/pagetable.hpp"
#include "model/primitives.hpp"

namespace hypdiff::model {

namespace {

bool verified_vm(const Shared& s, Z v) {
  return s.cfg().is_vm(v) && s.vminfos.get(v).VS.vm_state == k::VERIFIED;
}

}  // namespace

// Coq: TrapHandlerSpec.local_free_smmu_pgd
PrimResult local_free_smmu_pgd(Shared s, Z cbndx, Z index) {
  const Z id = s.cfg().smmu_id(index, cbndx);
  const Z v = s.smmu_vmid.get(id);
  if (v == k::INVALID) return PrimResult{std::move(s), false};
  // Only a powered-off VM's context may be freed; the host's never is (vminfos[0] stays UNUSED).
  if (s.vminfos.get(v).VS.vm_state == k::POWEROFF) {
    s.smmu_vmid.set(id, k::INVALID);
    return PrimResult{std::move(s), false};
  }
  clr(s, {k::SMMU_ID});
  return PrimResult{std::move(s), true};
}

// Coq: TrapHandlerSpec.local_alloc_smmu_pgd
PrimResult local_alloc_smmu_pgd(Shared s, Z cbndx, Z vmid, Z index, Z num) {
  const MachineConfig& cfg = s.cfg();
  if (!(cbndx < num)) {
    clr(s, {k::SMMU_ID});
    return PrimResult{std::move(s), true};
  }
  const Z id = cfg.smmu_id(index, cbndx);
  if (s.smmu_vmid.get(id) != k::INVALID) return PrimResult{std::move(s), false};  // ignored
  // A verified VM's device set is frozen.
  if (verified_vm(s, vmid)) {
    clr(s, {cfg.info_lock(vmid), k::SMMU_ID});
    return PrimResult{std::move(s), true};
  }
  s.smmu_vmid.set(id, vmid);
  const Z ttbr = cfg.smmu_ttbr(index, cbndx);
  s.spts.spt_pt.set(ttbr, ZMap<SptEntry>::init(SptEntry{0, 0}));
  s.spts.spt_pgd_t.set(ttbr, ZMap<bool>::init(false));
  s.spts.spt_pmd_t.set(ttbr, ZMap<bool>::init(false));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_smmu_assign_page
PrimResult local_smmu_assign_page(Shared s, Z cbndx, Z index, Z pfn, Z gfn) {
  const MachineConfig& cfg = s.cfg();
  const Z v = s.smmu_vmid.get(cfg.smmu_id(index, cbndx));
  // Unowned or host-owned contexts need no page transfer.
  if (v == k::INVALID || !cfg.is_vm(v)) return PrimResult{std::move(s), false};
  if (s.vminfos.get(v).VS.vm_state == k::VERIFIED) {
    clr(s, {k::SMMU_ID, cfg.info_lock(v)});
    return PrimResult{std::move(s), true};
  }
  const S2Page p = s.s2page.get(pfn);
  if (p.owner == k::HOSTVISOR) {
    if (p.count != 0) {
      clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID});
      return PrimResult{std::move(s), true};
    }
    MmapResult m = unmap_host(s, pfn);
    s.npts.set(k::HOSTVISOR, std::move(m.npt));
    if (m.halt) {
      clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID, cfg.npt_lock(k::HOSTVISOR)});
      return PrimResult{std::move(s), true};
    }
    // count := INVALID, sic (§7.2.5).
    s.s2page.set(pfn, S2Page{v, k::INVALID, gfn});
    return PrimResult{std::move(s), false};
  }
  if (p.owner == v) return PrimResult{std::move(s), false};
  clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID});
  return PrimResult{std::move(s), true};
}

// Coq: TrapHandlerSpec.local_smmu_map_page
PrimResult local_smmu_map_page(Shared s, Z cbndx, Z index, Z iova, Z pte) {
  const MachineConfig& cfg = s.cfg();
  const Z v = s.smmu_vmid.get(cfg.smmu_id(index, cbndx));
  if (v == k::INVALID) return PrimResult{std::move(s), false};
  if (verified_vm(s, v)) {
    clr(s, {k::SMMU_ID, cfg.info_lock(v)});
    return PrimResult{std::move(s), true};
  }
  const Z pfn = zdiv(k::phys_page(pte), k::PAGE_SIZE);
  S2Page p = s.s2page.get(pfn);
  // For host pages this forces iova/4096 == pfn + SMMU_HOST_OFFSET (invariant host_s2_map).
  if (!(v == p.owner && zdiv(iova, k::PAGE_SIZE) == p.gfn)) {
    clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID});
    return PrimResult{std::move(s), true};
  }
  SptMapResult m = local_spt_map_h(cfg, cbndx, index, iova, pte, s.spts);
  s.spts = std::move(m.spt);
  if (m.halt) {
    clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID, k::SPT_ID});
    return PrimResult{std::move(s), true};
  }
  if (p.owner == k::HOSTVISOR && p.count < cfg.smmu_ids()) {
    p.count += 1;
    s.s2page.set(pfn, p);
  }
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_smmu_clear
PrimResult local_smmu_clear(Shared s, Z iova, Z cbndx, Z index) {
  const MachineConfig& cfg = s.cfg();
  const Z v = s.smmu_vmid.get(cfg.smmu_id(index, cbndx));
  if (v == k::INVALID) return PrimResult{std::move(s), false};
  if (cfg.is_vm(v) && s.vminfos.get(v).VS.vm_state >= k::VERIFIED) {
    clr(s, {k::SMMU_ID, cfg.info_lock(v)});
    return PrimResult{std::move(s), true};
  }
  const Z ttbr = cfg.smmu_ttbr(index, cbndx);
  const Z pte = s.spts.spt_pt.get(ttbr).get(zdiv(iova, k::PAGE_SIZE)).pte;
  if (pte != 0) {
    // Mapping pte 0 stores (0, 0): the entry is cleared.
    SptMapResult m = local_spt_map_h(cfg, cbndx, index, iova, 0, s.spts);
    s.spts = std::move(m.spt);
    if (m.halt) {
      clr(s, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID, k::SPT_ID});
      return PrimResult{std::move(s), true};
    }
  }
  const Z pfn = zdiv(k::phys_page(pte), k::PAGE_SIZE);
  S2Page p = s.s2page.get(pfn);
  if (p.owner == k::HOSTVISOR && p.count > 0) {
    p.count -= 1;
    s.s2page.set(pfn, p);
  }
  return PrimResult{std::move(s), false};
}

}  // namespace hypdiff::model
