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

void hq_uart_puts(const char* s);
void hq_uart_hex(uint64_t v);
/* Panics with `why` followed by " 0x<value>" (the text goes to the UART and the EL2 page). */
KC_NORETURN void hq_panic_hex(const char* why, uint64_t value);

#endif
