#include "model/loops.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/concurrency.hpp"
#include "model/init.hpp"
#include "tests/model/shared_test_util.hpp"

namespace hypdiff::model {
namespace {

// Lock ids and principals with the default configuration (§1.4).
constexpr Z kS2Page = 2;
constexpr Z kHostNpt = 5;
constexpr Z kVm1Npt = 6;
constexpr Z kCorevisor = 16;
constexpr Z kCorevisorNpt = 21;
constexpr Z kVm1Info = 23;

RData state(const Profile& prof, OracleInputs o = {}) {
  return initial_state(MachineConfig{}, prof, std::make_shared<const OracleInputs>(std::move(o)));
}

SingleEvent ev(EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0) {
  return SingleEvent{0, AtomicEvent{kind, {a, b, c, e}}};
}

std::vector<SingleEvent> log_of(const RData& d) {
  return d.slog.newest(std::numeric_limits<std::size_t>::max());
}

PtEntry host_pt(const Shared& s, Z gfn) { return s.npts.get(0).pt.get(gfn); }
PtEntry vm_pt(const Shared& s, Z vmid, Z gfn) { return s.npts.get(vmid).pt.get(gfn); }
// What local_map_host leaves in the host table for a host-owned RAM frame.
PtEntry host_ram_entry(Z pfn) { return PtEntry{pfn, 3, (pfn * 4096) | 0xFFF}; }
PtEntry device_entry(Z pfn) {
  return PtEntry{pfn, 3, (pfn * 4096) | k::PAGE_S2_DEVICE | k::S2_RDWR};
}
// The boot-time s2page of a host RAM frame.
S2Page host_page(Z pfn) { return S2Page{0, 0, pfn + k::SMMU_HOST_OFFSET}; }

// ---- prot_and_map_vm_loop_h -----------------------------------------------------------------

TEST(ProtAndMapVmLoop, AssignsConsecutiveFramesAndLogsTheFirstGfn) {
  OracleInputs o;
  o.data[1] = {100, 101, 102, 103};
  RData d = state(Profile::intended(), o);
  test::set_pt(d.shared, 0, 0x301, host_ram_entry(0x301));
  const Outcome r = prot_and_map_vm_loop_h(3, 1, 0x10, 0x300, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  for (Z i = 0; i < 3; ++i) {
    EXPECT_EQ(r->shared.s2page.get(0x300 + i), (S2Page{1, 0, 0x10 + i}));
    EXPECT_EQ(r->shared.flatmem.get(0x300 + i), 100 + i);
  }
  EXPECT_EQ(r->data_log.get(1), 3);
  EXPECT_EQ(host_pt(r->shared, 0x301), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OASSIGN_VM, 1, 0x10, 0x300, 2),
                                                  ev(EventKind::OASSIGN_VM, 1, 0x10, 0x300, 1),
                                                  ev(EventKind::OASSIGN_VM, 1, 0x10, 0x300, 0)}));
}

TEST(ProtAndMapVmLoop, StopsAtTheFirstHalt) {
  OracleInputs o;
  o.data[1] = {100, 101, 102};
  RData d = state(Profile::intended(), o);
  test::set_page(d.shared, 0x301, 2, 0, 0x77);  // another VM's page
  const Outcome r = prot_and_map_vm_loop_h(3, 1, 0x10, 0x300, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x300), (S2Page{1, 0, 0x10}));
  EXPECT_EQ(r->shared.s2page.get(0x301), (S2Page{2, 0, 0x77}));
  EXPECT_EQ(r->shared.s2page.get(0x302), host_page(0x302));
  EXPECT_EQ(r->data_log.get(1), 1);
  EXPECT_EQ(r->slog.length(), 2u);
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kS2Page}));
}

TEST(ProtAndMapVmLoop, LiteralFailsOnAClearedLock) {
  RData d = state(Profile::literal());
  d.shared.hlock.set(kHostNpt, false);
  EXPECT_FALSE(prot_and_map_vm_loop_h(3, 1, 0x10, 0x300, d));
  // A zero-length loop relies on nothing.
  EXPECT_TRUE(prot_and_map_vm_loop_h(0, 1, 0x10, 0x300, d));
}

// Another CPU's panicking host mapping (of a VM's private page) clears S2PAGE between the first
// and the second page.
OracleInputs foreign_panic_at(std::uint64_t len) {
  OracleInputs o;
  o.soracle[len] = {SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {0x500000, 0, 0, 0}}}};
  return o;
}
void own_private_page(RData& d) { test::set_page(d.shared, 0x500, 2, 0, 0x99); }

TEST(ProtAndMapVmLoop, LiteralFailsWhenAnotherCpuClearedTheLockMidway) {
  RData d = state(Profile::literal(), foreign_panic_at(1));
  own_private_page(d);
  EXPECT_FALSE(prot_and_map_vm_loop_h(3, 1, 0x10, 0x300, d));
}

TEST(ProtAndMapVmLoop, IntendedReacquiresAfterAnotherCpusPanic) {
  RData d = state(Profile::intended(), foreign_panic_at(1));
  own_private_page(d);
  const Outcome r = prot_and_map_vm_loop_h(3, 1, 0x10, 0x300, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x302), (S2Page{1, 0, 0x12}));
  EXPECT_EQ(r->slog.length(), 4u);
  EXPECT_EQ(log_of(*r)[2].cpu, 1);
  EXPECT_TRUE(test::cleared(r->shared).empty());
}

// ---- prot_and_map_vm_s2pt_spec_h ------------------------------------------------------------

constexpr Z kPte3 = 0x300000 | 0x7C3;  // a host-proposed pte for frame 0x300

TEST(ProtAndMapVmS2pt, HaltedInputIsReturnedUnchanged) {
  RData d = state(Profile::intended());
  d.halt = true;
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_TRUE(test::same_shared(r->shared, d.shared));
}

TEST(ProtAndMapVmS2pt, Level3AssignsThenMaps) {
  OracleInputs o;
  o.data[1] = {100};
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, state(Profile::literal(), o));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x300), (S2Page{1, 0, 5}));
  EXPECT_EQ(r->shared.flatmem.get(0x300), 100);
  EXPECT_EQ(r->data_log.get(1), 1);
  EXPECT_EQ(vm_pt(r->shared, 1, 5), (PtEntry{0x300, 3, 0x300FFF}));
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OMAP_VM, 1, 0x5000, kPte3, 3),
                                                  ev(EventKind::OASSIGN_VM, 1, 5, 0x300, 0)}));
}

TEST(ProtAndMapVmS2pt, Level3LiteralMapsAfterAHaltingAssignAndForgetsTheHalt) {
  Profile p = Profile::intended();
  p.map_halt_check = false;
  RData d = state(p);
  test::set_page(d.shared, 0x300, 2, 0, 0x77);
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 5), (PtEntry{0x300, 3, 0x300FFF}));
  EXPECT_EQ(r->shared.s2page.get(0x300), (S2Page{2, 0, 0x77}));
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kS2Page}));
  EXPECT_EQ(r->slog.length(), 2u);
}

