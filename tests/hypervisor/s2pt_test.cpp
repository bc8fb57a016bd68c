// Stage-2 tables: descriptors bit for bit, walks in the spec's (pfn, level, pte) abstraction,
// break-before-make, and the pool accounting against the model's local_mmap_h.
#include <gtest/gtest.h>

#include "model/pagetable.hpp"
#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

constexpr uint64_t kEl2 = 1ull << 40;  // the default el2_base: spec pool address X is at kEl2 + X
constexpr uint64_t kTable = KC_DESC_TABLE;

class S2pt : public Booted {
 protected:
  kc_pool_ctr ctr(uint32_t v) {
    kc_pool_ctr c{};
    EXPECT_EQ(run([&] { c = *kc_pool_of(&kc, v); }), KN_RETURNED);
    return c;
  }
  kc_status map(uint32_t v, uint64_t addr, uint32_t level, uint64_t pte) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_s2pt_map(&kc, v, addr, level, pte); }), KN_RETURNED);
    return st;
  }
  kn_tlb_stats tlb() {
    kn_tlb_stats s;
    kn_get_tlb_stats(&s);
    return s;
  }
};

TEST_F(S2pt, BootLeavesEveryTableEmptyWithCountersAtPoolStarts) {
  for (uint32_t v = 0; v <= 16; ++v) {
    EXPECT_EQ(kc_npt_root(&kc, v), kEl2 + 0x10000 + 0x2000000ull * v);
    const kc_pool_ctr c = ctr(v);
    EXPECT_EQ(c.pgd_next, kc_pgd_start(v));
    EXPECT_EQ(c.pud_next, kc_pud_start(v));
    EXPECT_EQ(c.pmd_next, kc_pmd_start(v));
    EXPECT_TRUE(npt_entries(kc, v).empty());
  }
  EXPECT_EQ(to_model(walk(0, 0x345)), (model::PtEntry{0, 0, 0}));
}

// Host page 0x345000 (pgd 0, pud 0, pmd 1, pte 0x145), mapped as the spec's map_host does.
TEST_F(S2pt, PageMappingDescriptorsAreBitExact) {
  ASSERT_EQ(map(0, 0x345000, 3, 0x345FFF), KC_OK);
  const uint64_t root = kEl2 + 0x10000;
  EXPECT_EQ(desc(root, 0), (kEl2 + 0x11000) | kTable);              // from the PGD area
  EXPECT_EQ(desc(kEl2 + 0x11000, 0), (kEl2 + 0x111000) | kTable);   // from the PUD area
  EXPECT_EQ(desc(kEl2 + 0x111000, 1), (kEl2 + 0x911000) | kTable);  // from the PMD area
  EXPECT_EQ(desc(kEl2 + 0x911000, 0x145), 0x345FFFull);
  EXPECT_EQ(desc(kEl2 + 0x911000, 0x144), 0ull);
  EXPECT_EQ(desc(kEl2 + 0x111000, 0), 0ull);
  const kc_pool_ctr c = ctr(0);
  EXPECT_EQ(c.pgd_next, 0x12000u);
  EXPECT_EQ(c.pud_next, 0x112000u);
  EXPECT_EQ(c.pmd_next, 0x912000u);
  EXPECT_EQ(to_model(walk(0, 0x345)), (model::PtEntry{0x345, 3, 0x345FFF}));
  EXPECT_EQ(to_model(walk(0, 0x344)), (model::PtEntry{0, 0, 0}));
  EXPECT_EQ(to_model(walk(0, 0x346)), (model::PtEntry{0, 0, 0}));

  // A second page under the same tables allocates nothing.
  ASSERT_EQ(map(0, 0x346000, 3, 0x346FFF), KC_OK);
  EXPECT_EQ(ctr(0).pmd_next, 0x912000u);
  EXPECT_EQ(desc(kEl2 + 0x911000, 0x146), 0x346FFFull);
}

