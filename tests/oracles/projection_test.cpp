#include "oracles/projection.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "model/init.hpp"
#include "model/op.hpp"
#include "oracles/diff.hpp"
#include "oracles/variation.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::oracles {
namespace {

namespace k = model::k;
using model::Ctxt;
using model::NPT;
using model::OracleInputs;
using model::PtEntry;
using model::RData;
using model::S2Page;
using model::Shared;
using model::SptEntry;

constexpr Z kHost = k::HOSTVISOR;

RData fresh() { return testing::fresh(); }

void set_pt(Shared& s, Z v, Z gfn, PtEntry e) {
  NPT npt = s.npts.get(v);
  npt.pt.set(gfn, e);
  s.npts.set(v, npt);
}

void set_spt(Shared& s, Z index, Z cbndx, Z gfn, SptEntry e) {
  const Z ttbr = s.cfg().smmu_ttbr(index, cbndx);
  model::ZMap<SptEntry> t = s.spts.spt_pt.get(ttbr);
  t.set(gfn, e);
  s.spts.spt_pt.set(ttbr, t);
}

void set_info(Shared& s, Z v, Z state, Z load_addr) {
  model::VMInfo info = s.vminfos.get(v);
  info.VS.vm_state = state;
  info.VB.vm_load_addr.set(0, load_addr);
  s.vminfos.set(v, info);
}

Z pte_of(Z pfn) { return pfn * k::PAGE_SIZE | k::PAGE_S2_KERNEL; }

// ---- random reachable states ------------------------------------------------------------------

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

// Continues the oracle streams of VMs 1 and 2 so that their first run enters the image at its
// first byte (doracle: pc, pstate, ACTLR_EL1) on vCPU 0 with no stage-2 fault to map (core
// stream of zeros). What the streams gave so far is kept.
RData with_runnable_vms(RData d) {
  auto o = std::make_shared<OracleInputs>(*d.oracle);
  for (Z v : {1, 2}) {
    std::vector<Z> data, core;
    for (Z n = 0; n < d.data_log.get(v); ++n) data.push_back(d.oracle->doracle(v, n));
    for (Z n = 0; n < d.core_data_log.get(v); ++n) core.push_back(d.oracle->core_doracle(v, n));
    data.insert(data.end(), {0x40000000, 0x3c5, 0});
    core.resize(core.size() + 400, 0);
    o->data[v] = std::move(data);
    o->core[v] = std::move(core);
  }
  d.oracle = o;
  return d;
}

// Two booted VMs, then random host faults, loads, stores, SMMU mappings and VM runs. Returns every
// state the run passes through (undefined and halting steps are dropped).
std::vector<RData> random_run(std::uint64_t seed, int steps) {
  Rng rng{seed};
  auto oracle = std::make_shared<OracleInputs>();
  oracle->fallback_seed = seed | 1;
  RData d = testing::fresh(model::Profile::intended(), oracle);
  d = testing::boot_vm(d, 0x400, 0x40000000, 4).d;
  d = with_runnable_vms(testing::boot_vm(d, 0x800, 0x40000000, 4).d);
  // SMMU translations (which the ops below cannot create: host IOVAs pfn + SMMU_HOST_OFFSET lie
  // beyond is_paddr, and VERIFIED VMs get no new SMMU contexts): a host context mapping host page
  // 0xc10 and a context of VM 2 mapping one of its pages at that page's gfn.
  const auto& cfg = d.cfg();
  d.shared.smmu_vmid.set(cfg.smmu_id(0, 1), kHost);
  set_spt(d.shared, 0, 1, 0xc10 + k::SMMU_HOST_OFFSET, SptEntry{0xc10, 0xc10000});
  d.shared.s2page.set(0xc10, S2Page{kHost, 1, 0xc10 + k::SMMU_HOST_OFFSET});
  d.shared.smmu_vmid.set(cfg.smmu_id(1, 2), 2);
  set_spt(d.shared, 1, 2, d.shared.s2page.get(0x801).gfn, SptEntry{0x801, 0x801000});
  std::vector<RData> out{d};
  for (int i = 0; i < steps; ++i) {
    model::Op op;
    const std::uint64_t r = rng.below(100);
    const Z pfn = 0x200 + static_cast<Z>(rng.below(0xE00));
    const auto reg = static_cast<std::uint32_t>(rng.below(8));
    if (d.ihost && !d.icore) {
      if (r < 40) {
        op = model::HostFault{pfn * 16, 0, 0};
      } else if (r < 55) {
        op = model::SetReg{reg, static_cast<Z>(rng.next())};
      } else if (r < 70) {
        op = model::MemStore{static_cast<std::uint64_t>(pfn), reg};
      } else if (r < 75) {
        op = model::MemLoad{static_cast<std::uint64_t>(pfn), reg};
      } else if (r < 78) {
        op = testing::hvc(k::HVC_SMMU_ALLOC_PGD, static_cast<Z>(rng.below(8)),
                          static_cast<Z>(rng.below(3)), static_cast<Z>(rng.below(2)));
      } else if (r < 88) {
        op =
            testing::hvc(k::HVC_SMMU_LPAE_MAP, static_cast<Z>(rng.below(0x1000)) * 4096, pfn * 4096,
                         0, static_cast<Z>(rng.below(8)), static_cast<Z>(rng.below(2)));
      } else {
        op = model::VcpuRun{1 + static_cast<Z>(rng.below(2))};
      }
    } else {
      const std::uint64_t gfn = 0x40000 + rng.below(8);
      if (r < 30) {
        op = model::MemStore{gfn, reg};
      } else if (r < 50) {
        op = model::MemLoad{gfn, reg};
      } else if (r < 70) {
        op = model::SetReg{reg, static_cast<Z>(rng.next())};
      } else {
        op = model::VmExit{k::ARM_EXCEPTION_INTERRUPT, 0, {}, 0, 0};
      }
    }
    model::StepResult res = model::apply(d, op);
    if (res.kind != model::StepKind::ok) continue;
    d = std::move(*res.after);
    out.push_back(d);
  }
  return out;
}

// ---- an independent reference for obs_eq: the observe_* functions at every key that can differ

template <class M>
void add_keys(const M& m, std::set<Z>& keys) {
  m.for_each_explicit([&](std::uint64_t key, const auto&) { keys.insert(static_cast<Z>(key)); });
}

// A key no map stores: the observation there is the one every unstored key has.
constexpr Z kProbe = Z{1} << 40;

bool reference_shared_eq(Z v, const Shared& a, const Shared& b) {
  const auto& cfg = a.cfg();
  std::set<Z> gfns{kProbe};
  add_keys(a.npts.get(v).pt, gfns);
  add_keys(b.npts.get(v).pt, gfns);
  for (Z g : gfns) {
    if (observe_npt(v, g, a) != observe_npt(v, g, b)) return false;
  }
  std::set<Z> pfns{kProbe, 0};
  for (const Shared* s : {&a, &b}) {
    add_keys(s->s2page, pfns);
    add_keys(s->flatmem, pfns);
  }
  for (Z p : pfns) {
    if (observe_owner(v, p, a) != observe_owner(v, p, b) ||
        observe_count(v, p, a) != observe_count(v, p, b) ||
        observe_gfn(v, p, a) != observe_gfn(v, p, b) ||
        observe_flatmem(v, p, a) != observe_flatmem(v, p, b)) {
      return false;
    }
  }
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      if (observe_smmu(v, cb, idx, a) != observe_smmu(v, cb, idx, b)) return false;
      std::set<Z> keys{kProbe};
      add_keys(a.spts.spt_pt.get(cfg.smmu_ttbr(idx, cb)), keys);
      add_keys(b.spts.spt_pt.get(cfg.smmu_ttbr(idx, cb)), keys);
      for (Z g : keys) {
        if (!(observe_spt(v, cb, idx, g, a) == observe_spt(v, cb, idx, g, b))) return false;
      }
    }
  }
  std::set<Z> vms{kProbe, v};
  add_keys(a.vminfos, vms);
  add_keys(b.vminfos, vms);
  for (Z v0 : vms) {
    if (observe_boot_info(v, v0, a) != observe_boot_info(v, v0, b) ||
        observe_state_info(v, v0, a) != observe_state_info(v, v0, b)) {
      return false;
    }
  }
  return observe_core_data(v, a) == observe_core_data(v, b);
}