TEST(ProtAndMapVmS2pt, Level3IntendedStopsAtAHaltingAssign) {
  RData d = state(Profile::intended());
  test::set_page(d.shared, 0x300, 2, 0, 0x77);
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 5), PtEntry{});
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kS2Page}));
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OASSIGN_VM, 1, 5, 0x300, 0)}));
}

TEST(ProtAndMapVmS2pt, Level3MapFailureHalts) {
  RData d = state(Profile::intended());
  test::set_pt(d.shared, 1, 5, PtEntry{0x900, 2, 0x900FFD});  // inside a block: cannot split
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x300), (S2Page{1, 0, 5}));
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kVm1Npt}));
}

TEST(ProtAndMapVmS2pt, Level3LiteralMapReliesOnTheVmTableLock) {
  RData d = state(Profile::literal());
  d.shared.hlock.set(kVm1Npt, false);
  EXPECT_FALSE(prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d));
  d.shared.hlock.set(kVm1Npt, true);
  d.shared.hlock.set(kS2Page, false);
  EXPECT_FALSE(prot_and_map_vm_s2pt_spec_h(1, 0x5000, kPte3, 3, d));
}

constexpr Z kPte2 = 0x400000 | 0xF;

TEST(ProtAndMapVmS2pt, Level2AssignsTheBlockFromAnUnalignedGfnThenMapsIt) {
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x203000, kPte2, 2, state(Profile::literal()));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x400), (S2Page{1, 0, 0x200}));
  EXPECT_EQ(r->shared.s2page.get(0x5FF), (S2Page{1, 0, 0x3FF}));
  EXPECT_EQ(r->shared.s2page.get(0x600), host_page(0x600));
  EXPECT_EQ(r->data_log.get(1), 512);
  // (0x400000 | PAGE_S2_KERNEL) & NOT_PMD_TABLE_BIT
  EXPECT_EQ(vm_pt(r->shared, 1, 0x200), (PtEntry{0x400, 2, 0x400FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x3FF), (PtEntry{0x5FF, 2, 0x400FFD}));
  ASSERT_EQ(r->slog.length(), 513u);
  const std::vector<SingleEvent> log = log_of(*r);
  EXPECT_EQ(log[0], ev(EventKind::OMAP_VM, 1, 0x203000, kPte2, 2));
  EXPECT_EQ(log[1], ev(EventKind::OASSIGN_VM, 1, 0x200, 0x400, 511));
  EXPECT_EQ(log[512], ev(EventKind::OASSIGN_VM, 1, 0x200, 0x400, 0));
}

TEST(ProtAndMapVmS2pt, Level2StopsBeforeTheMapWhenTheLoopHalts) {
  RData d = state(Profile::literal());
  test::set_page(d.shared, 0x410, 2, 0, 0x77);
  const Outcome r = prot_and_map_vm_s2pt_spec_h(1, 0x203000, kPte2, 2, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->slog.length(), 17u);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x200), PtEntry{});
}

TEST(ProtAndMapVmS2pt, Level2LiteralMapReliesOnTheVmTableLock) {
  RData d = state(Profile::literal());
  d.shared.hlock.set(kVm1Npt, false);
  EXPECT_FALSE(prot_and_map_vm_s2pt_spec_h(1, 0x203000, kPte2, 2, d));
}

// ---- clear_vm_loop_h ------------------------------------------------------------------------

RData with_vm1_pages(RData d) {
  test::set_page(d.shared, 0x300, 1, 0, 0x40000);
  test::set_page(d.shared, 0x302, 1, 0, 0x40002);
  d.shared.flatmem.set(0x300, 5);
  d.shared.flatmem.set(0x302, 6);
  test::set_pt(d.shared, 0, 0x302, host_ram_entry(0x302));
  return d;
}

TEST(ClearVmLoop, ReturnsTheVmsFramesToTheHost) {
  const Outcome r = clear_vm_loop_h(4, 0x300, 1, with_vm1_pages(state(Profile::intended())));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x300), host_page(0x300));
  EXPECT_EQ(r->shared.s2page.get(0x302), host_page(0x302));
  EXPECT_EQ(r->shared.flatmem.get(0x300), 0);
  EXPECT_EQ(r->shared.flatmem.get(0x302), 0);
  EXPECT_EQ(host_pt(r->shared, 0x302), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(log_of(*r),
            (std::vector<SingleEvent>{
                ev(EventKind::OCLEAR_VM, 1, 0x303), ev(EventKind::OCLEAR_VM, 1, 0x302),
                ev(EventKind::OCLEAR_VM, 1, 0x301), ev(EventKind::OCLEAR_VM, 1, 0x300)}));
}

TEST(ClearVmLoop, StopsWhenTheHostUnmapFails) {
  RData d = with_vm1_pages(state(Profile::intended()));
  test::set_pt(d.shared, 0, 0x302, PtEntry{0x302, 2, 0x200FFD});
  const Outcome r = clear_vm_loop_h(4, 0x300, 1, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x300), host_page(0x300));
  EXPECT_EQ(r->shared.s2page.get(0x302), (S2Page{1, 0, 0x40002}));
  EXPECT_EQ(r->shared.flatmem.get(0x302), 6);
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(r->slog.length(), 3u);
  EXPECT_EQ(log_of(*r)[0], ev(EventKind::OCLEAR_VM, 1, 0x302));
}

TEST(ClearVmLoop, HaltedInputDoesNothing) {
  RData d = with_vm1_pages(state(Profile::literal()));
  d.halt = true;
  const Outcome r = clear_vm_loop_h(4, 0x300, 1, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_EQ(r->shared.s2page.get(0x300), (S2Page{1, 0, 0x40000}));
}

TEST(ClearVmLoop, LiteralFailsOnAClearedLockEvenWithNothingToClear) {
  RData d = state(Profile::literal());
  d.shared.hlock.set(kS2Page, false);
  EXPECT_FALSE(clear_vm_loop_h(pow2(28), 0x300, 1, d));
}

TEST(ClearVmLoop, LiteralFailsWhenAnotherCpuClearedTheLockMidway) {
  RData d = with_vm1_pages(state(Profile::literal(), foreign_panic_at(2)));
  own_private_page(d);
  EXPECT_FALSE(clear_vm_loop_h(4, 0x300, 1, d));
  // The same loop ending before the panic is seen succeeds.
  EXPECT_TRUE(clear_vm_loop_h(2, 0x300, 1, d));
}

TEST(ClearVmLoop, IntendedReacquiresAfterAnotherCpusPanic) {
  RData d = with_vm1_pages(state(Profile::intended(), foreign_panic_at(2)));
  own_private_page(d);
  const Outcome r = clear_vm_loop_h(4, 0x300, 1, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x302), host_page(0x302));
  EXPECT_TRUE(test::cleared(r->shared).empty());
  EXPECT_EQ(r->slog.length(), 5u);
}

