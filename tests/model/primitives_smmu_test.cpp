#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "model/primitives.hpp"
#include "tests/model/shared_test_util.hpp"

namespace hypdiff::model {
namespace {

using test::booted;
using test::cleared;
using test::same_shared;
using test::set_page;
using test::set_pt;
using test::set_vm_state;

// Lock ids with the default configuration (§1.4).
constexpr Z kS2Page = 2;
constexpr Z kSpt = 3;
constexpr Z kSmmu = 4;
constexpr Z kHostNpt = 5;
constexpr Z kHostInfo = 22;
constexpr Z kVm1Info = 23;

// SMMU context (index 1, cbndx 2): smmu_id 10, ttbr 0x10000 + 10 * 0x2000.
constexpr Z kIndex = 1;
constexpr Z kCb = 2;
constexpr Z kId = 10;
constexpr Z kTtbr = 0x24000;

constexpr Z kRamPfn = 0x300;
constexpr Z kHostGfn = kRamPfn + 1000000000;  // a host page's gfn
constexpr Z kGfn = 0x40000;

Shared owned_by(Z v, Z vm_state = k::READY) {
  Shared s = booted();
  s.smmu_vmid.set(kId, v);
  if (v != k::HOSTVISOR) set_vm_state(s, v, vm_state);
  return s;
}

// ---- local_free_smmu_pgd

TEST(FreeSmmuPgd, FreeContextIsANoOp) {
  const Shared s = booted();
  const PrimResult r = local_free_smmu_pgd(s, kCb, kIndex);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(FreeSmmuPgd, PoweredOffVmsContextIsFreed) {
  const PrimResult r = local_free_smmu_pgd(owned_by(1, k::POWEROFF), kCb, kIndex);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.smmu_vmid.get(kId), k::INVALID);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(FreeSmmuPgd, LiveOwnerHaltsAndReleasesSmmu) {
  for (const Shared& s : {owned_by(1, k::READY), owned_by(1, k::VERIFIED), owned_by(0)}) {
    const PrimResult r = local_free_smmu_pgd(s, kCb, kIndex);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), std::set<Z>{kSmmu});
    EXPECT_EQ(r.s.smmu_vmid, s.smmu_vmid);
  }
}

// ---- local_alloc_smmu_pgd

TEST(AllocSmmuPgd, BankBeyondTheUnitHaltsAndReleasesSmmu) {
  const Shared s = booted();
  const PrimResult r = local_alloc_smmu_pgd(s, 8, 1, kIndex, 8);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kSmmu});
  EXPECT_EQ(r.s.smmu_vmid, s.smmu_vmid);
}

TEST(AllocSmmuPgd, AllocatedContextIsIgnored) {
  const Shared s = owned_by(2);
  const PrimResult r = local_alloc_smmu_pgd(s, kCb, 1, kIndex, 8);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(AllocSmmuPgd, VerifiedVmHaltsAndReleasesInfoAndSmmu) {
  Shared s = booted();
  set_vm_state(s, 1, k::VERIFIED);
  const PrimResult r = local_alloc_smmu_pgd(s, kCb, 1, kIndex, 8);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kVm1Info, kSmmu}));
  EXPECT_EQ(r.s.smmu_vmid, s.smmu_vmid);
}

TEST(AllocSmmuPgd, AssignsTheContextAndResetsItsTables) {
  Shared s = booted();
  // Leftovers of an earlier owner, and another context's table that must survive.
  s.spts.spt_pt.set(kTtbr, ZMap<SptEntry>{}.with(5, SptEntry{9, 0x9000}));
  s.spts.spt_pgd_t.set(kTtbr, ZMap<bool>{}.with(0, true));
  s.spts.spt_pmd_t.set(kTtbr, ZMap<bool>{}.with(0, true));
  s.spts.spt_pt.set(kTtbr + 0x2000, ZMap<SptEntry>{}.with(5, SptEntry{8, 0x8000}));
  for (Z vmid : {Z{0}, Z{1}}) {
    const PrimResult r = local_alloc_smmu_pgd(s, kCb, vmid, kIndex, 8);
    ASSERT_FALSE(r.halt);
    EXPECT_EQ(r.s.smmu_vmid.get(kId), vmid);
    EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr).get(5), (SptEntry{0, 0}));
    EXPECT_FALSE(r.s.spts.spt_pgd_t.get(kTtbr).get(0));
    EXPECT_FALSE(r.s.spts.spt_pmd_t.get(kTtbr).get(0));
    EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr + 0x2000).get(5), (SptEntry{8, 0x8000}));
    EXPECT_EQ(r.s.spts.spt_pgd_next, s.spts.spt_pgd_next);
    EXPECT_TRUE(cleared(r.s).empty());
  }
}