bool reference_obs_eq(Z v, const RData& a, const RData& b) {
  const auto& cfg = a.cfg();
  if (!reference_shared_eq(v, a.shared, b.shared)) return false;
  if (observe_reg(v, a) != observe_reg(v, b)) return false;
  for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
    if (!(observe_shadow_ctxt(v, c, a) == observe_shadow_ctxt(v, c, b))) return false;
  }
  for (Z v0 = 1; v0 <= cfg.max_vms; ++v0) {
    for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
      if (observe_dirty(v, v0, c, a) != observe_dirty(v, v0, c, b)) return false;
    }
  }
  std::set<Z> logs{kProbe, v};
  add_keys(a.core_data_log, logs);
  add_keys(b.core_data_log, logs);
  for (Z v0 : logs) {
    if (observe_core_data_log(v, v0, a) != observe_core_data_log(v, v0, b)) return false;
  }
  return a.curid == b.curid && observe_cur_vcpuid(v, a) == observe_cur_vcpuid(v, b) &&
         observe_data_log(v, a) == observe_data_log(v, b) &&
         model::same_oracles(a.oracle, b.oracle) && a.smmu_conf == b.smmu_conf;
}

// Every stored entry differs from the base and matches observe_*, entries are sorted, and every
// key a map stores but the view does not has the base observation.
template <class View, class Obs, class Candidates>
void expect_view(const View& view, Obs&& obs, const Candidates& candidates, const char* what) {
  const auto& es = view.entries();
  for (std::size_t i = 0; i < es.size(); ++i) {
    if (i > 0) {
      EXPECT_TRUE(es[i - 1].first < es[i].first) << what << ": not sorted";
    }
    EXPECT_TRUE(obs(es[i].first) == es[i].second) << what << " at " << to_text(es[i].first);
    EXPECT_FALSE(view.base(es[i].first) == es[i].second) << what << ": stores a base value";
  }
  for (const auto& key : candidates) {
    EXPECT_TRUE(view.at(key) == obs(key)) << what << " at " << to_text(key);
  }
}

