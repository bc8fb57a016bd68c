// Device DMA on the QEMU target (docs/qemu.md, "Device DMA"): EL2's emulated device walks
// KCore's SMMU tables with its own walker and reaches the frame in QEMU's RAM. Generated cases
// with DMA pass against the model and give the native target's per-step outcomes; hand-written
// DMA steps after a generated prefix (a verified VM running with a device context that maps
// something) have the spec's outcomes and values; the step log sees DMA stores; seeded bugs of
// KCore's SMMU code are killed.
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "generated_runs.hpp"
#include "harness/runner.hpp"
#include "model/constants.hpp"
#include "oracles/projection.hpp"
#include "qemu/host/qemu_target.hpp"

extern "C" {
#include "core/kcore.h"
#include "core/ownership.h"
}

namespace hypdiff::qemu {
namespace {

namespace k = model::k;
using model::Handler;
using model::StepKind;
using model::Z;

size_t dma_ops(const generators::Case& c) {
  return qt::ops_of(c, Handler::dev_load) + qt::ops_of(c, Handler::dev_store);
}

// Every handler, cases with at least `min_dma` DMA steps.
std::vector<generators::Case> dma_cases(size_t n, uint64_t seed, size_t min_dma) {
  return qt::generate(model::kAllHandlers, n, seed,
                      [&](const generators::Case& c) { return dma_ops(c) >= min_dma; });
}

TEST(QemuDma, GeneratedCasesWithDmaPassAgainstTheModelAndMatchNative) {
  const std::vector<generators::Case> cases = dma_cases(60, 1, 2);
  QemuTarget::Stats st;
  size_t steps = 0;
  const std::vector<qt::Trace> t = qt::qemu_matches_native(cases, &st, &steps);
  const size_t ok = qt::count(cases, t, Handler::dev_load, "ok/ok") +
                    qt::count(cases, t, Handler::dev_store, "ok/ok");
  const size_t undefined = qt::count(cases, t, Handler::dev_load, "undefined/undefined") +
                           qt::count(cases, t, Handler::dev_store, "undefined/undefined");
  EXPECT_GT(steps, 800u);
  EXPECT_GT(st.dma, 100u);    // DMA steps that reached the emulated device
  EXPECT_GT(ok, 10u);         // some went through a mapping
  EXPECT_GT(undefined, 20u);  // and the spec's refusals
  std::printf(
      "%zu cases, %zu checked steps; %llu DMA steps on the machine: %zu ok, %zu undefined\n",
      cases.size(), steps, static_cast<unsigned long long>(st.dma), ok, undefined);
}

// A point in a generated case (after `prefix` of its ops) where a VERIFIED VM runs and owns
// device context (index, cbndx), whose table maps iova page `gfn` to frame `pfn`.
struct Spot {
  generators::Case c;
  size_t prefix = 0;
  uint32_t index = 0, cbndx = 0;
  uint64_t gfn = 0, pfn = 0;
  Z vmid = 0, vcpu = 0;
  uint64_t unmapped_gfn = 0;                      // an iova page the context does not map
  uint32_t foreign_index = 0, foreign_cbndx = 0;  // a context the VM does not own
};

// The first spot in generated cases whose mapped frame `want` accepts (the VM's s2page entry of
// the frame).
std::optional<Spot> find_spot(const std::function<bool(const model::S2Page&, Z vmid)>& want) {
  std::string err;
  auto model = harness::make_target("model", &err);
  EXPECT_NE(model, nullptr) << err;
  if (!model) return std::nullopt;
  generators::GenOptions opts;
  opts.max_ops = 40;
  for (uint64_t seed = 1; seed < 4000; ++seed) {
    generators::Case c = generators::generate_case(opts, seed);
    model->reset(c.cfg, std::make_shared<const model::OracleInputs>(c.oracle));
    for (size_t i = 0; i < c.ops.size(); ++i) {
      if (model->step(c.ops[i]) == StepKind::halted) break;
      const model::RData& d = model->state();
      const Z v = d.cur_vmid;
      if (d.ihost || d.shared.vminfos.get(v).VS.vm_state != k::VERIFIED) continue;
      const model::MachineConfig& cfg = d.cfg();
      for (Z index = 0; index < cfg.smmu_num(); ++index)
        for (Z cbndx = 0; cbndx < cfg.smmu_ctxt_banks; ++cbndx) {
          if (d.shared.smmu_vmid.get(cfg.smmu_id(index, cbndx)) != v) continue;
          std::optional<Spot> found;
          d.shared.spts.spt_pt.get(cfg.smmu_ttbr(index, cbndx))
              .for_each_explicit([&](auto gfn, const model::SptEntry& e) {
                if (found || e.pfn == 0 || !want(d.shared.s2page.get(e.pfn), v)) return;
                found = Spot{c,
                             i + 1,
                             static_cast<uint32_t>(index),
                             static_cast<uint32_t>(cbndx),
                             static_cast<uint64_t>(gfn),
                             static_cast<uint64_t>(e.pfn),
                             v,
                             d.cur_vcpuid};
              });
          if (!found) continue;
          const auto& table = d.shared.spts.spt_pt.get(cfg.smmu_ttbr(index, cbndx));
          found->unmapped_gfn = found->gfn + 1000;
          while (table.get(static_cast<Z>(found->unmapped_gfn)).pfn != 0) ++found->unmapped_gfn;
          bool foreign = false;
          for (Z fi = 0; fi < cfg.smmu_num() && !foreign; ++fi)
            for (Z fc = 0; fc < cfg.smmu_ctxt_banks && !foreign; ++fc)
              if (d.shared.smmu_vmid.get(cfg.smmu_id(fi, fc)) != v) {
                foreign = true;
                found->foreign_index = static_cast<uint32_t>(fi);
                found->foreign_cbndx = static_cast<uint32_t>(fc);
              }
          if (foreign) return found;
        }
    }
  }
  return std::nullopt;
}

// The prefix, then `ops`, on the QEMU target (each step's state checked against a full copy:
// the step log must list the page a DMA store wrote) and on the model; both states must have
// the same observables after every step. Returns the QEMU target's outcomes of `ops`.
std::vector<StepKind> run_spot(QemuTarget& qemu, const Spot& s, const std::vector<model::Op>& ops,
                               const std::function<void(size_t, const model::RData&)>& check) {
  std::string err;
  auto model = harness::make_target("model", &err);
  EXPECT_NE(model, nullptr) << err;
  const auto oracle = std::make_shared<const model::OracleInputs>(s.c.oracle);
  qemu.set_verify_export(true);
  qemu.reset(s.c.cfg, oracle);
  model->reset(s.c.cfg, oracle);
  for (size_t i = 0; i < s.prefix; ++i) EXPECT_EQ(qemu.step(s.c.ops[i]), model->step(s.c.ops[i]));
  std::vector<StepKind> out;
  for (size_t i = 0; i < ops.size(); ++i) {
    const StepKind q = qemu.step(ops[i]);
    EXPECT_EQ(q, model->step(ops[i])) << "op " << i << ": " << model::to_string(ops[i]);
    EXPECT_TRUE(oracles::same_observables(qemu.state(), model->state())) << "op " << i;
    check(i, qemu.state());
    out.push_back(q);
  }
  return out;
}

// A device mapping of a frame the VM holds alone (count 0) is what the spec's private DMA path
// needs, and no sequence of hypercalls makes one: SMMU_LPAE_MAP hands a VM the frame with count
// INVALID, and refuses once the VM is VERIFIED, which DMA requires (the host's contexts map
// nothing, docs/kcore.md). So the test plants it in the machine: after a generated prefix that
// reaches a shared device mapping, the frame's count in KCore's ownership array becomes 0 and
// its word in QEMU's RAM a known value. A load must read that word from QEMU's RAM into the
// vCPU's shadow register, a store must write the shadow register into QEMU's RAM, and the
// export must report the stored word (the step log listed the page the device wrote).
TEST(QemuDma, HandWrittenDmaThroughAPrivateFrame) {
  const std::optional<Spot> s =
      find_spot([](const model::S2Page& p, Z) { return p.owner != k::INVALID && p.count != 0; });
  ASSERT_TRUE(s.has_value()) << "no generated case maps a frame for a device";
  QemuTarget qemu;
  qemu.reset(s->c.cfg, std::make_shared<const model::OracleInputs>(s->c.oracle));
  for (size_t i = 0; i < s->prefix; ++i) qemu.step(s->c.ops[i]);
  const Z ctxt = s->c.cfg.ctxt_id(s->vmid, s->vcpu);
  const auto x6 = static_cast<uint64_t>(qemu.state().ctx(ctxt).ctxt_regs.x[6]);
  const uint64_t planted = ~x6;
  QemuMachine& m = *qemu.machine();
  const auto* kc = static_cast<const kcore*>(m.guest(HQ_KCORE_PA, sizeof(kcore)));
  const uint64_t entry = kc->lay.s2page + (s->pfn - kc->cfg.ram_base_pfn) * sizeof(kc_s2page);
  auto* page = static_cast<kc_s2page*>(m.guest(entry, sizeof(kc_s2page)));
  ASSERT_EQ(page->owner, static_cast<uint32_t>(s->vmid));
  ASSERT_NE(page->count, 0u);
  page->count = 0;
  auto* word = static_cast<volatile uint64_t*>(m.guest(HQ_RAM_BASE + s->pfn * 4096));
  *word = planted;

  EXPECT_EQ(qemu.step(model::DevLoad{s->gfn, 5, s->cbndx, s->index}), StepKind::ok);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().ctx(ctxt).ctxt_regs.x[5]), planted);
  EXPECT_EQ(qemu.step(model::DevStore{s->gfn, 6, s->cbndx, s->index}), StepKind::ok);
  EXPECT_EQ(*word, x6);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().shared.flatmem.get(static_cast<Z>(s->pfn))), x6);
  EXPECT_EQ(qemu.stats().dma, 2u);
}