TEST(ClearVmLoop, HugeRangeWithFewOwnedFrames) {
  OracleInputs o;
  o.soracle[1000] = {SingleEvent{2, AtomicEvent{EventKind::OGEN_VMID, {}}}};
  RData d = with_vm1_pages(state(Profile::intended(), o));
  test::set_page(d.shared, 0x1FFF, 1, 0, 0x1);   // last RAM frame
  test::set_page(d.shared, 0x50000, 1, 0, 0x2);  // outside RAM
  const Z n = pow2(28);
  const Outcome r = clear_vm_loop_h(n, 0x300, 1, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x1FFF), host_page(0x1FFF));
  EXPECT_EQ(r->shared.s2page.get(0x50000), (S2Page{0, 0, 0x50000 + k::SMMU_HOST_OFFSET}));
  EXPECT_EQ(r->slog.length(), static_cast<std::uint64_t>(n) + 1);
  const std::vector<SingleEvent> log = r->slog.newest(2);
  EXPECT_EQ(log[0], ev(EventKind::OCLEAR_VM, 1, 0x300 + n - 1));
  EXPECT_EQ(log[1], ev(EventKind::OCLEAR_VM, 1, 0x300 + n - 2));
}

// ---- unmap_and_load_loop_h -------------------------------------------------------------------

constexpr Z kRemap = k::REMAP_START;

// KCore's remap window maps remap address `va` to frame `pfn`.
void remap(RData& d, Z va, Z pfn) {
  test::set_pt(d.shared, kCorevisor, va / 4096, PtEntry{pfn, 3, (pfn * 4096) | k::PAGE_HYP});
}

TEST(UnmapAndLoadLoop, MovesTheBlockBehindTheRemapPageIntoTheVm) {
  RData d = state(Profile::intended());
  remap(d, kRemap, 0x401);  // inside the 2 MiB block at frame 0x400
  const Outcome r = unmap_and_load_loop_h(1, 1, 0x40000000, 0x40000000, kRemap, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40000), (PtEntry{0x400, 2, 0x400FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x401FF), (PtEntry{0x5FF, 2, 0x400FFD}));
  EXPECT_EQ(r->shared.s2page.get(0x401), (S2Page{1, 0, 0x40001}));
  ASSERT_EQ(r->slog.length(), 514u);
  const std::vector<SingleEvent> log = log_of(*r);
  EXPECT_EQ(log[0], ev(EventKind::OMAP_VM, 1, 0x40000000, 0x400000, 2));
  EXPECT_EQ(log[1], ev(EventKind::OASSIGN_VM, 1, 0x40000, 0x400, 511));
  EXPECT_EQ(log[513], ev(EventKind::OPT_GET, kCorevisor));
}

TEST(UnmapAndLoadLoop, FollowsTheRemapWindowFromAnUnalignedTarget) {
  RData d = state(Profile::intended());
  // First chunk: the remap page of the target; second: target's next 2 MiB boundary.
  remap(d, kRemap, 0x400);
  remap(d, kRemap + 0x1FF000, 0x800);
  const Outcome r = unmap_and_load_loop_h(3, 1, 0x40000000, 0x40001000, kRemap, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40000), (PtEntry{0x400, 2, 0x400FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40200), (PtEntry{0x800, 2, 0x800FFD}));
  // The third chunk's remap page (kRemap + 0x3FF000) is unmapped: halt.
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->slog.length(), 2u * 514 + 1);
  EXPECT_EQ(log_of(*r)[0], ev(EventKind::OPT_GET, kCorevisor));
}

TEST(UnmapAndLoadLoop, UnmappedRemapPageHalts) {
  const Outcome r =
      unmap_and_load_loop_h(4, 1, 0x40000000, 0x40000000, kRemap, state(Profile::intended()));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OPT_GET, kCorevisor)}));
  EXPECT_TRUE(test::cleared(r->shared).empty());
}

TEST(UnmapAndLoadLoop, LiteralReliesOnKcoresTableLock) {
  RData d = state(Profile::literal());
  remap(d, kRemap, 0x400);
  d.shared.hlock.set(kCorevisorNpt, false);
  EXPECT_FALSE(unmap_and_load_loop_h(1, 1, 0x40000000, 0x40000000, kRemap, d));
  // None from inside the block load propagates too.
  d.shared.hlock.set(kCorevisorNpt, true);
  d.shared.hlock.set(kVm1Npt, false);
  EXPECT_FALSE(unmap_and_load_loop_h(1, 1, 0x40000000, 0x40000000, kRemap, d));
}

// ---- verify_and_load_loop_h ------------------------------------------------------------------

// VM 1 with three one-page images at 0x40000000, 0x40400000 and 0x40800000, remapped to
// KCore's window pages 0, 1, 2, which map frames in the 2 MiB blocks at 0x400, 0x600, 0x800.
RData three_images(const Profile& p, OracleInputs o = {}) {
  RData d = state(p, std::move(o));
  VMInfo info = d.shared.vminfos.get(1);
  for (Z i = 0; i < 3; ++i) {
    info.VB.vm_load_addr.set(i, 0x40000000 + i * 0x400000);
    info.VB.vm_load_size.set(i, 4096);
    info.VB.vm_remap_addr.set(i, kRemap + i * 4096);
    info.VB.vm_mapped_pages.set(i, 1);
    remap(d, kRemap + i * 4096, 0x400 + i * 0x200);
  }
  info.VB.vm_next_load_info = 3;
  d.shared.vminfos.set(1, info);
  return d;
}

TEST(VerifyAndLoadLoop, IntendedLoadsEveryImage) {
  const Outcome r = verify_and_load_loop_h(3, 1, three_images(Profile::intended()));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40000), (PtEntry{0x400, 2, 0x400FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40400), (PtEntry{0x600, 2, 0x600FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40800), (PtEntry{0x800, 2, 0x800FFD}));
  EXPECT_EQ(r->slog.length(), 3u * 514);
}

TEST(VerifyAndLoadLoop, LiteralRepeatsTheSecondImage) {
  Profile p = Profile::intended();
  p.verify_index = false;
  const Outcome r = verify_and_load_loop_h(3, 1, three_images(p));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40000), (PtEntry{0x400, 2, 0x400FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40400), (PtEntry{0x600, 2, 0x600FFD}));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40800), PtEntry{});
  EXPECT_EQ(r->shared.s2page.get(0x800), host_page(0x800));
  // Loads 0, 1, 1: the last OMAP_VM names image 1 again.
  EXPECT_EQ(r->slog.length(), 3u * 514);
  EXPECT_EQ(log_of(*r)[0], ev(EventKind::OMAP_VM, 1, 0x40400000, 0x600000, 2));
}

TEST(VerifyAndLoadLoop, IntendedHaltsOnABadSignatureBeforeLoading) {
  OracleInputs o;
  o.params.verify_img[1] = 0;
  const Outcome r = verify_and_load_loop_h(3, 1, three_images(Profile::intended(), o));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40000), PtEntry{});
}

TEST(VerifyAndLoadLoop, LiteralNeverChecksTheSignature) {
  OracleInputs o;
  o.params.verify_img[1] = 0;
  Profile p = Profile::intended();
  p.verify_img = false;
  const Outcome r = verify_and_load_loop_h(3, 1, three_images(p, o));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x40800), (PtEntry{0x800, 2, 0x800FFD}));
}

