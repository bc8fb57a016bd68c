/* SMMU page tables (digest §3.1 `SPT`): one stage-2 table per SMMU context bank, 40-bit input,
 * three levels: an 8 KiB root of 1024 entries (two concatenated level-1 tables, indexed by the
 * spec's stage2_pgd_index), level-2 tables (pmd_index) and level-3 tables (pte_index). The roots
 * sit at the spec's SMMU_TTBR(index, cbndx); the other tables come from one pool shared by all
 * contexts, with the spec's spt_pgd_next / spt_pmd_next bump pointers. Functions take
 * (cbndx, index) in the spec's order. */
#ifndef KCORE_SPT_H
#define KCORE_SPT_H

#include <stdint.h>

#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The spec's spt_pt[ttbr][gfn] = (pfn, pte); (0, 0) when nothing is mapped. */
struct kc_spt_entry {
  uint64_t pfn;
  uint64_t pte;
};

/* Physical address of context (index, cbndx)'s root table. */
uint64_t kc_spt_root(const struct kcore* kc, uint32_t cbndx, uint32_t index);

/* An unknown context or a gfn beyond the 40-bit input range reads as (0, 0). */
void kc_spt_walk(const struct kcore* kc, uint32_t cbndx, uint32_t index, uint64_t gfn,
                 struct kc_spt_entry* out);

/* The spec's local_spt_map_h(cbndx, index, addr, pte): stores pte verbatim at addr's level-3
 * entry, allocating missing tables (pte = 0 clears the entry). On failure nothing changes:
 * KC_E_POOL when a pool it needs is exhausted, KC_E_RANGE for an unknown context or
 * addr >= 2^40 (no spec path produces either). */
enum kc_status kc_spt_map(const struct kcore* kc, uint32_t cbndx, uint32_t index, uint64_t addr,
                          uint64_t pte);

/* A context's table becomes empty (local_alloc_smmu_pgd): the root is zeroed; the tables it
 * referenced stay allocated, as the spec's bump pointers never go back. */
void kc_spt_clear_root(const struct kcore* kc, uint32_t cbndx, uint32_t index);

typedef void (*kc_spt_visitor)(void* ctx, uint64_t gfn, const struct kc_spt_entry* w);
/* Calls fn for every gfn with a non-zero entry, in increasing gfn order. */
void kc_spt_visit(const struct kcore* kc, uint32_t cbndx, uint32_t index, kc_spt_visitor fn,
                  void* ctx);

#ifdef __cplusplus
}
#endif

#endif