void expect_projection_matches_observations(const RData& d, Z v) {
  const Projection p = project(d, v);
  const Shared& s = d.shared;
  const auto& cfg = d.cfg();
  std::vector<Gfn> gfns{Gfn{static_cast<std::uint64_t>(kProbe)}};
  s.npts.get(v).pt.for_each_explicit(
      [&](std::uint64_t g, const PtEntry&) { gfns.push_back(Gfn{g}); });
  expect_view(
      p.shared.npt, [&](Gfn g) { return observe_npt(v, static_cast<Z>(g.v), s); }, gfns, "npt");
  std::vector<Pfn> pfns{Pfn{0}, Pfn{static_cast<std::uint64_t>(kProbe)}, Pfn{0x200}, Pfn{0x1fff}};
  s.s2page.for_each_explicit([&](std::uint64_t k0, const S2Page&) { pfns.push_back(Pfn{k0}); });
  s.flatmem.for_each_explicit([&](std::uint64_t k0, Z) { pfns.push_back(Pfn{k0}); });
  auto at = [](Pfn x) { return static_cast<Z>(x.v); };
  expect_view(
      p.shared.owner, [&](Pfn x) { return observe_owner(v, at(x), s); }, pfns, "owner");
  expect_view(
      p.shared.count, [&](Pfn x) { return observe_count(v, at(x), s); }, pfns, "count");
  expect_view(
      p.shared.gfn, [&](Pfn x) { return observe_gfn(v, at(x), s); }, pfns, "gfn");
  expect_view(
      p.shared.flatmem, [&](Pfn x) { return observe_flatmem(v, at(x), s); }, pfns, "flatmem");
  std::vector<SmmuCtx> ctxs;
  std::vector<SptKey> spt_keys;
  for (std::uint32_t idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (std::uint32_t cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      ctxs.push_back(SmmuCtx{idx, cb});
      spt_keys.push_back(SptKey{SmmuCtx{idx, cb}, 12345});
      s.spts.spt_pt.get(cfg.smmu_ttbr(idx, cb))
          .for_each_explicit([&](std::uint64_t g, const SptEntry&) {
            spt_keys.push_back(SptKey{SmmuCtx{idx, cb}, g});
          });
    }
  }
  expect_view(
      p.shared.smmu, [&](SmmuCtx c) { return observe_smmu(v, c.cbndx, c.index, s); }, ctxs, "smmu");
  expect_view(
      p.shared.spt,
      [&](SptKey x) { return observe_spt(v, x.ctx.cbndx, x.ctx.index, static_cast<Z>(x.gfn), s); },
      spt_keys, "spt");
  std::vector<Vm> vms;
  for (std::uint64_t v0 = 0; v0 <= 17; ++v0) vms.push_back(Vm{v0});
  // Outside the observed domain (None) nothing is stored; inside it, the value is the Some.
  for (const Vm& v0 : vms) {
    const auto boot = observe_boot_info(v, static_cast<Z>(v0.v), s);
    if (boot) {
      EXPECT_TRUE(p.shared.boot_info.at(v0) == *boot) << "boot_info " << v0.v;
    }
    const auto state = observe_state_info(v, static_cast<Z>(v0.v), s);
    if (state) {
      EXPECT_TRUE(p.shared.state_info.at(v0) == *state) << "state_info " << v0.v;
    } else {
      for (const auto& e : p.shared.state_info.entries()) EXPECT_NE(e.first, v0);
    }
  }
  EXPECT_EQ(p.shared.core_data, observe_core_data(v, s));
  EXPECT_EQ(p.reg, observe_reg(v, d));
  ASSERT_EQ(p.shadow_ctxt.size(), static_cast<std::size_t>(cfg.vcpus_per_vm));
  for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
    EXPECT_TRUE(*p.shadow_ctxt[static_cast<std::size_t>(c)] == observe_shadow_ctxt(v, c, d));
  }
  for (Z v0 = 1; v0 <= cfg.max_vms; ++v0) {
    for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
      EXPECT_EQ(p.dirty.at(VmVcpu{static_cast<std::uint64_t>(v0), static_cast<std::uint64_t>(c)}),
                observe_dirty(v, v0, c, d));
    }
  }
  EXPECT_EQ(p.cur_vcpuid, observe_cur_vcpuid(v, d));
  EXPECT_EQ(p.data_log, observe_data_log(v, d));
  for (const Vm& v0 : vms) {
    const auto n = observe_core_data_log(v, static_cast<Z>(v0.v), d);
    if (n) {
      EXPECT_EQ(p.core_data_log.at(v0), *n);
    }
  }
}

