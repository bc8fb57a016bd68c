// §3.4: the loops that call query_oracle. Each follows its Coq Fixpoint iteration by iteration;
// the page loops whose counts the host or a guest controls (clear, ioremap, grant, revoke) also
// log runs of iterations that provably change nothing but the log in O(1) (see "Bulk skip").
#include "model/loops.hpp"

#include <algorithm>
#include <vector>

#include "model/concurrency.hpp"
#include "model/constants.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

Z npt_host_lock(const RData& d) { return d.cfg().npt_lock(k::HOSTVISOR); }

// ---------------------------------------------------------------------------------------------
// Bulk skip. An iteration is skippable when (1) the query_oracle calls it makes see no scheduled
// soracle entry (so they change nothing), (2) its LOCKS pass (literal) or only set flags that
// the first iteration already set (intended), and (3) its primitive takes a no-op branch. A run
// of such iterations equals: one LOCKS, then its events pushed as one repeated log node. The
// naive iteration runs everywhere else, so results are identical to the Fixpoint's.

// How many consecutive iterations, each making `qos_per_iter` QO calls and logging that many
// events, start at log length `len` before one of those calls would see a scheduled entry.
Z quiet_iterations(const RData& d, Z qos_per_iter) {
  const std::uint64_t len = d.slog.length();
  const std::uint64_t next = d.oracle->next_scheduled(len);
  return static_cast<Z>(next - len) / qos_per_iter;
}

// Explicit s2page entries of [lo, hi), sorted, to find the next frame a predicate on the owner
// holds for without visiting every frame. S2PageDefault is constant on each of three regions:
// below host RAM, host RAM, above it (including keys past 2^64, which read default_at(0)).
class OwnerScan {
 public:
  OwnerScan(const ZMap<S2Page, S2PageDefault>& s2page, Z lo, Z hi)
      : dflt_(s2page.default_fn()), hi_(hi) {
    s2page.for_each_explicit([&](std::uint64_t key, const S2Page& p) {
      const Z pfn = static_cast<Z>(key);
      if (lo <= pfn && pfn < hi) entries_.push_back({pfn, p.owner});
    });
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.pfn < b.pfn; });
  }

  // The smallest pfn in [p, hi) whose owner satisfies pred, or hi.
  template <class Pred>
  Z next(Z p, Pred pred) const {
    const Z ram_lo = dflt_.ram_base_pfn;
    const Z ram_hi = dflt_.ram_base_pfn + dflt_.ram_pages;
    while (p < hi_) {
      const bool in_ram = ram_lo <= p && p < ram_hi;
      const Z region_end = std::min(hi_, in_ram ? ram_hi : (p < ram_lo ? ram_lo : hi_));
      const bool default_hits = pred(default_owner(p));
      auto it = std::lower_bound(entries_.begin(), entries_.end(), p,
                                 [](const Entry& e, Z v) { return e.pfn < v; });
      if (default_hits) {
        // The first frame not explicitly set to a missing owner.
        Z q = p;
        for (; it != entries_.end() && it->pfn == q && q < region_end; ++it, ++q) {
          if (pred(it->owner)) return q;
        }
        if (q < region_end) return q;
      } else {
        for (; it != entries_.end() && it->pfn < region_end; ++it) {
          if (pred(it->owner)) return it->pfn;
        }
      }
      p = region_end;
    }
    return hi_;
  }

 private:
  struct Entry {
    Z pfn;
    Z owner;
  };
  Z default_owner(Z p) const {
    return dflt_(ZMap<S2Page, S2PageDefault>::in_range(p) ? static_cast<std::uint64_t>(p) : 0)
        .owner;
  }
  S2PageDefault dflt_;
  Z hi_;
  std::vector<Entry> entries_;
};

// gfns in [lo, hi) that npts[vmid] maps (the grant/revoke loops' pfn != 0 test), sorted.
struct MappedGfns {
  ZMap<PtEntry> pt;  // the table the list was computed from
  std::vector<Z> gfns;
  bool default_maps = false;

  static bool maps(const PtEntry& e) { return k::phys_page(e.pte) / k::PAGE_SIZE != 0; }

  MappedGfns(const ZMap<PtEntry>& table, Z lo, Z hi) : pt(table) {
    default_maps = maps(table.default_at(0));
    table.for_each_explicit([&](std::uint64_t key, const PtEntry& e) {
      const Z gfn = static_cast<Z>(key);
      if (lo <= gfn && gfn < hi && maps(e)) gfns.push_back(gfn);
    });
    std::sort(gfns.begin(), gfns.end());
  }
  // The smallest mapped gfn >= g, or hi.
  Z next(Z g, Z hi) const {
    if (default_maps) return g;
    auto it = std::lower_bound(gfns.begin(), gfns.end(), g);
    return it == gfns.end() ? hi : *it;
  }
};