// After a generated prefix with a shared device mapping: x30 is no load but is a store; an iova
// the table does not map, a context the VM does not own, a cbndx or an SMMU index beyond the
// configuration are the spec's None. Each step against the model.
TEST(QemuDma, HandWrittenDmaRefusals) {
  const std::optional<Spot> s =
      find_spot([](const model::S2Page& p, Z) { return p.owner != k::INVALID && p.count != 0; });
  ASSERT_TRUE(s.has_value()) << "no generated case maps a frame for a device";
  const auto dl = [&](uint64_t gfn, uint32_t reg, uint32_t cbndx, uint32_t index) {
    return model::Op{model::DevLoad{gfn, reg, cbndx, index}};
  };
  const auto ds = [&](uint64_t gfn, uint32_t reg, uint32_t cbndx, uint32_t index) {
    return model::Op{model::DevStore{gfn, reg, cbndx, index}};
  };
  const auto banks = static_cast<uint32_t>(s->c.cfg.smmu_ctxt_banks);
  const auto smmus = static_cast<uint32_t>(s->c.cfg.smmu_num());
  const std::vector<model::Op> ops = {
      dl(s->gfn, 30, s->cbndx, s->index),                 // x30: no load
      ds(s->gfn, 30, s->cbndx, s->index),                 // but a store
      dl(s->unmapped_gfn, 5, s->cbndx, s->index),         // an iova the table does not map
      ds(s->unmapped_gfn, 5, s->cbndx, s->index),         //
      dl(s->gfn, 5, s->foreign_cbndx, s->foreign_index),  // someone else's context, or free
      ds(s->gfn, 5, s->foreign_cbndx, s->foreign_index),  //
      dl(s->gfn, 5, banks, s->index),                     // cbndx beyond the banks
      ds(s->gfn, 5, s->cbndx, smmus),                     // an SMMU index beyond the configuration
      dl(s->gfn, 5, s->cbndx, s->index),                  // and the mapping still works
  };
  QemuTarget qemu;
  const std::vector<StepKind> out = run_spot(qemu, *s, ops, [](size_t, const model::RData&) {});
  const std::vector<StepKind> want = {StepKind::undefined, StepKind::ok,        StepKind::undefined,
                                      StepKind::undefined, StepKind::undefined, StepKind::undefined,
                                      StepKind::undefined, StepKind::undefined, StepKind::ok};
  EXPECT_EQ(out, want);
  EXPECT_EQ(qemu.stats().dma, ops.size());  // each reached the emulated device
}

