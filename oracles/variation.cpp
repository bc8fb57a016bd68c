#include "oracles/variation.hpp"

#include <algorithm>
#include <vector>

#include "oracles/diff.hpp"
#include "oracles/projection.hpp"

namespace hypdiff::oracles {

using model::Ctxt;
using model::NPT;
using model::PtEntry;
using model::RData;
using model::S2Page;
using model::Shared;
using model::SptEntry;
using model::ZMap;
namespace k = model::k;

namespace {

// splitmix64: a small deterministic generator; no global randomness.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  bool one_in(std::uint64_t n) { return next() % n == 0; }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  Z word() { return static_cast<Z>(next()); }
  Z other_than(Z old) {
    Z v = word();
    while (v == old) v = word();
    return v;
  }

 private:
  std::uint64_t s_;
};

template <class T, class D, class Keep>
std::vector<std::uint64_t> sorted_keys(const ZMap<T, D>& m, Keep&& keep) {
  std::vector<std::uint64_t> keys;
  m.for_each_explicit([&](std::uint64_t key, const T& v) {
    if (keep(key, v)) keys.push_back(key);
  });
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Contents of frames v does not own. One frame past RAM (owner INVALID unless stored) always
// changes, so a variation never comes out identical.
void vary_flatmem(Shared& s, Z v, Rng& rng) {
  for (std::uint64_t pfn :
       sorted_keys(s.s2page, [&](std::uint64_t, const S2Page& p) { return p.owner != v; })) {
    if (rng.one_in(2)) s.flatmem.set(pfn, rng.other_than(s.flatmem.get(pfn)));
  }
  const auto& cfg = s.cfg();
  const Z ram_end = cfg.ram_base_pfn + cfg.ram_pages;
  for (int tries = 0; tries < 64; ++tries) {
    const Z pfn = ram_end + static_cast<Z>(rng.below(4096));
    if (s.s2page.get(pfn).owner == v) continue;
    s.flatmem.set(pfn, rng.other_than(s.flatmem.get(pfn)));
    break;
  }
  if (v != k::HOSTVISOR) {
    for (int i = 0; i < 4; ++i) {
      const Z pfn =
          cfg.ram_base_pfn + static_cast<Z>(rng.below(static_cast<std::uint64_t>(cfg.ram_pages)));
      if (s.s2page.get(pfn).owner != v) s.flatmem.set(pfn, rng.other_than(s.flatmem.get(pfn)));
    }
  }
}

// vm_kvm, vm_vcpu and vm_power are written but never read by the spec, and only the VM itself
// observes its StateInfo; vm_state and vm_vcpu_state stay (invariants and valid_role read them).
void vary_state_info(Shared& s, Z v, Rng& rng) {
  const auto& cfg = s.cfg();
  for (Z v0 = 1; v0 <= cfg.max_vms; ++v0) {
    if (v0 == v || s.vminfos.entries().find(static_cast<std::uint64_t>(v0)) == nullptr) continue;
    if (!rng.one_in(2)) continue;
    model::VMInfo info = s.vminfos.get(v0);
    info.VS.vm_kvm = rng.word();
    info.VS.vm_power = rng.word();
    info.VS.vm_vcpu.set(static_cast<Z>(rng.below(static_cast<std::uint64_t>(cfg.vcpus_per_vm))),
                        rng.word());
    s.vminfos.set(v0, std::move(info));
  }
}

// Sorted.
std::vector<Z> smmu_mapped_pfns(const Shared& s) {
  std::vector<Z> pfns;
  const auto& cfg = s.cfg();
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      s.spts.spt_pt.get(cfg.smmu_ttbr(idx, cb))
          .for_each_explicit([&](std::uint64_t, const SptEntry& e) {
            if (e.pfn != 0) pfns.push_back(e.pfn);
          });
    }
  }
  std::sort(pfns.begin(), pfns.end());
  return pfns;
}

// For a VM observer: another VM's 4 KiB page moves to a free gfn of the same 2 MiB region (whose
// table pages therefore exist), with its s2page gfn; pages an SMMU maps stay (smmu_iso ties
// their gfn).
void relocate_vm_pages(Shared& s, Z v, Rng& rng) {
  const auto& cfg = s.cfg();
  const std::vector<Z> pinned = smmu_mapped_pfns(s);
  for (Z v2 = 1; v2 <= cfg.max_vms; ++v2) {
    if (v2 == v) continue;
    const NPT* found = s.npts.entries().find(static_cast<std::uint64_t>(v2));
    if (found == nullptr) continue;
    NPT npt = *found;
    bool changed = false;
    for (std::uint64_t gfn : sorted_keys(npt.pt, [&](std::uint64_t g, const PtEntry&e) {
           if (e.level != 3 || e.pfn == 0 ||
               std::binary_search(pinned.begin(), pinned.end(), e.pfn))
             return false;
           const S2Page p = s.s2page.get(e.pfn);
           return p.owner == v2 && p.gfn == static_cast<Z>(g);
         })) {
      if (!rng.one_in(4)) continue;
      const std::uint64_t to = (gfn & ~std::uint64_t{511}) | rng.below(512);
      if (to == gfn || npt.pt.entries().find(to) != nullptr) continue;
      const PtEntry e = npt.pt.get(static_cast<Z>(gfn));
      npt.pt.set(static_cast<Z>(to), e);
      npt.pt.set(static_cast<Z>(gfn), npt.pt.default_at(gfn));
      S2Page p = s.s2page.get(e.pfn);
      p.gfn = static_cast<Z>(to);
      s.s2page.set(e.pfn, p);
      changed = true;
    }
    if (changed) s.npts.set(v2, std::move(npt));
  }
}

