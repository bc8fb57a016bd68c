#include "model/pagetable.hpp"

#include <gtest/gtest.h>

namespace hypdiff::model {
namespace {

const MachineConfig kCfg{};

// VM 1's pools: pool_start(1) = 0x10000 + 0x2000000.
constexpr Z kPool1 = 0x2010000;
constexpr Z kPgdStart1 = kPool1 + 0x1000;
constexpr Z kPudStart1 = kPool1 + 0x101000;
constexpr Z kPmdStart1 = kPool1 + 0x901000;
constexpr Z kPoolEnd1 = 0x4010000;

NPT fresh_vm1() {
  NPT npt{};
  npt.pt_pgd_next = kPgdStart1;
  npt.pt_pud_next = kPudStart1;
  npt.pt_pmd_next = kPmdStart1;
  return npt;
}

TEST(MmapLoop, WritesConsecutiveEntries) {
  const MmapLoopResult r = local_mmap_loop_h(3, 10, 100, 3, 7, ZMap<PtEntry>{});
  EXPECT_EQ(r.gfn, 13);
  EXPECT_EQ(r.pfn, 103);
  EXPECT_EQ(r.pt.get(9), (PtEntry{0, 0, 0}));
  EXPECT_EQ(r.pt.get(10), (PtEntry{100, 3, 7}));
  EXPECT_EQ(r.pt.get(11), (PtEntry{101, 3, 7}));
  EXPECT_EQ(r.pt.get(12), (PtEntry{102, 3, 7}));
  EXPECT_EQ(r.pt.get(13), (PtEntry{0, 0, 0}));
}

TEST(MmapLoop, NonPositiveCountIsEmpty) {
  ZMap<PtEntry> pt;
  pt.set(10, PtEntry{1, 3, 1});
  for (Z n : {Z{0}, Z{-5}}) {
    const MmapLoopResult r = local_mmap_loop_h(n, 10, 100, 3, 7, pt);
    EXPECT_EQ(r.gfn, 10);
    EXPECT_EQ(r.pfn, 100);
    EXPECT_EQ(r.pt, pt);
  }
}

// addr 0x40201000: pgd_index 0, pud_index 1, pmd_index 1, gfn 0x40201.
constexpr Z kAddr = 0x40201000;
constexpr Z kPudKey = (0 << 9) | 1;
constexpr Z kPmdKey = (0 << 18) | (1 << 9) | 1;

TEST(MmapH, Level3AllocatesAllThreeTablesOnAFreshNpt) {
  const Z pte = 0x1234000 | 0xFFF;
  const MmapResult r = local_mmap_h(kCfg, 1, kAddr, 3, pte, fresh_vm1());
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.npt.pt.get(0x40201), (PtEntry{0x1234, 3, pte}));
  EXPECT_TRUE(r.npt.pgd_t.get(0));
  EXPECT_TRUE(r.npt.pud_t.get(kPudKey));
  EXPECT_TRUE(r.npt.pmd_t.get(kPmdKey));
  EXPECT_EQ(r.npt.pt_pgd_next, kPgdStart1 + 4096);
  EXPECT_EQ(r.npt.pt_pud_next, kPudStart1 + 4096);
  EXPECT_EQ(r.npt.pt_pmd_next, kPmdStart1 + 4096);
  EXPECT_EQ(r.npt.pt.explicit_size(), 1u);
}

TEST(MmapH, Level3ReusesPresentTablesAndOverwritesSilently) {
  const MmapResult first = local_mmap_h(kCfg, 1, kAddr, 3, 0x1234FFF, fresh_vm1());
  // Same PMD (next page): nothing new to allocate.
  const MmapResult same_pmd = local_mmap_h(kCfg, 1, kAddr + 0x1000, 3, 0x5000, first.npt);
  ASSERT_FALSE(same_pmd.halt);
  EXPECT_EQ(same_pmd.npt.pt.get(0x40202), (PtEntry{5, 3, 0x5000}));
  EXPECT_EQ(same_pmd.npt.pt_pgd_next, kPgdStart1 + 4096);
  EXPECT_EQ(same_pmd.npt.pt_pud_next, kPudStart1 + 4096);
  EXPECT_EQ(same_pmd.npt.pt_pmd_next, kPmdStart1 + 4096);
  // Next PMD of the same PUD: only a PTE table.
  const MmapResult next_pmd = local_mmap_h(kCfg, 1, kAddr + 0x200000, 3, 0x6000, first.npt);
  ASSERT_FALSE(next_pmd.halt);
  EXPECT_TRUE(next_pmd.npt.pmd_t.get(kPmdKey + 1));
  EXPECT_EQ(next_pmd.npt.pt_pud_next, kPudStart1 + 4096);
  EXPECT_EQ(next_pmd.npt.pt_pmd_next, kPmdStart1 + 8192);
  // An existing level-3 entry is replaced without complaint.
  const MmapResult again = local_mmap_h(kCfg, 1, kAddr, 3, 0x9000, first.npt);
  ASSERT_FALSE(again.halt);
  EXPECT_EQ(again.npt.pt.get(0x40201), (PtEntry{9, 3, 0x9000}));
}

TEST(MmapH, AnyLevelOtherThan2IsLevel3) {
  for (Z level : {Z{0}, Z{1}, Z{4}, Z{-1}}) {
    const MmapResult r = local_mmap_h(kCfg, 1, kAddr, level, 0x7000, fresh_vm1());
    ASSERT_FALSE(r.halt);
    EXPECT_EQ(r.npt.pt.get(0x40201), (PtEntry{7, 3, 0x7000}));
  }
}

TEST(MmapH, Level3IntoABlockHalts) {
  NPT npt = fresh_vm1();
  npt.pt.set(0x40201, PtEntry{0x500, 2, 0x500FFD});
  const MmapResult r = local_mmap_h(kCfg, 1, kAddr, 3, 0x7000, npt);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.npt, npt);
}

