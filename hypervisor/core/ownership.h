/* The page-ownership array s2page (digest §1.1 `S2Page`): owner, share count and gfn of every
 * physical frame. KCore stores an entry for each RAM frame only; every other frame reads as the
 * spec's default {INVALID, 0, INVALID64} (§1.5) and no spec path ever changes it, because every
 * ownership change starts from a host-owned (RAM) frame. */
#ifndef KCORE_OWNERSHIP_H
#define KCORE_OWNERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry, 16 bytes: 256 per page, none straddles a page. */
struct kc_s2page {
  uint32_t owner; /* HOSTVISOR 0, a VM, COREVISOR, or INVALID */
  uint32_t count; /* grants to the host (VM pages) / SMMU mappings (host pages); INVALID allowed */
  uint64_t gfn;   /* where the owner maps it; host pages: pfn + SMMU_HOST_OFFSET */
};

/* Writes the boot value of every RAM entry: {HOSTVISOR, 0, pfn + SMMU_HOST_OFFSET}. */
void kc_s2page_boot(const struct kcore* kc);

void kc_s2page_get(const struct kcore* kc, uint64_t pfn, struct kc_s2page* out);
/* Panics outside RAM: only RAM frames ever change hands, so such a write is a KCore bug. */
void kc_s2page_set(const struct kcore* kc, uint64_t pfn, const struct kc_s2page* p);

/* The transitions the spec's primitives are built from (§3.2). Each reads and writes one entry;
 * the caller holds S2PAGE_ID. */

/* A frame becomes the host's again, unshared (local_clear_vm_page). */
void kc_s2page_give_to_host(const struct kcore* kc, uint64_t pfn);
/* Grant: one more share of a page `vmid` owns, up to max_share_count (local_grant_vm_page).
 * Returns whether the count changed. */
bool kc_s2page_share(const struct kcore* kc, uint64_t pfn, uint32_t vmid);
/* Revoke: one share fewer (local_revoke_vm_page). Returns the count before, or 0 when the page
 * is not vmid's or not shared (then nothing changed). */
uint32_t kc_s2page_unshare(const struct kcore* kc, uint64_t pfn, uint32_t vmid);
/* SMMU mapping of a host page: count + 1 while below EL2_SMMU_CFG_SIZE (local_smmu_map_page). */
void kc_s2page_smmu_map(const struct kcore* kc, uint64_t pfn);
/* SMMU unmapping of a host page: count - 1 while positive (local_smmu_clear). */
void kc_s2page_smmu_unmap(const struct kcore* kc, uint64_t pfn);

#ifdef __cplusplus
}
#endif

#endif