// ---------------------------------------------------------------------------------------------
// Single iterations, exactly as the Coq bodies.

// Coq: TrapHandlerSpec.clear_vm_loop_h (one iteration, d not halted)
Outcome clear_vm_iteration(Z pfn, Z vmid, RData d) {
  RData d1 = query_oracle(std::move(d));
  if (!locks(d1, {k::S2PAGE_ID, npt_host_lock(d1)})) return std::nullopt;
  log_event(d1, EventKind::OCLEAR_VM, vmid, pfn);
  PrimResult r = local_clear_vm_page(d1.shared, vmid, pfn);
  d1.shared = std::move(r.s);
  d1.halt = r.halt;
  return d1;
}

// Coq: TrapHandlerSpec.kvm_phys_addr_ioremap_loop_h (one iteration, d not halted)
Outcome ioremap_iteration(Z vmid, Z gpa, Z pa, RData d) {
  RData d1 = query_oracle(std::move(d));
  if (!locks(d1, {d1.cfg().info_lock(vmid), k::S2PAGE_ID, d1.cfg().npt_lock(vmid)})) {
    return std::nullopt;
  }
  log_event(d1, EventKind::OMAP_IO, vmid, gpa, pa);
  PrimResult r = local_map_io(d1.shared, vmid, gpa, pa);
  d1.shared = std::move(r.s);
  d1.halt = r.halt;
  return d1;
}

// Coq: TrapHandlerSpec.grant_stage2_loop / revoke_stage2_loop (one iteration)
Outcome share_iteration(bool revoke, Z vmid, Z gfn, RData d) {
  const Z npt_lock = d.cfg().npt_lock(vmid);
  RData d0 = query_oracle(std::move(d));
  if (!locks(d0, {npt_lock})) return std::nullopt;
  log_event(d0, EventKind::OPT_GET, vmid);
  const Z pte = d0.shared.npts.get(vmid).pt.get(gfn).pte;
  RData d1 = query_oracle(std::move(d0));
  if (!locks(d1, {npt_lock})) return std::nullopt;
  log_event(d1, EventKind::OPT_GET, vmid);
  const Z level = d1.shared.npts.get(vmid).pt.get(gfn).level;
  const Z pfn = k::phys_page(pte) / k::PAGE_SIZE;
  if (pfn == 0) return d1;
  // Literally the block base is shared even when the gfn lies inside a 2 MiB block (§7.2.3a).
  const Z target = (d1.prof().grant_block_pfn && level == 2) ? pfn + (gfn & 511) : pfn;
  RData d2 = query_oracle(d1);
  // The Coq relies on the snapshot before this QO (d1); acquiring, the flags belong to d2.
  RData& lock_base = d1.prof().hlock_acquire ? d2 : d1;
  if (!revoke) {
    if (!locks(lock_base, {k::S2PAGE_ID})) return std::nullopt;
    PrimResult r = local_grant_vm_page(d2.shared, vmid, target);
    d2.shared = std::move(r.s);
    log_event(d2, EventKind::OGRANT, vmid, target);
    return d2;
  }
  if (!locks(lock_base, {k::S2PAGE_ID, npt_host_lock(d1)})) return std::nullopt;
  // OREVOKE's oracle argument is recorded as the principal whose stream the primitive reads.
  const Z logn = d2.data_log.get(vmid);
  log_event(d2, EventKind::OREVOKE, vmid, target, vmid, logn);
  PrimResult r = local_revoke_vm_page(d2.shared, vmid, target, Dorc{d2.oracle.get(), vmid}, logn);
  d2.halt = r.halt;
  d2.shared = std::move(r.s);
  d2.data_log.set(vmid, r.logn);
  return d2;
}