TEST(MmapH, Level2MapsA512PageBlockFromTheUnalignedPfn) {
  // addr inside the block at gfn 0x40200; pte's frame 0x80001 is not 2 MiB aligned.
  const Z pte = 0x80001000 | 0xFFD;
  NPT npt = fresh_vm1();
  npt.pmd_t.set(kPmdKey, true);                          // a PTE table was there
  npt.pt.set(0x40200 + 7, PtEntry{0x33, 3, 0x33000});    // overwritten
  npt.pt.set(0x40200 + 512, PtEntry{0x44, 3, 0x44000});  // outside the block
  const MmapResult r = local_mmap_h(kCfg, 1, kAddr + 0x10, 2, pte, npt);
  ASSERT_FALSE(r.halt);
  for (Z i = 0; i < 512; ++i) EXPECT_EQ(r.npt.pt.get(0x40200 + i), (PtEntry{0x80001 + i, 2, pte}));
  EXPECT_EQ(r.npt.pt.get(0x40200 - 1), (PtEntry{0, 0, 0}));
  EXPECT_EQ(r.npt.pt.get(0x40200 + 512), (PtEntry{0x44, 3, 0x44000}));
  EXPECT_TRUE(r.npt.pgd_t.get(0));
  EXPECT_TRUE(r.npt.pud_t.get(kPudKey));
  EXPECT_FALSE(r.npt.pmd_t.get(kPmdKey));
  EXPECT_EQ(r.npt.pt_pgd_next, kPgdStart1 + 4096);
  EXPECT_EQ(r.npt.pt_pud_next, kPudStart1 + 4096);
  EXPECT_EQ(r.npt.pt_pmd_next, kPmdStart1);  // a block needs no PTE table
}

