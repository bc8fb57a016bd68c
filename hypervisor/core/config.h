/* The machine KCore runs on: model/config.hpp's MachineConfig (same fields, same defaults, same
 * derived ids) plus where KCore's private memory lives (el2_base), and the physical layout
 * derived from both. Freestanding. */
#ifndef KCORE_CONFIG_H
#define KCORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/constants.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KC_MAX_SMMUS 16u
#define KC_MAX_PRINCIPALS 256u /* max_vms <= 254: host + VMs + COREVISOR */

struct kc_smmu_unit {
  uint64_t phys_base;     /* byte address of its MMIO window */
  uint64_t size;          /* bytes */
  uint64_t context_banks; /* smmu_dev_context_banks: the bound of SMMU_ALLOC_PGD */
};

struct kc_config {
  uint32_t max_vms;      /* VMs are 1..max_vms; COREVISOR = max_vms + 1 */
  uint32_t vcpus_per_vm; /* ctxt_id(v, c) = v * vcpus_per_vm + c */
  uint32_t total_cpus;
  uint64_t ram_base_pfn; /* host RAM: pfns [ram_base_pfn, ram_base_pfn + ram_pages) */
  uint64_t ram_pages;
  uint32_t smmu_num;
  struct kc_smmu_unit smmus[KC_MAX_SMMUS];
  uint32_t smmu_ctxt_banks; /* the SMMU id space: smmu_id = index * banks + cbndx */
  uint64_t max_share_count;
  uint32_t max_load_info;
  /* Physical address of KCore's private memory (docs/kcore.md). The default, 2^40, lies above
   * every address a spec path lets the host or a VM name (host faults < 2^24, is_paddr < 2^40),
   * so no hypercall can map KCore's own pages anywhere. */
  uint64_t el2_base;
};

/* Sizes of the layout's slots (the harness's export reads KCore's memory by them too). */
#define KC_S2PAGE_ENTRY 16ull /* one ownership entry */
#define KC_VMINFO_PAGES 2ull  /* VM info of one principal: VS, then VB */
#define KC_CTXT_SLOT 2048ull  /* one shadow context */

/* Where KCore's objects live in physical memory, computed from the configuration. */
struct kc_layout {
  uint64_t globals;   /* page 0: struct kc_globals */
  uint64_t pool_ctr;  /* the NPT bump pointers, 32 bytes per principal */
  uint64_t cursors;   /* data_log / core_data_log, 16 bytes per principal */
  uint64_t npt_base;  /* spec pool address X (PT_POOL_START..) is physical npt_base + X */
  uint64_t smmu_base; /* spec SMMU pool address X (SMMU_POOL_START..) is smmu_base + X */
  uint64_t s2page;    /* the ownership array, 16 bytes per RAM page */
  uint64_t cpus;      /* per-CPU state (struct kc_cpu), 16 bytes per CPU */
  uint64_t smmu_vmid; /* owner of each SMMU context bank, 4 bytes per smmu_id */
  uint64_t vminfo;    /* VM info: two pages (VS, VB) per principal */
  uint64_t ctxts;     /* shadow register contexts, one 2 KiB slot per ctxt_id */
  uint64_t end;       /* first byte after KCore's memory */
};

/* MachineConfig{} of the model, with el2_base = 2^40. */
void kc_config_default(struct kc_config* cfg);
/* NULL if the core can honour the configuration, else one static line saying why not. */
const char* kc_config_check(const struct kc_config* cfg);
/* Fills *lay; meaningful only for a configuration kc_config_check accepts. */
void kc_layout_compute(const struct kc_config* cfg, struct kc_layout* lay);

/* Derived ids (model/config.hpp, digest §1.4, §2.2). */
static inline uint32_t kc_corevisor(const struct kc_config* c) { return c->max_vms + 1u; }
static inline uint32_t kc_principals(const struct kc_config* c) { return c->max_vms + 2u; }
static inline uint32_t kc_npt_lock(uint32_t v) { return KC_NPT_ID + v; }
static inline uint32_t kc_info_lock(const struct kc_config* c, uint32_t v) {
  return KC_NPT_ID + kc_corevisor(c) + 1u + v;
}
static inline uint32_t kc_lock_count(const struct kc_config* c) {
  return kc_info_lock(c, kc_corevisor(c)) + 1u; /* ID_END */
}
static inline uint32_t kc_ctxt_id(const struct kc_config* c, uint32_t v, uint32_t vcpu) {
  return v * c->vcpus_per_vm + vcpu;
}
static inline uint32_t kc_smmu_id(const struct kc_config* c, uint32_t index, uint32_t cbndx) {
  return index * c->smmu_ctxt_banks + cbndx;
}
/* EL2_SMMU_CFG_SIZE: the number of SMMU contexts. */
static inline uint32_t kc_smmu_ids(const struct kc_config* c) {
  return c->smmu_num * c->smmu_ctxt_banks;
}
/* SMMU_TTBR(index, cbndx): the spec address of a context's 8 KiB root table. */
static inline uint64_t kc_smmu_ttbr(const struct kc_config* c, uint32_t index, uint32_t cbndx) {
  return KC_SMMU_POOL_START + (uint64_t)kc_smmu_id(c, index, cbndx) * KC_SMMU_TTBR_SLOT;
}

static inline bool kc_is_vm(const struct kc_config* c, uint64_t v) {
  return 0 < v && v <= c->max_vms;
}
static inline bool kc_is_vmid(const struct kc_config* c, uint64_t v) {
  return v <= kc_corevisor(c);
}
static inline bool kc_is_vcpu(const struct kc_config* c, uint64_t v) { return v < c->vcpus_per_vm; }
static inline bool kc_is_smmu(const struct kc_config* c, uint64_t i) { return i < c->smmu_num; }
static inline bool kc_is_smmu_cfg(const struct kc_config* c, uint64_t i) {
  return i < c->smmu_ctxt_banks;
}
static inline bool kc_is_ram(const struct kc_config* c, uint64_t pfn) {
  return c->ram_base_pfn <= pfn && pfn - c->ram_base_pfn < c->ram_pages;
}

/* The spec's pool formulas (§2.2), in spec addresses. */
static inline uint64_t kc_pool_start(uint32_t v) {
  return KC_PT_POOL_START + KC_PT_POOL_PER_VM * v;
}
static inline uint64_t kc_pgd_start(uint32_t v) { return kc_pool_start(v) + KC_PGD_OFFSET; }
static inline uint64_t kc_pud_start(uint32_t v) { return kc_pool_start(v) + KC_PUD_OFFSET; }
static inline uint64_t kc_pmd_start(uint32_t v) { return kc_pool_start(v) + KC_PMD_OFFSET; }
static inline uint64_t kc_pool_end(uint32_t v) {
  return KC_PT_POOL_START + KC_PT_POOL_PER_VM * ((uint64_t)v + 1u);
}

#ifdef __cplusplus
}
#endif

#endif
