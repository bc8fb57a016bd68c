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
constexpr Z kHostNpt = 5;
constexpr Z kVm1Npt = 6;
constexpr Z kVm1Info = 23;

// The host's pool pointers at boot: pgd/pud/pmd_start(0).
constexpr Z kHostPgd = 0x11000;
constexpr Z kHostPud = 0x111000;
constexpr Z kHostPmd = 0x911000;

constexpr Z kRamPfn = 0x300;  // host RAM
constexpr Z kDevPfn = 0x100;  // outside RAM: owner INVALID
constexpr Z kGfn = 0x40000;

struct Streams {
  OracleInputs o;
  Streams() { o.data[1] = {0xAA, 0xBB, 0xCC}; }
  Dorc vm1() const { return Dorc{&o, 1}; }
  Dorc host() const { return Dorc{&o, 0}; }
};

// A host NPT whose pt[pfn] cannot be rewritten at level 3 (it is a 2 MiB block entry).
Shared with_host_block_at(Shared s, Z pfn) {
  set_pt(s, 0, pfn, PtEntry{pfn, 2, (pfn * 4096) | 0xFFD});
  return s;
}

TEST(UnmapHost, NothingToDoWhenUnmapped) {
  const Shared s = booted();
  const MmapResult r = unmap_host(s, kRamPfn);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.npt, s.npts.get(0));
}

TEST(UnmapHost, WritesPageGuestAndAllocatesMissingTables) {
  Shared s = booted();
  set_pt(s, 0, kRamPfn, PtEntry{kRamPfn, 3, 0x300FFF});  // no table flags set
  const MmapResult r = unmap_host(s, kRamPfn);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.npt.pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(r.npt.pt_pgd_next, kHostPgd + 4096);
  EXPECT_EQ(r.npt.pt_pud_next, kHostPud + 4096);
  EXPECT_EQ(r.npt.pt_pmd_next, kHostPmd + 4096);
}

// ---- local_map_host

TEST(MapHost, HostPageMapsWithKernelPermissions) {
  const PrimResult r = local_map_host(booted(), kRamPfn * 4096 + 0x10);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{kRamPfn, 3, 0x300FFF}));
  EXPECT_EQ(r.s.npts.get(0).pt_pmd_next, kHostPmd + 4096);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(MapHost, DevicePageMapsWithDevicePermissions) {
  const PrimResult r = local_map_host(booted(), kDevPfn * 4096);
  ASSERT_FALSE(r.halt);
  // 0x100000 | PAGE_S2_DEVICE (0x40000000000747) | S2_RDWR (0xC0)
  const Z pte = Z{0x400000001007C7};
  EXPECT_EQ(r.s.npts.get(0).pt.get(kDevPfn), (PtEntry{kDevPfn, 3, pte}));
}

TEST(MapHost, SharedVmPageMapsWithKernelPermissions) {
  Shared s = booted();
  set_page(s, kRamPfn, 1, 2, kGfn);
  const PrimResult r = local_map_host(s, kRamPfn * 4096);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{kRamPfn, 3, 0x300FFF}));
}

TEST(MapHost, PrivatePageHaltsAndReleasesS2Page) {
  for (Z owner : {Z{1}, Z{16}}) {  // a VM, COREVISOR
    Shared s = booted();
    set_page(s, kRamPfn, owner, 0, kGfn);
    const PrimResult r = local_map_host(s, kRamPfn * 4096);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), std::set<Z>{kS2Page});
    EXPECT_EQ(r.s.npts, s.npts);
  }
}

TEST(MapHost, MapFailureHaltsAndReleasesS2PageAndHostNpt) {
  const Shared s = with_host_block_at(booted(), kRamPfn);
  const PrimResult r = local_map_host(s, kRamPfn * 4096);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.npts, s.npts);
}

// ---- local_clear_vm_page

TEST(ClearVmPage, OtherOwnerIsANoOp) {
  const Shared s = booted();
  const PrimResult r = local_clear_vm_page(s, 1, kRamPfn);  // owned by the host
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(ClearVmPage, ReturnsThePageScrubbedToTheHost) {
  Shared s = booted();
  set_page(s, kRamPfn, 1, 0, kGfn);
  s.flatmem.set(kRamPfn, 0x5EC12E7);
  const PrimResult r = local_clear_vm_page(s, 1, kRamPfn);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{0, 0, kRamPfn + 1000000000}));
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0);
  EXPECT_EQ(r.s.npts, s.npts);  // the host had no mapping to remove
}

