// Random map sequences through KCore's tables and the model's local_mmap_h / local_spt_map_h,
// over a few colliding table slots, so that allocation, reuse, blocks over tables and refused
// pages inside blocks all occur. After every map: same halt, same bump pointers, same slot
// flags; every few maps: the same translation for every gfn.
#include <gtest/gtest.h>

#include <random>

#include "model/pagetable.hpp"
#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

class PtDiff : public Booted {};

Z k_index(uint64_t addr, int shift) { return Z((addr >> shift) & 511); }

uint64_t pick(std::mt19937_64& rng, std::initializer_list<uint64_t> xs) {
  return *(xs.begin() + rng() % xs.size());
}

TEST_F(PtDiff, StageTwoMapsMatchTheModel) {
  const model::MachineConfig cfg{};
  const uint32_t v = 3;
  model::NPT npt{};
  npt.pt_pgd_next = kc_pgd_start(v);
  npt.pt_pud_next = kc_pud_start(v);
  npt.pt_pmd_next = kc_pmd_start(v);
  std::mt19937_64 rng(42);
  int halts = 0, blocks = 0;
  for (int i = 0; i < 4000; ++i) {
    const uint64_t addr = (pick(rng, {0, 1, 511}) << 39) | (pick(rng, {0, 1, 511}) << 30) |
                          (pick(rng, {0, 1, 2, 511}) << 21) | (pick(rng, {0, 1, 2, 511}) << 12) |
                          (rng() % 4096);
    const uint64_t pa = (rng() % (1ull << 28)) << 12;
    const bool block = rng() % 4 == 0;
    const uint64_t pte =
        block ? ((pa | KC_PAGE_S2_KERNEL) & KC_NOT_PMD_TABLE_BIT)
              : pick(rng, {pa | KC_PAGE_S2_KERNEL, pa | KC_PAGE_S2_DEVICE | KC_S2_RDWR,
                           pa | KC_PAGE_HYP, KC_PAGE_GUEST});
    const uint32_t level = block ? 2 : uint32_t(pick(rng, {3, 3, 1, 0}));  // any non-2 is a page
    kc_status st = KC_OK;
    ASSERT_EQ(run([&] { st = kc_s2pt_map(&kc, v, addr, level, pte); }), KN_RETURNED);
    const model::MmapResult m = model::local_mmap_h(cfg, v, addr, level, pte, npt);
    ASSERT_EQ(st != KC_OK, m.halt) << "map " << i;
    halts += m.halt;
    blocks += block && !m.halt;
    npt = m.npt;
    const kc_pool_ctr c = *kc_pool_of(&kc, v);
    ASSERT_EQ(Z(c.pgd_next), npt.pt_pgd_next) << "map " << i;
    ASSERT_EQ(Z(c.pud_next), npt.pt_pud_next) << "map " << i;
    ASSERT_EQ(Z(c.pmd_next), npt.pt_pmd_next) << "map " << i;
    kc_slots s;
    kc_s2pt_slots(&kc, v, addr, &s);
    const Z g = k_index(addr, 39), u = k_index(addr, 30), mi = k_index(addr, 21);
    ASSERT_EQ(s.pgd, npt.pgd_t.get(g)) << "map " << i;
    ASSERT_EQ(s.pud, npt.pud_t.get((g << 9) | u)) << "map " << i;
    ASSERT_EQ(s.pmd, npt.pmd_t.get((g << 18) | (u << 9) | mi)) << "map " << i;
    if (i % 250 == 0) {
      ASSERT_EQ(npt_entries(kc, v), npt_entries(npt)) << "map " << i;
    }
  }
  EXPECT_EQ(npt_entries(kc, v), npt_entries(npt));
  EXPECT_GT(halts, 50);  // pages refused inside blocks
  EXPECT_GT(blocks, 500);
}

TEST_F(PtDiff, SmmuMapsMatchTheModel) {
  const model::MachineConfig cfg{};
  model::SPT spt{};
  spt.spt_pgd_next = KC_SMMU_PGD_START;
  spt.spt_pmd_next = KC_SMMU_PMD_START;
  std::mt19937_64 rng(7);
  int maps = 0;
  for (int i = 0; i < 4000; ++i) {
    const uint32_t index = uint32_t(rng() % 2), cbndx = uint32_t(pick(rng, {0, 3, 7}));
    const uint64_t addr = (pick(rng, {0, 1, 1023}) << 30) | (pick(rng, {0, 1, 2, 511}) << 21) |
                          (pick(rng, {0, 1, 511}) << 12) | (rng() % 4096);
    const uint64_t pte =
        rng() % 3 == 0 ? 0 : (((rng() % (1ull << 28)) << 12) | 0x700 | (rng() % 4));
    kc_status st = KC_OK;
    ASSERT_EQ(run([&] { st = kc_spt_map(&kc, cbndx, index, addr, pte); }), KN_RETURNED);
    const model::SptMapResult m = model::local_spt_map_h(cfg, cbndx, index, addr, pte, spt);
    ASSERT_EQ(st != KC_OK, m.halt) << "map " << i;
    maps += !m.halt;
    spt = m.spt;
    ASSERT_EQ(Z(kc_globals_of(&kc)->spt_pgd_next), spt.spt_pgd_next) << "map " << i;
    ASSERT_EQ(Z(kc_globals_of(&kc)->spt_pmd_next), spt.spt_pmd_next) << "map " << i;
  }
  for (uint32_t index = 0; index < 2; ++index) {
    for (uint32_t cbndx = 0; cbndx < 8; ++cbndx) {
      std::map<uint64_t, model::SptEntry> want;
      spt.spt_pt.get(cfg.smmu_ttbr(index, cbndx))
          .for_each_explicit([&](std::uint64_t gfn, const model::SptEntry& e) { want[gfn] = e; });
      EXPECT_EQ(spt_entries(kc, cbndx, index), want) << index << "/" << cbndx;
    }
  }
  EXPECT_EQ(maps, 4000);
}

}  // namespace
}  // namespace hypdiff::kcore_test