// VM 1 maps 1 GiB (pgd 0, pud 1, pmd 0) by a 2 MiB block, as local_map_pfn_vm builds it.
TEST_F(S2pt, BlockMappingDescriptorsAreBitExact) {
  const uint64_t pte = (0x80200000ull | KC_PAGE_S2_KERNEL) & KC_NOT_PMD_TABLE_BIT;
  ASSERT_EQ(pte, 0x80200FFDull);
  ASSERT_EQ(map(1, 0x40000000, 2, pte), KC_OK);
  const uint64_t pool = kEl2 + 0x2010000;
  EXPECT_EQ(desc(pool, 0), (pool + 0x1000) | kTable);
  EXPECT_EQ(desc(pool + 0x1000, 1), (pool + 0x101000) | kTable);
  EXPECT_EQ(desc(pool + 0x101000, 0), pte);  // a block: type 0b01
  const kc_pool_ctr c = ctr(1);
  EXPECT_EQ(c.pgd_next, 0x2012000u);
  EXPECT_EQ(c.pud_next, 0x2112000u);
  EXPECT_EQ(c.pmd_next, kc_pmd_start(1));  // a block needs no level-3 table
  EXPECT_EQ(to_model(walk(1, 0x40000)), (model::PtEntry{0x80200, 2, pte}));
  EXPECT_EQ(to_model(walk(1, 0x40005)), (model::PtEntry{0x80205, 2, pte}));
  EXPECT_EQ(to_model(walk(1, 0x401FF)), (model::PtEntry{0x803FF, 2, pte}));
  EXPECT_EQ(to_model(walk(1, 0x40200)), (model::PtEntry{0, 0, 0}));
  EXPECT_EQ(to_model(walk(1, 0x3FFFF)), (model::PtEntry{0, 0, 0}));
  EXPECT_EQ(npt_entries(kc, 1).size(), 512u);
  kc_slots s;
  kc_s2pt_slots(&kc, 1, 0x40000000, &s);
  EXPECT_TRUE(s.pgd && s.pud);
  EXPECT_FALSE(s.pmd);
}

// The spec keeps a block's pfn unaligned: entry i maps pfn + i, as the model's local_mmap_loop_h.
TEST_F(S2pt, UnalignedBlockWalksAsTheSpecSays) {
  const uint64_t pte = 0x80203FFD;
  ASSERT_EQ(map(2, 0x200000, 2, pte), KC_OK);
  EXPECT_EQ(to_model(walk(2, 0x200)), (model::PtEntry{0x80203, 2, pte}));
  EXPECT_EQ(to_model(walk(2, 0x201)), (model::PtEntry{0x80204, 2, pte}));
  model::NPT npt{};
  npt.pt_pgd_next = kc_pgd_start(2);
  npt.pt_pud_next = kc_pud_start(2);
  npt.pt_pmd_next = kc_pmd_start(2);
  npt = model::local_mmap_h(model::MachineConfig{}, 2, 0x200000, 2, pte, npt).npt;
  EXPECT_EQ(npt_entries(kc, 2), npt_entries(npt));
}

TEST_F(S2pt, PageInsideABlockIsRefusedAndChangesNothing) {
  ASSERT_EQ(map(1, 0x40000000, 2, 0x80200FFD), KC_OK);
  const kc_pool_ctr before = ctr(1);
  EXPECT_EQ(map(1, 0x40003000, 3, 0x12345FFF), KC_E_BLOCK);
  EXPECT_EQ(to_model(walk(1, 0x40003)), (model::PtEntry{0x80203, 2, 0x80200FFD}));
  EXPECT_EQ(ctr(1).pmd_next, before.pmd_next);
}

TEST_F(S2pt, BlockOverATableBreaksBeforeMakeAndLeaksTheTable) {
  ASSERT_EQ(map(1, 0x40003000, 3, 0x12345FFF), KC_OK);
  const uint64_t pte_table = ctr(1).pmd_next - 0x1000 + kEl2;
  kn_reset_counters();
  ASSERT_EQ(map(1, 0x40000000, 2, 0x80200FFD), KC_OK);
  EXPECT_EQ(tlb().vmid_flushes, 1u);
  EXPECT_EQ(tlb().last_vmid, 1u);
  EXPECT_EQ(to_model(walk(1, 0x40003)), (model::PtEntry{0x80203, 2, 0x80200FFD}));
  EXPECT_EQ(ctr(1).pmd_next, kc_pmd_start(1) + 0x1000);  // the spec never frees a table page
  EXPECT_EQ(desc(pte_table, 3), 0x12345FFFull);          // orphaned, unreachable
}

