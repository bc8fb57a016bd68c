#include "oracles/noninterference.hpp"

#include <gtest/gtest.h>

#include "model/init.hpp"
#include "model/op.hpp"
#include "oracles/invariants.hpp"
#include "oracles/variation.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::oracles {
namespace {

namespace k = model::k;
using model::NPT;
using model::OracleInputs;
using model::PtEntry;
using model::RData;
using model::S2Page;
using model::Shared;

constexpr Z kHost = k::HOSTVISOR;

Z pte_of(Z pfn) { return pfn * k::PAGE_SIZE | k::PAGE_S2_KERNEL; }

void set_pt(Shared& s, Z v, Z gfn, PtEntry e) {
  NPT npt = s.npts.get(v);
  npt.pt.set(gfn, e);
  s.npts.set(v, npt);
}

void set_spt(Shared& s, Z index, Z cbndx, Z gfn, model::SptEntry e) {
  const Z ttbr = s.cfg().smmu_ttbr(index, cbndx);
  model::ZMap<model::SptEntry> t = s.spts.spt_pt.get(ttbr);
  t.set(gfn, e);
  s.spts.spt_pt.set(ttbr, t);
}

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

// VM 1 booted (VERIFIED) with the 2 MiB block at pfn 0x400; the host runs.
RData booted() { return testing::boot_vm(testing::fresh(), 0x400).d; }

// The same with VM 1's vCPU 0 running instead (the host is inactive).
RData vm_running(RData d) {
  d.ihost = false;
  d.icore = false;
  d.cur_vmid = 1;
  d.cur_vcpuid = 0;
  model::Ctxt c = d.ctx(d.cfg().ctxt_id(1, 0));
  c.ctxt_states.dirty = 0;
  d.set_ctx(d.cfg().ctxt_id(1, 0), c);
  return d;
}

model::RData step(const RData& d, const model::Op& op) {
  model::StepResult r = model::apply(d, op);
  EXPECT_EQ(r.kind, model::StepKind::ok) << model::to_string(op);
  return r.after ? *r.after : d;
}

TEST(Principals, ValidRoleAndActive) {
  const RData fresh = testing::fresh();
  EXPECT_TRUE(valid_role(kHost, fresh));
  EXPECT_FALSE(valid_role(1, fresh));  // not VERIFIED
  const RData d = booted();
  EXPECT_TRUE(valid_role(1, d));
  EXPECT_FALSE(valid_role(d.cfg().corevisor(), d));
  EXPECT_TRUE(active(kHost, d));
  EXPECT_FALSE(active(1, d));
  const RData r = vm_running(d);
  EXPECT_FALSE(active(kHost, r));
  EXPECT_TRUE(active(1, r));
  EXPECT_TRUE(integrity_applies(1, d, d));
  EXPECT_FALSE(integrity_applies(kHost, d, d));  // the host is active
  EXPECT_FALSE(integrity_applies(2, d, d));      // VM 2 does not exist
  EXPECT_FALSE(integrity_applies(1, d, r));      // VM 1 becomes active
}

TEST(Integrity, HostStepsLeaveAnInactiveVmUnchanged) {
  RData d = booted();
  for (Z pfn : {0x812, 0x813, 0xfff}) {
    const RData after = step(d, model::HostFault{pfn * 16, 0, 0});
    ASSERT_TRUE(integrity_applies(1, d, after));
    EXPECT_FALSE(check_integrity(1, d, after).has_value());
    d = after;
  }
  EXPECT_FALSE(check_integrity(kHost, d, d).has_value());  // not applicable: the host is active
}

TEST(Integrity, ReportsALeakIntoAnInactiveVmsMemory) {
  const RData d = booted();
  RData after = d;
  after.shared.flatmem.set(0x401, 99);  // VM 1's page, written behind its back
  const std::optional<Violation> v = check_integrity(1, d, after);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "integrity");
  EXPECT_EQ(v->principal, 1);
  ASSERT_EQ(v->diff.lines.size(), 1U);
  EXPECT_EQ(v->diff.lines[0].path, "flatmem[pfn 0x401]");
  EXPECT_EQ(v->diff.lines[0].b, "99");
  EXPECT_EQ(v->summary,
            "integrity: VM 1 observes a step it took no part in (1 differences, first: "
            "flatmem[pfn 0x401])");
}

TEST(Integrity, TheHostIsProtectedWhileAVmRuns) {
  const RData d = vm_running(booted());
  RData after = d;
  after.shared.flatmem.set(0x401, 5);  // VM 1's own page: not the host's business
  EXPECT_FALSE(check_integrity(kHost, d, after).has_value());
  after.shared.flatmem.set(0x900, 5);  // a host page
  const std::optional<Violation> v = check_integrity(kHost, d, after);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(describe(v->diff, "before", "after"),
            "host sees flatmem[pfn 0x900] = 0 in before and 5 in after\n");
}