// grant_stage2_loop and revoke_stage2_loop: n iterations over gfn = addr/4096 + k. No halt test
// literally (a later revoke iteration may even reset halt); intended, a halt ends the loop.
Outcome share_loop(bool revoke, Z n, Z vmid, Z addr, RData d) {
  if (n <= 0) return d;
  const Z g0 = zdiv(addr, k::PAGE_SIZE);
  const Z g_end = g0 + n;
  MappedGfns mapped(d.shared.npts.get(vmid).pt, g0, g_end);
  for (Z g = g0; g < g_end;) {
    if (d.prof().grant_halt_check && d.halt) break;
    // npts[vmid] is unchanged by these loops unless vmid is the host (map_host replays, unmaps).
    const ZMap<PtEntry> pt = d.shared.npts.get(vmid).pt;
    if (!(pt == mapped.pt)) mapped = MappedGfns(pt, g, g_end);
    // Unmapped gfns log OPT_GET twice and change nothing else (grant never touches halt).
    const Z run = std::min(mapped.next(g, g_end) - g, quiet_iterations(d, 2));
    if (run > 0) {
      if (!locks(d, {d.cfg().npt_lock(vmid)})) return std::nullopt;
      d.slog = d.slog.push(SingleEvent{d.curid, AtomicEvent{EventKind::OPT_GET, {vmid, 0, 0, 0}}},
                           static_cast<std::uint64_t>(2 * run));
      g += run;
      continue;
    }
    Outcome r = share_iteration(revoke, vmid, g, std::move(d));
    if (!r) return std::nullopt;
    d = std::move(*r);
    ++g;
  }
  return d;
}

}  // namespace

// Coq: TrapHandlerSpec.prot_and_map_vm_loop_h
Outcome prot_and_map_vm_loop_h(Z n, Z vmid, Z gfn, Z pfn, RData d) {
  Z g = gfn;
  Z p = pfn;
  for (Z i = 0; i < n && !d.halt; ++i, ++g, ++p) {
    RData d0 = query_oracle(std::move(d));
    // The event names the loop's first gfn and pfn, not this iteration's (as the Coq does).
    const Z logn = d0.data_log.get(vmid);
    log_event(d0, EventKind::OASSIGN_VM, vmid, gfn, pfn, logn);
    if (!locks(d0, {k::S2PAGE_ID, npt_host_lock(d0)})) return std::nullopt;
    PrimResult r = local_assign_pfn_to_vm(d0.shared, vmid, g, p, Dorc{d0.oracle.get(), vmid}, logn);
    d0.shared = std::move(r.s);
    d0.halt = r.halt;
    // The Coq writes logn' into the data_log of the loop's input state; only entry vmid can
    // differ from d0's, so this is the same map.
    d0.data_log.set(vmid, r.logn);
    d = std::move(d0);
  }
  return d;
}

// Coq: TrapHandlerSpec.prot_and_map_vm_s2pt_spec_h
Outcome prot_and_map_vm_s2pt_spec_h(Z vmid, Z addr, Z pte, Z level, RData d) {
  if (d.halt) return d;
  const Z pfn = k::phys_page(pte) / k::PAGE_SIZE;
  const Z gfn = zdiv(addr, k::PAGE_SIZE);
  if (level == 2) {
    // The pfn is not aligned down to the block, only the gfn is.
    Outcome r = prot_and_map_vm_loop_h(
        k::PMD_PAGE_NUM, vmid, zdiv(gfn, k::PMD_PAGE_NUM) * k::PMD_PAGE_NUM, pfn, std::move(d));
    if (!r) return std::nullopt;
    if (r->halt) return r;
    RData d0 = query_oracle(std::move(*r));
    log_event(d0, EventKind::OMAP_VM, vmid, addr, pte, 2);
    if (!locks(d0, {d0.cfg().npt_lock(vmid)})) return std::nullopt;
    PrimResult m = local_map_pfn_vm(d0.shared, vmid, addr, pte, 2);
    d0.halt = m.halt;
    d0.shared = std::move(m.s);
    return d0;
  }
  RData d0 = query_oracle(std::move(d));
  const Z logn = d0.data_log.get(vmid);
  log_event(d0, EventKind::OASSIGN_VM, vmid, gfn, pfn, logn);
  if (!locks(d0, {k::S2PAGE_ID, npt_host_lock(d0)})) return std::nullopt;
  PrimResult a =
      local_assign_pfn_to_vm(d0.shared, vmid, gfn, pfn, Dorc{d0.oracle.get(), vmid}, logn);
  d0.shared = std::move(a.s);
  d0.halt = a.halt;
  d0.data_log.set(vmid, a.logn);
  // Literally the map runs even after a halting assign, and its halt flag replaces the assign's.
  if (d0.prof().map_halt_check && d0.halt) return d0;
  RData d2 = query_oracle(std::move(d0));
  log_event(d2, EventKind::OMAP_VM, vmid, addr, pte, 3);
  if (!locks(d2, {d2.cfg().npt_lock(vmid)})) return std::nullopt;
  PrimResult m = local_map_pfn_vm(d2.shared, vmid, addr, pte, 3);
  d2.halt = m.halt;
  d2.shared = std::move(m.s);
  return d2;
}

