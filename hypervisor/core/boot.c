/* Boot: the initial state of digest §1.5 (the model's initial_state), written into KCore's
 * physical memory. The spec defines no initial state; these are its recommended defaults. */
#include "core/cpu.h"
#include "core/kcore.h"
#include "core/mutant.h"
#include "core/ownership.h"
#include "core/s2pt.h"
#include "core/spt.h"
#include "core/vm.h"

#define KC_GLOBALS_PAGES 4u /* globals, pool counters (2 pages), cursors */

_Static_assert(sizeof(struct kc_globals) <= KC_PAGE_SIZE, "globals fit page 0");
_Static_assert(sizeof(struct kc_pool_ctr) * KC_MAX_PRINCIPALS == 2 * KC_PAGE_SIZE,
               "pool counters fill two pages, none straddles a page");
_Static_assert(2 * sizeof(uint64_t) * KC_MAX_PRINCIPALS == KC_PAGE_SIZE, "cursors fill one page");

void kc_zero_page(uint64_t pa) {
  volatile uint64_t* p = (volatile uint64_t*)plat_phys(pa);
  for (uint32_t i = 0; i < KC_PAGE_SIZE / sizeof(uint64_t); ++i) p[i] = 0;
}

struct kc_pool_ctr* kc_pool_of(const struct kcore* kc, uint32_t v) {
  if (v >= kc_principals(&kc->cfg)) plat_panic("pool counter of a principal that does not exist");
  return (struct kc_pool_ctr*)plat_phys(kc->lay.pool_ctr +
                                        (uint64_t)v * sizeof(struct kc_pool_ctr));
}

/* data_log[v] at cursors + 8 v, core_data_log[v] at cursors + 8 (256 + v). */
static uint64_t cursor_pa(const struct kcore* kc, uint32_t v, uint32_t which) {
  if (v >= kc_principals(&kc->cfg)) plat_panic("oracle cursor of a principal that does not exist");
  return kc->lay.cursors + 8u * ((uint64_t)which * KC_MAX_PRINCIPALS + v);
}
uint64_t kc_data_log(const struct kcore* kc, uint32_t v) { return kc_rd64(cursor_pa(kc, v, 0)); }
uint64_t kc_core_data_log(const struct kcore* kc, uint32_t v) {
  return kc_rd64(cursor_pa(kc, v, 1));
}
void kc_set_data_log(const struct kcore* kc, uint32_t v, uint64_t n) {
  kc_wr64(cursor_pa(kc, v, 0), n);
}
void kc_set_core_data_log(const struct kcore* kc, uint32_t v, uint64_t n) {
  kc_wr64(cursor_pa(kc, v, 1), n);
}

const char* kc_boot(struct kcore* kc, const struct kc_config* cfg) {
  const char* why = kc_config_check(cfg);
  if (why) return why;
  kc->cfg = *cfg;
  kc_layout_compute(cfg, &kc->lay);

  for (uint32_t i = 0; i < KC_GLOBALS_PAGES; ++i) kc_zero_page(kc->lay.globals + i * KC_PAGE_SIZE);
  struct kc_globals* g = kc_globals_of(kc);
  g->next_vmid = KC_SHARED_KVM_START;
  if (!KC_MUTANT(17)) g->next_remap_ptr = KC_REMAP_START; /* mutant 17: left at 0 */
  g->spt_pgd_next = KC_SMMU_PGD_START;
  g->spt_pmd_next = KC_SMMU_PMD_START;

  /* Every principal's table starts empty, with its bump pointers at the start of its pool areas
   * (the lower-layer allocators rely on pgd_start <= pgd_next <= pud_start, ...). */
  for (uint32_t v = 0; v < kc_principals(cfg); ++v) {
    struct kc_pool_ctr* c = kc_pool_of(kc, v);
    c->pgd_next = kc_pgd_start(v);
    c->pud_next = kc_pud_start(v);
    c->pmd_next = kc_pmd_start(v);
    kc_zero_page(kc_npt_root(kc, v));
  }
  for (uint32_t i = 0; i < cfg->smmu_num; ++i) {
    for (uint32_t cb = 0; cb < cfg->smmu_ctxt_banks; ++cb) kc_spt_clear_root(kc, cb, i);
  }
  kc_s2page_boot(kc);
  kc_vm_init(kc);
  kc_cpu_boot(kc);
  return 0;
}
