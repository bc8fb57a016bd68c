/* Internal to the host hypercall handler (hvc.c): what each hypercall receives, and the
 * hypercalls of the other files. Each returns normally, having written its results into the
 * host's shadow context, or halts (kc_halt) with no lock held. */
#ifndef KCORE_HVC_IMPL_H
#define KCORE_HVC_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctxt.h"
#include "core/kcore.h"

struct kc_hvc {
  const struct kcore* kc;
  struct kc_ctxt* host; /* the host's context on this CPU, its x0..x30 just saved */
  uint64_t a1, a2, a3, a4, a5;
};

/* The spec's BAD: an argument check failed. */
KC_NORETURN void kc_hvc_bad(const struct kc_hvc* h);

/* is_paddr / is_addr / is_pfn (§2.2) */
static inline bool kc_is_paddr(uint64_t a) { return a < KC_KVM_PHYS_SIZE; }
static inline bool kc_is_addr(uint64_t a) { return a < KC_KVM_ADDR_SPACE; }
static inline bool kc_is_pfn(uint64_t p) { return p < KC_KVM_PFN_SPACE; }

/* hvc_boot.c: the VM image (§3.5.1 HVCs 15-17) */
void kc_hvc_set_boot_info(const struct kc_hvc* h);
void kc_hvc_remap_vm_image(const struct kc_hvc* h);
void kc_hvc_verify_vm_image(const struct kc_hvc* h);

/* hvc_smmu.c: SMMU contexts and their tables (HVCs 18-22) */
void kc_hvc_smmu_free_pgd(const struct kc_hvc* h);
void kc_hvc_smmu_alloc_pgd(const struct kc_hvc* h);
void kc_hvc_smmu_lpae_map(const struct kc_hvc* h);
void kc_hvc_smmu_iova_to_phys(const struct kc_hvc* h);
void kc_hvc_smmu_clear(const struct kc_hvc* h);

/* hvc_mem.c: page ranges and buffers (HVCs 14, 23, 26, 27) */
void kc_hvc_clear_vm_s2_range(const struct kc_hvc* h);
void kc_hvc_phys_addr_ioremap(const struct kc_hvc* h);
void kc_hvc_encrypt_buf(const struct kc_hvc* h);
void kc_hvc_decrypt_buf(const struct kc_hvc* h);

#endif