TEST(ClearVmPage, RemovesAHostMapping) {
  Shared s = booted();
  set_page(s, kRamPfn, 1, 1, kGfn);
  set_pt(s, 0, kRamPfn, PtEntry{kRamPfn, 3, 0x300FFF});
  const PrimResult r = local_clear_vm_page(s, 1, kRamPfn);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{0, 0, kRamPfn + 1000000000}));
}

TEST(ClearVmPage, UnmapFailureHaltsWithoutTouchingThePage) {
  Shared s = with_host_block_at(booted(), kRamPfn);
  set_page(s, kRamPfn, 1, 0, kGfn);
  s.flatmem.set(kRamPfn, 0x5EC12E7);
  const PrimResult r = local_clear_vm_page(s, 1, kRamPfn);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.s2page, s.s2page);
  EXPECT_EQ(r.s.flatmem, s.flatmem);
  EXPECT_EQ(r.s.npts, s.npts);
}

// ---- local_assign_pfn_to_vm

TEST(AssignPfnToVm, HostPageMovesToTheVmWithOracleContents) {
  Streams st;
  const Shared s = booted();
  const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 1);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 2);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, kGfn}));
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0xBB);  // doracle(1)(1)
  EXPECT_EQ(r.s.npts, s.npts);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(AssignPfnToVm, HostMappingIsRemoved) {
  Streams st;
  Shared s = booted();
  s = local_map_host(s, kRamPfn * 4096).s;
  const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 0);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0xAA);
  EXPECT_EQ(r.logn, 1);
}

TEST(AssignPfnToVm, HostPageSharedWithADeviceHalts) {
  Streams st;
  Shared s = booted();
  set_page(s, kRamPfn, 0, 1, kRamPfn + 1000000000);
  const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 0);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kS2Page});
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(AssignPfnToVm, UnmapFailureStoresOwnerButNotContents) {
  Streams st;
  const Shared s = with_host_block_at(booted(), kRamPfn);
  const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 0);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, kGfn}));
  EXPECT_EQ(r.s.flatmem, s.flatmem);
}

TEST(AssignPfnToVm, AlreadyOwnedIsANoOpLiterally) {
  Streams st;
  for (const S2Page& page : {S2Page{1, k::INVALID, k::INVALID64}, S2Page{1, 3, kGfn}}) {
    Shared s = booted(Profile::literal());
    set_page(s, kRamPfn, page.owner, page.count, page.gfn);
    const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 2);
    EXPECT_FALSE(r.halt);
    EXPECT_EQ(r.logn, 2);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(AssignPfnToVm, AlreadyOwnedIsNormalizedWhenIntended) {
  Streams st;
  Shared s = booted(Profile::intended());
  set_page(s, kRamPfn, 1, k::INVALID, k::INVALID64);  // given through the SMMU
  PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 2);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 2);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, kGfn}));
  EXPECT_EQ(r.s.flatmem, s.flatmem);

  set_page(s, kRamPfn, 1, 3, kGfn);  // a real count survives
  r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 2);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 3, kGfn}));
}

TEST(AssignPfnToVm, ForeignOrMismatchedPagesHalt) {
  Streams st;
  for (const Profile& prof : {Profile::intended(), Profile::literal()}) {
    for (const S2Page& page :
         {S2Page{1, 0, kGfn + 1}, S2Page{2, 0, kGfn}, S2Page{k::INVALID, 0, k::INVALID64}}) {
      Shared s = booted(prof);
      set_page(s, kRamPfn, page.owner, page.count, page.gfn);
      const PrimResult r = local_assign_pfn_to_vm(s, 1, kGfn, kRamPfn, st.vm1(), 0);
      EXPECT_TRUE(r.halt);
      EXPECT_EQ(r.logn, 0);
      EXPECT_EQ(cleared(r.s), std::set<Z>{kS2Page});
      EXPECT_EQ(r.s.s2page, s.s2page);
    }
  }
}

// ---- local_map_pfn_vm

TEST(MapPfnVm, Level3UsesKernelPermissions) {
  const PrimResult r = local_map_pfn_vm(booted(), 1, kGfn * 4096, 0x1234ABC, 3);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(1).pt.get(kGfn), (PtEntry{0x1234, 3, 0x1234FFF}));
}

TEST(MapPfnVm, OtherLevelsAreLevel3) {
  const PrimResult r = local_map_pfn_vm(booted(), 1, kGfn * 4096, 0x1234000, 7);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(1).pt.get(kGfn), (PtEntry{0x1234, 3, 0x1234FFF}));
}