TEST(AllocSmmuPgd, VerifiedStateOfANonVmIdDoesNotBlock) {
  Shared s = booted();
  set_vm_state(s, 16, k::VERIFIED);  // COREVISOR is not a VM
  const PrimResult r = local_alloc_smmu_pgd(s, kCb, 16, kIndex, 8);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.smmu_vmid.get(kId), 16);
}

// ---- local_smmu_assign_page

TEST(SmmuAssignPage, FreeOrHostContextIsANoOp) {
  for (const Shared& s : {booted(), owned_by(0)}) {
    const PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
    EXPECT_FALSE(r.halt);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(SmmuAssignPage, VerifiedVmHaltsAndReleasesSmmuAndInfo) {
  const Shared s = owned_by(1, k::VERIFIED);
  const PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info}));
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(SmmuAssignPage, FreeHostPageGoesToTheVmWithCountInvalid) {
  Shared s = owned_by(1);
  s = local_map_host(s, kRamPfn * 4096).s;
  const PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, k::INVALID, kGfn}));
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(r.s.flatmem, s.flatmem);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(SmmuAssignPage, SharedHostPageHalts) {
  Shared s = owned_by(1);
  set_page(s, kRamPfn, 0, 1, kHostGfn);
  const PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info, kS2Page}));
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(SmmuAssignPage, UnmapFailureHaltsWithoutTransfer) {
  Shared s = owned_by(1);
  set_pt(s, 0, kRamPfn, PtEntry{kRamPfn, 2, 0x300FFD});
  const PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info, kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.s2page, s.s2page);
  EXPECT_EQ(r.s.npts, s.npts);
}

TEST(SmmuAssignPage, VmsOwnPageIsANoOpAndOthersHalt) {
  Shared s = owned_by(1);
  set_page(s, kRamPfn, 1, 0, kGfn + 5);  // any gfn: only the owner is checked
  PrimResult r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
  for (Z owner : {Z{2}, k::INVALID}) {
    set_page(s, kRamPfn, owner, 0, kGfn);
    r = local_smmu_assign_page(s, kCb, kIndex, kRamPfn, kGfn);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info, kS2Page}));
    EXPECT_EQ(r.s.s2page, s.s2page);
  }
}

// ---- local_smmu_map_page

TEST(SmmuMapPage, FreeContextIsANoOp) {
  const Shared s = booted();
  const PrimResult r = local_smmu_map_page(s, kCb, kIndex, kHostGfn * 4096, kRamPfn * 4096);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SmmuMapPage, VerifiedVmHaltsAndReleasesSmmuAndInfo) {
  const Shared s = owned_by(1, k::VERIFIED);
  const PrimResult r = local_smmu_map_page(s, kCb, kIndex, kGfn * 4096, kRamPfn * 4096);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info}));
  EXPECT_EQ(r.s.spts, s.spts);
}

TEST(SmmuMapPage, HostPageAtItsHostGfnMapsAndCounts) {
  // The booted s2page: host RAM page kRamPfn has gfn kRamPfn + SMMU_HOST_OFFSET and count 0.
  const Shared s = owned_by(0);
  const Z pte = (kRamPfn * 4096) | 0x7C3;
  const PrimResult r = local_smmu_map_page(s, kCb, kIndex, kHostGfn * 4096, pte);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr).get(kHostGfn), (SptEntry{kRamPfn, pte}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{0, 1, kHostGfn}));
  EXPECT_EQ(r.s.spts.spt_pgd_next, k::SMMU_PGD_START + 4096);
  EXPECT_EQ(r.s.spts.spt_pmd_next, k::SMMU_PMD_START + 4096);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(SmmuMapPage, HostCountSaturatesAtTheNumberOfContexts) {
  Shared s = owned_by(0);
  set_page(s, kRamPfn, 0, 15, kHostGfn);
  PrimResult r = local_smmu_map_page(s, kCb, kIndex, kHostGfn * 4096, kRamPfn * 4096);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn).count, 16);
  r = local_smmu_map_page(r.s, kCb, kIndex, kHostGfn * 4096, kRamPfn * 4096);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn).count, 16);
}