TEST(Integrity, OracleStepsMayMapHostPages) {
  auto oracle = std::make_shared<OracleInputs>();
  RData d = vm_running(booted());
  const std::uint64_t len = d.slog.length();
  // Another CPU's host fault at gfn 0x900, scheduled at this CPU's next query.
  oracle->soracle[len] = {model::SingleEvent{
      1, model::AtomicEvent{model::EventKind::OMAP_HOST, {0x900 * k::PAGE_SIZE}}}};
  d.oracle = oracle;
  RData after = d;
  after.slog = d.slog.push(oracle->soracle[len][0]);
  set_pt(after.shared, kHost, 0x900, PtEntry{0x900, 3, pte_of(0x900)});
  EXPECT_EQ(oracle_host_gfns(d, after), (std::vector<Z>{0x900}));
  EXPECT_FALSE(check_integrity(kHost, d, after).has_value());

  RData wrong = after;  // a mapping no oracle step explains
  set_pt(wrong.shared, kHost, 0x901, PtEntry{0x901, 3, pte_of(0x901)});
  const std::optional<Violation> v = check_integrity(kHost, d, wrong);
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->diff.lines.size(), 1U);
  EXPECT_EQ(v->diff.lines[0].path, "npt[gfn 0x901]");

  // An event scheduled past the log length the step reaches was not replayed by this step.
  auto later = std::make_shared<OracleInputs>(*oracle);
  later->soracle.clear();
  later->soracle[len + 2] = oracle->soracle[len];
  RData early = d;
  early.oracle = later;
  EXPECT_TRUE(oracle_host_gfns(early, after).empty());
  EXPECT_TRUE(check_integrity(kHost, early, after).has_value());
}

TEST(Integrity, SharedLevel) {
  const Shared s = booted().shared;
  Shared after = s;
  after.flatmem.set(0x900, 7);  // a host page
  EXPECT_FALSE(check_integrity_shared(1, s, after).has_value());
  const std::optional<Violation> v = check_integrity_shared(kHost, s, after);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->diff.principal, kHost);
  EXPECT_EQ(v->diff.lines[0].path, "flatmem[pfn 0x900]");
}

TEST(Confidentiality, SameStepsFromIndistinguishableStatesStayIndistinguishable) {
  const RData d1 = booted();
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const RData d2 = vary_unobservable(d1, kHost, seed);
    for (const model::Op& op :
         {model::Op{model::HostFault{0x900 * 16, 0, 0}}, model::Op{model::SetReg{3, 0x1234}}}) {
      const RData a1 = step(d1, op);
      const RData a2 = step(d2, op);
      EXPECT_FALSE(check_confidentiality(kHost, d1, d2, a1, a2).has_value());
    }
  }
}

TEST(Confidentiality, ReportsAStepThatRevealsAVmPageToTheHost) {
  const RData d1 = booted();
  RData d2 = d1;
  d2.shared.flatmem.set(0x401, 42);  // VM 1's page: the host cannot tell
  ASSERT_TRUE(obs_eq(kHost, d1, d2));
  // A leaking "step": copy the VM page into a host page.
  RData a1 = d1, a2 = d2;
  a1.shared.flatmem.set(0x900, d1.shared.flatmem.get(0x401));
  a2.shared.flatmem.set(0x900, d2.shared.flatmem.get(0x401));
  const std::optional<Violation> v = check_confidentiality(kHost, d1, d2, a1, a2);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "confidentiality");
  EXPECT_EQ(describe(v->diff),
            "host sees flatmem[pfn 0x900] = 0 in one state and 42 in the other\n");
  // The same at the Shared level.
  EXPECT_TRUE(
      check_confidentiality_shared(kHost, d1.shared, d2.shared, a1.shared, a2.shared).has_value());
  EXPECT_FALSE(
      check_confidentiality_shared(kHost, d1.shared, d2.shared, d1.shared, d2.shared).has_value());
}

TEST(Confidentiality, InputsThePrincipalCanTellApartAreAToolBug) {
  const RData d1 = booted();
  RData d2 = d1;
  d2.shared.flatmem.set(0x900, 1);  // a host page
  EXPECT_THROW(check_confidentiality(kHost, d1, d2, d1, d2), model::ModelBug);
  EXPECT_THROW(check_confidentiality_shared(kHost, d1.shared, d2.shared, d1.shared, d2.shared),
               model::ModelBug);
}

