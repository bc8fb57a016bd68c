// SMMU tables: roots at SMMU_TTBR, descriptors bit for bit, the shared pool and its exhaustion.
#include <gtest/gtest.h>

#include "model/pagetable.hpp"
#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

constexpr uint64_t kSmmuBase = (1ull << 40) + 0x22200000;  // default layout
constexpr uint64_t kTable = KC_DESC_TABLE;

class Spt : public Booted {
 protected:
  kc_status map(uint32_t cbndx, uint32_t index, uint64_t addr, uint64_t pte) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_spt_map(&kc, cbndx, index, addr, pte); }), KN_RETURNED);
    return st;
  }
};

// Context (index 1, cbndx 2): smmu_id 10, root at SMMU_TTBR = 0x10000 + 10 * 0x2000 = 0x24000.
// iova 0x40201000 (1 GiB + 2 MiB + 4 KiB): root entry 1, pmd 1, pte 1.
TEST_F(Spt, DescriptorsAreBitExact) {
  EXPECT_EQ(kc_spt_root(&kc, 2, 1), kSmmuBase + 0x24000);
  ASSERT_EQ(map(2, 1, 0x40201000, 0x345703), KC_OK);
  const uint64_t root = kSmmuBase + 0x24000;
  EXPECT_EQ(desc(root, 1), (kSmmuBase + 0x110000) | kTable);                  // SMMU_PGD_START
  EXPECT_EQ(desc(kSmmuBase + 0x110000, 1), (kSmmuBase + 0x210000) | kTable);  // SMMU_PMD_START
  EXPECT_EQ(desc(kSmmuBase + 0x210000, 1), 0x345703ull);
  EXPECT_EQ(kc_globals_of(&kc)->spt_pgd_next, 0x111000u);
  EXPECT_EQ(kc_globals_of(&kc)->spt_pmd_next, 0x211000u);
  EXPECT_EQ(to_model(spt_walk(2, 1, 0x40201)), (model::SptEntry{0x345, 0x345703}));
  EXPECT_EQ(to_model(spt_walk(2, 1, 0x40202)), (model::SptEntry{0, 0}));
  EXPECT_EQ(to_model(spt_walk(2, 0, 0x40201)), (model::SptEntry{0, 0}));  // another context

  // The upper half of the 1024-entry root lies in its second page.
  ASSERT_EQ(map(2, 1, 1023ull << 30, 0x999703), KC_OK);
  EXPECT_EQ(desc(root, 1023), (kSmmuBase + 0x111000) | kTable);
  EXPECT_EQ(to_model(spt_walk(2, 1, (1023ull << 30) >> 12)), (model::SptEntry{0x999, 0x999703}));
}

TEST_F(Spt, ClearingAnEntryAndAContext) {
  ASSERT_EQ(map(0, 0, 0x5000, 0x345703), KC_OK);
  kn_reset_counters();
  ASSERT_EQ(map(0, 0, 0x5000, 0), KC_OK);  // local_smmu_clear maps pte 0
  kn_tlb_stats t;
  kn_get_tlb_stats(&t);
  EXPECT_EQ(t.smmu_flushes, 1u);
  EXPECT_EQ(to_model(spt_walk(0, 0, 5)), (model::SptEntry{0, 0}));
  ASSERT_EQ(map(0, 0, 0x6000, 0x346703), KC_OK);
  kc_spt_clear_root(&kc, 0, 0);
  EXPECT_TRUE(spt_entries(kc, 0, 0).empty());
  EXPECT_EQ(kc_globals_of(&kc)->spt_pmd_next, 0x211000u);  // tables stay allocated
  ASSERT_EQ(map(0, 0, 0x6000, 0x346703), KC_OK);           // and a new map allocates again
  EXPECT_EQ(kc_globals_of(&kc)->spt_pmd_next, 0x212000u);
}

TEST_F(Spt, RefusesUnknownContextsAndWideAddresses) {
  EXPECT_EQ(map(8, 0, 0x1000, 0x1703), KC_E_RANGE);
  EXPECT_EQ(map(0, 2, 0x1000, 0x1703), KC_E_RANGE);
  EXPECT_EQ(map(0, 0, 1ull << 40, 0x1703), KC_E_RANGE);
  EXPECT_EQ(kc_globals_of(&kc)->spt_pgd_next, KC_SMMU_PGD_START);
  EXPECT_EQ(to_model(spt_walk(0, 0, 1ull << 28)), (model::SptEntry{0, 0}));
}

// Both SMMU pool areas hold 256 pages, shared by all contexts; checked against the model.
TEST_F(Spt, PoolsExhaustAtTheSpecsCount) {
  const model::MachineConfig cfg{};
  model::SPT spt{};
  spt.spt_pgd_next = KC_SMMU_PGD_START;
  spt.spt_pmd_next = KC_SMMU_PMD_START;
  int first = -1;
  // Distinct 2 MiB regions spread over two contexts: one level-3 table each.
  for (int i = 0; i < 300 && first < 0; ++i) {
    const uint32_t cbndx = uint32_t(i % 2);
    const uint64_t addr = uint64_t(i / 2) * KC_PMD_SIZE;
    const kc_status st = map(cbndx, 0, addr, 0x1703);
    const model::SptMapResult m = model::local_spt_map_h(cfg, cbndx, 0, addr, 0x1703, spt);
    ASSERT_EQ(st != KC_OK, m.halt) << i;
    spt = m.spt;
    if (m.halt) first = i;
  }
  EXPECT_EQ(first, 256);
  EXPECT_EQ(kc_globals_of(&kc)->spt_pmd_next, KC_SMMU_POOL_END);
  EXPECT_EQ(map(1, 0, 0x3000, 0x1703), KC_OK);  // under existing tables: no pool needed

  boot(default_config());
  first = -1;
  spt = model::SPT{};
  spt.spt_pgd_next = KC_SMMU_PGD_START;
  spt.spt_pmd_next = KC_SMMU_PMD_START;
  // Distinct 1 GiB regions: one level-2 table each, and a level-3 table each, so the level-3
  // pool, allocated alongside, runs out at the same map.
  for (int i = 0; i < 300 && first < 0; ++i) {
    const uint64_t addr = uint64_t(i) << 30;
    const kc_status st = map(3, 1, addr, 0x1703);
    const model::SptMapResult m = model::local_spt_map_h(cfg, 3, 1, addr, 0x1703, spt);
    ASSERT_EQ(st != KC_OK, m.halt) << i;
    spt = m.spt;
    if (m.halt) first = i;
  }
  EXPECT_EQ(first, 256);
  EXPECT_EQ(kc_globals_of(&kc)->spt_pgd_next, KC_SMMU_PMD_START);
  EXPECT_EQ(map(3, 1, (7ull << 30) | 0x5000, 0x1703), KC_OK);
}

}  // namespace
}  // namespace hypdiff::kcore_test
