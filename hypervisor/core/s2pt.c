/* Stage-2 tables: walk, map with pool allocation, and a visitor. Level l of the table is indexed
 * by bits [47 - 9l : 39 - 9l] of the input address (the spec's pgd/pud/pmd/pte_index). Levels
 * 0..2 hold table descriptors (type 0b11); level 2 may instead hold a block (0b01); level 3 holds
 * whatever pte the spec maps, verbatim (a page descriptor, or PAGE_GUEST, an invalid descriptor
 * with only a software bit, when the spec "unmaps" a host page). */
#include "core/s2pt.h"

#include "core/mutant.h"

#define TABLE_ADDR_MASK 0x0000FFFFFFFFF000ull
#define LEVELS 4u

static bool is_table(uint64_t d) { return (d & KC_DESC_TYPE_MASK) == KC_DESC_TABLE; }
static uint64_t table_of(uint64_t d) { return d & TABLE_ADDR_MASK; }
static uint32_t level_index(uint32_t level, uint64_t addr) {
  return (uint32_t)((addr >> (39u - 9u * level)) & 511u);
}

uint64_t kc_npt_root(const struct kcore* kc, uint32_t v) {
  return kc->lay.npt_base + kc_pool_start(v);
}

/* The descriptors on the way from the root to addr: table[l] is the level-l table (0 when it
 * does not exist) and desc[l] the entry for addr in it (0 when the table does not exist). */
struct path {
  uint64_t table[LEVELS];
  uint64_t desc[LEVELS];
};

static void read_path(uint64_t root, uint64_t addr, struct path* p) {
  uint64_t t = root;
  for (uint32_t l = 0; l < LEVELS; ++l) {
    p->table[l] = t;
    p->desc[l] = t ? kc_rd64(t + 8u * level_index(l, addr)) : 0;
    t = (t && l + 1u < LEVELS && is_table(p->desc[l])) ? table_of(p->desc[l]) : 0;
  }
}

/* The spec's abstraction of one leaf: a level-3 entry maps its own pfn; a block at level 2
 * maps gfn to the block's pfn plus gfn's offset in the block, whatever the block's alignment. */
static void leaf(uint64_t raw, uint32_t level, uint64_t gfn, struct kc_walk* out) {
  const uint64_t desc = plat_leaf_in(raw); /* the spec's descriptor (core/platform.h) */
  out->pfn = kc_phys_page(desc) >> KC_PAGE_SHIFT;
  /* mutant 5: every gfn of a block walks to the block's first frame */
  if (level == 2 && !KC_MUTANT(5)) out->pfn += gfn & (KC_PTRS_PER_TABLE - 1u);
  out->level = level;
  out->pte = desc;
}

void kc_s2pt_walk(const struct kcore* kc, uint32_t v, uint64_t gfn, struct kc_walk* out) {
  out->pfn = 0;
  out->level = 0;
  out->pte = 0;
  if (v >= kc_principals(&kc->cfg) || gfn >= (KC_KVM_ADDR_SPACE >> KC_PAGE_SHIFT)) return;
  struct path p;
  read_path(kc_npt_root(kc, v), gfn << KC_PAGE_SHIFT, &p);
  if (p.table[3] && p.desc[3] != 0) {
    leaf(p.desc[3], 3, gfn, out);
  } else if (p.table[2] && p.desc[2] != 0 && !is_table(p.desc[2])) {
    leaf(p.desc[2], 2, gfn, out);
  }
}

void kc_s2pt_slots(const struct kcore* kc, uint32_t v, uint64_t addr, struct kc_slots* out) {
  out->pgd = out->pud = out->pmd = false;
  if (v >= kc_principals(&kc->cfg) || addr >= KC_KVM_ADDR_SPACE) return;
  struct path p;
  read_path(kc_npt_root(kc, v), addr, &p);
  out->pgd = is_table(p.desc[0]);
  out->pud = p.table[1] && is_table(p.desc[1]);
  out->pmd = p.table[2] && is_table(p.desc[2]);
}

/* Returns the table below entry `slot` (descriptor `desc`), allocating and linking a zeroed page
 * from the pool area whose bump pointer is *next when there is none. */
static uint64_t ensure_table(const struct kcore* kc, uint64_t slot, uint64_t desc, uint64_t* next) {
  if (is_table(desc)) return table_of(desc);
  const uint64_t t = kc->lay.npt_base + *next;
  *next += KC_PAGE_SIZE;
  if (!KC_MUTANT(8)) kc_zero_page(t); /* mutant 8: a new table is used as the pool left it */
  plat_wmb();
  kc_wr64(slot, t | KC_DESC_TABLE);
  return t;
}

/* Writes a leaf, break-before-make when it replaces a valid descriptor by a different one. */
static void write_leaf(uint32_t v, uint64_t slot, uint64_t spec_desc, uint64_t ipa,
                       bool whole_vmid) {
  const uint64_t desc = plat_leaf_out(spec_desc); /* what the MMU walks (core/platform.h) */
  const uint64_t old = kc_rd64(slot);
  if (old == desc) return;
  if (old & KC_DESC_VALID) {
    kc_wr64(slot, 0);
    if (KC_MUTANT(9)) {
      /* mutant 9: break without the TLB invalidation: stale translations survive */
    } else if (whole_vmid) {
      plat_tlb_flush_vmid(v);
    } else {
      plat_tlb_flush_ipa(v, ipa);
    }
  }
  kc_wr64(slot, desc);
}

