/* Stage-2 page tables ("NPTs", digest §3.1) in the ARMv8-A VMSAv8-64 descriptor format: 4 KiB
 * granule, 48-bit input, four levels (0..3) indexed by the spec's pgd/pud/pmd/pte_index. One
 * table per principal: the host (0), each VM, and COREVISOR (EL2's own stage-1 table of the
 * remap window, same shape). Table pages come from the principal's pool exactly as the spec
 * counts them; see docs/kcore.md for how a walk maps to the spec's (pfn, level, pte). */
#ifndef KCORE_S2PT_H
#define KCORE_S2PT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The spec's pt[gfn] = (pfn, level, pte). level 0 = nothing was ever mapped there (the spec's
 * default (0, 0, 0)); 3 = a page entry, 2 = inside a 2 MiB block. pfn 0 = unmapped. */
struct kc_walk {
  uint64_t pfn;
  uint32_t level;
  uint64_t pte;
};

/* The spec's "table allocated" flags for the slots covering addr: pgd_t[g], pud_t[g][u],
 * pmd_t[g][u][m] (the last is true only for a level-3 table, false for a block). */
struct kc_slots {
  bool pgd;
  bool pud;
  bool pmd;
};

/* Physical address of principal v's root table (its VTTBR base address). */
uint64_t kc_npt_root(const struct kcore* kc, uint32_t v);

/* Walks principal v's table for gfn. An unknown principal or a gfn beyond the 48-bit input
 * range reads as the spec's default (0, 0, 0). */
void kc_s2pt_walk(const struct kcore* kc, uint32_t v, uint64_t gfn, struct kc_walk* out);
void kc_s2pt_slots(const struct kcore* kc, uint32_t v, uint64_t addr, struct kc_slots* out);

/* The spec's local_mmap_h(v, addr, level, pte): maps a 2 MiB block (level 2) or a 4 KiB page
 * (any other level), allocating missing tables from v's pool. On failure nothing changes:
 *   KC_E_POOL   a pool the map needs is exhausted (the spec's bump-pointer check);
 *   KC_E_BLOCK  a page map inside an existing block;
 *   KC_E_RANGE  v is not a principal or addr >= 2^48 (no spec path does either);
 *   KC_E_DESC   a block pte that is not a block descriptor, or a page pte of 0 (ditto).
 * `pte` is stored verbatim as the descriptor. */
enum kc_status kc_s2pt_map(const struct kcore* kc, uint32_t v, uint64_t addr, uint32_t level,
                           uint64_t pte);

/* The smallest gfn in [gfn, end) whose leaf descriptor names a frame (phys_page != 0: a page or
 * a block; not PAGE_GUEST), or `end`. Skips whole absent tables, so it costs the tables on the
 * way, not the range: the grant/revoke loops run over guest-chosen ranges. */
uint64_t kc_s2pt_next_mapped(const struct kcore* kc, uint32_t v, uint64_t gfn, uint64_t end);

/* Calls fn for every gfn whose walk is not the default, in increasing gfn order (a block gives
 * 512 calls). For exports and tests: it reads only what a hardware walk would reach. */
typedef void (*kc_s2pt_visitor)(void* ctx, uint64_t gfn, const struct kc_walk* w);
void kc_s2pt_visit(const struct kcore* kc, uint32_t v, kc_s2pt_visitor fn, void* ctx);

#ifdef __cplusplus
}
#endif

#endif