TEST(VerifyAndLoadLoop, AHaltEndsTheLoad) {
  RData d = three_images(Profile::intended());
  test::set_pt(d.shared, kCorevisor, kRemap / 4096, PtEntry{});  // image 0 not remapped
  const Outcome r = verify_and_load_loop_h(3, 1, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->slog.length(), 1u);
}

TEST(VerifyAndLoadLoop, ZeroImagesDoNothing) {
  const RData d = three_images(Profile::intended());
  const Outcome r = verify_and_load_loop_h(0, 1, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_TRUE(test::same_shared(r->shared, d.shared));
}

TEST(VerifyAndLoadLoop, LiteralNonePropagates) {
  RData d = three_images(Profile::literal());
  d.shared.hlock.set(kCorevisorNpt, false);
  EXPECT_FALSE(verify_and_load_loop_h(3, 1, d));
}

// ---- kvm_phys_addr_ioremap_loop_h ------------------------------------------------------------

constexpr Z kGpa = 0x10000000;

RData ready_vm1(const Profile& p, OracleInputs o = {}) {
  RData d = state(p, std::move(o));
  test::set_vm_state(d.shared, 1, k::READY);
  return d;
}

TEST(IoremapLoop, MapsDeviceFrames) {
  const Outcome r =
      kvm_phys_addr_ioremap_loop_h(2, 1, kGpa, 0x100000, ready_vm1(Profile::literal()));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000), device_entry(0x100));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10001), device_entry(0x101));
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OMAP_IO, 1, kGpa + 4096, 0x101000),
                                                  ev(EventKind::OMAP_IO, 1, kGpa, 0x100000)}));
}

TEST(IoremapLoop, IgnoresRamFramesButLogsThem) {
  const RData d = ready_vm1(Profile::intended());
  const Outcome r = kvm_phys_addr_ioremap_loop_h(3, 1, kGpa, 0x300000, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_TRUE(r->shared.npts == d.shared.npts);
  EXPECT_EQ(log_of(*r),
            (std::vector<SingleEvent>{ev(EventKind::OMAP_IO, 1, kGpa + 2 * 4096, 0x302000),
                                      ev(EventKind::OMAP_IO, 1, kGpa + 4096, 0x301000),
                                      ev(EventKind::OMAP_IO, 1, kGpa, 0x300000)}));
}

TEST(IoremapLoop, SkipsRamAndMapsWhatIsNotOwned) {
  RData d = ready_vm1(Profile::intended());
  test::set_page(d.shared, 0x250, k::INVALID, 0, k::INVALID64);  // a hole in RAM
  test::set_page(d.shared, 0x2001, 2, 0, 0x9);                   // owned, outside RAM
  const Z n = 0x1E00 + 3;                                        // RAM, then 0x2000..0x2002
  const Outcome r = kvm_phys_addr_ioremap_loop_h(n, 1, kGpa, 0x200000, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000 + 0x50), device_entry(0x250));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000 + 0x1E00), device_entry(0x2000));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000 + 0x1E01), PtEntry{});
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000 + 0x1E02), device_entry(0x2002));
  EXPECT_EQ(vm_pt(r->shared, 1, 0x10000 + 0x51), PtEntry{});
  EXPECT_EQ(r->shared.npts.get(1).pt.explicit_size(), 3u);
  EXPECT_EQ(r->slog.length(), static_cast<std::uint64_t>(n));
  const std::vector<SingleEvent> log = log_of(*r);
  EXPECT_EQ(log[0], ev(EventKind::OMAP_IO, 1, kGpa + (n - 1) * 4096, 0x200000 + (n - 1) * 4096));
  EXPECT_EQ(log[n - 1], ev(EventKind::OMAP_IO, 1, kGpa, 0x200000));
  EXPECT_EQ(log[n - 0x51], ev(EventKind::OMAP_IO, 1, kGpa + 0x50 * 4096, 0x250000));
}

TEST(IoremapLoop, VmNotReadyHaltsAtOnce) {
  const Outcome r =
      kvm_phys_addr_ioremap_loop_h(pow2(28), 1, kGpa, 0x300000, state(Profile::intended()));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kVm1Info}));
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OMAP_IO, 1, kGpa, 0x300000)}));
}

TEST(IoremapLoop, MapFailureHalts) {
  RData d = ready_vm1(Profile::intended());
  test::set_pt(d.shared, 1, 0x10001, PtEntry{0x900, 2, 0x900FFD});
  const Outcome r = kvm_phys_addr_ioremap_loop_h(3, 1, kGpa, 0x100000, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kVm1Info, kS2Page, kVm1Npt}));
  EXPECT_EQ(r->slog.length(), 2u);
}

TEST(IoremapLoop, LiteralReliesOnItsLocks) {
  for (Z id : {kVm1Info, kS2Page, kVm1Npt}) {
    RData d = ready_vm1(Profile::literal());
    d.shared.hlock.set(id, false);
    EXPECT_FALSE(kvm_phys_addr_ioremap_loop_h(2, 1, kGpa, 0x300000, d)) << to_dec(id);
  }
}

// ---- grant_stage2_loop / revoke_stage2_loop --------------------------------------------------

constexpr Z kAddr = 0x40000000;  // gfn 0x40000

// VM 1 maps gfn 0x40000 + i to frame 0x400 + i (4 KiB pages) with the given share counts.
RData shared_pages(const Profile& p, std::vector<Z> counts, OracleInputs o = {}) {
  RData d = state(p, std::move(o));
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const Z gfn = 0x40000 + static_cast<Z>(i);
    const Z pfn = 0x400 + static_cast<Z>(i);
    test::set_pt(d.shared, 1, gfn, PtEntry{pfn, 3, (pfn * 4096) | 0xFFF});
    test::set_page(d.shared, pfn, 1, counts[i], gfn);
  }
  return d;
}

// VM 1 maps the 2 MiB block at gfn 0x40000 to frames 0x400.. (every entry has the block's pte).
RData block_mapped(const Profile& p) {
  RData d = state(p);
  NPT npt = d.shared.npts.get(1);
  for (Z i = 0; i < 512; ++i) npt.pt.set(0x40000 + i, PtEntry{0x400 + i, 2, 0x400FFD});
  d.shared.npts.set(1, npt);
  for (Z i = 0; i < 512; ++i) test::set_page(d.shared, 0x400 + i, 1, 1, 0x40000 + i);
  return d;
}

std::vector<SingleEvent> share_events(EventKind kind, Z pfn, Z logn = -1) {
  // Newest first: the grant/revoke, then the two OPT_GETs.
  const SingleEvent e = kind == EventKind::OGRANT ? ev(kind, 1, pfn) : ev(kind, 1, pfn, 1, logn);
  return {e, ev(EventKind::OPT_GET, 1), ev(EventKind::OPT_GET, 1)};
}

