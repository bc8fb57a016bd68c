/* The native platform: KCore's core running inside a host process. Physical memory is simulated
 * (sparse, 48-bit, pages allocated on first touch), a panic longjmps back to kn_call, and the
 * lock and oracle hooks are function pointers the harness sets. One machine per process: the
 * platform functions the core calls (core/platform.h) have no context argument. Not thread
 * safe. Hosted C (libc), compiled -fPIC. */
#ifndef KCORE_NATIVE_H
#define KCORE_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ctxt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- simulated physical memory --- */

/* Frees every page: all of physical memory reads as zero again. */
void kn_mem_reset(void);
/* Frees everything the memory holds, its bookkeeping included (kn_mem_reset keeps freed pages
 * for reuse): for a library that is about to be unloaded. Memory reads as zero afterwards. */
void kn_mem_release(void);
/* Pages allocated so far (4 KiB each). */
uint64_t kn_mem_pages(void);
/* Reads 8 bytes at pa without allocating; a page never touched reads as 0. pa must be 8-byte
 * aligned and below 2^48 (else 0). */
uint64_t kn_mem_peek64(uint64_t pa);
/* Writes 8 bytes at pa (allocating its page): how a harness places data in simulated RAM. */
void kn_mem_poke64(uint64_t pa, uint64_t value);
/* The frames reached through plat_phys or written by kn_mem_poke64 since the last
 * kn_mem_clear_touched (or reset), in order, possibly repeated: what an incremental export must
 * look at. Reads count too: the core reaches memory only through plat_phys. */
const uint64_t* kn_mem_touched(size_t* n);
void kn_mem_clear_touched(void);

/* A frame's value as the spec abstracts it (flatmem, one integer per 4 KiB frame): its first 8
 * bytes. Loads and stores of the spec read and write this word; plat_page_filled writes the
 * oracle's value here (docs/oracles.md). */
static inline uint64_t kn_page_value(uint64_t pfn) { return kn_mem_peek64(pfn << 12); }
static inline void kn_set_page_value(uint64_t pfn, uint64_t v) { kn_mem_poke64(pfn << 12, v); }

/* --- running core code --- */

typedef void (*kn_fn)(void* arg);
enum kn_outcome { KN_RETURNED = 0, KN_PANICKED = 1 };
/* Runs fn(arg); a plat_panic inside returns here with KN_PANICKED. Locks still held at the
 * panic are dropped. Calls do not nest. */
enum kn_outcome kn_call(kn_fn fn, void* arg);
/* The reason of the last panic, or NULL if the last kn_call returned normally. */
const char* kn_panic_reason(void);

/* --- hooks and observations --- */

struct kn_hooks {
  void* ctx;
  /* Called when the core acquires lock_id; `first` = no lock was held before, i.e. this is one
   * of the spec's query_oracle points. May be NULL. */
  void (*on_acquire)(void* ctx, uint32_t lock_id, int first);
  void (*on_release)(void* ctx, uint32_t lock_id);
  /* The oracle streams; NULL answers 0. */
  uint64_t (*doracle)(void* ctx, uint32_t vmid, uint64_t n);
  uint64_t (*core_doracle)(void* ctx, uint32_t vmid, uint64_t n);
  /* plat_skip_sections: how many of `iterations` (each `per` query points) the core may pass;
   * NULL lets it pass all. */
  uint64_t (*skip)(void* ctx, uint64_t iterations, uint32_t per);
  /* plat_param; NULL gives the model's defaults (Params{}): 0, except verify_img 1 and the
   * decrypt counts 31 and 24. */
  uint64_t (*param)(void* ctx, int which, uint64_t a, uint64_t b);
};
/* Replaces all hooks (NULL: none). */
void kn_set_hooks(const struct kn_hooks* hooks);
void kn_set_cpu(uint32_t cpu);
/* Makes the leaf-descriptor hooks (core/platform.h) kc_leaf_swap(., window, offset), for
 * reading a copy of a machine whose tables hold other output addresses (the QEMU target's
 * mirror, docs/qemu.md); (0, 0), the default, is the identity of the native platform. */
void kn_set_leaf_window(uint64_t window, uint64_t offset);

/* The physical register file of CPU `cpu` (< KN_MAX_CPUS), what plat_cpu_regs returns while
 * that CPU runs core code. Zero at start; kn_regs_reset zeroes every CPU's. */
#define KN_MAX_CPUS 256u
struct kc_cpu_regs* kn_cpu_regs(uint32_t cpu);
void kn_regs_reset(void);

/* Locks currently held; the core must hold none between entry points. */
uint32_t kn_locks_held(void);
/* How many times a lock was acquired with no other held (the spec's query_oracle count). */
uint64_t kn_sections(void);

struct kn_tlb_stats {
  uint64_t ipa_flushes, vmid_flushes, smmu_flushes;
  uint32_t last_vmid;
  uint64_t last_ipa;
};
void kn_get_tlb_stats(struct kn_tlb_stats* out);
/* Zeroes the TLB and section counters. */
void kn_reset_counters(void);

#ifdef __cplusplus
}
#endif

#endif
