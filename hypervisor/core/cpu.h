/* Per-CPU state (digest §1.3: halt, icore, ihost, cur_vmid, cur_vcpuid) in KCore's memory, and
 * the spec's halt. The physical register file is the platform's (plat_cpu_regs). */
#ifndef KCORE_CPU_H
#define KCORE_CPU_H

#include <stdint.h>

#include "core/ctxt.h"
#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 16 bytes; one page holds 256 CPUs (config: total_cpus <= vcpus_per_vm <= 256). */
struct kc_cpu {
  uint8_t halted; /* the spec's sticky halt: every later trap of this CPU panics again */
  uint8_t ihost;  /* the principal on this CPU is the host */
  uint8_t icore;  /* the CPU is executing KCore */
  uint8_t reserved;
  uint32_t cur_vmid;
  int32_t cur_vcpuid; /* -1 transiently, while vcpu_run picks the vCPU */
  uint32_t reserved2;
};

/* The calling CPU's state; panics if plat_cpu_id() is not below total_cpus. */
struct kc_cpu* kc_cpu_of(const struct kcore* kc);

/* The calling CPU's physical registers and its current shadow context,
 * ctxt_id(cur_vmid, cur_vcpuid). */
struct kc_ctxt* kc_cur_ctxt(const struct kcore* kc);

/* The spec's halt: records it in this CPU's state and panics. Called with no lock held. */
KC_NORETURN void kc_halt(const struct kcore* kc, const char* why);

/* Writes the boot state of every CPU: the host running on it, outside KCore. */
void kc_cpu_boot(const struct kcore* kc);

/* pt_vttbr(v) = pool_start(v) | v << 48, with the pool's physical address (docs/kcore.md). */
uint64_t kc_vttbr(const struct kcore* kc, uint32_t v);

#ifdef __cplusplus
}
#endif

#endif