// Through a mapped iova to a shared frame (one the SMMU mapping gave the VM: count INVALID): a
// load reads the VM's data oracle, a store leaves the frame as it was.
TEST(QemuDma, HandWrittenDmaThroughASharedFrame) {
  const std::optional<Spot> s =
      find_spot([](const model::S2Page& p, Z) { return p.owner != k::INVALID && p.count != 0; });
  ASSERT_TRUE(s.has_value()) << "no generated case maps a shared frame for a device";
  const Z ctxt = s->c.cfg.ctxt_id(s->vmid, s->vcpu);
  const std::vector<model::Op> ops = {model::DevStore{s->gfn, 4, s->cbndx, s->index},
                                      model::DevLoad{s->gfn, 4, s->cbndx, s->index},
                                      model::DevLoad{s->gfn, 4, s->cbndx, s->index}};
  QemuTarget qemu;
  Z word = -1, cursor = -1;
  const Z v = s->vmid;
  const auto& o = s->c.oracle;
  const std::vector<StepKind> out = run_spot(qemu, *s, ops, [&](size_t i, const model::RData& d) {
    const Z w = d.shared.flatmem.get(static_cast<Z>(s->pfn));
    if (i == 0) word = w;
    EXPECT_EQ(w, word);  // the store was dropped, and nothing else writes the frame
    // A load reads the VM's data oracle at the cursor the step before left.
    if (i > 0) {
      EXPECT_EQ(d.ctx(ctxt).ctxt_regs.x[4], o.doracle(v, cursor)) << "op " << i;
    }
    cursor = d.data_log.get(v);
  });
  EXPECT_EQ(out, (std::vector<StepKind>{StepKind::ok, StepKind::ok, StepKind::ok}));
  EXPECT_NE(word, static_cast<Z>(-1));
}