TEST(SmmuMapPage, VmPageMapsWithoutCounting) {
  Shared s = owned_by(1);
  set_page(s, kRamPfn, 1, 0, kGfn);
  const PrimResult r = local_smmu_map_page(s, kCb, kIndex, kGfn * 4096, kRamPfn * 4096);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr).get(kGfn), (SptEntry{kRamPfn, kRamPfn * 4096}));
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(SmmuMapPage, OwnerOrGfnMismatchHalts) {
  // Host context mapping a host page at an iova other than its host gfn; VM context mapping a
  // page it does not own.
  for (auto [owner, iova_gfn] : {std::pair<Z, Z>{0, kHostGfn + 1}, std::pair<Z, Z>{2, kGfn}}) {
    const Z v = owner == 0 ? 0 : 1;
    Shared s = owned_by(v);
    set_page(s, kRamPfn, owner, 0, owner == 0 ? kHostGfn : kGfn);
    const PrimResult r = local_smmu_map_page(s, kCb, kIndex, iova_gfn * 4096, kRamPfn * 4096);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, v == 0 ? kHostInfo : kVm1Info, kS2Page}));
    EXPECT_EQ(r.s.spts, s.spts);
  }
}

TEST(SmmuMapPage, PoolOverflowHaltsAndReleasesSpt) {
  Shared s = owned_by(0);
  s.spts.spt_pgd_next = k::SMMU_PMD_START;
  const PrimResult r = local_smmu_map_page(s, kCb, kIndex, kHostGfn * 4096, kRamPfn * 4096);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kHostInfo, kS2Page, kSpt}));
  EXPECT_EQ(r.s.spts, s.spts);
  EXPECT_EQ(r.s.s2page, s.s2page);
}

// ---- local_smmu_clear

TEST(SmmuClear, FreeContextIsANoOp) {
  const Shared s = booted();
  const PrimResult r = local_smmu_clear(s, kHostGfn * 4096, kCb, kIndex);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SmmuClear, VerifiedOrLaterVmHaltsAndReleasesSmmuAndInfo) {
  for (Z state : {k::VERIFIED, k::POWEROFF}) {
    const Shared s = owned_by(1, state);
    const PrimResult r = local_smmu_clear(s, kGfn * 4096, kCb, kIndex);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kVm1Info}));
    EXPECT_EQ(r.s.spts, s.spts);
  }
}

TEST(SmmuClear, UnmappedIovaChangesNothing) {
  const Shared s = owned_by(1);
  const PrimResult r = local_smmu_clear(s, kGfn * 4096, kCb, kIndex);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SmmuClear, ClearsTheEntryAndReleasesAHostShare) {
  Shared s = owned_by(0);
  set_page(s, kRamPfn, 0, 0, kHostGfn);
  s = local_smmu_map_page(s, kCb, kIndex, kHostGfn * 4096, kRamPfn * 4096).s;
  ASSERT_EQ(s.s2page.get(kRamPfn).count, 1);
  PrimResult r = local_smmu_clear(s, kHostGfn * 4096 + 0x123, kCb, kIndex);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr).get(kHostGfn), (SptEntry{0, 0}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{0, 0, kHostGfn}));
  EXPECT_EQ(r.s.spts.spt_pgd_next, s.spts.spt_pgd_next);  // tables were already there
  // A host page whose count is already 0 stays at 0.
  Shared zero = s;
  set_page(zero, kRamPfn, 0, 0, kHostGfn);
  r = local_smmu_clear(zero, kHostGfn * 4096, kCb, kIndex);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn).count, 0);
}

TEST(SmmuClear, VmPageCountIsNotTouched) {
  Shared s = owned_by(1);
  set_page(s, kRamPfn, 1, k::INVALID, kGfn);
  s = local_smmu_map_page(s, kCb, kIndex, kGfn * 4096, kRamPfn * 4096).s;
  const PrimResult r = local_smmu_clear(s, kGfn * 4096, kCb, kIndex);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.spts.spt_pt.get(kTtbr).get(kGfn), (SptEntry{0, 0}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, k::INVALID, kGfn}));
}

TEST(SmmuClear, PoolOverflowHaltsAndReleasesEverything) {
  // An entry whose table flags are absent (so clearing it allocates) with a full pool.
  Shared s = owned_by(0);
  s.spts.spt_pt.set(kTtbr, ZMap<SptEntry>{}.with(kHostGfn, SptEntry{kRamPfn, kRamPfn * 4096}));
  s.spts.spt_pmd_next = k::SMMU_POOL_END;
  set_page(s, kRamPfn, 0, 1, kHostGfn);
  const PrimResult r = local_smmu_clear(s, kHostGfn * 4096, kCb, kIndex);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kSmmu, kHostInfo, kS2Page, kSpt}));
  EXPECT_EQ(r.s.spts, s.spts);
  EXPECT_EQ(r.s.s2page, s.s2page);
}

}  // namespace
}  // namespace hypdiff::model