// ---- hand-built states ------------------------------------------------------------------------

TEST(Projection, InitialStateAsTheHostSeesIt) {
  const RData d = fresh();
  const Projection p = project(d, kHost);
  EXPECT_EQ(p.observer, 0);
  EXPECT_EQ(p.shared.npt.size(), 0U);
  EXPECT_EQ(p.shared.npt.at(Gfn{0x812}), 0);
  // Host RAM [0x200, 0x2000) is the host's; pfn 0 and MMIO are INVALID (count -1).
  EXPECT_EQ(p.shared.owner.at(Pfn{0x812}), kHost);
  EXPECT_EQ(p.shared.owner.at(Pfn{0}), k::INVALID);
  EXPECT_EQ(p.shared.count.at(Pfn{0x100}), -1);
  EXPECT_EQ(p.shared.count.at(Pfn{0x812}), 0);
  EXPECT_EQ(p.shared.gfn.at(Pfn{0x812}), 0x812 + k::SMMU_HOST_OFFSET);
  EXPECT_EQ(p.shared.owner.size() + p.shared.count.size() + p.shared.gfn.size(), 0U);
  EXPECT_EQ(p.shared.smmu.at(SmmuCtx{1, 7}), k::INVALID);
  EXPECT_EQ(p.shared.core_data, (model::CoreData{1, k::REMAP_START}));
  EXPECT_EQ(p.shared.state_info.size(), 0U);
  ASSERT_TRUE(p.reg.has_value());  // the host runs: cur_vmid = 0, !icore
  EXPECT_EQ(p.shadow_ctxt.size(), 8U);
  EXPECT_TRUE(p.dirty.at(VmVcpu{3, 2}));  // never-run VM contexts
  EXPECT_EQ(p.cur_vcpuid, 0);
  expect_projection_matches_observations(d, kHost);
}

TEST(Projection, AVmPageIsInvisibleToTheHostAndToOtherVms) {
  RData d = fresh();
  d.shared.s2page.set(0x812, S2Page{2, 0, 0x40});
  d.shared.flatmem.set(0x812, 7);
  d.shared.flatmem.set(0x813, 9);  // a host page

  const Projection host = project(d, kHost);
  EXPECT_EQ(host.shared.flatmem.at(Pfn{0x812}), 0);
  EXPECT_EQ(host.shared.flatmem.at(Pfn{0x813}), 9);
  EXPECT_EQ(host.shared.owner.at(Pfn{0x812}), 2);
  EXPECT_EQ(host.shared.count.at(Pfn{0x812}), 0);
  EXPECT_EQ(host.shared.gfn.at(Pfn{0x812}), 0x40);

  const Projection vm2 = project(d, 2);
  EXPECT_EQ(vm2.shared.flatmem.at(Pfn{0x812}), 7);
  EXPECT_EQ(vm2.shared.flatmem.at(Pfn{0x813}), 0);
  EXPECT_EQ(vm2.shared.owner.at(Pfn{0x812}), 1);
  EXPECT_EQ(vm2.shared.owner.at(Pfn{0x813}), 0);
  EXPECT_EQ(vm2.shared.gfn.at(Pfn{0x812}), 0x40);
  EXPECT_EQ(vm2.shared.count.at(Pfn{0x100}), -1);

  const Projection vm3 = project(d, 3);
  EXPECT_EQ(vm3.shared.flatmem.at(Pfn{0x812}), 0);
  EXPECT_EQ(vm3.shared.owner.at(Pfn{0x812}), 0);
  EXPECT_EQ(vm3.shared.gfn.at(Pfn{0x812}), 0);

  // The VM page's contents can change without the host or VM 3 seeing it.
  RData e = d;
  e.shared.flatmem.set(0x812, 8);
  EXPECT_TRUE(obs_eq(kHost, d, e));
  EXPECT_TRUE(obs_eq(3, d, e));
  EXPECT_FALSE(obs_eq(2, d, e));
  for (Z v : {0, 2, 3}) expect_projection_matches_observations(d, v);
}

