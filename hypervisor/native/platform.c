/* The rest of the native platform: panics by longjmp, lock bookkeeping with harness hooks, the
 * oracle hooks, TLB counters. Lock misuse (double acquire, release of a lock not held, acquires
 * out of ascending order) is a KCore bug and panics, so tests see it. */
#include "core/platform.h"

#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "native/native.h"

#define MAX_LOCKS 1024u

static jmp_buf panic_env;
static int in_call;
static const char* panic_reason;

static struct kn_hooks hooks;
static uint32_t cpu;

static unsigned char held[MAX_LOCKS];
static uint32_t held_count;
static uint32_t highest_held;
static uint64_t sections;

static struct kn_tlb_stats tlb;

static void drop_locks(void) {
  for (uint32_t i = 0; i < MAX_LOCKS; ++i) held[i] = 0;
  held_count = 0;
  highest_held = 0;
}

enum kn_outcome kn_call(kn_fn fn, void* arg) {
  if (in_call) {
    panic_reason = "kn_call does not nest";
    return KN_PANICKED;
  }
  panic_reason = NULL;
  in_call = 1;
  if (setjmp(panic_env) != 0) {
    in_call = 0;
    drop_locks();
    return KN_PANICKED;
  }
  fn(arg);
  in_call = 0;
  return KN_RETURNED;
}

const char* kn_panic_reason(void) { return panic_reason; }

void plat_panic(const char* why) {
  panic_reason = why;
  /* Outside kn_call there is nowhere to return to: the harness called the core directly. */
  if (!in_call) abort();
  longjmp(panic_env, 1);
}

void kn_set_hooks(const struct kn_hooks* h) {
  static const struct kn_hooks none;
  hooks = h ? *h : none;
}
void kn_set_cpu(uint32_t c) { cpu = c; }
uint32_t plat_cpu_id(void) { return cpu; }

void plat_lock_acquire(uint32_t id) {
  if (id >= MAX_LOCKS) plat_panic("lock id out of range");
  if (held[id]) plat_panic("lock acquired twice");
  if (held_count > 0 && id < highest_held) plat_panic("locks acquired out of ascending order");
  const int first = held_count == 0;
  if (first) ++sections;
  if (hooks.on_acquire) hooks.on_acquire(hooks.ctx, id, first);
  held[id] = 1;
  ++held_count;
  highest_held = id;
}

void plat_lock_acquire_quiet(uint32_t id) {
  if (id >= MAX_LOCKS) plat_panic("lock id out of range");
  if (held[id]) plat_panic("lock acquired twice");
  if (held_count > 0 && id < highest_held) plat_panic("locks acquired out of ascending order");
  if (hooks.on_acquire) hooks.on_acquire(hooks.ctx, id, 0);
  held[id] = 1;
  ++held_count;
  highest_held = id;
}

uint64_t plat_skip_sections(uint64_t iterations, uint32_t per) {
  if (held_count > 0) plat_panic("sections skipped inside a critical section");
  uint64_t n = hooks.skip ? hooks.skip(hooks.ctx, iterations, per) : iterations;
  if (n > iterations) n = iterations;
  sections += n * per;
  return n;
}

void plat_lock_release(uint32_t id) {
  if (id >= MAX_LOCKS || !held[id]) plat_panic("release of a lock not held");
  held[id] = 0;
  --held_count;
  if (id == highest_held) {
    while (highest_held > 0 && !held[highest_held]) --highest_held;
  }
  if (hooks.on_release) hooks.on_release(hooks.ctx, id);
}

uint32_t kn_locks_held(void) { return held_count; }
uint64_t kn_sections(void) { return sections; }

uint64_t plat_doracle(uint32_t vmid, uint64_t n) {
  return hooks.doracle ? hooks.doracle(hooks.ctx, vmid, n) : 0;
}
uint64_t plat_core_doracle(uint32_t vmid, uint64_t n) {
  return hooks.core_doracle ? hooks.core_doracle(hooks.ctx, vmid, n) : 0;
}

/* The simulated other side: the previous owner left the oracle's value in the page's value word
 * (docs/oracles.md). */
void plat_page_filled(uint64_t pfn, uint32_t vmid, uint64_t n) {
  kn_mem_poke64(pfn << 12, plat_doracle(vmid, n));
}

uint64_t plat_param(enum kc_param which, uint64_t a, uint64_t b) {
  if (hooks.param) return hooks.param(hooks.ctx, (int)which, a, b);
  switch (which) {
    case KC_PARAM_VERIFY_IMG:
      return 1;
    case KC_PARAM_DECRYPT_GP_COUNT:
      return 31;
    case KC_PARAM_DECRYPT_SYS_COUNT:
      return 24;
    default:
      return 0;
  }
}

static struct kc_cpu_regs regs[KN_MAX_CPUS];

struct kc_cpu_regs* kn_cpu_regs(uint32_t c) {
  return c < KN_MAX_CPUS ? &regs[c] : NULL;
}
void kn_regs_reset(void) {
  static const struct kc_cpu_regs zero;
  for (uint32_t c = 0; c < KN_MAX_CPUS; ++c) regs[c] = zero;
}
struct kc_cpu_regs* plat_cpu_regs(void) {
  if (cpu >= KN_MAX_CPUS) plat_panic("no register file for this CPU");
  return &regs[cpu];
}

void plat_tlb_flush_ipa(uint32_t vmid, uint64_t ipa) {
  ++tlb.ipa_flushes;
  tlb.last_vmid = vmid;
  tlb.last_ipa = ipa;
}
void plat_tlb_flush_vmid(uint32_t vmid) {
  ++tlb.vmid_flushes;
  tlb.last_vmid = vmid;
}
void plat_smmu_tlb_flush(uint32_t index, uint32_t cbndx) {
  (void)index;
  (void)cbndx;
  ++tlb.smmu_flushes;
}
/* The simulated memory has no concurrent walker; only the compiler must keep the order. */
void plat_wmb(void) { atomic_signal_fence(memory_order_seq_cst); }

void kn_get_tlb_stats(struct kn_tlb_stats* out) { *out = tlb; }
void kn_reset_counters(void) {
  static const struct kn_tlb_stats zero;
  tlb = zero;
  sections = 0;
}

/* Leaf descriptors (core/platform.h): the identity unless a mirror of another platform's
 * memory is being read (kn_set_leaf_window). */
static uint64_t leaf_window, leaf_offset;
void kn_set_leaf_window(uint64_t window, uint64_t offset) {
  leaf_window = window;
  leaf_offset = offset;
}
uint64_t plat_leaf_out(uint64_t desc) {
  return leaf_window ? kc_leaf_swap(desc, leaf_window, leaf_offset) : desc;
}
uint64_t plat_leaf_in(uint64_t desc) {
  return leaf_window ? kc_leaf_swap(desc, leaf_window, leaf_offset) : desc;
}