TEST(GrantStage2Loop, CountsOneShareOfEachMappedPage) {
  const Outcome r = grant_stage2_loop(3, 1, kAddr, shared_pages(Profile::literal(), {0, 5}));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x400), (S2Page{1, 1, 0x40000}));
  EXPECT_EQ(r->shared.s2page.get(0x401), (S2Page{1, 6, 0x40001}));
  std::vector<SingleEvent> want = {ev(EventKind::OPT_GET, 1), ev(EventKind::OPT_GET, 1)};
  for (Z pfn : {0x401, 0x400}) {
    for (const SingleEvent& e : share_events(EventKind::OGRANT, pfn)) want.push_back(e);
  }
  EXPECT_EQ(log_of(*r), want);
}

TEST(GrantStage2Loop, AnUnalignedAddressCoversTheNextPageToo) {
  // addr 0x40000800, 2 pages: gfns 0x40000 and 0x40001.
  const Outcome r =
      grant_stage2_loop(2, 1, kAddr + 0x800, shared_pages(Profile::literal(), {0, 0}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x401).count, 1);
}

TEST(GrantStage2Loop, NotOwnedOrFullyCountedPagesAreLeftAlone) {
  RData d = shared_pages(Profile::intended(), {100, 0});
  test::set_page(d.shared, 0x401, 2, 0, 0x40001);
  const Outcome r = grant_stage2_loop(2, 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 100);
  EXPECT_EQ(r->shared.s2page.get(0x401), (S2Page{2, 0, 0x40001}));
  EXPECT_EQ(r->slog.length(), 6u);
}

TEST(GrantStage2Loop, BlockMappingLiteralSharesTheBlockBase) {
  Profile p = Profile::intended();
  p.grant_block_pfn = false;
  const Outcome r = grant_stage2_loop(1, 1, kAddr + 3 * 4096, block_mapped(p));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 2);
  EXPECT_EQ(r->shared.s2page.get(0x403).count, 1);
  EXPECT_EQ(log_of(*r)[0], ev(EventKind::OGRANT, 1, 0x400));
}

TEST(GrantStage2Loop, BlockMappingIntendedSharesThePageItself) {
  const Outcome r = grant_stage2_loop(1, 1, kAddr + 3 * 4096, block_mapped(Profile::intended()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(r->shared.s2page.get(0x403).count, 2);
  EXPECT_EQ(log_of(*r)[0], ev(EventKind::OGRANT, 1, 0x403));
}

TEST(GrantStage2Loop, LiteralRunsEvenWhenHalted) {
  Profile p = Profile::intended();
  p.grant_halt_check = false;
  RData d = shared_pages(p, {0});
  d.halt = true;
  const Outcome r = grant_stage2_loop(1, 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(r->slog.length(), 3u);
}

TEST(GrantStage2Loop, IntendedDoesNothingWhenHalted) {
  RData d = shared_pages(Profile::intended(), {0});
  d.halt = true;
  const Outcome r = grant_stage2_loop(pow2(52), 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 0);
  EXPECT_EQ(r->slog.length(), 0u);
}

TEST(GrantStage2Loop, LiteralReliesOnTheVmTableLockEvenForUnmappedPages) {
  RData d = state(Profile::literal());
  d.shared.hlock.set(kVm1Npt, false);
  EXPECT_FALSE(grant_stage2_loop(pow2(52), 1, kAddr, d));
}

TEST(GrantStage2Loop, LiteralReliesOnS2pageOnlyForMappedPages) {
  RData d = shared_pages(Profile::literal(), {0});
  d.shared.hlock.set(kS2Page, false);
  const Outcome unmapped = grant_stage2_loop(4, 1, kAddr + 4096, d);
  ASSERT_TRUE(unmapped);
  EXPECT_EQ(unmapped->slog.length(), 8u);
  EXPECT_FALSE(grant_stage2_loop(1, 1, kAddr, d));
}

// The third QO of the first page (log length 2) replays another CPU's panic, clearing S2PAGE.
TEST(GrantStage2Loop, LiteralReliesOnTheSnapshotBeforeTheThirdQuery) {
  RData d = shared_pages(Profile::literal(), {0}, foreign_panic_at(2));
  own_private_page(d);
  const Outcome r = grant_stage2_loop(1, 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(test::cleared(r->shared), (std::set<Z>{kS2Page}));
  EXPECT_EQ(r->slog.length(), 4u);
}

TEST(GrantStage2Loop, LiteralFailsWhenTheSecondQueryClearsTheLock) {
  RData d = shared_pages(Profile::literal(), {0}, foreign_panic_at(1));
  own_private_page(d);
  EXPECT_FALSE(grant_stage2_loop(1, 1, kAddr, d));
}

TEST(GrantStage2Loop, IntendedAcquiresOnTheThirdQuery) {
  RData d = shared_pages(Profile::intended(), {0}, foreign_panic_at(2));
  own_private_page(d);
  const Outcome r = grant_stage2_loop(1, 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->shared.s2page.get(0x400).count, 1);
  EXPECT_TRUE(test::cleared(r->shared).empty());
}

TEST(RevokeStage2Loop, DropsSharesAndUnmapsTheHostAtTheLastOne) {
  OracleInputs o;
  o.data[1] = {0, 0, 0x77};
  RData d = shared_pages(Profile::literal(), {2, 1, 0}, o);
  d.data_log.set(1, 2);
  test::set_pt(d.shared, 0, 0x401, host_ram_entry(0x401));
  const Outcome r = revoke_stage2_loop(3, 1, kAddr, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x400), (S2Page{1, 1, 0x40000}));
  EXPECT_EQ(r->shared.s2page.get(0x401), (S2Page{1, 0, 0x40001}));
  EXPECT_EQ(r->shared.s2page.get(0x402), (S2Page{1, 0, 0x40002}));
  EXPECT_EQ(host_pt(r->shared, 0x401), (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_EQ(r->shared.flatmem.get(0x401), 0x77);
  EXPECT_EQ(r->data_log.get(1), 3);
  std::vector<SingleEvent> want;
  for (const auto& [pfn, logn] : std::vector<std::pair<Z, Z>>{{0x402, 3}, {0x401, 2}, {0x400, 2}}) {
    for (const SingleEvent& e : share_events(EventKind::OREVOKE, pfn, logn)) want.push_back(e);
  }
  EXPECT_EQ(log_of(*r), want);
}

TEST(RevokeStage2Loop, BlockMappingUsesThePagePerProfile) {
  Profile lit = Profile::intended();
  lit.grant_block_pfn = false;
  const Outcome a = revoke_stage2_loop(1, 1, kAddr + 3 * 4096, block_mapped(lit));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->shared.s2page.get(0x400).count, 0);
  EXPECT_EQ(a->shared.s2page.get(0x403).count, 1);
  const Outcome b = revoke_stage2_loop(1, 1, kAddr + 3 * 4096, block_mapped(Profile::intended()));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(b->shared.s2page.get(0x403).count, 0);
}

// Page 0x400's last share goes but the host maps it inside a 2 MiB block: the unmap fails.
RData failing_revoke(const Profile& p, std::vector<Z> counts) {
  RData d = shared_pages(p, std::move(counts));
  test::set_pt(d.shared, 0, 0x400, PtEntry{0x400, 2, 0x400FFD});
  return d;
}

TEST(RevokeStage2Loop, LiteralFailsAfterAHaltClearedTheLocks) {
  const RData d = failing_revoke(Profile::literal(), {1, 2});
  EXPECT_FALSE(revoke_stage2_loop(2, 1, kAddr, d));
  const Outcome one = revoke_stage2_loop(1, 1, kAddr, d);
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->halt);
  EXPECT_EQ(test::cleared(one->shared), (std::set<Z>{kS2Page, kHostNpt}));
  EXPECT_EQ(one->shared.s2page.get(0x400).count, 0);
}

TEST(RevokeStage2Loop, LiteralLaterIterationResetsTheHalt) {
  Profile p = Profile::literal();
  p.hlock_acquire = true;  // so that the second page's locks pass
  const Outcome r = revoke_stage2_loop(2, 1, kAddr, failing_revoke(p, {1, 2}));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x401).count, 1);
  EXPECT_EQ(r->slog.length(), 6u);
}

TEST(RevokeStage2Loop, IntendedStopsAtTheHalt) {
  const Outcome r = revoke_stage2_loop(2, 1, kAddr, failing_revoke(Profile::intended(), {1, 2}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page.get(0x401).count, 2);
  EXPECT_EQ(r->slog.length(), 3u);
}

TEST(RevokeStage2Loop, LiteralReliesOnTheHostTableLock) {
  RData d = shared_pages(Profile::literal(), {2});
  d.shared.hlock.set(kHostNpt, false);
  EXPECT_FALSE(revoke_stage2_loop(1, 1, kAddr, d));
  EXPECT_TRUE(grant_stage2_loop(1, 1, kAddr, d));
}

// ---- vm_exit_dispatcher_spec_h --------------------------------------------------------------

constexpr Z kVcpu = 2;
constexpr Z kCtxt = 1 * 8 + kVcpu;

RData exiting(RData d, Z ec, Z x0 = 0, Z x2 = 0, Z x3 = 0) {
  Ctxt c = d.ctx(kCtxt);
  c.ctxt_regs.esr_el2 = ec << 26;
  c.ctxt_regs.x[0] = x0;
  c.ctxt_regs.x[2] = x2;
  c.ctxt_regs.x[3] = x3;
  d.set_ctx(kCtxt, c);
  d.regs.ctxt_regs.elr_el2 = 0x1000;
  d.regs.ctxt_regs.esr_el2 = 0x5555;
  return d;
}

TEST(VmExitDispatcher, Sys64LiteralWritesThePcIntoEsr) {
  Profile p = Profile::intended();
  p.pc_advance = false;
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, exiting(state(p), k::ESR_ELx_EC_SYS64));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 0);
  EXPECT_FALSE(r->d.halt);
  EXPECT_EQ(r->d.regs.ctxt_regs.esr_el2, 0x1004);
  EXPECT_EQ(r->d.regs.ctxt_regs.elr_el2, 0x1000);
}