TEST(Projection, TheHostNptObservationDependsOnTheOwner) {
  RData d = fresh();
  set_pt(d.shared, kHost, 0x812, PtEntry{0x812, 3, pte_of(0x812)});
  EXPECT_EQ(project(d, kHost).shared.npt.at(Gfn{0x812}), 0x812);
  d.shared.s2page.set(0x812, S2Page{2, 1, 0x40});  // now a VM's (shared) page
  EXPECT_EQ(project(d, kHost).shared.npt.at(Gfn{0x812}), 0);
  EXPECT_EQ(observe_npt(kHost, 0x812, d.shared), 0);
  d.shared.s2page.set(0x812, S2Page{k::INVALID, 0, k::INVALID64});
  EXPECT_EQ(project(d, kHost).shared.npt.at(Gfn{0x812}), 0);
  d.shared.s2page.set(0x812, S2Page{kHost, 0, 0x812 + k::SMMU_HOST_OFFSET});
  EXPECT_EQ(project(d, kHost).shared.npt.at(Gfn{0x812}), 0x812);
  expect_projection_matches_observations(d, kHost);

  // Computed from each entry, whatever the gfn -> pfn relation (here not the identity).
  RData e = fresh();
  for (Z owner = 0; owner < 40; ++owner)
    e.shared.s2page.set(0x700 + owner, S2Page{owner % 3, 1, 0});
  for (Z g = 0; g < 60; ++g) {
    const Z pfn = 0x700 + (g * 37) % 64;
    set_pt(e.shared, kHost, 0x5000 + g, PtEntry{pfn, 3, pte_of(pfn)});
  }
  expect_projection_matches_observations(e, kHost);
  EXPECT_EQ(project(e, kHost).shared.npt.at(Gfn{0x5000}), 0x700);           // owner 0 % 3
  EXPECT_EQ(project(e, kHost).shared.npt.at(Gfn{0x5000 + 1}), 0);           // owner 37 % 3 = 1
  EXPECT_EQ(project(e, kHost).shared.npt.at(Gfn{0x5000 + 3}), 0x700 + 47);  // default: host RAM
}

TEST(Projection, AVmSeesItsOwnNptRawAndNoOtherNpt) {
  RData d = fresh();
  set_pt(d.shared, 2, 0x40, PtEntry{0x812, 3, pte_of(0x812)});  // host-owned page: raw pfn anyway
  EXPECT_EQ(project(d, 2).shared.npt.at(Gfn{0x40}), 0x812);
  EXPECT_EQ(project(d, 3).shared.npt.at(Gfn{0x40}), 0);
  EXPECT_EQ(project(d, kHost).shared.npt.at(Gfn{0x40}), 0);
  RData e = fresh();
  e.oracle = d.oracle;
  EXPECT_TRUE(obs_eq(kHost, d, e));
  EXPECT_TRUE(obs_eq(3, d, e));
  EXPECT_FALSE(obs_eq(2, d, e));
}

TEST(Projection, SmmuOwnersAndTablesAreVisibleToTheHostAndTheOwner) {
  RData d = fresh();
  const auto& cfg = d.cfg();
  d.shared.smmu_vmid.set(cfg.smmu_id(1, 3), 2);
  model::ZMap<SptEntry> table = d.shared.spts.spt_pt.get(cfg.smmu_ttbr(1, 3));
  table.set(0x40, SptEntry{0x812, 0x812000});
  d.shared.spts.spt_pt.set(cfg.smmu_ttbr(1, 3), table);

  const Projection host = project(d, kHost);
  EXPECT_EQ(host.shared.smmu.at(SmmuCtx{1, 3}), 2);
  EXPECT_EQ(host.shared.smmu.at(SmmuCtx{0, 3}), k::INVALID);
  EXPECT_EQ(host.shared.spt.at(SptKey{SmmuCtx{1, 3}, 0x40}), (SptEntry{0x812, 0x812000}));
  const Projection vm2 = project(d, 2);
  EXPECT_EQ(vm2.shared.smmu.at(SmmuCtx{1, 3}), 1);
  EXPECT_EQ(vm2.shared.smmu.at(SmmuCtx{0, 3}), 0);
  EXPECT_EQ(vm2.shared.spt.at(SptKey{SmmuCtx{1, 3}, 0x40}), (SptEntry{0x812, 0x812000}));
  const Projection vm3 = project(d, 3);
  EXPECT_EQ(vm3.shared.smmu.at(SmmuCtx{1, 3}), 0);
  EXPECT_EQ(vm3.shared.spt.at(SptKey{SmmuCtx{1, 3}, 0x40}), (SptEntry{0, 0}));
  EXPECT_EQ(vm3.shared.spt.size(), 0U);
  for (Z v : {0, 2, 3}) expect_projection_matches_observations(d, v);
}