// ---- variations -------------------------------------------------------------------------------

// Reachable states: two booted VMs, some host mappings and stores, VM 1 running or not.
std::vector<RData> sample_states() {
  std::vector<RData> out;
  RData d = booted();
  d = with_runnable_vms(testing::boot_vm(d, 0x800, 0x40000000, 4).d);
  out.push_back(d);
  for (Z pfn = 0xc00; pfn < 0xc40; ++pfn) {  // host RAM above both VMs' 2 MiB blocks
    d = step(d, model::HostFault{pfn * 16, 0, 0});
    d = step(d, model::SetReg{2, pfn * 3});
    d = step(d, model::MemStore{static_cast<std::uint64_t>(pfn), 2});
  }
  // SMMU mappings, written directly: a host context mapping host page 0xc10 (the host's IOVAs
  // pfn + SMMU_HOST_OFFSET lie beyond is_paddr, so LPAE_MAP cannot make one) and a context of
  // VM 2 mapping one of its pages at that page's gfn.
  const auto& cfg = d.cfg();
  d.shared.smmu_vmid.set(cfg.smmu_id(0, 1), kHost);
  set_spt(d.shared, 0, 1, 0xc10 + k::SMMU_HOST_OFFSET, model::SptEntry{0xc10, 0xc10000});
  d.shared.s2page.set(0xc10, S2Page{kHost, 1, 0xc10 + k::SMMU_HOST_OFFSET});
  d.shared.smmu_vmid.set(cfg.smmu_id(1, 2), 2);
  set_spt(d.shared, 1, 2, d.shared.s2page.get(0x801).gfn, model::SptEntry{0x801, 0x801000});
  out.push_back(d);
  RData running = step(d, model::VcpuRun{1});
  out.push_back(running);
  running = step(running, model::SetReg{4, 77});
  running = step(running, model::MemStore{0x40000, 4});
  out.push_back(running);
  return out;
}

bool identical(const RData& a, const RData& b) {
  const Shared& s = a.shared;
  const Shared& t = b.shared;
  return s.flatmem == t.flatmem && s.npts == t.npts && s.s2page == t.s2page &&
         s.vminfos == t.vminfos && s.spts == t.spts && s.smmu_vmid == t.smmu_vmid &&
         a.shadow_ctxts == b.shadow_ctxts && a.data_log == b.data_log &&
         a.core_data_log == b.core_data_log && a.regs == b.regs;
}

TEST(Variation, IsIndistinguishableButDifferentAndKeepsTheInvariants) {
  const std::vector<RData> states = sample_states();
  int npt_changes = 0;
  for (const RData& d : states) {
    ASSERT_EQ(describe(check_state_inv(d)), "");
    for (Z v : {0, 1, 2, 3}) {
      for (std::uint64_t seed = 0; seed < 8; ++seed) {
        const RData e = vary_unobservable(d, v, seed);
        EXPECT_TRUE(obs_eq(v, d, e));
        EXPECT_FALSE(identical(d, e));
        EXPECT_EQ(describe(check_state_inv(e)), "") << "principal " << model::to_dec(v);
        if (!(e.shared.npts == d.shared.npts)) ++npt_changes;
        const Shared s = vary_unobservable_shared(d.shared, v, seed);
        EXPECT_TRUE(shared_eq(v, d.shared, s));
        EXPECT_FALSE(s.flatmem == d.shared.flatmem);
      }
    }
  }
  EXPECT_GT(npt_changes, 0);  // VM observers see other tables remapped
}

TEST(Variation, IsDeterministicInTheSeed) {
  const RData d = sample_states()[2];
  for (Z v : {0, 2}) {
    EXPECT_TRUE(identical(vary_unobservable(d, v, 7), vary_unobservable(d, v, 7)));
    EXPECT_FALSE(identical(vary_unobservable(d, v, 7), vary_unobservable(d, v, 8)));
  }
}

TEST(Variation, TheHostStillSeesWhichVcpusEverRan) {
  const RData d = sample_states()[3];  // VM 1's vCPU 0 ran
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    const RData e = vary_unobservable(d, kHost, seed);
    for (Z c = 0; c < d.cfg().vcpus_per_vm; ++c) {
      const Z id = d.cfg().ctxt_id(1, c);
      EXPECT_EQ(e.ctx(id).ctxt_states.dirty, d.ctx(id).ctxt_states.dirty);
    }
    for (Z c = 0; c < d.cfg().vcpus_per_vm; ++c) EXPECT_TRUE(e.ctx(c) == d.ctx(c));
  }
}

}  // namespace
}  // namespace hypdiff::oracles