TEST(MmapH, PoolBoundsAreInclusive) {
  NPT npt = fresh_vm1();
  npt.pt_pgd_next = kPudStart1 - 4096;
  npt.pt_pud_next = kPmdStart1 - 4096;
  npt.pt_pmd_next = kPoolEnd1 - 4096;
  const MmapResult r = local_mmap_h(kCfg, 1, kAddr, 3, 0x7000, npt);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.npt.pt_pgd_next, kPudStart1);
  EXPECT_EQ(r.npt.pt_pud_next, kPmdStart1);
  EXPECT_EQ(r.npt.pt_pmd_next, kPoolEnd1);
}

TEST(MmapH, FullPoolsHaltOnlyWhenATableIsNeeded) {
  NPT full = fresh_vm1();
  full.pt_pgd_next = kPudStart1;
  full.pt_pud_next = kPmdStart1;
  full.pt_pmd_next = kPoolEnd1;
  // Each pool overflowing alone halts a level-3 map with no tables present.
  for (int which = 0; which < 3; ++which) {
    NPT npt = fresh_vm1();
    if (which == 0) npt.pt_pgd_next = kPudStart1;
    if (which == 1) npt.pt_pud_next = kPmdStart1;
    if (which == 2) npt.pt_pmd_next = kPoolEnd1;
    const MmapResult r = local_mmap_h(kCfg, 1, kAddr, 3, 0x7000, npt);
    EXPECT_TRUE(r.halt) << which;
    EXPECT_EQ(r.npt, npt) << which;
  }
  // Level 2 ignores the PMD pool.
  NPT pmd_full = fresh_vm1();
  pmd_full.pt_pmd_next = kPoolEnd1;
  EXPECT_FALSE(local_mmap_h(kCfg, 1, kAddr, 2, 0x7000, pmd_full).halt);
  EXPECT_TRUE(local_mmap_h(kCfg, 1, kAddr, 2, 0x7000, full).halt);
  // With every table present nothing is allocated, so full pools do not matter.
  full.pgd_t.set(0, true);
  full.pud_t.set(kPudKey, true);
  full.pmd_t.set(kPmdKey, true);
  const MmapResult r = local_mmap_h(kCfg, 1, kAddr, 3, 0x7000, full);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.npt.pt.get(0x40201), (PtEntry{7, 3, 0x7000}));
}

TEST(MmapH, PoolsDependOnThePrincipal) {
  // VM 1's pointers are far past the host's pools: mapping as the host halts.
  EXPECT_TRUE(local_mmap_h(kCfg, 0, kAddr, 3, 0x7000, fresh_vm1()).halt);
  EXPECT_FALSE(local_mmap_h(kCfg, 1, kAddr, 3, 0x7000, fresh_vm1()).halt);
}

TEST(MmapH, HighAddressIndicesAreMaskedIntoTheFlattenedKeys) {
  // pgd_index 3, pud_index 5, pmd_index 7.
  const Z addr = (Z{3} << 39) | (Z{5} << 30) | (Z{7} << 21);
  const MmapResult r = local_mmap_h(kCfg, 1, addr, 3, 0x7000, fresh_vm1());
  ASSERT_FALSE(r.halt);
  EXPECT_TRUE(r.npt.pgd_t.get(3));
  EXPECT_TRUE(r.npt.pud_t.get((3 << 9) | 5));
  EXPECT_TRUE(r.npt.pmd_t.get((3 << 18) | (5 << 9) | 7));
  EXPECT_EQ(r.npt.pt.get(addr / 4096), (PtEntry{7, 3, 0x7000}));
}

// SMMU context (index 1, cbndx 2): ttbr = 0x10000 + (1 * 8 + 2) * 0x2000.
constexpr Z kTtbr = 0x10000 + 10 * 0x2000;

SPT fresh_spt() {
  SPT spt{};
  spt.spt_pgd_next = k::SMMU_PGD_START;
  spt.spt_pmd_next = k::SMMU_PMD_START;
  return spt;
}