// For a VM observer: the host maps lazily, so any host 4 KiB mapping may as well be absent.
void unmap_host_pages(Shared& s, Rng& rng) {
  const NPT* found = s.npts.entries().find(static_cast<std::uint64_t>(k::HOSTVISOR));
  if (found == nullptr) return;
  NPT npt = *found;
  bool changed = false;
  for (std::uint64_t gfn :
       sorted_keys(npt.pt, [](std::uint64_t, const PtEntry& e) { return e.level == 3; })) {
    if (!rng.one_in(4)) continue;
    npt.pt.set(static_cast<Z>(gfn), npt.pt.default_at(gfn));
    changed = true;
  }
  if (changed) s.npts.set(k::HOSTVISOR, std::move(npt));
}

// For a VM observer: SMMU translations of contexts it does not own (fewer host SMMU mappings
// keep smmu_count).
void unmap_smmu_pages(Shared& s, Z v, Rng& rng) {
  const auto& cfg = s.cfg();
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      if (s.smmu_vmid.get(cfg.smmu_id(idx, cb)) == v) continue;
      const Z ttbr = cfg.smmu_ttbr(idx, cb);
      ZMap<SptEntry> table = s.spts.spt_pt.get(ttbr);
      bool changed = false;
      for (std::uint64_t gfn :
           sorted_keys(table, [](std::uint64_t, const SptEntry& e) { return e.pfn != 0; })) {
        if (!rng.one_in(4)) continue;
        table.set(static_cast<Z>(gfn), SptEntry{0, 0});
        changed = true;
      }
      if (changed) s.spts.spt_pt.set(ttbr, std::move(table));
    }
  }
}

void vary_shared(Shared& s, Z v, Rng& rng) {
  vary_flatmem(s, v, rng);
  vary_state_info(s, v, rng);
  if (v != k::HOSTVISOR) {
    relocate_vm_pages(s, v, rng);
    unmap_host_pages(s, rng);
    unmap_smmu_pages(s, v, rng);
  }
}

void vary_regs(model::CtxtRegs& r, Rng& rng) {
  for (int i = 0; i < 3; ++i) {
    Z& x = r.x[static_cast<std::size_t>(rng.below(r.x.size()))];
    x = rng.other_than(x);
  }
  if (rng.one_in(2)) r.elr_el1 = rng.other_than(r.elr_el1);
  if (rng.one_in(2)) r.sp_el1 = rng.other_than(r.sp_el1);
}

// Cursors only grow; a later cursor is another history of the same run.
void advance_cursors(ZMap<Z>& log, Z v, Z corevisor, Rng& rng) {
  std::vector<std::uint64_t> keys = sorted_keys(log, [](std::uint64_t, Z) { return true; });
  for (Z v0 = 0; v0 <= corevisor; ++v0) keys.push_back(static_cast<std::uint64_t>(v0));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (std::uint64_t v0 : keys) {
    if (static_cast<Z>(v0) == v || !rng.one_in(2)) continue;
    log.set(static_cast<Z>(v0), log.get(static_cast<Z>(v0)) + 1 + static_cast<Z>(rng.below(3)));
  }
}

}  // namespace

Shared vary_unobservable_shared(const Shared& s, Z v, std::uint64_t seed) {
  Rng rng(seed);
  Shared out = s;
  vary_shared(out, v, rng);
  if (!shared_eq(v, s, out)) {
    throw model::ModelBug("vary_unobservable_shared changed what " + principal_name(v) +
                          " observes:\n" +
                          describe(diff(project_shared(s, v), project_shared(out, v), v)));
  }
  return out;
}

RData vary_unobservable(const RData& d, Z v, std::uint64_t seed) {
  Rng rng(seed);
  const auto& cfg = d.cfg();
  RData out = d;
  vary_shared(out.shared, v, rng);

  // Shadow contexts v does not observe; `dirty` stays (the host observes dirty == INVALID64).
  const auto per_vm = static_cast<std::uint64_t>(cfg.vcpus_per_vm);
  for (std::uint64_t id : sorted_keys(d.shadow_ctxts, [&](std::uint64_t key, const auto&) {
         return static_cast<Z>(key / per_vm) != v;
       })) {
    if (!rng.one_in(2)) continue;
    Ctxt c = d.ctx(static_cast<Z>(id));
    vary_regs(c.ctxt_regs, rng);
    c.ctxt_states.pc = rng.other_than(c.ctxt_states.pc);
    out.set_ctx(static_cast<Z>(id), std::move(c));
  }

  advance_cursors(out.data_log, v, cfg.corevisor(), rng);
  if (v != k::HOSTVISOR) advance_cursors(out.core_data_log, v, cfg.corevisor(), rng);

  if (!observe_reg(v, d)) vary_regs(out.regs.ctxt_regs, rng);
  out.regs.trap_regs.pmuselr_el0 = rng.other_than(out.regs.trap_regs.pmuselr_el0);
  if (rng.one_in(2)) out.regs.trap_regs.cnthctl_el2 = rng.word();

  if (!obs_eq(v, d, out)) {
    throw model::ModelBug("vary_unobservable changed what " + principal_name(v) + " observes:\n" +
                          describe(diff(project(d, v), project(out, v))));
  }
  return out;
}

}  // namespace hypdiff::oracles
