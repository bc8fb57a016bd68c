// Page-ownership primitives (spec §3.2): moving frames between the host, VMs and devices, and
// sharing them back.

#include "model/concurrency.hpp"
#include "model/pagetable.hpp"
#include "model/primitives.hpp"

namespace hypdiff::model {

namespace {

Z host_npt_lock(const Shared& s) { return s.cfg().npt_lock(k::HOSTVISOR); }

}  // namespace

MmapResult unmap_host(const Shared& s, Z pfn) {
  NPT npt = s.npts.get(k::HOSTVISOR);
  if (npt.pt.get(pfn).pte == 0) return MmapResult{false, std::move(npt)};
  // phys_page(PAGE_GUEST) = 0: "mapping" it stores pfn 0, i.e. unmaps the frame.
  return local_mmap_h(s.cfg(), k::HOSTVISOR, pfn * k::PAGE_SIZE, 3, k::PAGE_GUEST, std::move(npt));
}

// Coq: TrapHandlerSpec.local_map_host
PrimResult local_map_host(Shared s, Z addr) {
  const Z pfn = zdiv(addr, k::PAGE_SIZE);
  const S2Page p = s.s2page.get(pfn);
  if (p.owner == k::INVALID || p.owner == k::HOSTVISOR || p.count > 0) {
    const Z pte = p.owner == k::INVALID ? ((pfn * k::PAGE_SIZE) | k::PAGE_S2_DEVICE | k::S2_RDWR)
                                        : ((pfn * k::PAGE_SIZE) | k::PAGE_S2_KERNEL);
    MmapResult m = local_mmap_h(s.cfg(), k::HOSTVISOR, addr, 3, pte, s.npts.get(k::HOSTVISOR));
    s.npts.set(k::HOSTVISOR, std::move(m.npt));
    if (m.halt) clr(s, {k::S2PAGE_ID, host_npt_lock(s)});
    return PrimResult{std::move(s), m.halt};
  }
  // The host touched a page private to a VM or KCore.
  clr(s, {k::S2PAGE_ID});
  return PrimResult{std::move(s), true};
}

// Coq: TrapHandlerSpec.local_clear_vm_page
PrimResult local_clear_vm_page(Shared s, Z vmid, Z pfn) {
  if (s.s2page.get(pfn).owner != vmid) return PrimResult{std::move(s), false};
  MmapResult m = unmap_host(s, pfn);
  s.npts.set(k::HOSTVISOR, std::move(m.npt));
  if (m.halt) {
    clr(s, {k::S2PAGE_ID, host_npt_lock(s)});
    return PrimResult{std::move(s), true};
  }
  s.s2page.set(pfn, S2Page{k::HOSTVISOR, 0, pfn + k::SMMU_HOST_OFFSET});
  s.flatmem.set(pfn, 0);
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_assign_pfn_to_vm
PrimResult local_assign_pfn_to_vm(Shared s, Z vmid, Z gfn, Z pfn, Dorc dorc, Z logn) {
  const S2Page p = s.s2page.get(pfn);
  if (p.owner == k::HOSTVISOR) {
    if (p.count != 0) {  // the host still shares the page with a device
      clr(s, {k::S2PAGE_ID});
      return PrimResult{std::move(s), true, logn};
    }
    MmapResult m = unmap_host(s, pfn);
    s.npts.set(k::HOSTVISOR, std::move(m.npt));
    s.s2page.set(pfn, S2Page{vmid, 0, gfn});
    if (m.halt) {
      // The new owner is stored but the contents are not (the Coq snapshot).
      clr(s, {k::S2PAGE_ID, host_npt_lock(s)});
      return PrimResult{std::move(s), true, logn};
    }
    s.flatmem.set(pfn, dorc(logn));
    return PrimResult{std::move(s), false, logn + 1};
  }
  if (p.owner == vmid && (p.gfn == k::INVALID64 || p.gfn == gfn)) {
    // Literally a no-op: the Coq builds the normalized page and then stores the old one (§7.2.4).
    if (s.prof().assign_normalize) {
      s.s2page.set(pfn, S2Page{vmid, p.count == k::INVALID ? 0 : p.count, gfn});
    }
    return PrimResult{std::move(s), false, logn};
  }
  clr(s, {k::S2PAGE_ID});
  return PrimResult{std::move(s), true, logn};
}

// Coq: TrapHandlerSpec.local_map_pfn_vm
PrimResult local_map_pfn_vm(Shared s, Z vmid, Z addr, Z pte, Z level) {
  const Z pa = k::phys_page(pte);
  const Z pte2 =
      level == 2 ? ((pa | k::PAGE_S2_KERNEL) & k::NOT_PMD_TABLE_BIT) : (pa | k::PAGE_S2_KERNEL);
  MmapResult m = local_mmap_h(s.cfg(), vmid, addr, level == 2 ? 2 : 3, pte2, s.npts.get(vmid));
  s.npts.set(vmid, std::move(m.npt));
  if (m.halt) clr(s, {s.cfg().npt_lock(vmid)});
  return PrimResult{std::move(s), m.halt};
}

// Coq: TrapHandlerSpec.local_map_io
PrimResult local_map_io(Shared s, Z vmid, Z gpa, Z pa) {
  const MachineConfig& cfg = s.cfg();
  if (s.vminfos.get(vmid).VS.vm_state != k::READY) {
    clr(s, {cfg.info_lock(vmid)});
    return PrimResult{std::move(s), true};
  }
  // Only device frames (owner INVALID) are mapped; a RAM pfn is silently ignored.
  if (s.s2page.get(zdiv(pa, k::PAGE_SIZE)).owner != k::INVALID) {
    return PrimResult{std::move(s), false};
  }
  const Z pte = k::phys_page(pa) | k::PAGE_S2_DEVICE | k::S2_RDWR;
  MmapResult m = local_mmap_h(cfg, vmid, gpa, 3, pte, s.npts.get(vmid));
  s.npts.set(vmid, std::move(m.npt));
  if (m.halt) clr(s, {cfg.info_lock(vmid), k::S2PAGE_ID, cfg.npt_lock(vmid)});
  return PrimResult{std::move(s), m.halt};
}

// Coq: TrapHandlerSpec.local_grant_vm_page
PrimResult local_grant_vm_page(Shared s, Z vmid, Z pfn) {
  S2Page p = s.s2page.get(pfn);
  if (p.owner == vmid && p.count < s.cfg().max_share_count) {
    p.count += 1;
    s.s2page.set(pfn, p);
  }
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_revoke_vm_page
PrimResult local_revoke_vm_page(Shared s, Z vmid, Z pfn, Dorc dorc, Z logn) {
  const S2Page p = s.s2page.get(pfn);
  if (!(p.owner == vmid && p.count > 0)) return PrimResult{std::move(s), false, logn};
  s.s2page.set(pfn, S2Page{p.owner, p.count - 1, p.gfn});
  if (p.count != 1) return PrimResult{std::move(s), false, logn};
  // The last share is gone: the host loses its mapping.
  MmapResult m = unmap_host(s, pfn);
  s.npts.set(k::HOSTVISOR, std::move(m.npt));
  if (m.halt) {
    clr(s, {k::S2PAGE_ID, host_npt_lock(s)});
    return PrimResult{std::move(s), true, logn};
  }
  s.flatmem.set(pfn, dorc(logn));
  return PrimResult{std::move(s), false, logn + 1};
}

// Coq: TrapHandlerSpec.local_save_encrypt_buf
PrimResult local_save_encrypt_buf(Shared s, Z vmid, Z inbuf, Z outbuf, Dorc dorc, Z logn) {
  const Z inpfn = zdiv(inbuf, k::PAGE_SIZE);
  const Z outpfn = zdiv(outbuf, k::PAGE_SIZE);
  if (s.s2page.get(inpfn).owner == vmid && s.s2page.get(outpfn).owner == k::HOSTVISOR) {
    s.flatmem.set(outpfn, dorc(logn));
    return PrimResult{std::move(s), false, logn + 1};
  }
  clr(s, {k::S2PAGE_ID});
  return PrimResult{std::move(s), true, logn};
}

// Coq: TrapHandlerSpec.local_load_decrypt_buf
PrimResult local_load_decrypt_buf(Shared s, Z vmid, Z inbuf, Dorc dorc, Z logn) {
  const MachineConfig& cfg = s.cfg();
  const Z pfn = zdiv(inbuf, k::PAGE_SIZE);
  const S2Page p = s.s2page.get(pfn);
  if (s.vminfos.get(vmid).VS.vm_state != k::READY) {
    clr(s, {cfg.info_lock(vmid)});
    return PrimResult{std::move(s), true, logn};
  }
  if (!(p.owner == k::HOSTVISOR && p.count == 0)) {
    clr(s, {cfg.info_lock(vmid), k::S2PAGE_ID});
    return PrimResult{std::move(s), true, logn};
  }
  MmapResult m = unmap_host(s, pfn);
  s.npts.set(k::HOSTVISOR, std::move(m.npt));
  if (m.halt) {
    clr(s, {cfg.info_lock(vmid), k::S2PAGE_ID, host_npt_lock(s)});
    return PrimResult{std::move(s), true, logn};
  }
  s.s2page.set(pfn, S2Page{vmid, 0, k::INVALID64});
  s.flatmem.set(pfn, dorc(logn));
  return PrimResult{std::move(s), false, logn + 1};
}

}  // namespace hypdiff::model