TEST_F(S2pt, ReplacingAValidPageFlushesItsIpaOnly) {
  ASSERT_EQ(map(0, 0x345000, 3, 0x345FFF), KC_OK);
  kn_reset_counters();
  ASSERT_EQ(map(0, 0x345000, 3, 0x345FFF), KC_OK);  // same descriptor: nothing to do
  EXPECT_EQ(tlb().ipa_flushes, 0u);
  ASSERT_EQ(map(0, 0x345000, 3, KC_PAGE_GUEST), KC_OK);  // the spec's unmap
  EXPECT_EQ(tlb().ipa_flushes, 1u);
  EXPECT_EQ(tlb().last_ipa, 0x345000u);
  EXPECT_EQ(to_model(walk(0, 0x345)), (model::PtEntry{0, 3, Z(KC_PAGE_GUEST)}));
  ASSERT_EQ(map(0, 0x345000, 3, 0x345FFF), KC_OK);  // from an invalid descriptor: no flush
  EXPECT_EQ(tlb().ipa_flushes, 1u);
  EXPECT_EQ(tlb().vmid_flushes, 0u);
}

TEST_F(S2pt, RefusesWhatNoSpecPathProduces) {
  EXPECT_EQ(map(17, 0x1000, 3, 0x1FFF), KC_E_RANGE);
  EXPECT_EQ(map(0, 1ull << 48, 3, 0x1FFF), KC_E_RANGE);
  EXPECT_EQ(map(0, 0x200000, 2, 0x200FFF), KC_E_DESC);  // a table-type descriptor as a block
  EXPECT_EQ(map(0, 0x200000, 2, 0x200FFC), KC_E_DESC);  // an invalid one
  EXPECT_EQ(map(0, 0x1000, 3, 0), KC_E_DESC);
  EXPECT_TRUE(npt_entries(kc, 0).empty());
  EXPECT_EQ(ctr(0).pgd_next, kc_pgd_start(0));
  EXPECT_EQ(to_model(walk(0, 1ull << 36)), (model::PtEntry{0, 0, 0}));
  EXPECT_EQ(to_model(walk(99, 1)), (model::PtEntry{0, 0, 0}));
}

// Runs the same maps through KCore and the model's local_mmap_h; returns the index of the first
// map that halts (both must agree on every result and on the bump pointers).
template <class AddrOf>
int first_halt(const kcore& kc, uint32_t v, int n, uint32_t level, AddrOf addr_of) {
  model::NPT npt{};
  npt.pt_pgd_next = kc_pgd_start(v);
  npt.pt_pud_next = kc_pud_start(v);
  npt.pt_pmd_next = kc_pmd_start(v);
  const model::MachineConfig cfg{};
  for (int i = 0; i < n; ++i) {
    const uint64_t addr = addr_of(uint64_t(i));
    const uint64_t pte = level == 2 ? 0x40000FFDull : 0x40000FFFull;
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_s2pt_map(&kc, v, addr, level, pte); }), KN_RETURNED);
    const model::MmapResult m = model::local_mmap_h(cfg, v, addr, level, pte, npt);
    EXPECT_EQ(st != KC_OK, m.halt) << "map " << i;
    npt = m.npt;
    kc_pool_ctr c{};
    EXPECT_EQ(run([&] { c = *kc_pool_of(&kc, v); }), KN_RETURNED);
    EXPECT_EQ(Z(c.pgd_next), npt.pt_pgd_next);
    EXPECT_EQ(Z(c.pud_next), npt.pt_pud_next);
    EXPECT_EQ(Z(c.pmd_next), npt.pt_pmd_next);
    if (st != KC_OK) {
      EXPECT_EQ(st, KC_E_POOL);
      return i;
    }
  }
  return -1;
}