// Coq: TrapHandlerSpec.clear_vm_loop_h
Outcome clear_vm_loop_h(Z n, Z pfn, Z vmid, RData d) {
  if (n <= 0) return d;
  // Only frames owned by vmid change; clearing one never changes another frame's owner.
  const OwnerScan owners(d.shared.s2page, pfn, pfn + n);
  const auto owned = [vmid](Z owner) { return owner == vmid; };
  for (Z i = 0; i < n && !d.halt;) {
    const Z p = pfn + i;
    const Z run = std::min(owners.next(p, owned) - p, quiet_iterations(d, 1));
    if (run > 0) {
      if (!locks(d, {k::S2PAGE_ID, npt_host_lock(d)})) return std::nullopt;
      d.slog = d.slog.push(SingleEvent{d.curid, AtomicEvent{EventKind::OCLEAR_VM, {vmid, p, 0, 0}}},
                           static_cast<std::uint64_t>(run), {0, 1, 0, 0});
      i += run;
      continue;
    }
    Outcome r = clear_vm_iteration(p, vmid, std::move(d));
    if (!r) return std::nullopt;
    d = std::move(*r);
    ++i;
  }
  return d;
}

// Coq: TrapHandlerSpec.unmap_and_load_loop_h
Outcome unmap_and_load_loop_h(Z n, Z vmid, Z start, Z target, Z remap, RData d) {
  Z s = start;
  Z t = target;
  Z r = remap;
  const Z corevisor = d.cfg().corevisor();
  // Once halted, the remaining iterations only advance (s, t, r), which no caller reads.
  for (Z i = 0; i < n && !d.halt; ++i) {
    RData d0 = query_oracle(std::move(d));
    if (!locks(d0, {d0.cfg().npt_lock(corevisor)})) return std::nullopt;
    log_event(d0, EventKind::OPT_GET, corevisor);
    const Z pte = d0.shared.npts.get(corevisor).pt.get(zdiv(r, k::PAGE_SIZE)).pte;
    if (pte == 0) {
      d0.halt = true;
      d = std::move(d0);
    } else {
      const Z block = k::phys_page(pte) / k::PMD_SIZE * k::PMD_PAGE_NUM;
      Outcome m = prot_and_map_vm_s2pt_spec_h(vmid, zdiv(s, k::PAGE_SIZE) * k::PAGE_SIZE,
                                              block * k::PAGE_SIZE, 2, std::move(d0));
      if (!m) return std::nullopt;
      d = std::move(*m);
    }
    const Z next = s + k::PMD_SIZE;
    r = r + (next - t);
    s = next;
    t = next;
  }
  return d;
}

// Coq: TrapHandlerSpec.verify_and_load_loop_h (called with load_idx = 0)
Outcome verify_and_load_loop_h(Z n, Z vmid, RData d) {
  Z idx = 0;
  for (Z i = 0; i < n; ++i) {
    // Intended: the lower layer checks each image's signature before loading it and panics.
    if (d.prof().verify_img && !d.halt && d.oracle->params.verify_img_at(vmid) == 0) {
      d.halt = true;
      break;
    }
    const VMInfo info = d.shared.vminfos.get(vmid);
    const Z load_addr = info.VB.vm_load_addr.get(idx);
    const Z remap_addr = info.VB.vm_remap_addr.get(idx);
    const Z mapped = info.VB.vm_mapped_pages.get(idx);
    const Z start = zdiv(load_addr, k::PMD_SIZE) * k::PMD_SIZE;
    const Z end = load_addr + mapped * k::PAGE_SIZE;
    const Z num = zdiv(end - start + 2097151, k::PMD_SIZE);
    Outcome r = unmap_and_load_loop_h(num, vmid, start, load_addr, remap_addr, std::move(d));
    if (!r) return std::nullopt;
    d = std::move(*r);
    // Literally the Coq returns load_idx + 1 with load_idx fixed at 0: indices 0, 1, 1, 1, ...
    idx = d.prof().verify_index ? idx + 1 : 1;
  }
  return d;
}