TEST(Projection, BootInfoIsTheHostsAndTheVmsStateInfoOnlyTheVms) {
  RData d = fresh();
  set_info(d.shared, 2, k::VERIFIED, 0x40000000);
  const Projection host = project(d, kHost);
  EXPECT_EQ(host.shared.boot_info.at(Vm{2}).vm_load_addr.get(0), 0x40000000);
  EXPECT_EQ(host.shared.state_info.size(), 0U);
  const Projection vm2 = project(d, 2);
  EXPECT_EQ(vm2.shared.boot_info.at(Vm{2}).vm_load_addr.get(0), 0x40000000);
  EXPECT_EQ(vm2.shared.state_info.at(Vm{2}).vm_state, k::VERIFIED);
  EXPECT_FALSE(vm2.shared.core_data.has_value());
  const Projection vm3 = project(d, 3);
  ASSERT_EQ(vm3.shared.boot_info.size(), 1U);
  EXPECT_EQ(vm3.shared.boot_info.entries()[0].first, Vm{3});

  RData e = d;  // the host does not observe VS
  set_info(e.shared, 2, k::POWEROFF, 0x40000000);
  EXPECT_TRUE(obs_eq(kHost, d, e));
  EXPECT_FALSE(obs_eq(2, d, e));
  EXPECT_TRUE(obs_eq(3, d, e));
}

TEST(Projection, RegistersAreSeenByTheRunningPrincipalOutsideKCore) {
  RData d = fresh();
  d.regs.ctxt_regs.x[0] = 5;
  EXPECT_TRUE(project(d, kHost).reg.has_value());
  EXPECT_FALSE(project(d, 2).reg.has_value());
  d.ihost = false;
  d.cur_vmid = 2;
  d.cur_vcpuid = 1;
  EXPECT_FALSE(project(d, kHost).reg.has_value());
  ASSERT_TRUE(project(d, 2).reg.has_value());
  EXPECT_EQ(project(d, 2).reg->x[0], 5);
  EXPECT_EQ(project(d, 2).cur_vcpuid, 1);
  EXPECT_EQ(project(d, kHost).cur_vcpuid, -1);
  d.icore = true;
  EXPECT_FALSE(project(d, 2).reg.has_value());
}

TEST(Projection, ShadowContextsDirtyBitsAndCursors) {
  RData d = fresh();
  const auto& cfg = d.cfg();
  Ctxt c = d.ctx(cfg.ctxt_id(2, 1));
  c.ctxt_regs.x[0] = 5;
  c.ctxt_states.dirty = 0;
  d.set_ctx(cfg.ctxt_id(2, 1), c);
  d.data_log.set(2, 4);
  d.core_data_log.set(2, 3);

  const Projection vm2 = project(d, 2);
  EXPECT_EQ(vm2.shadow_ctxt[1]->ctxt_regs.x[0], 5);
  EXPECT_TRUE(vm2.dirty.at(VmVcpu{2, 1}));  // constant for VMs
  EXPECT_EQ(vm2.data_log, 4);
  EXPECT_EQ(vm2.core_data_log.at(Vm{2}), 3);
  const Projection host = project(d, kHost);
  EXPECT_FALSE(host.dirty.at(VmVcpu{2, 1}));
  EXPECT_TRUE(host.dirty.at(VmVcpu{2, 0}));
  EXPECT_EQ(host.data_log, 0);
  EXPECT_EQ(host.core_data_log.at(Vm{2}), 3);
  const Projection vm3 = project(d, 3);
  EXPECT_EQ(vm3.core_data_log.size(), 1U);
  EXPECT_EQ(vm3.core_data_log.at(Vm{3}), 0);

  // The host sees only whether a VM context was ever run, not its registers.
  RData e = d;
  c.ctxt_regs.x[0] = 6;
  e.set_ctx(cfg.ctxt_id(2, 1), c);
  EXPECT_TRUE(obs_eq(kHost, d, e));
  EXPECT_FALSE(obs_eq(2, d, e));
  c.ctxt_states.dirty = k::INVALID64;
  e.set_ctx(cfg.ctxt_id(2, 1), c);
  EXPECT_FALSE(obs_eq(kHost, d, e));
  for (Z v : {0, 2, 3}) expect_projection_matches_observations(d, v);
}