TEST(VmExitDispatcher, Sys64IntendedAdvancesThePc) {
  RData d = exiting(state(Profile::intended()), k::ESR_ELx_EC_SYS64);
  // Bits above the 6-bit class do not matter.
  Ctxt c = d.ctx(kCtxt);
  c.ctxt_regs.esr_el2 |= pow2(32) | 0x1234;
  d.set_ctx(kCtxt, c);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 0);
  EXPECT_EQ(r->d.regs.ctxt_regs.elr_el2, 0x1004);
  EXPECT_EQ(r->d.regs.ctxt_regs.esr_el2, 0x5555);
  EXPECT_EQ(r->d.slog.length(), 0u);
}

TEST(VmExitDispatcher, SetDescPfnGrantsTheRoundedUpPageCount) {
  const RData d = exiting(shared_pages(Profile::intended(), {0, 0}), k::ESR_ELx_EC_HVC64,
                          k::HVC_KVM_SET_DESC_PFN, kAddr, 4097);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 0);
  EXPECT_EQ(r->d.shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(r->d.shared.s2page.get(0x401).count, 1);
  EXPECT_EQ(r->d.slog.length(), 6u);
}

TEST(VmExitDispatcher, ZeroSizeSharesNothing) {
  const RData d = exiting(shared_pages(Profile::intended(), {0}), k::ESR_ELx_EC_HVC64,
                          k::HVC_KVM_SET_DESC_PFN, kAddr, 0);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 0);
  EXPECT_EQ(r->d.slog.length(), 0u);
}

TEST(VmExitDispatcher, UnsetDescPfnRevokes) {
  const RData d = exiting(shared_pages(Profile::intended(), {2}), k::ESR_ELx_EC_HVC64,
                          k::HVC_KVM_UNSET_DESC_PFN, kAddr, 4096);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 0);
  EXPECT_EQ(r->d.shared.s2page.get(0x400).count, 1);
  EXPECT_EQ(log_of(r->d)[0], ev(EventKind::OREVOKE, 1, 0x400, 1, 0));
}

TEST(VmExitDispatcher, TheLargestGuestSizeFinishes) {
  const RData d = exiting(shared_pages(Profile::intended(), {0, 0}), k::ESR_ELx_EC_HVC64,
                          k::HVC_KVM_SET_DESC_PFN, kAddr, k::INVALID64);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  // (2^64 - 1 + 4095) / 4096 = 2^52 pages, two of them mapped.
  EXPECT_EQ(r->d.slog.length(), static_cast<std::uint64_t>(2 * pow2(52) + 2));
  EXPECT_EQ(r->d.shared.s2page.get(0x401).count, 1);
  const auto r2 = vm_exit_dispatcher_spec_h(
      1, kVcpu,
      exiting(shared_pages(Profile::literal(), {1, 1}), k::ESR_ELx_EC_HVC64,
              k::HVC_KVM_UNSET_DESC_PFN, kAddr, k::INVALID64));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->d.slog.length(), static_cast<std::uint64_t>(2 * pow2(52) + 2));
}

TEST(VmExitDispatcher, OtherHypercallsGoToTheHost) {
  const RData d = exiting(state(Profile::intended()), k::ESR_ELx_EC_HVC64, 13);
  const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ret, 1);
  EXPECT_FALSE(r->d.halt);
  EXPECT_EQ(r->d.slog.length(), 0u);
}

TEST(VmExitDispatcher, OtherExitClassesHalt) {
  for (Z ec : {k::ESR_ELx_EC_WFx, k::ESR_ELx_EC_HVC32, k::ESR_ELx_EC_DABT_LOW, Z{0}}) {
    const auto r = vm_exit_dispatcher_spec_h(1, kVcpu, exiting(state(Profile::intended()), ec));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->ret, 0);
    EXPECT_TRUE(r->d.halt);
  }
}

TEST(VmExitDispatcher, NoneFromTheLoopPropagates) {
  RData d =
      exiting(state(Profile::literal()), k::ESR_ELx_EC_HVC64, k::HVC_KVM_SET_DESC_PFN, kAddr, 4096);
  d.shared.hlock.set(kVm1Npt, false);
  EXPECT_FALSE(vm_exit_dispatcher_spec_h(1, kVcpu, d));
}