// Coq: TrapHandlerSpec.kvm_phys_addr_ioremap_loop_h
Outcome kvm_phys_addr_ioremap_loop_h(Z n, Z vmid, Z gpa, Z pa, RData d) {
  if (n <= 0) return d;
  // local_map_io ignores frames with an owner (RAM) once the VM is READY. Neither vm_state nor
  // s2page changes in this loop, so the set of frames it would map is fixed up front.
  const bool ready = d.shared.vminfos.get(vmid).VS.vm_state == k::READY;
  const Z pfn0 = zdiv(pa, k::PAGE_SIZE);
  const OwnerScan owners(d.shared.s2page, pfn0, pfn0 + n);
  const auto device = [](Z owner) { return owner == k::INVALID; };
  for (Z i = 0; i < n && !d.halt;) {
    const Z gpa_i = gpa + i * k::PAGE_SIZE;
    const Z pa_i = pa + i * k::PAGE_SIZE;
    const Z run =
        ready ? std::min(owners.next(pfn0 + i, device) - (pfn0 + i), quiet_iterations(d, 1)) : 0;
    if (run > 0) {
      if (!locks(d, {d.cfg().info_lock(vmid), k::S2PAGE_ID, d.cfg().npt_lock(vmid)})) {
        return std::nullopt;
      }
      d.slog =
          d.slog.push(SingleEvent{d.curid, AtomicEvent{EventKind::OMAP_IO, {vmid, gpa_i, pa_i, 0}}},
                      static_cast<std::uint64_t>(run), {0, k::PAGE_SIZE, k::PAGE_SIZE, 0});
      i += run;
      continue;
    }
    Outcome r = ioremap_iteration(vmid, gpa_i, pa_i, std::move(d));
    if (!r) return std::nullopt;
    d = std::move(*r);
    ++i;
  }
  return d;
}

// Coq: TrapHandlerSpec.grant_stage2_loop
Outcome grant_stage2_loop(Z n, Z vmid, Z addr, RData d) {
  return share_loop(false, n, vmid, addr, std::move(d));
}

// Coq: TrapHandlerSpec.revoke_stage2_loop
Outcome revoke_stage2_loop(Z n, Z vmid, Z addr, RData d) {
  return share_loop(true, n, vmid, addr, std::move(d));
}

// Coq: TrapHandlerSpec.vm_exit_dispatcher_spec_h
std::optional<DispatchResult> vm_exit_dispatcher_spec_h(Z vmid, Z vcpuid, RData d) {
  const CtxtRegs& c = d.ctx(d.cfg().ctxt_id(vmid, vcpuid)).ctxt_regs;
  const Z exit_type = zmod(zdiv(c.esr_el2, pow2(26)), 64);
  if (exit_type == k::ESR_ELx_EC_SYS64) {
    // "Skip the trapped instruction"; literally the sum lands in esr_el2 (§7.2.14).
    CtxtRegs& phys = d.regs.ctxt_regs;
    (d.prof().pc_advance ? phys.elr_el2 : phys.esr_el2) = advance_pc(d.prof(), phys.elr_el2);
    return DispatchResult{std::move(d), 0};
  }
  if (exit_type == k::ESR_ELx_EC_HVC64) {
    const Z arg = c.x[0];
    const Z addr = c.x[2];
    const Z len = zdiv(c.x[3] + 4095, k::PAGE_SIZE);
    if (arg == k::HVC_KVM_SET_DESC_PFN || arg == k::HVC_KVM_UNSET_DESC_PFN) {
      Outcome r = arg == k::HVC_KVM_SET_DESC_PFN
                      ? grant_stage2_loop(len, vmid, addr, std::move(d))
                      : revoke_stage2_loop(len, vmid, addr, std::move(d));
      if (!r) return std::nullopt;
      return DispatchResult{std::move(*r), 0};
    }
    return DispatchResult{std::move(d), 1};
  }
  d.halt = true;
  return DispatchResult{std::move(d), 0};
}

// Coq: TrapHandlerSpec.prep_hvc_spec_h
Outcome prep_hvc_spec_h(Z vmid, Z vcpuid, RData d) {
  const Z psci_fn = d.ctx(d.cfg().ctxt_id(vmid, vcpuid)).ctxt_regs.x[0] & k::INVALID;
  if (psci_fn != k::PSCI_0_2_FN_SYSTEM_OFF) return d;
  RData d0 = query_oracle(std::move(d));
  if (!locks(d0, {d0.cfg().info_lock(vmid)})) return std::nullopt;
  log_event(d0, EventKind::OVM_POWEROFF, vmid);
  PrimResult r = local_set_vm_poweroff(d0.shared, vmid);
  d0.shared = std::move(r.s);
  return d0;
}

}  // namespace hypdiff::model