TEST(Projection, OraclesCompareAsFunctions) {
  auto stream = [](std::vector<Z> data, std::uint64_t seed) {
    auto o = std::make_shared<OracleInputs>();
    o->data[1] = std::move(data);
    o->fallback_seed = seed;
    return OracleView{o};
  };
  // Past its end a stream gives the fallback (0 with seed 0), so a trailing 0 changes nothing.
  EXPECT_TRUE(equal(stream({5, 0}, 0), stream({5}, 0)));
  EXPECT_EQ(hash_value(stream({5, 0}, 0)), hash_value(stream({5}, 0)));
  EXPECT_FALSE(equal(stream({6}, 0), stream({5}, 0)));
  EXPECT_FALSE(equal(stream({5}, 1), stream({5}, 0)));
  auto o = std::make_shared<OracleInputs>();
  o->data[1] = {5};
  o->soracle[3] = {
      model::SingleEvent{1, model::AtomicEvent{model::EventKind::OMAP_HOST, {0x812000}}}};
  EXPECT_TRUE(equal(OracleView{o}, stream({5}, 0)));  // soracle is no observation
  EXPECT_TRUE(to_text(OracleView{o}).starts_with("oracle#"));
}

TEST(Projection, DescribeSpellsOutWhatThePrincipalSeesDifferently) {
  RData d = fresh();
  RData e = d;
  set_pt(e.shared, 2, 0x40123, PtEntry{0x812, 3, pte_of(0x812)});
  EXPECT_EQ(describe(diff(project(e, 2), project(d, 2))),
            "VM 2 sees npt[gfn 0x40123] -> 0x812 in one state and 0 in the other\n");
  e = d;
  e.shared.s2page.set(0x812, S2Page{2, 0, 0x40});
  const ProjectionDiff pd = diff(project(e, kHost), project(d, kHost));
  EXPECT_EQ(describe(pd, "the run", "the replay"),
            "host sees owner[pfn 0x812] = 2 in the run and 0 in the replay\n"
            "host sees gfn[pfn 0x812] = 64 in the run and 0x3b9ad212 in the replay\n");
  EXPECT_FALSE(pd.truncated);
  const ProjectionDiff capped = diff(project(e, kHost), project(d, kHost), 1);
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(capped.lines.size(), 1U);
  EXPECT_TRUE(describe(capped).ends_with("(more differences not shown)\n"));
  EXPECT_TRUE(diff(project(d, kHost), project(d, kHost)).empty());
}

TEST(Projection, DiffPathsReachIntoShadowContexts) {
  RData d = fresh();
  RData e = d;
  Ctxt c = e.ctx(e.cfg().ctxt_id(3, 3));
  c.ctxt_regs.x[2] = 1;
  e.set_ctx(e.cfg().ctxt_id(3, 3), c);
  const ProjectionDiff pd = diff(project(d, 3), project(e, 3));
  ASSERT_EQ(pd.lines.size(), 1U);
  EXPECT_EQ(pd.lines[0], (DiffLine{"shadow_ctxt[3].ctxt_regs.x[2]", "0", "1"}));
}

// ---- random states ----------------------------------------------------------------------------

TEST(Projection, MatchesTheObservationFunctionsAlongRandomRuns) {
  for (std::uint64_t seed : {1, 2, 3}) {
    const std::vector<RData> run = random_run(seed, 300);
    ASSERT_GT(run.size(), 100U);
    // Projections of successive states are patched from their predecessors.
    for (std::size_t i = 0; i < run.size(); i += 7) {
      for (Z v : {0, 1, 2, 3}) expect_projection_matches_observations(run[i], v);
    }
    for (Z v : {0, 1, 2}) expect_projection_matches_observations(run.back(), v);
  }
}

TEST(Projection, ObsEqAgreesWithTheObservationFunctions) {
  const std::vector<RData> a = random_run(11, 250);
  const std::vector<RData> b = random_run(12, 250);
  int equal_pairs = 0, pairs = 0;
  auto check = [&](const RData& x, const RData& y) {
    for (Z v : {0, 1, 2, 3}) {
      const bool ref = reference_obs_eq(v, x, y);
      ASSERT_EQ(obs_eq(v, x, y), ref) << "principal " << model::to_dec(v);
      ASSERT_EQ(project(x, v) == project(y, v), ref);
      ASSERT_EQ(shared_eq(v, x.shared, y.shared), reference_shared_eq(v, x.shared, y.shared));
      ++pairs;
      equal_pairs += ref ? 1 : 0;
    }
  };
  for (std::size_t i = 1; i < a.size(); ++i) check(a[i - 1], a[i]);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); i += 10) check(a[i], b[i]);
  for (std::size_t i = 0; i < a.size(); i += 5) {
    for (Z v : {0, 1, 2}) {
      const RData varied = vary_unobservable(a[i], v, i);
      check(a[i], varied);
      check(varied, a[i]);
    }
  }
  EXPECT_GT(equal_pairs, 100);
  EXPECT_GT(pairs - equal_pairs, 100);
}

}  // namespace
}  // namespace hypdiff::oracles

