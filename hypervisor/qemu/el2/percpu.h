/* Per-CPU EL2 state (docs/qemu.md, "SMP"): one block per physical CPU at HQ_PERCPU_PA, reached
 * through TPIDR_EL2, which boot.S sets at each entry. What was a static of one CPU lives here:
 * two CPUs run EL2 code, each with its own locks held, world and access in progress. */
#ifndef HYPDIFF_QEMU_PERCPU_H
#define HYPDIFF_QEMU_PERCPU_H

#include <stdint.h>

#include "core/cpu.h"
#include "qemu/layout.h"

#define HQ_MAX_LOCKS 1024u

struct hq_cpu {
  struct hq_cpu_info info; /* first: the harness reads it, boot.S reads info.regs */
  /* Cleared at every entry (hq_cpu_enter). platform.c: the locks this CPU holds. */
  unsigned char held[HQ_MAX_LOCKS];
  uint32_t held_count;
  /* world.c: whether the guest agent runs, and the host's state while it does. */
  int in_guest;
  int in_a32; /* the guest agent runs its A32 stub (an HVC32 exit, world.c) */
  uint64_t host_elr, host_spsr, host_sp_el1;
  /* main.c, per access command: its query point was taken at an abort; the host fault handler
   * ran at an abort, with this result. */
  int access_qo_done;
  int fault_taken;
  uint64_t fault_result;
};

_Static_assert(__builtin_offsetof(struct hq_cpu, info.regs) == 0, "boot.S: the file pointer");
_Static_assert(sizeof(struct hq_cpu) <= HQ_PERCPU_REGS_OFFSET, "the state fits below the file");
_Static_assert(sizeof(struct kc_cpu_regs) <= 4096, "a register file is one page");

static inline struct hq_cpu* hq_cpu(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, tpidr_el2" : "=r"(v));
  return (struct hq_cpu*)(uintptr_t)v;
}
static inline struct hq_cpu* hq_cpu_at(uint64_t phys) {
  return (struct hq_cpu*)(uintptr_t)(HQ_PERCPU_PA + phys * HQ_PERCPU_SIZE);
}
static inline struct kc_cpu_regs* hq_regs(void) {
  return (struct kc_cpu_regs*)(uintptr_t)hq_cpu()->info.regs;
}

/* smp.c. hq_cpu_enter: fills this CPU's block at an entry (state cleared, entry registers
 * recorded, ups counted). hq_smp_start: CPU 0 starts CPU 1 (PSCI CPU_ON) when QEMU has two and
 * waits for it. hq_park_all: CPU 0 turns CPU 1 off, then parks (boot.S hq_park). */
void hq_cpu_enter(uint64_t phys, uint64_t regs_pa, int driven);
void hq_smp_start(void);
KC_NORETURN void hq_park_all(void);
/* A panic on CPU 1: it turns itself off (the text is in the EL2 page already). */
KC_NORETURN void hq_secondary_stop(void);
/* CPU 0 at a query point: the event OMAP_HOST at addr by spec CPU `cpu` happens now, performed
 * by CPU 1 (smp_level 1) or by CPU 0 itself. */
void hq_event_perform(uint64_t addr, uint64_t cpu);
/* CPU 0's `hvc #8` (HQ_CMD_SMP_COUNT on slot s). */
void hq_smp_count(struct hq_slot* s);

#endif