// ---- prep_hvc_spec_h -------------------------------------------------------------------------

TEST(PrepHvc, SystemOffPowersTheVmOff) {
  RData d = exiting(state(Profile::literal()), k::ESR_ELx_EC_HVC64,
                    (Z{0xFFFFFFFF} << 32) | k::PSCI_0_2_FN_SYSTEM_OFF);
  test::set_vm_state(d.shared, 1, k::VERIFIED);
  const Outcome r = prep_hvc_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->halt);
  EXPECT_EQ(r->shared.vminfos.get(1).VS.vm_state, k::POWEROFF);
  EXPECT_EQ(log_of(*r), (std::vector<SingleEvent>{ev(EventKind::OVM_POWEROFF, 1)}));
}

TEST(PrepHvc, OtherCallsChangeNothing) {
  const RData d =
      exiting(state(Profile::literal()), k::ESR_ELx_EC_HVC64, k::PSCI_0_2_FN_SYSTEM_OFF + 1);
  const Outcome r = prep_hvc_spec_h(1, kVcpu, d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_TRUE(test::same_shared(r->shared, d.shared));
}

TEST(PrepHvc, LiteralReliesOnTheVmInfoLock) {
  RData d = exiting(state(Profile::literal()), k::ESR_ELx_EC_HVC64, k::PSCI_0_2_FN_SYSTEM_OFF);
  d.shared.hlock.set(kVm1Info, false);
  EXPECT_FALSE(prep_hvc_spec_h(1, kVcpu, d));
  Profile p = Profile::literal();
  p.hlock_acquire = true;
  RData e = exiting(state(p), k::ESR_ELx_EC_HVC64, k::PSCI_0_2_FN_SYSTEM_OFF);
  e.shared.hlock.set(kVm1Info, false);
  const Outcome r = prep_hvc_spec_h(1, kVcpu, e);
  ASSERT_TRUE(r);
  EXPECT_TRUE(test::cleared(r->shared).empty());
}

// ---- Bulk skip: the loops equal a naive transcription of their Fixpoints ---------------------
//
// The references below iterate exactly as the Coq text does; the model's loops log runs of
// no-op iterations in O(1). Random small states, oracle schedules and profiles must give the
// same outcome, state and fully expanded log.

Outcome naive_clear(Z n, Z pfn, Z vmid, RData d) {
  for (Z i = 0; i < n; ++i) {
    if (d.halt) continue;
    RData d1 = query_oracle(d);
    if (!locks(d1, {k::S2PAGE_ID, kHostNpt})) return std::nullopt;
    log_event(d1, EventKind::OCLEAR_VM, vmid, pfn + i);
    PrimResult r = local_clear_vm_page(d1.shared, vmid, pfn + i);
    d1.shared = r.s;
    d1.halt = r.halt;
    d = d1;
  }
  return d;
}

Outcome naive_ioremap(Z n, Z vmid, Z gpa, Z pa, RData d) {
  for (Z i = 0; i < n; ++i) {
    if (d.halt) continue;
    RData d1 = query_oracle(d);
    if (!locks(d1, {d.cfg().info_lock(vmid), k::S2PAGE_ID, d.cfg().npt_lock(vmid)})) {
      return std::nullopt;
    }
    log_event(d1, EventKind::OMAP_IO, vmid, gpa + i * 4096, pa + i * 4096);
    PrimResult r = local_map_io(d1.shared, vmid, gpa + i * 4096, pa + i * 4096);
    d1.shared = r.s;
    d1.halt = r.halt;
    d = d1;
  }
  return d;
}

Outcome naive_share(bool revoke, Z n, Z vmid, Z addr, RData d) {
  const Profile prof = d.prof();
  const Z npt = d.cfg().npt_lock(vmid);
  for (Z i = 0; i < n; ++i) {
    if (prof.grant_halt_check && d.halt) continue;
    const Z gfn = zdiv(addr + i * 4096, 4096);
    RData d0 = query_oracle(d);
    if (!locks(d0, {npt})) return std::nullopt;
    log_event(d0, EventKind::OPT_GET, vmid);
    const Z pte = d0.shared.npts.get(vmid).pt.get(gfn).pte;
    RData d1 = query_oracle(d0);
    if (!locks(d1, {npt})) return std::nullopt;
    log_event(d1, EventKind::OPT_GET, vmid);
    const Z level = d1.shared.npts.get(vmid).pt.get(gfn).level;
    const Z pfn = k::phys_page(pte) / 4096;
    if (pfn == 0) {
      d = d1;
      continue;
    }
    const Z target = (prof.grant_block_pfn && level == 2) ? pfn + (gfn & 511) : pfn;
    RData d2 = query_oracle(d1);
    // Literally the rely is on d1; acquiring, the flags are set on d2 (the QO's result).
    RData& lock_base = prof.hlock_acquire ? d2 : d1;
    const bool held =
        revoke ? locks(lock_base, {k::S2PAGE_ID, kHostNpt}) : locks(lock_base, {k::S2PAGE_ID});
    if (!held) return std::nullopt;
    if (!revoke) {
      d2.shared = local_grant_vm_page(d2.shared, vmid, target).s;
      log_event(d2, EventKind::OGRANT, vmid, target);
    } else {
      const Z logn = d2.data_log.get(vmid);
      log_event(d2, EventKind::OREVOKE, vmid, target, vmid, logn);
      PrimResult r =
          local_revoke_vm_page(d2.shared, vmid, target, Dorc{d2.oracle.get(), vmid}, logn);
      d2.halt = r.halt;
      d2.shared = r.s;
      d2.data_log.set(vmid, r.logn);
    }
    d = d2;
  }
  return d;
}

void expect_same(const Outcome& fast, const Outcome& slow) {
  ASSERT_EQ(fast.has_value(), slow.has_value());
  if (!fast) return;
  EXPECT_EQ(fast->halt, slow->halt);
  EXPECT_TRUE(test::same_shared(fast->shared, slow->shared));
  EXPECT_TRUE(fast->data_log == slow->data_log);
  EXPECT_EQ(fast->slog.length(), slow->slog.length());
  EXPECT_EQ(log_of(*fast), log_of(*slow));
}

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  Z below(Z n) { return static_cast<Z>(rng() % static_cast<std::uint64_t>(n)); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  template <class T>
  T pick(std::initializer_list<T> xs) {
    return *(xs.begin() + below(static_cast<Z>(xs.size())));
  }

  Profile profile(int trial) {
    if (trial % 3 == 0) return Profile::literal();
    if (trial % 3 == 1) return Profile::intended();
    Profile p;
    for (const Deviation& dev : deviations()) p.*dev.field = chance(0.5);
    return p;
  }

  // Other CPUs' events at a few log lengths below `max_len`: host mappings of the frames in
  // `pfns` (RAM, VM-private or device frames, so replays map, panic or map a device) or fillers.
  void schedule(OracleInputs& o, const std::vector<Z>& pfns, Z max_len) {
    for (Z i = below(5); i > 0; --i) {
      std::vector<SingleEvent> events;
      for (Z j = 1 + below(2); j > 0; --j) {
        if (!pfns.empty() && chance(0.7)) {
          const Z pfn = pfns[static_cast<std::size_t>(below(static_cast<Z>(pfns.size())))];
          events.push_back(SingleEvent{
              1, AtomicEvent{EventKind::OMAP_HOST, {pfn * 4096 + below(4096), 0, 0, 0}}});
        } else {
          events.push_back(SingleEvent{2, AtomicEvent{EventKind::OGEN_VMID, {}}});
        }
      }
      o.soracle[static_cast<std::uint64_t>(below(max_len + 1))] = events;
    }
  }

  // Random ownership (and host mappings) for the frames in [lo, hi); returns the frames touched.
  void pages(RData& d, Z lo, Z hi, Z vmid) {
    for (Z pfn = lo; pfn < hi; ++pfn) {
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      if (r < 0.3) {
        test::set_page(d.shared, pfn, vmid, pick<Z>({0, 0, 1, 2, 100}), 0x40000 + below(600));
      } else if (r < 0.4) {
        test::set_page(d.shared, pfn, 2, pick<Z>({0, 1}), 0x40000 + below(600));
      } else if (r < 0.45) {
        test::set_page(d.shared, pfn, 0, 1, pfn + k::SMMU_HOST_OFFSET);
      } else if (r < 0.5) {
        test::set_page(d.shared, pfn, k::INVALID, 0, k::INVALID64);
      }
      if (chance(0.2)) test::set_pt(d.shared, 0, pfn, host_ram_entry(pfn));
      if (chance(0.04)) test::set_pt(d.shared, 0, pfn, PtEntry{pfn, 2, (pfn * 4096) | 0xFFD});
      if (chance(0.2)) d.shared.flatmem.set(pfn, below(1000));
    }
  }

  void disturb(RData& d) {
    for (Z id : {kS2Page, kHostNpt, kVm1Npt, kVm1Info}) {
      if (chance(0.06)) d.shared.hlock.set(id, false);
    }
    if (chance(0.06)) d.halt = true;
    for (Z i = below(3); i > 0; --i) log_event(d, EventKind::OVM_GET, 9);
  }
};

constexpr int kTrials = 600;

TEST(BulkSkip, ClearMatchesTheNaiveLoop) {
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    Gen g(0xC1EA0000 + static_cast<std::uint64_t>(trial));
    const Z vmid = g.pick<Z>({1, 1, 1, 2, 0});
    const Z base = g.pick<Z>({0x1F8, 0x1FF8, 0x300});
    const Z n = g.below(25);
    OracleInputs o;
    std::vector<Z> pfns;
    for (Z p = base - 2; p < base + n + 2; ++p) pfns.push_back(p);
    pfns.push_back(0x100);
    g.schedule(o, pfns, n + 6);
    RData d = state(g.profile(trial), o);
    g.pages(d, base - 2, base + n + 2, vmid);
    g.disturb(d);
    expect_same(clear_vm_loop_h(n, base, vmid, d), naive_clear(n, base, vmid, d));
  }
}

