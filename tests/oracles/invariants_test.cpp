#include "oracles/invariants.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "model/init.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::oracles {
namespace {

namespace k = model::k;
using model::Ctxt;
using model::NPT;
using model::PtEntry;
using model::RData;
using model::S2Page;
using model::Shared;
using model::SptEntry;
using model::Z;

constexpr Z kHost = k::HOSTVISOR;

Z pte_of(Z pfn) { return pfn * k::PAGE_SIZE | k::PAGE_S2_KERNEL; }

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

void set_dirty(RData& d, Z id, Z dirty) {
  Ctxt c = d.ctx(id);
  c.ctxt_states.dirty = dirty;
  d.set_ctx(id, c);
}

// The (clause, where) pairs reported.
std::vector<std::pair<std::string, std::string>> clauses(const std::vector<InvViolation>& vs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const InvViolation& v : vs) out.emplace_back(v.clause, v.where);
  return out;
}

using Found = std::vector<std::pair<std::string, std::string>>;

TEST(Invariants, HoldInTheInitialStateAndAfterBootingVms) {
  RData d = testing::fresh();
  EXPECT_EQ(describe(check_state_inv(d)), "");
  d = testing::boot_vm(d, 0x400).d;
  d = testing::boot_vm(d, 0x800).d;
  EXPECT_EQ(describe(check_state_inv(d)), "");
}

TEST(Invariants, SptCons) {
  RData d = testing::fresh();
  set_spt(d.shared, 0, 1, 0x40, SptEntry{0x812, 0x813000});
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"spt_cons", "smmu 0 cb 1 gfn 0x40"}}));
}

TEST(Invariants, HostNptCons) {
  RData d = testing::fresh();
  set_pt(d.shared, kHost, 0x812, PtEntry{0x812, 3, pte_of(0x813)});
  const std::vector<InvViolation> vs = check_shared_inv(d.shared);
  EXPECT_EQ(clauses(vs), (Found{{"host_npt_cons", "gfn 0x812"}}));
  EXPECT_NE(vs[0].detail.find("0x813"), std::string::npos);
}

TEST(Invariants, HostFlatmap) {
  RData d = testing::fresh();
  set_pt(d.shared, kHost, 0x813, PtEntry{0x812, 3, pte_of(0x812)});
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"host_flatmap", "gfn 0x813"}}));
}

TEST(Invariants, HostS2Map) {
  RData d = testing::fresh();
  d.shared.s2page.set(0x812, S2Page{kHost, 0, 0x812});
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"host_s2_map", "pfn 0x812"}}));
}

TEST(Invariants, Page0Invalid) {
  RData d = testing::fresh();
  d.shared.s2page.set(0, S2Page{kHost, 0, k::SMMU_HOST_OFFSET});
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"page_0_invalid", "pfn 0"}}));
}

TEST(Invariants, HostIso) {
  RData d = testing::fresh();
  set_pt(d.shared, kHost, 0x812, PtEntry{0x812, 3, pte_of(0x812)});
  d.shared.s2page.set(0x812, S2Page{2, 0, 0x40});
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"host_iso", "gfn 0x812"}}));
  d.shared.s2page.set(0x812, S2Page{2, 1, 0x40});  // shared with the host: fine
  EXPECT_TRUE(check_shared_inv(d.shared).empty());
}

TEST(Invariants, VmIso) {
  RData d = testing::fresh();
  set_pt(d.shared, 2, 0x40, PtEntry{0x812, 3, pte_of(0x812)});  // a host page
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"vm_iso", "vm 2 gfn 0x40"}}));
  // Only VMs up to VERIFIED are isolated (a powered-off VM's table is being torn down).
  model::VMInfo info = d.shared.vminfos.get(2);
  info.VS.vm_state = k::POWEROFF;
  d.shared.vminfos.set(2, info);
  EXPECT_TRUE(check_shared_inv(d.shared).empty());
}

// vm_iso skips a VM whose table and page owners are those of its last clean check: a change
// to either must still be seen, whichever map it is in.
TEST(Invariants, VmIsoSeesChangesAfterACleanCheck) {
  RData d = testing::fresh();
  d.shared.s2page.set(0x812, S2Page{2, 0, 0x40});  // VM 2's page
  set_pt(d.shared, 2, 0x40, PtEntry{0x812, 3, pte_of(0x812)});
  EXPECT_TRUE(check_shared_inv(d.shared).empty());
  EXPECT_TRUE(check_shared_inv(d.shared).empty());  // the same maps: skipped, still clean
  const RData clean = d;
  d.shared.s2page.set(0x812, S2Page{3, 0, 0x40});  // now VM 3's: only s2page changed
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"vm_iso", "vm 2 gfn 0x40"}}));
  EXPECT_TRUE(check_shared_inv(clean.shared).empty());
  d = clean;
  set_pt(d.shared, 2, 0x41, PtEntry{0x813, 3, pte_of(0x813)});  // only the table changed
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"vm_iso", "vm 2 gfn 0x41"}}));
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"vm_iso", "vm 2 gfn 0x41"}}));
  EXPECT_TRUE(check_shared_inv(clean.shared).empty());
}

TEST(Invariants, SmmuVm) {
  RData d = testing::fresh();
  d.shared.smmu_vmid.set(d.cfg().smmu_id(1, 2), d.cfg().corevisor());
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"smmu_vm", "smmu 1 cb 2"}}));
}

