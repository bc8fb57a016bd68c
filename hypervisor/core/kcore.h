/* The KCore handle and its globals. A `struct kcore` holds only what never changes after boot
 * (the configuration and the layout derived from it); every piece of mutable state lives in
 * physical memory at an address the layout gives, as it would on hardware. Freestanding. */
#ifndef KCORE_KCORE_H
#define KCORE_KCORE_H

#include <stdint.h>

#include "core/config.h"
#include "core/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kcore {
  struct kc_config cfg;
  struct kc_layout lay;
};

/* Page 0 of KCore's memory. */
struct kc_globals {
  uint64_t next_vmid;      /* core_data (§1.1) */
  uint64_t next_remap_ptr; /* core_data: bump pointer into the EL2 remap window */
  uint64_t spt_pgd_next;   /* SMMU pool bump pointers (§3.1), shared by every context */
  uint64_t spt_pmd_next;
};

/* NPT pool bump pointers of one principal, in spec addresses (§3.1: pt_pgd/pud/pmd_next). */
struct kc_pool_ctr {
  uint64_t pgd_next; /* next page for a level-1 table (filled into a level-0 entry) */
  uint64_t pud_next; /* next page for a level-2 table (filled into a level-1 entry) */
  uint64_t pmd_next; /* next page for a level-3 table (filled into a level-2 entry) */
  uint64_t reserved;
};

/* Boots the machine of digest §1.5 into physical memory and fills *kc. Returns NULL, or the
 * reason the configuration is refused (then nothing was written). */
const char* kc_boot(struct kcore* kc, const struct kc_config* cfg);

/* --- Entry points: the spec's operations (model/op.hpp), on the calling CPU ---
 * Each first does what the trap itself does: when the principal the operation speaks for is the
 * one running, its inputs land in the physical registers (plat_cpu_regs); then KCore's handler
 * runs. KC_STEP_UNDEFINED: that principal is not running here (the spec's None; nothing
 * changed). A halt panics (plat_panic): the step is halted, and so is every later trap of this
 * CPU. */
enum kc_step { KC_STEP_DONE = 0, KC_STEP_UNDEFINED = 1 };

/* The host's hypercall: x0 = number (13..29, §2.5), x1..x5 = arguments. Results come back in
 * the host's registers (REGISTER_KVM and IOVA_TO_PHYS return in x0). */
enum kc_step kc_host_hvc(const struct kcore* kc, const uint64_t x[6]);

/* The host's stage-2 fault, as the hardware reports it in hpfar_el2, esr_el2 and far_el2: RAM
 * and device pages are mapped into the host's table; an SMMU register access is emulated. */
enum kc_step kc_host_fault(const struct kcore* kc, uint64_t hpfar, uint64_t esr, uint64_t far);

/* The host runs a vCPU of VM `vmid` (x0); which vCPU, and the page it faulted on, are the host's
 * answers (core_doracle). On return the VM's vCPU is in the physical registers. */
enum kc_step kc_vcpu_run(const struct kcore* kc, uint64_t vmid);

/* The running VM traps: exit code `ec` (ARM_EXCEPTION_TRAP, _INTERRUPT), esr_el2, its x0..x3,
 * hpfar_el2, far_el2. Either the VM resumes (system-register trap, the guest's share
 * hypercalls) or the host does, with its registers back. */
enum kc_step kc_vm_exit(const struct kcore* kc, uint64_t ec, uint64_t esr, const uint64_t x[4],
                        uint64_t hpfar, uint64_t far);

/* Another CPU's OMAP_HOST (§4.1 CalStateH), replayed where this CPU queries the others: the
 * host's stage-2 mapping of addr, whose failure is the other CPU's halt, not this one's. Called
 * by the native harness from its lock hook. */
void kc_replay_map_host(const struct kcore* kc, uint64_t addr);

static inline struct kc_globals* kc_globals_of(const struct kcore* kc) {
  return (struct kc_globals*)plat_phys(kc->lay.globals);
}
/* Panics for a principal outside 0..COREVISOR: callers check ids first. */
struct kc_pool_ctr* kc_pool_of(const struct kcore* kc, uint32_t v);

/* The oracle cursors data_log[v] and core_data_log[v] (§4.2). */
uint64_t kc_data_log(const struct kcore* kc, uint32_t v);
uint64_t kc_core_data_log(const struct kcore* kc, uint32_t v);
void kc_set_data_log(const struct kcore* kc, uint32_t v, uint64_t n);
void kc_set_core_data_log(const struct kcore* kc, uint32_t v, uint64_t n);

/* 64-bit physical memory access. Descriptors are read and written with single 64-bit accesses,
 * as hardware walkers require; volatile keeps the compiler from splitting or merging them. */
static inline uint64_t kc_rd64(uint64_t pa) { return *(volatile const uint64_t*)plat_phys(pa); }
static inline void kc_wr64(uint64_t pa, uint64_t v) { *(volatile uint64_t*)plat_phys(pa) = v; }
void kc_zero_page(uint64_t pa); /* pa must be page aligned */

#ifdef __cplusplus
}
#endif

#endif
