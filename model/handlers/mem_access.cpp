// Loads and stores by the running principal (mem_*) and DMA by a device through its SMMU context
// (dev_*), spec §3.5.5. None models a faulting access; these handlers never test halt or ihost.
#include "model/concurrency.hpp"
#include "model/handlers.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

// The state after the access's QO, and the OPT_GET event it logs once it succeeds.
struct Access {
  RData d;
  Slog log;
};

Access begin(RData d) {
  RData q = query_oracle(std::move(d));
  Slog log = q.slog.push(SingleEvent{q.curid, AtomicEvent{EventKind::OPT_GET, {q.cur_vmid}}});
  return Access{std::move(q), std::move(log)};
}

bool vm_verified(const RData& d) { return d.shared.vminfos[d.cur_vmid].VS.vm_state == k::VERIFIED; }

// The value a load of frame `pfn` returns; nullopt when the access faults or a rely fails.
// Pages the principal does not hold privately read as the untrusted oracle value, without
// advancing the cursor (§7.2.19).
std::optional<Z> load_value(const RData& d, Z pfn) {
  const Z v = d.cur_vmid;
  const Shared& s = d.shared;
  if (v == k::HOSTVISOR) {
    if (pfn == 0) return std::nullopt;
    if (s.s2page[pfn].owner == k::HOSTVISOR) return s.flatmem[pfn];
    return d.doracle(v, d.data_log[v]);
  }
  if (!vm_verified(d)) return std::nullopt;
  if (pfn == 0 || s.s2page[pfn].owner == k::INVALID) return std::nullopt;
  if (s.s2page[pfn].count == 0) return s.flatmem[pfn];
  return d.doracle(v, d.data_log[v]);
}

Outcome finish_load(Access a, Z pfn, std::uint32_t reg) {
  const std::optional<Z> val = load_value(a.d, pfn);
  if (!val) return std::nullopt;
  if (!(reg < 30)) return std::nullopt;  // X30 excluded
  RData& d = a.d;
  const Z id = d.cfg().ctxt_id(d.cur_vmid, d.cur_vcpuid);
  Ctxt c = d.ctx(id);
  set_shadow_ctxt_specx(Z{reg}, *val, c.ctxt_regs, c.ctxt_states);
  d.set_ctx(id, std::move(c));
  d.slog = std::move(a.log);
  return std::move(d);
}

// A store to a page the principal does not hold privately is dropped (not a fault).
Outcome finish_store(Access a, Z pfn, std::uint32_t reg) {
  RData& d = a.d;
  const Z v = d.cur_vmid;
  const Ctxt& c = d.ctx(d.cfg().ctxt_id(v, d.cur_vcpuid));
  const Z val = get_shadow_ctxt_specx(Z{reg}, c.ctxt_regs, c.ctxt_states);
  bool write = false;
  if (v == k::HOSTVISOR) {
    if (pfn == 0) return std::nullopt;
    write = d.shared.s2page[pfn].owner == k::HOSTVISOR;
  } else {
    if (!vm_verified(d)) return std::nullopt;
    if (pfn == 0 || d.shared.s2page[pfn].owner == k::INVALID) return std::nullopt;
    write = d.shared.s2page[pfn].count == 0;
  }
  if (write) d.shared.flatmem.set(pfn, val);
  d.slog = std::move(a.log);
  return std::move(d);
}

Z npt_pfn(const RData& d, std::uint64_t gfn) { return d.shared.npts[d.cur_vmid].pt[Z{gfn}].pfn; }

// The device's pfn for `gfn`, after the relies that it is this principal's SMMU context.
std::optional<Z> spt_pfn(const RData& d, std::uint64_t gfn, Z cbndx, Z index) {
  const MachineConfig& cfg = d.cfg();
  if (d.shared.smmu_vmid[cfg.smmu_id(index, cbndx)] != d.cur_vmid) return std::nullopt;
  return d.shared.spts.spt_pt[cfg.smmu_ttbr(index, cbndx)][Z{gfn}].pfn;
}

bool valid_smmu(const RData& d, Z cbndx, Z index) {
  return d.cfg().is_smmu(index) && d.cfg().is_smmu_cfg(cbndx);
}

}  // namespace

// Coq: TrapHandlerSpec.mem_load_spec
Outcome mem_load(RData d, std::uint64_t gfn, std::uint32_t reg) {
  if (d.icore) return std::nullopt;
  Access a = begin(std::move(d));
  const Z pfn = npt_pfn(a.d, gfn);
  return finish_load(std::move(a), pfn, reg);
}

// Coq: TrapHandlerSpec.mem_store_spec
Outcome mem_store(RData d, std::uint64_t gfn, std::uint32_t reg) {
  if (d.icore) return std::nullopt;
  Access a = begin(std::move(d));
  const Z pfn = npt_pfn(a.d, gfn);
  return finish_store(std::move(a), pfn, reg);
}

// Coq: TrapHandlerSpec.dev_load_spec
Outcome dev_load(RData d, std::uint64_t gfn, std::uint32_t reg, std::uint32_t cbndx,
                 std::uint32_t index) {
  if (d.icore || !valid_smmu(d, cbndx, index)) return std::nullopt;
  Access a = begin(std::move(d));
  const std::optional<Z> pfn = spt_pfn(a.d, gfn, cbndx, index);
  if (!pfn) return std::nullopt;
  return finish_load(std::move(a), *pfn, reg);
}

// Coq: TrapHandlerSpec.dev_store_spec
Outcome dev_store(RData d, std::uint64_t gfn, std::uint32_t reg, std::uint32_t cbndx,
                  std::uint32_t index) {
  if (d.icore || !valid_smmu(d, cbndx, index)) return std::nullopt;
  Access a = begin(std::move(d));
  const std::optional<Z> pfn = spt_pfn(a.d, gfn, cbndx, index);
  if (!pfn) return std::nullopt;
  return finish_store(std::move(a), *pfn, reg);
}

}  // namespace hypdiff::model