TEST(Invariants, SmmuIso) {
  RData d = testing::fresh();
  d.shared.smmu_vmid.set(d.cfg().smmu_id(0, 1), 2);
  set_spt(d.shared, 0, 1, 0x40, SptEntry{0x812, 0x812000});  // a host page in VM 2's context
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"smmu_iso", "smmu 0 cb 1 gfn 0x40"}}));
}

TEST(Invariants, SmmuCount) {
  RData d = testing::fresh();
  d.shared.smmu_vmid.set(d.cfg().smmu_id(0, 1), kHost);
  set_spt(d.shared, 0, 1, 0x812 + k::SMMU_HOST_OFFSET, SptEntry{0x812, 0x812000});
  EXPECT_EQ(count_smmu_map(0x812, d.shared), 1);
  EXPECT_EQ(count_smmu_map(0x813, d.shared), 0);
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"smmu_count", "pfn 0x812"}}));
  d.shared.s2page.set(0x812, S2Page{kHost, 1, 0x812 + k::SMMU_HOST_OFFSET});
  EXPECT_TRUE(check_shared_inv(d.shared).empty());
  // The same mapping in a context nobody owns is not counted.
  d.shared.s2page.set(0x812, S2Page{kHost, 0, 0x812 + k::SMMU_HOST_OFFSET});
  d.shared.smmu_vmid.set(d.cfg().smmu_id(0, 1), k::INVALID);
  EXPECT_EQ(count_smmu_map(0x812, d.shared), 0);
  EXPECT_TRUE(check_shared_inv(d.shared).empty());
}

TEST(Invariants, DefaultEntriesStandForEveryKeyNotStored) {
  RData d = testing::fresh();
  NPT npt = d.shared.npts.get(kHost);
  npt.pt = model::ZMap<PtEntry>::init(PtEntry{0x812, 3, pte_of(0x812)});
  d.shared.npts.set(kHost, npt);
  EXPECT_EQ(clauses(check_shared_inv(d.shared)), (Found{{"host_flatmap", "every gfn not stored"}}));
}

TEST(Invariants, StateInvClauses) {
  const RData base = testing::fresh();
  const Z core = base.cfg().corevisor();
  const Z ctxts = base.cfg().vcpus_per_vm;
  struct Case {
    const char* clause;
    std::function<void(RData&)> edit;
  };
  const std::vector<Case> cases = {
      {"cur_vmid_range",
       [&](RData& d) {
         d.icore = true;
         d.cur_vmid = core + 1;
         set_dirty(d, (core + 1) * ctxts, 0);
       }},
      {"cur_vcpuid_range",
       [&](RData& d) {
         d.ihost = false;
         d.icore = true;
         d.cur_vmid = 2;
         d.cur_vcpuid = ctxts;
         set_dirty(d, 2 * ctxts + ctxts, 0);
       }},
      {"valid_host_vmid",
       [&](RData& d) {
         d.cur_vmid = 2;
         set_dirty(d, 2 * ctxts, 0);
       }},
      {"valid_host_vcpuid", [&](RData& d) { d.cur_vcpuid = 1; }},
      {"valid_core_vcpuid",
       [&](RData& d) {
         d.icore = true;
         d.cur_vmid = core;
         d.cur_vcpuid = 1;
         set_dirty(d, core * ctxts + 1, 0);
       }},
      {"valid_vm_vmid", [&](RData& d) { d.ihost = false; }},
      {"run_vcpu_dirty", [&](RData& d) { set_dirty(d, 0, k::INVALID64); }},
  };
  for (const Case& c : cases) {
    RData d = base;
    c.edit(d);
    const std::vector<InvViolation> vs = check_state_inv(d);
    ASSERT_EQ(vs.size(), 1U) << c.clause << ":\n" << describe(vs);
    EXPECT_EQ(vs[0].clause, c.clause);
  }
  RData d = base;
  d.curid = 8;  // also breaks valid_host_vcpuid (cur_vcpuid 0 != curid)
  EXPECT_EQ(clauses(check_state_inv(d)),
            (Found{{"curid_range", "curid"}, {"valid_host_vcpuid", "cur_vcpuid"}}));
}

TEST(Invariants, ReportsSharedClausesFirstAndStopsAtTheCap) {
  RData d = testing::fresh();
  for (Z g = 0x300; g < 0x340; ++g) set_pt(d.shared, kHost, g, PtEntry{g, 3, pte_of(g + 1)});
  d.cur_vcpuid = 1;
  std::vector<InvViolation> vs = check_state_inv(d, 5);
  ASSERT_EQ(vs.size(), 5U);
  EXPECT_EQ(vs[0].where, "gfn 0x300");  // in key order
  EXPECT_EQ(vs[4].where, "gfn 0x304");
  vs = check_state_inv(d, 100);
  ASSERT_EQ(vs.size(), 0x41U);
  EXPECT_EQ(vs.back().clause, "valid_host_vcpuid");
  EXPECT_EQ(describe({vs.back()}),
            "valid_host_vcpuid at cur_vcpuid: cur_vmid = HOST but cur_vcpuid 1 != curid 0\n");
}

}  // namespace
}  // namespace hypdiff::oracles