TEST(BulkSkip, IoremapMatchesTheNaiveLoop) {
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    Gen g(0x10EA0000 + static_cast<std::uint64_t>(trial));
    const Z base = g.pick<Z>({0x1F8, 0x1FF8, 0x300});
    const Z n = g.below(25);
    const Z gpa = (0x10000 + g.below(100)) * 4096;
    OracleInputs o;
    std::vector<Z> pfns;
    for (Z p = base - 2; p < base + n + 2; ++p) pfns.push_back(p);
    g.schedule(o, pfns, n + 6);
    RData d = state(g.profile(trial), o);
    test::set_vm_state(d.shared, 1, g.chance(0.85) ? k::READY : g.pick<Z>({0, 3, 4}));
    g.pages(d, base - 2, base + n + 2, 1);
    for (Z i = 0; i < n; ++i) {
      if (g.chance(0.04)) test::set_pt(d.shared, 1, gpa / 4096 + i, PtEntry{0x900, 2, 0x900FFD});
    }
    g.disturb(d);
    const Z pa = base * 4096 + g.pick<Z>({0, 0, 0x10});
    expect_same(kvm_phys_addr_ioremap_loop_h(n, 1, gpa, pa, d), naive_ioremap(n, 1, gpa, pa, d));
  }
}

// VM 1's table (or, with vmid 0, the host's own, which replays and unmaps change mid-loop).
void share_case(bool revoke, int trial) {
  SCOPED_TRACE("trial " + std::to_string(trial));
  Gen g((revoke ? 0x4E00000 : 0x64A0000) + static_cast<std::uint64_t>(trial));
  const Z vmid = g.pick<Z>({1, 1, 0});
  const Z g0 = vmid == 0 ? g.pick<Z>({0x1FF8, 0x300}) : 0x40000 + g.below(600);
  const Z n = g.below(25);
  const Z addr = g0 * 4096 + g.below(4096);
  OracleInputs o;
  o.data[vmid] = {g.below(1000), g.below(1000), g.below(1000)};
  std::vector<Z> pfns;
  for (Z p = 0x300; p < 0x320; ++p) pfns.push_back(p);
  if (vmid == 0) {
    for (Z p = g0 - 2; p < g0 + n + 2; ++p) pfns.push_back(p);
  }
  g.schedule(o, pfns, 3 * n + 6);
  RData d = state(g.profile(trial), o);
  g.pages(d, 0x300, 0x320, vmid);
  if (vmid == 0) g.pages(d, g0 - 2, g0 + n + 2, vmid);
  for (Z gfn = g0 - 2; gfn < g0 + n + 2; ++gfn) {
    const double r = std::uniform_real_distribution<double>(0, 1)(g.rng);
    const Z pfn = vmid == 0 ? gfn : 0x300 + g.below(0x20);
    if (r < 0.35) {
      test::set_pt(d.shared, vmid, gfn, PtEntry{pfn, 3, (pfn * 4096) | 0xFFF});
    } else if (r < 0.45) {
      const Z block = 0x300 + g.below(0x10);
      test::set_pt(d.shared, vmid, gfn, PtEntry{block + (gfn & 511), 2, (block * 4096) | 0xFFD});
    } else if (r < 0.5) {
      test::set_pt(d.shared, vmid, gfn, PtEntry{0, 3, k::PAGE_GUEST});
    }
  }
  g.disturb(d);
  if (revoke) {
    expect_same(revoke_stage2_loop(n, vmid, addr, d), naive_share(true, n, vmid, addr, d));
  } else {
    expect_same(grant_stage2_loop(n, vmid, addr, d), naive_share(false, n, vmid, addr, d));
  }
}

TEST(BulkSkip, GrantMatchesTheNaiveLoop) {
  for (int trial = 0; trial < kTrials; ++trial) share_case(false, trial);
}

TEST(BulkSkip, RevokeMatchesTheNaiveLoop) {
  for (int trial = 0; trial < kTrials; ++trial) share_case(true, trial);
}

}  // namespace
}  // namespace hypdiff::model