TEST(MapPfnVm, Level2ClearsTheTableBit) {
  const PrimResult r = local_map_pfn_vm(booted(), 1, kGfn * 4096, 0x80000000, 2);
  ASSERT_FALSE(r.halt);
  // (0x80000000 | 0xFFF) & ~2
  EXPECT_EQ(r.s.npts.get(1).pt.get(kGfn), (PtEntry{0x80000, 2, 0x80000FFD}));
  EXPECT_EQ(r.s.npts.get(1).pt.get(kGfn + 511), (PtEntry{0x80000 + 511, 2, 0x80000FFD}));
}

TEST(MapPfnVm, MapFailureReleasesTheVmNpt) {
  Shared s = booted();
  set_pt(s, 1, kGfn, PtEntry{0x80000, 2, 0x80000FFD});
  const PrimResult r = local_map_pfn_vm(s, 1, kGfn * 4096, 0x1234000, 3);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Npt});
  EXPECT_EQ(r.s.npts, s.npts);
}

// ---- local_map_io

TEST(MapIo, VmNotReadyHaltsAndReleasesItsInfo) {
  for (Z state : {k::UNUSED, k::VERIFIED, k::POWEROFF}) {
    Shared s = booted();
    set_vm_state(s, 1, state);
    const PrimResult r = local_map_io(s, 1, 0x8000000, kDevPfn * 4096);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Info});
    EXPECT_EQ(r.s.npts, s.npts);
  }
}

TEST(MapIo, RamPagesAreIgnored) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_map_io(s, 1, 0x8000000, kRamPfn * 4096);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(MapIo, DevicePageMapsWithDevicePermissions) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_map_io(s, 1, 0x8000000, kDevPfn * 4096 + 0x24);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.s.npts.get(1).pt.get(0x8000), (PtEntry{kDevPfn, 3, Z{0x400000001007C7}}));
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(MapIo, MapFailureReleasesInfoS2PageAndVmNpt) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  set_pt(s, 1, 0x8000, PtEntry{0x80000, 2, 0x80000FFD});
  const PrimResult r = local_map_io(s, 1, 0x8000000, kDevPfn * 4096);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kVm1Info, kS2Page, kVm1Npt}));
}

// ---- local_grant_vm_page

TEST(GrantVmPage, IncrementsBelowTheShareLimit) {
  Shared s = booted();
  set_page(s, kRamPfn, 1, 0, kGfn);
  PrimResult r = local_grant_vm_page(s, 1, kRamPfn);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 1, kGfn}));
  set_page(s, kRamPfn, 1, 99, kGfn);
  EXPECT_EQ(local_grant_vm_page(s, 1, kRamPfn).s.s2page.get(kRamPfn), (S2Page{1, 100, kGfn}));
}

TEST(GrantVmPage, NoOpAtTheLimitOrForOthersPages) {
  for (const S2Page& page :
       {S2Page{1, 100, kGfn}, S2Page{1, k::INVALID, kGfn}, S2Page{2, 0, kGfn}}) {
    Shared s = booted();
    set_page(s, kRamPfn, page.owner, page.count, page.gfn);
    const PrimResult r = local_grant_vm_page(s, 1, kRamPfn);
    EXPECT_FALSE(r.halt);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(GrantVmPage, LimitComesFromTheConfig) {
  MachineConfig cfg;
  cfg.max_share_count = 2;
  Shared s = booted(Profile::intended(), cfg);
  set_page(s, kRamPfn, 1, 1, kGfn);
  s = local_grant_vm_page(s, 1, kRamPfn).s;
  EXPECT_EQ(s.s2page.get(kRamPfn).count, 2);
  s = local_grant_vm_page(s, 1, kRamPfn).s;
  EXPECT_EQ(s.s2page.get(kRamPfn).count, 2);
}

// ---- local_revoke_vm_page

TEST(RevokeVmPage, NoOpWhenNotSharedByThisVm) {
  Streams st;
  for (const S2Page& page : {S2Page{1, 0, kGfn}, S2Page{2, 3, kGfn}}) {
    Shared s = booted();
    set_page(s, kRamPfn, page.owner, page.count, page.gfn);
    const PrimResult r = local_revoke_vm_page(s, 1, kRamPfn, st.vm1(), 1);
    EXPECT_FALSE(r.halt);
    EXPECT_EQ(r.logn, 1);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(RevokeVmPage, DecrementsWhileSharesRemain) {
  Streams st;
  Shared s = booted();
  set_page(s, kRamPfn, 1, 3, kGfn);
  PrimResult r = local_revoke_vm_page(s, 1, kRamPfn, st.vm1(), 1);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 1);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 2, kGfn}));
  EXPECT_EQ(r.s.flatmem, s.flatmem);
  // An SMMU-given page's count INVALID is just a large count.
  set_page(s, kRamPfn, 1, k::INVALID, kGfn);
  r = local_revoke_vm_page(s, 1, kRamPfn, st.vm1(), 1);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, k::INVALID - 1, kGfn}));
}

