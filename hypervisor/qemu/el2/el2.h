/* Internals of the EL2 platform on QEMU virt: system registers, the UART, the shared pages. */
#ifndef HYPDIFF_QEMU_EL2_H
#define HYPDIFF_QEMU_EL2_H

#include <stdint.h>

#include "core/kcore.h"
#include "qemu/layout.h"

#define HQ_READ_SYSREG(r)                       \
  ({                                            \
    uint64_t v_;                                \
    __asm__ volatile("mrs %0, " #r : "=r"(v_)); \
    v_;                                         \
  })
#define HQ_WRITE_SYSREG(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((uint64_t)(v)))

static inline struct hq_plat* hq_plat(void) { return (struct hq_plat*)HQ_PLAT_PA; }
static inline struct kcore* hq_kcore(void) { return (struct kcore*)HQ_KCORE_PA; }
static inline struct hq_ring* hq_ring(void) { return (struct hq_ring*)HQ_RING_PA; }
static inline struct hq_oracle* hq_oracle(void) { return (struct hq_oracle*)HQ_ORACLE_PA; }

/* boot.S: parks the CPU for a soft reset; restarts at _start when the harness says go. */
KC_NORETURN void hq_park(void);

/* The spec's query point outside a lock (a load or store by the host): hq_events_due asks the
 * harness for the other CPUs' events due now (their addresses in event_addr; 0 when none are
 * due), hq_query_point_with(n) applies n of them and counts the query point; hq_query_point
 * does both. */
uint64_t hq_events_due(void);
void hq_query_point_with(uint64_t n);
void hq_query_point(void);

/* VTCR_EL2: 44-bit IPA (T0SZ 20, start at level 0: KCore's tables are 4-level) and 44-bit PA
 * (cortex-a57), 4 KiB granule, inner shareable write-back walks. */
#define VTCR_VALUE \
  ((1ull << 31) | (4ull << 16) | (3ull << 12) | (1ull << 10) | (1ull << 8) | (2ull << 6) | 20ull)

/* Stage-2 descriptor bits: valid table, and a 2 MiB block of normal write-back memory,
 * read/write, inner shareable, accessed. */
#define S2_TABLE 0x3ull
#define S2_BLOCK_NORMAL 0x7FDull
/* HCR_EL2: RW (EL1 is AArch64), DC (stage-1 off at EL1 means normal cacheable memory, so the
 * agent needs no page tables of its own), SWIO, VM (stage 2 on). */
#define HCR_VALUE ((1ull << 31) | (1ull << 12) | (1ull << 1) | 1ull)
/* HCR_EL2 while a VM runs (the spec's HCR value 3 is symbolic): the host's, plus IMO (physical
 * interrupts to EL2: the VM's timer, an interrupt exit), TWI, TWE (WFI/WFE trap; QEMU 7.2 traps
 * only WFI), TSC (SMC traps), TACR, TID3 and TVM (the system-register traps KVM sets: ID
 * registers, auxiliary control, writes to the virtual-memory controls). HVC always traps. */
#define HCR_GUEST                                                                        \
  (HCR_VALUE | (1ull << 4) | (1ull << 13) | (1ull << 14) | (1ull << 19) | (1ull << 21) | \
   (1ull << 18) | (1ull << 26))
#define SPSR_EL1H_MASKED 0x3C5ull

/* platform.c: the running access completed through a stale translation (HQ_STATUS_STALE). */
void hq_stale_access(void);

/* world.c: whether the guest agent (a VM's vCPU) is what trapped. */
int hq_in_guest(void);

void hq_uart_puts(const char* s);
void hq_uart_hex(uint64_t v);
/* Panics with `why` followed by " 0x<value>" (the text goes to the UART and the EL2 page). */
KC_NORETURN void hq_panic_hex(const char* why, uint64_t value);

#endif