namespace hypdiff::oracles {
namespace {

// same_observables is the Runner's shortcut: when it holds, every principal's view is equal.
TEST(SameObservables, TwoRunsOfTheSameStepsAgreeAndAnyObservedChangeBreaksIt) {
  model::RData a = testing::boot_vm(testing::fresh()).d;
  model::RData b = testing::boot_vm(testing::fresh()).d;
  b.oracle = a.oracle;
  ASSERT_TRUE(same_observables(a, b));
  for (model::Z v = 0; v <= 3; ++v) EXPECT_TRUE(obs_eq(v, a, b));

  model::RData c = b;
  c.shared.flatmem.set(0x200, c.shared.flatmem.get(0x200) + 1);
  EXPECT_FALSE(same_observables(a, c));
  EXPECT_FALSE(obs_eq(0, a, c));

  model::RData e = b;
  e.cur_vcpuid = e.cur_vcpuid + 1;
  EXPECT_FALSE(same_observables(a, e));

  // Pool counters are not observed either (target libraries do not export them).
  model::RData p = b;
  model::NPT host = p.shared.npts.get(0);
  host.pt_pgd_next = host.pt_pgd_next + 1;
  p.shared.npts.set(0, host);
  EXPECT_TRUE(same_observables(a, p));
  host.pt.set(0x123, model::PtEntry{0x456, 3, 0x456000});
  p.shared.npts.set(0, host);
  EXPECT_FALSE(same_observables(a, p));

  // The ghost log is not observed: a longer log alone keeps the shortcut.
  model::RData g = b;
  g.slog = g.slog.push(model::SingleEvent{1, {model::EventKind::OPT_GET, {0, 0, 0, 0}}});
  EXPECT_TRUE(same_observables(a, g));
}

}  // namespace
}  // namespace hypdiff::oracles

namespace hypdiff::oracles {
namespace {

// The Runner's incremental comparison must decide exactly what the full one decides, whatever
// part of the state starts to differ, on successive states of a random run.
TEST(SameObservablesSince, AgreesWithTheFullComparisonAlongRandomRuns) {
  using Edit = std::function<void(model::RData&)>;
  const std::vector<Edit> edits = {
      [](model::RData& d) { d.shared.flatmem.set(0x201, d.shared.flatmem.get(0x201) + 1); },
      [](model::RData& d) {
        d.shared.s2page.set(0x300, model::S2Page{3, 1, 0x77});
      },
      [](model::RData& d) {
        model::NPT n = d.shared.npts.get(2);
        n.pt.set(0x4444, model::PtEntry{0x205, 3, 0x205fff});
        d.shared.npts.set(2, n);
      },
      [](model::RData& d) {
        model::Ctxt c = d.ctx(d.cfg().ctxt_id(1, 0));
        c.ctxt_regs.x[5] = c.ctxt_regs.x[5] + 1;
        d.set_ctx(d.cfg().ctxt_id(1, 0), c);
      },
      [](model::RData& d) { d.shared.smmu_vmid.set(1, 9); },
      [](model::RData& d) {
        model::VMInfo v = d.shared.vminfos.get(4);
        v.VS.vm_power = v.VS.vm_power + 1;
        d.shared.vminfos.set(4, v);
      },
      [](model::RData& d) { d.data_log.set(3, d.data_log.get(3) + 2); },
      [](model::RData& d) { d.regs.ctxt_regs.elr_el2 = d.regs.ctxt_regs.elr_el2 + 4; },
      [](model::RData& d) {
        model::NPT n = d.shared.npts.get(0);  // a pool counter: not observed
        n.pt_pmd_next = n.pt_pmd_next + 4096;
        d.shared.npts.set(0, n);
      },
  };
  const std::vector<RData> run = random_run(21, 200);
  ASSERT_GT(run.size(), 60U);
  int checked = 0, differing = 0;
  for (const Edit& edit : edits) {
    for (std::size_t from : {std::size_t{0}, run.size() / 3, 2 * run.size() / 3}) {
      std::vector<RData> other = run;
      for (std::size_t i = from; i < other.size(); ++i) edit(other[i]);
      if (from + 1 < other.size()) other[from + 1] = run[from + 1];  // and one step back
      for (std::size_t i = 1; i < run.size(); ++i) {
        if (!same_observables(run[i - 1], other[i - 1])) continue;
        const bool full = same_observables(run[i], other[i]);
        ASSERT_EQ(same_observables_since(run[i - 1], run[i], other[i - 1], other[i]), full)
            << "step " << i << ", edits from " << from;
        ++checked;
        differing += full ? 0 : 1;
      }
    }
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(differing, 10);
}

}  // namespace
}  // namespace hypdiff::oracles
