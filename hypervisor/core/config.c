/* Defaults and validation of the machine configuration, and KCore's physical layout. The checks
 * are model/config.cpp's (the two must accept the same machines) plus KCore's own: where its
 * private memory goes and the widths of its ownership entries. */
#include "core/config.h"

#define KC_POOL_CTR_OFFSET 0x1000ull
#define KC_CURSORS_OFFSET 0x3000ull
#define KC_CPUS_OFFSET 0x4000ull
#define KC_SMMU_VMID_OFFSET 0x5000ull /* two pages: up to 16 x 128 context banks */

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1u) & ~(a - 1u); }

/* [a, a + an) and [b, b + bn) intersect. */
static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
  return a < b + bn && b < a + an;
}

void kc_config_default(struct kc_config* cfg) {
  static const struct kc_config def = {
      .max_vms = 15,
      .vcpus_per_vm = 8,
      .total_cpus = 8,
      .ram_base_pfn = 0x200, /* 2 MiB .. 32 MiB, as the model's default */
      .ram_pages = 0x1E00,
      .smmu_num = 2,
      .smmus = {{0x100000, 0x10000, 8}, {0x110000, 0x10000, 8}},
      .smmu_ctxt_banks = 8,
      .max_share_count = 100,
      .max_load_info = 5,
      .el2_base = 1ull << 40,
  };
  *cfg = def;
}

static const char* check_smmus(const struct kc_config* c) {
  if (c->smmu_num > KC_MAX_SMMUS) return "at most 16 SMMUs are supported";
  if (c->smmu_ctxt_banks < 1 || c->smmu_ctxt_banks > 128)
    return "smmu_ctxt_banks must be in 1..128";
  /* Every context's 8 KiB root slot must stay below the pool its tables are allocated from. */
  if (kc_smmu_ttbr(c, c->smmu_num, 0) > KC_SMMU_PGD_START)
    return "too many SMMU contexts: their TTBR slots overrun the SMMU PGD pool";
  const uint64_t ram = c->ram_base_pfn * KC_PAGE_SIZE, ram_n = c->ram_pages * KC_PAGE_SIZE;
  for (uint32_t i = 0; i < c->smmu_num; ++i) {
    const struct kc_smmu_unit* s = &c->smmus[i];
    if (s->size == 0 || s->phys_base >= KC_MAX_MMIO_ADDR ||
        s->size > KC_MAX_MMIO_ADDR - s->phys_base)
      return "smmu MMIO window must be non-empty and below 2^30 (MAX_MMIO_ADDR)";
    if (s->context_banks > c->smmu_ctxt_banks)
      return "smmu context_banks must be <= smmu_ctxt_banks";
    /* Compared by pages, as the model does: a window sharing a page with RAM overlaps it. */
    const uint64_t first = s->phys_base / KC_PAGE_SIZE;
    const uint64_t last = (s->phys_base + s->size - 1u) / KC_PAGE_SIZE;
    if (overlaps(first * KC_PAGE_SIZE, (last - first + 1u) * KC_PAGE_SIZE, ram, ram_n))
      return "smmu MMIO window overlaps host RAM";
    for (uint32_t j = 0; j < i; ++j) {
      if (overlaps(s->phys_base, s->size, c->smmus[j].phys_base, c->smmus[j].size))
        return "smmu MMIO windows overlap";
    }
  }
  return 0;
}

static const char* check_el2(const struct kc_config* c) {
  if (c->el2_base % KC_PMD_SIZE != 0) return "el2_base must be 2 MiB aligned";
  if (c->el2_base < KC_HOST_FAULT_REACH)
    return "el2_base must lie above 16 MiB: the host's fault handler reaches everything below";
  if (c->el2_base > KC_KVM_ADDR_SPACE) return "el2_base must be below 2^48";
  struct kc_layout lay;
  kc_layout_compute(c, &lay);
  if (lay.end > KC_KVM_ADDR_SPACE) return "KCore's memory must end below 2^48";
  const uint64_t n = lay.end - c->el2_base;
  if (overlaps(c->el2_base, n, c->ram_base_pfn * KC_PAGE_SIZE, c->ram_pages * KC_PAGE_SIZE))
    return "KCore's memory overlaps host RAM";
  for (uint32_t i = 0; i < c->smmu_num; ++i) {
    if (overlaps(c->el2_base, n, c->smmus[i].phys_base, c->smmus[i].size))
      return "KCore's memory overlaps an SMMU window";
  }
  return 0;
}

const char* kc_config_check(const struct kc_config* c) {
  /* Owner ids and CBAR vmids are 8-bit fields in the SMMU emulation (CBAR_VMID_MASK = 255). */
  if (c->max_vms < 1 || c->max_vms > 254) return "max_vms must be in 1..254";
  if (c->vcpus_per_vm < 1 || c->vcpus_per_vm > 256) return "vcpus_per_vm must be in 1..256";
  if (c->total_cpus < 1) return "total_cpus must be at least 1";
  /* The host's context on CPU c is ctxt_id(HOST, c): more CPUs would alias VM 1's contexts. */
  if (c->total_cpus > c->vcpus_per_vm) return "total_cpus must not exceed vcpus_per_vm";
  if (c->ram_base_pfn < 1) return "RAM must not include pfn 0 (the spec's page_0_invalid)";
  if (c->ram_pages < 1) return "ram_pages must be at least 1";
  if (c->ram_base_pfn >= KC_KVM_PFN_SPACE || c->ram_pages > KC_KVM_PFN_SPACE - c->ram_base_pfn)
    return "RAM must end below pfn 2^28 (KVM_PFN_SPACE)";
  const char* why = check_smmus(c);
  if (why) return why;
  if (c->max_share_count < 1) return "max_share_count must be at least 1";
  /* KCore stores a share count in 32 bits; INVALID (2^32 - 1) is the largest value it holds. */
  if (c->max_share_count > KC_INVALID) return "max_share_count must be at most 2^32 - 1";
  if (c->max_load_info < 1 || c->max_load_info > 64) return "max_load_info must be in 1..64";
  return check_el2(c);
}

void kc_layout_compute(const struct kc_config* cfg, struct kc_layout* lay) {
  const uint64_t base = cfg->el2_base;
  lay->globals = base;
  lay->pool_ctr = base + KC_POOL_CTR_OFFSET;
  lay->cursors = base + KC_CURSORS_OFFSET;
  lay->npt_base = base;
  /* The NPT pools end at pool_end(COREVISOR); the SMMU pool follows on a 2 MiB boundary. */
  lay->smmu_base = base + align_up(kc_pool_end(kc_corevisor(cfg)), KC_PMD_SIZE);
  lay->s2page = lay->smmu_base + KC_SMMU_POOL_END;
  lay->cpus = base + KC_CPUS_OFFSET;
  lay->smmu_vmid = base + KC_SMMU_VMID_OFFSET;
  lay->vminfo = lay->s2page + align_up(cfg->ram_pages * KC_S2PAGE_ENTRY, KC_PAGE_SIZE);
  lay->ctxts = lay->vminfo + KC_VMINFO_PAGES * KC_PAGE_SIZE * kc_principals(cfg);
  /* Contexts of the host (v = 0) and every VM; COREVISOR runs no vCPU. */
  const uint64_t ctxts = ((uint64_t)cfg->max_vms + 1u) * cfg->vcpus_per_vm;
  lay->end = lay->ctxts + align_up(ctxts * KC_CTXT_SLOT, KC_PAGE_SIZE);
}