TEST(RevokeVmPage, LastShareUnmapsFromTheHostAndRefreshesContents) {
  Streams st;
  Shared s = booted();
  set_page(s, kRamPfn, 1, 1, kGfn);
  s = local_map_host(s, kRamPfn * 4096).s;
  const PrimResult r = local_revoke_vm_page(s, 1, kRamPfn, st.vm1(), 2);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 3);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, kGfn}));
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0xCC);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
}

TEST(RevokeVmPage, UnmapFailureStoresTheCountButNotContents) {
  Streams st;
  Shared s = with_host_block_at(booted(), kRamPfn);
  set_page(s, kRamPfn, 1, 1, kGfn);
  const PrimResult r = local_revoke_vm_page(s, 1, kRamPfn, st.vm1(), 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 0);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, kGfn}));
  EXPECT_EQ(r.s.flatmem, s.flatmem);
}

// ---- local_save_encrypt_buf

TEST(SaveEncryptBuf, WritesCiphertextIntoTheHostPage) {
  Streams st;
  st.o.data[0] = {0x11, 0x22};
  Shared s = booted();
  set_page(s, 0x400, 1, 0, kGfn);
  const PrimResult r =
      local_save_encrypt_buf(s, 1, 0x400 * 4096 + 8, kRamPfn * 4096 + 8, st.host(), 1);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 2);
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0x22);
  EXPECT_EQ(r.s.flatmem.get(0x400), 0);
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(SaveEncryptBuf, WrongOwnersHalt) {
  Streams st;
  Shared s = booted();
  set_page(s, 0x400, 1, 0, kGfn);
  set_page(s, 0x401, 2, 0, kGfn);
  // (in, out): in not the VM's; out not the host's.
  for (auto [in, out] : {std::pair<Z, Z>{kRamPfn, kRamPfn}, std::pair<Z, Z>{0x400, 0x401},
                         std::pair<Z, Z>{0x400, kDevPfn}}) {
    const PrimResult r = local_save_encrypt_buf(s, 1, in * 4096, out * 4096, st.host(), 1);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(r.logn, 1);
    EXPECT_EQ(cleared(r.s), std::set<Z>{kS2Page});
    EXPECT_EQ(r.s.flatmem, s.flatmem);
  }
}

// ---- local_load_decrypt_buf

TEST(LoadDecryptBuf, VmNotReadyHalts) {
  Streams st;
  const Shared s = booted();
  const PrimResult r = local_load_decrypt_buf(s, 1, kRamPfn * 4096, st.host(), 4);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 4);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Info});
  EXPECT_EQ(r.s.s2page, s.s2page);
}

TEST(LoadDecryptBuf, PageNotFreeHostMemoryHalts) {
  Streams st;
  for (const S2Page& page : {S2Page{0, 1, kRamPfn + 1000000000}, S2Page{2, 0, kGfn}}) {
    Shared s = booted();
    set_vm_state(s, 1, k::READY);
    set_page(s, kRamPfn, page.owner, page.count, page.gfn);
    const PrimResult r = local_load_decrypt_buf(s, 1, kRamPfn * 4096, st.host(), 0);
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(r.logn, 0);
    EXPECT_EQ(cleared(r.s), (std::set<Z>{kVm1Info, kS2Page}));
    EXPECT_EQ(r.s.s2page, s.s2page);
  }
}

TEST(LoadDecryptBuf, HostPageBecomesTheVmsWithPlaintext) {
  Streams st;
  st.o.data[0] = {0x11, 0x22};
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  s = local_map_host(s, kRamPfn * 4096).s;
  const PrimResult r = local_load_decrypt_buf(s, 1, kRamPfn * 4096 + 0x80, st.host(), 0);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 1);
  EXPECT_EQ(r.s.s2page.get(kRamPfn), (S2Page{1, 0, k::INVALID64}));
  EXPECT_EQ(r.s.flatmem.get(kRamPfn), 0x11);
  EXPECT_EQ(r.s.npts.get(0).pt.get(kRamPfn), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(LoadDecryptBuf, UnmapFailureHaltsWithoutTransfer) {
  Streams st;
  Shared s = with_host_block_at(booted(), kRamPfn);
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_load_decrypt_buf(s, 1, kRamPfn * 4096, st.host(), 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 0);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kVm1Info, kS2Page, kHostNpt}));
  EXPECT_EQ(r.s.s2page, s.s2page);
  EXPECT_EQ(r.s.flatmem, s.flatmem);
}

}  // namespace
}  // namespace hypdiff::model
