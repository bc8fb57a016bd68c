/* SMMU tables: walk, map with pool allocation, clear, visit. Levels 1 and 2 hold table
 * descriptors (type 0b11); level 3 holds the spec's pte verbatim. Any non-zero level-3 entry is
 * a mapping in the spec's abstraction, so break-before-make is keyed on non-zero, not on the
 * valid bit. */
#include "core/spt.h"

#include <stdbool.h>

#include "core/mutant.h"

#define TABLE_ADDR_MASK 0x0000FFFFFFFFF000ull
#define ROOT_ENTRIES 1024u

static bool is_table(uint64_t d) { return (d & KC_DESC_TYPE_MASK) == KC_DESC_TABLE; }
static uint64_t table_of(uint64_t d) { return d & TABLE_ADDR_MASK; }

static bool context_exists(const struct kcore* kc, uint32_t cbndx, uint32_t index) {
  return kc_is_smmu(&kc->cfg, index) && kc_is_smmu_cfg(&kc->cfg, cbndx);
}

uint64_t kc_spt_root(const struct kcore* kc, uint32_t cbndx, uint32_t index) {
  return kc->lay.smmu_base + kc_smmu_ttbr(&kc->cfg, index, cbndx);
}

/* Entry slots on the way to addr; 0 where the table does not exist. */
struct spath {
  uint64_t s1, d1, s2, d2, s3, d3;
};

static void read_spath(uint64_t root, uint64_t addr, struct spath* p) {
  p->s1 = root + 8u * kc_stage2_pgd_index(addr);
  p->d1 = kc_rd64(p->s1);
  p->s2 = is_table(p->d1) ? table_of(p->d1) + 8u * kc_pmd_index(addr) : 0;
  p->d2 = p->s2 ? kc_rd64(p->s2) : 0;
  p->s3 = is_table(p->d2) ? table_of(p->d2) + 8u * kc_pte_index(addr) : 0;
  p->d3 = p->s3 ? kc_rd64(p->s3) : 0;
}

void kc_spt_walk(const struct kcore* kc, uint32_t cbndx, uint32_t index, uint64_t gfn,
                 struct kc_spt_entry* out) {
  out->pfn = 0;
  out->pte = 0;
  if (!context_exists(kc, cbndx, index) || gfn >= (KC_KVM_PHYS_SIZE >> KC_PAGE_SHIFT)) return;
  struct spath p;
  read_spath(kc_spt_root(kc, cbndx, index), gfn << KC_PAGE_SHIFT, &p);
  out->pfn = kc_phys_page(p.d3) >> KC_PAGE_SHIFT;
  out->pte = p.d3;
}

static uint64_t ensure_table(const struct kcore* kc, uint64_t slot, uint64_t desc, uint64_t* next) {
  if (is_table(desc)) return table_of(desc);
  const uint64_t t = kc->lay.smmu_base + *next;
  *next += KC_PAGE_SIZE;
  kc_zero_page(t);
  plat_wmb();
  kc_wr64(slot, t | KC_DESC_TABLE);
  return t;
}

enum kc_status kc_spt_map(const struct kcore* kc, uint32_t cbndx, uint32_t index, uint64_t addr,
                          uint64_t pte) {
  if (!context_exists(kc, cbndx, index) || addr >= KC_KVM_PHYS_SIZE) return KC_E_RANGE;
  struct spath p;
  read_spath(kc_spt_root(kc, cbndx, index), addr, &p);
  struct kc_globals* g = kc_globals_of(kc);
  uint64_t pgd_next = g->spt_pgd_next + (is_table(p.d1) ? 0 : KC_PAGE_SIZE);
  uint64_t pmd_next = g->spt_pmd_next + (is_table(p.d2) ? 0 : KC_PAGE_SIZE);
  if (!(pgd_next <= KC_SMMU_PMD_START && pmd_next <= KC_SMMU_POOL_END)) return KC_E_POOL;

  pgd_next = g->spt_pgd_next;
  pmd_next = g->spt_pmd_next;
  const uint64_t t2 = ensure_table(kc, p.s1, p.d1, &pgd_next);
  const uint64_t s2 = t2 + 8u * kc_pmd_index(addr);
  const uint64_t t3 = ensure_table(kc, s2, kc_rd64(s2), &pmd_next);
  /* mutant 30: the level-3 slot is indexed with the level-2 bits */
  const uint64_t s3 = t3 + 8u * (KC_MUTANT(30) ? kc_pmd_index(addr) : kc_pte_index(addr));
  const uint64_t old = kc_rd64(s3);
  if (old != pte) {
    if (old != 0) {
      kc_wr64(s3, 0);
      plat_smmu_tlb_flush(index, cbndx);
    }
    kc_wr64(s3, pte);
  }
  g->spt_pgd_next = pgd_next;
  g->spt_pmd_next = pmd_next;
  return KC_OK;
}

void kc_spt_clear_root(const struct kcore* kc, uint32_t cbndx, uint32_t index) {
  if (!context_exists(kc, cbndx, index)) return;
  const uint64_t root = kc_spt_root(kc, cbndx, index);
  kc_zero_page(root);
  kc_zero_page(root + KC_PAGE_SIZE);
  plat_smmu_tlb_flush(index, cbndx);
}

void kc_spt_visit(const struct kcore* kc, uint32_t cbndx, uint32_t index, kc_spt_visitor fn,
                  void* ctx) {
  if (!context_exists(kc, cbndx, index)) return;
  const uint64_t root = kc_spt_root(kc, cbndx, index);
  for (uint64_t i = 0; i < ROOT_ENTRIES; ++i) {
    const uint64_t d1 = kc_rd64(root + 8u * i);
    if (!is_table(d1)) continue;
    for (uint64_t j = 0; j < KC_PTRS_PER_TABLE; ++j) {
      const uint64_t d2 = kc_rd64(table_of(d1) + 8u * j);
      if (!is_table(d2)) continue;
      for (uint64_t k = 0; k < KC_PTRS_PER_TABLE; ++k) {
        const uint64_t d3 = kc_rd64(table_of(d2) + 8u * k);
        if (d3 == 0) continue;
        const struct kc_spt_entry w = {kc_phys_page(d3) >> KC_PAGE_SHIFT, d3};
        fn(ctx, (i << 18) | (j << 9) | k, &w);
      }
    }
  }
}