// The PMD area holds 5887 level-3 tables: the 5888th distinct 2 MiB region halts.
TEST_F(S2pt, PtePoolExhaustsAtTheSpecsCount) {
  EXPECT_EQ(first_halt(kc, 2, 6000, 3, [](uint64_t i) { return i * KC_PMD_SIZE; }), 5887);
  EXPECT_EQ(ctr(2).pmd_next, kc_pool_end(2));
  EXPECT_EQ(to_model(walk(2, 5886ull * 512)), (model::PtEntry{0x40000, 3, 0x40000FFF}));
  EXPECT_EQ(to_model(walk(2, 5887ull * 512)), (model::PtEntry{0, 0, 0}));
  // A page under an existing table still maps: only new tables need the pool.
  EXPECT_EQ(map(2, 0x1000, 3, 0x1FFF), KC_OK);
}

// The PUD area holds 2048 level-2 tables: the 2049th distinct 1 GiB region halts.
TEST_F(S2pt, PmdPoolExhaustsAtTheSpecsCount) {
  EXPECT_EQ(first_halt(kc, 3, 2100, 3, [](uint64_t i) { return i << 30; }), 2048);
  EXPECT_EQ(ctr(3).pud_next, kc_pmd_start(3));
  EXPECT_EQ(map(3, (5ull << 30) | 0x200000, 3, 0x1FFF), KC_OK);  // existing tables: no pool
  EXPECT_EQ(map(3, 5ull << 30, 2, 0x1FFD), KC_OK);
}

// The PGD area holds 256 level-1 tables: the 257th distinct 512 GiB region halts.
TEST_F(S2pt, PudPoolExhaustsAtTheSpecsCount) {
  EXPECT_EQ(first_halt(kc, 16, 300, 2, [](uint64_t i) { return i << 39; }), 256);
  EXPECT_EQ(ctr(16).pgd_next, kc_pud_start(16));
  EXPECT_EQ(map(16, 7ull << 39, 2, 0x1FFD), KC_OK);  // an existing level-1 table: no pool
  EXPECT_EQ(map(16, (7ull << 39) | (1ull << 30), 2, 0x1FFD), KC_OK);
}

// The next gfn whose leaf names a frame, skipping absent tables; checked against a plain scan.
TEST_F(S2pt, NextMappedFindsEveryLeafThatNamesAFrame) {
  const uint32_t v = 2;
  const auto map = [&](uint64_t gfn, uint32_t level, uint64_t pte) {
    kc_status st = KC_OK;
    ASSERT_EQ(run([&] { st = kc_s2pt_map(&kc, v, gfn << 12, level, pte); }), KN_RETURNED);
    ASSERT_EQ(st, KC_OK);
  };
  map(5, 3, 0x7000 | KC_PAGE_S2_KERNEL);
  map(6, 3, KC_PAGE_GUEST);  // names no frame
  map(0x400, 2, 0x600000 | 0xFFD);
  map(0x123456789, 3, 0x9000 | KC_PAGE_S2_KERNEL);
  map((1ull << 36) - 1, 3, 0xA000 | KC_PAGE_S2_KERNEL);
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 0, 100), 5u);
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 6, 0x1000), 0x400u);
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 0x4AB, 0x1000), 0x4ABu);  // inside the block
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 0x600, 0x600), 0x600u);   // empty range: end
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 0x600, ~0ull), 0x123456789u);
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 0x12345678A, ~0ull), (1ull << 36) - 1);
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, v, 1ull << 36, ~0ull), ~0ull);  // beyond 48 bits
  EXPECT_EQ(kc_s2pt_next_mapped(&kc, 3, 0, ~0ull), ~0ull);           // an empty table
  for (uint64_t g = 0; g < 0x700; g += 7) {
    uint64_t want = g;
    while (want < 0x700 && kc_phys_page(walk(v, want).pte) == 0) ++want;
    ASSERT_EQ(kc_s2pt_next_mapped(&kc, v, g, 0x700), want) << g;
  }
}

}  // namespace
}  // namespace hypdiff::kcore_test