enum kc_status kc_s2pt_map(const struct kcore* kc, uint32_t v, uint64_t addr, uint32_t level,
                           uint64_t pte) {
  if (v >= kc_principals(&kc->cfg) || addr >= KC_KVM_ADDR_SPACE) return KC_E_RANGE;
  const bool block = level == 2;
  if (block ? (pte & KC_DESC_TYPE_MASK) != KC_DESC_BLOCK : pte == 0) return KC_E_DESC;

  struct path p;
  read_path(kc_npt_root(kc, v), addr, &p);
  const bool need1 = !is_table(p.desc[0]);
  const bool need2 = need1 || !is_table(p.desc[1]);
  const bool need3 = need2 || !is_table(p.desc[2]);
  /* Check every pool the map draws from before taking anything, as the spec does. */
  struct kc_pool_ctr* ctr = kc_pool_of(kc, v);
  uint64_t pgd_next = ctr->pgd_next + (need1 ? KC_PAGE_SIZE : 0);
  uint64_t pud_next = ctr->pud_next + (need2 ? KC_PAGE_SIZE : 0);
  uint64_t pmd_next = ctr->pmd_next;
  bool ok = pgd_next <= kc_pud_start(v) && pud_next <= kc_pmd_start(v);
  if (!block) {
    if (!need2 && p.desc[2] != 0 && !is_table(p.desc[2])) return KC_E_BLOCK;
    pmd_next += need3 ? KC_PAGE_SIZE : 0;
    /* mutant 7: the pool's last page is never handed out (< for <=) */
    ok = ok && (KC_MUTANT(7) ? pmd_next < kc_pool_end(v) : pmd_next <= kc_pool_end(v));
  }
  if (!ok) return KC_E_POOL;

  pgd_next = ctr->pgd_next;
  pud_next = ctr->pud_next;
  pmd_next = ctr->pmd_next;
  const uint64_t t1 =
      ensure_table(kc, p.table[0] + 8u * level_index(0, addr), p.desc[0], &pgd_next);
  const uint64_t s1 = t1 + 8u * level_index(1, addr);
  const uint64_t t2 = ensure_table(kc, s1, p.desc[1], &pud_next);
  const uint64_t s2 = t2 + 8u * level_index(2, addr);
  if (block) {
    write_leaf(v, s2, pte, addr & ~(KC_PMD_SIZE - 1u), is_table(kc_rd64(s2)));
  } else {
    const uint64_t t3 = ensure_table(kc, s2, p.desc[2], &pmd_next);
    /* mutant 6: the page's slot is indexed with the level-2 bits (a copy of the line above) */
    const uint32_t slot3 = KC_MUTANT(6) ? level_index(2, addr) : level_index(3, addr);
    write_leaf(v, t3 + 8u * slot3, pte, addr & ~(KC_PAGE_SIZE - 1u), false);
  }
  ctr->pgd_next = pgd_next;
  ctr->pud_next = pud_next;
  ctr->pmd_next = pmd_next;
  return KC_OK;
}

static void visit_table(uint64_t table, uint32_t level, uint64_t base, kc_s2pt_visitor fn,
                        void* ctx) {
  for (uint32_t i = 0; i < KC_PTRS_PER_TABLE; ++i) {
    const uint64_t d = kc_rd64(table + 8u * i);
    const uint64_t addr = base | ((uint64_t)i << (39u - 9u * level));
    if (d == 0) continue;
    if (level < 3 && is_table(d)) {
      visit_table(table_of(d), level + 1u, addr, fn, ctx);
    } else if (level == 3 || level == 2) {
      const uint32_t pages = level == 2 ? KC_PTRS_PER_TABLE : 1u;
      for (uint32_t k = 0; k < pages; ++k) {
        const uint64_t gfn = (addr >> KC_PAGE_SHIFT) + k;
        struct kc_walk w;
        leaf(d, level, gfn, &w);
        fn(ctx, gfn, &w);
      }
    }
  }
}

void kc_s2pt_visit(const struct kcore* kc, uint32_t v, kc_s2pt_visitor fn, void* ctx) {
  if (v >= kc_principals(&kc->cfg)) return;
  visit_table(kc_npt_root(kc, v), 0, 0, fn, ctx);
}

/* next_mapped below table `table` of `level`, whose first gfn is `base`. */
static uint64_t next_in(uint64_t table, uint32_t level, uint64_t base, uint64_t gfn, uint64_t end) {
  const uint32_t shift = 27u - 9u * level; /* gfns per entry: 2^shift */
  for (uint64_t i = (gfn - base) >> shift; i < KC_PTRS_PER_TABLE; ++i) {
    const uint64_t eb = base + (i << shift);
    if (eb >= end) return end;
    const uint64_t d = kc_rd64(table + 8u * i);
    if (d == 0) continue;
    const uint64_t from = gfn > eb ? gfn : eb;
    if (level < 3 && is_table(d)) {
      const uint64_t r = next_in(table_of(d), level + 1u, eb, from, end);
      if (r < end) return r;
    } else if ((level == 2 || level == 3) && kc_phys_page(d) != 0) {
      /* d is the raw leaf: plat_leaf_in keeps a zero output address zero, and only zero. */
      return from;
    }
  }
  return end;
}

uint64_t kc_s2pt_next_mapped(const struct kcore* kc, uint32_t v, uint64_t gfn, uint64_t end) {
  const uint64_t limit = KC_KVM_ADDR_SPACE >> KC_PAGE_SHIFT; /* beyond: nothing is mapped */
  const uint64_t stop = end < limit ? end : limit;
  if (v >= kc_principals(&kc->cfg) || gfn >= stop) return end;
  const uint64_t r = next_in(kc_npt_root(kc, v), 0, 0, gfn, stop);
  return r < stop ? r : end;
}