// The host's device: a context it does not own is undefined before any query point; after a
// halt outside KCore a DMA is not realized (the Runner stops a case at its first halt).
TEST(QemuDma, HostDmaThroughAFreeContextAndAfterAHalt) {
  QemuTarget qemu;
  generators::Case c;
  qemu.reset(c.cfg, nullptr);
  EXPECT_EQ(qemu.step(model::DevStore{0x50, 3, 1, 0}), StepKind::undefined);
  EXPECT_EQ(qemu.step(model::DevLoad{0x50, 3, 1, 0}), StepKind::undefined);
  EXPECT_EQ(qemu.stats().dma, 2u);
  EXPECT_EQ(qemu.state().slog.length(), 0u);  // no query point was taken
  model::HostHvc reg;
  reg.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(reg), StepKind::ok);
  EXPECT_EQ(qemu.step(model::VcpuRun{0}), StepKind::halted);  // a halt outside KCore's entry
  EXPECT_THROW(qemu.step(model::DevLoad{0x50, 3, 1, 0}), harness::TargetError);
}

// The step log lists the pages DMA wrote: each step of generated cases with DMA is checked
// against a mirror copied afresh.
TEST(QemuDma, TheStepLogMissesNoPageDmaChanged) {
  const std::vector<generators::Case> cases = dma_cases(6, 300, 3);
  QemuTarget qemu;
  qemu.set_verify_export(true);
  size_t steps = 0;
  const std::vector<qt::Trace> t = qt::run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 60u);
  EXPECT_GT(qemu.stats().dma, 10u);
}

// Seeded bugs of KCore's SMMU code (core/mutant.h) on cases with DMA: 30 (an SMMU map writes its
// leaf at the level-2 index's slot, which the device's own walk does not follow) and 35 (a DMA
// page assigned with count 0) are killed; the original image passes the same cases.
TEST(QemuDma, SmmuMutantsAreKilled) {
  const std::vector<generators::Case> cases =
      qt::generate(model::kAllHandlers, 25, 5000, [](const generators::Case& c) {
        return dma_ops(c) >= 2 && qt::ops_of(c, Handler::host_hvc) >= 10;
      });
  QemuTarget qemu;
  for (const uint32_t mutant : {30u, 35u, 0u}) {
    qemu.set_mutant(mutant);
    size_t steps = 0;
    const std::vector<qt::Trace> t = qt::run_all(qemu, cases, &steps);
    const auto [killed, first] = qt::kills(t);
    if (mutant == 0) {
      EXPECT_EQ(killed, 0u) << first;
    } else {
      EXPECT_GT(killed, 0u) << "mutant " << mutant;
      EXPECT_EQ(first.find("error"), std::string::npos) << first;  // a verdict, not a crash
    }
    std::printf("mutant %u: %zu of %zu cases killed, first: %s\n", mutant, killed, cases.size(),
                first.c_str());
  }
}

}  // namespace
}  // namespace hypdiff::qemu