TEST(SptMapH, MapsAndAllocatesPerTtbr) {
  // stage2_pgd_index(kAddr) = 1, pmd_index = 1.
  const Z pte = 0x7000 | 0xFFF;
  const SptMapResult r = local_spt_map_h(kCfg, 2, 1, kAddr, pte, fresh_spt());
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.spt.spt_pt.get(kTtbr).get(0x40201), (SptEntry{7, pte}));
  EXPECT_TRUE(r.spt.spt_pgd_t.get(kTtbr).get(1));
  EXPECT_TRUE(r.spt.spt_pmd_t.get(kTtbr).get((1 << 9) | 1));
  EXPECT_EQ(r.spt.spt_pgd_next, k::SMMU_PGD_START + 4096);
  EXPECT_EQ(r.spt.spt_pmd_next, k::SMMU_PMD_START + 4096);
  // Other contexts are untouched.
  EXPECT_EQ(r.spt.spt_pt.explicit_size(), 1u);
  EXPECT_EQ(r.spt.spt_pt.get(kTtbr + 0x2000).get(0x40201), (SptEntry{0, 0}));

  // Same tables again: no allocation. pte 0 clears the entry to (0, 0).
  const SptMapResult cleared = local_spt_map_h(kCfg, 2, 1, kAddr, 0, r.spt);
  ASSERT_FALSE(cleared.halt);
  EXPECT_EQ(cleared.spt.spt_pt.get(kTtbr).get(0x40201), (SptEntry{0, 0}));
  EXPECT_EQ(cleared.spt.spt_pgd_next, k::SMMU_PGD_START + 4096);
  EXPECT_EQ(cleared.spt.spt_pmd_next, k::SMMU_PMD_START + 4096);

  // Another context at the same iova allocates its own tables from the shared pools.
  const SptMapResult other = local_spt_map_h(kCfg, 3, 1, kAddr, pte, r.spt);
  ASSERT_FALSE(other.halt);
  EXPECT_EQ(other.spt.spt_pgd_next, k::SMMU_PGD_START + 8192);
  EXPECT_EQ(other.spt.spt_pmd_next, k::SMMU_PMD_START + 8192);
}

TEST(SptMapH, StageTwoPgdIndexUsesTenBits) {
  const Z addr = Z{1000} << 30;  // stage2_pgd_index 1000 (pud_index would be 488)
  const SptMapResult r = local_spt_map_h(kCfg, 0, 0, addr, 0x7000, fresh_spt());
  ASSERT_FALSE(r.halt);
  EXPECT_TRUE(r.spt.spt_pgd_t.get(0x10000).get(1000));
  EXPECT_TRUE(r.spt.spt_pmd_t.get(0x10000).get(1000 << 9));
}

TEST(SptMapH, PoolOverflowHalts) {
  SPT pgd_full = fresh_spt();
  pgd_full.spt_pgd_next = k::SMMU_PMD_START;
  SptMapResult r = local_spt_map_h(kCfg, 2, 1, kAddr, 0x7000, pgd_full);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.spt, pgd_full);

  SPT pmd_full = fresh_spt();
  pmd_full.spt_pmd_next = k::SMMU_POOL_END;
  r = local_spt_map_h(kCfg, 2, 1, kAddr, 0x7000, pmd_full);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.spt, pmd_full);

  SPT edge = fresh_spt();
  edge.spt_pgd_next = k::SMMU_PMD_START - 4096;
  edge.spt_pmd_next = k::SMMU_POOL_END - 4096;
  r = local_spt_map_h(kCfg, 2, 1, kAddr, 0x7000, edge);
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.spt.spt_pgd_next, k::SMMU_PMD_START);
  EXPECT_EQ(r.spt.spt_pmd_next, k::SMMU_POOL_END);
}

}  // namespace
}  // namespace hypdiff::model
