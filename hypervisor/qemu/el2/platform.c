/* The platform interface (core/platform.h) at EL2 on QEMU virt, one CPU, MMU off
 * (docs/qemu.md). Memory is physical: KCore's own at el2_base identity mapped, the spec's low
 * addresses (host RAM) at HQ_RAM_BASE + pa. The harness-side answers (oracles, parameters) come
 * from the table the harness writes into RAM. */
#include "core/platform.h"

#include "core/ctxt.h"
#include "qemu/el2/el2.h"
#include "qemu/el2/percpu.h"

/* ---- memory ---- */

/* Records `page` in the log at `hdr` (bitmap, list) once; overflow when the list is full. */
static void log_page(uint64_t page, uint64_t hdr, uint64_t bitmap, uint64_t list) {
  volatile uint8_t* bits = (volatile uint8_t*)(uintptr_t)bitmap;
  const uint8_t mask = (uint8_t)(1u << (page & 7u));
  if (bits[page >> 3] & mask) return;
  bits[page >> 3] = (uint8_t)(bits[page >> 3] | mask);
  struct hq_touch* t = (struct hq_touch*)(uintptr_t)hdr;
  if (t->count < HQ_TOUCH_CAP)
    ((volatile uint64_t*)(uintptr_t)list)[t->count++] = page;
  else
    t->overflow = 1;
}

/* Records the RAM page at physical address ram_pa in the touch log (what a reset restores) and
 * the step log (what the next export looks at). */
static void touch(uint64_t ram_pa) {
  const uint64_t page = (ram_pa - HQ_RAM_BASE) >> 12;
  log_page(page, HQ_TOUCH_PA, HQ_TOUCH_BITMAP_PA, HQ_TOUCH_LIST_PA);
  log_page(page, HQ_STEP_PA, HQ_STEP_BITMAP_PA, HQ_STEP_LIST_PA);
}

void* plat_phys(uint64_t pa) {
  /* One CPU at a time runs KCore (the baton, smp.c): the logs below are not atomic. */
  if (hq_plat()->baton != hq_cpu()->info.phys)
    hq_panic_hex("KCore's memory reached without the baton, baton", hq_plat()->baton);
  uint64_t ram_pa;
  if (pa < HQ_SPEC_WINDOW)
    ram_pa = HQ_RAM_BASE + pa;
  else if (pa >= HQ_EL2_BASE && pa < HQ_RAM_END)
    ram_pa = pa;
  else
    hq_panic_hex("plat_phys: not memory:", pa);
  touch(ram_pa);
  return (void*)(uintptr_t)ram_pa;
}

/* The spec's low addresses live at HQ_RAM_BASE + pa (layout.h): leaf descriptors hold the
 * real output address, so that the host's accesses through KCore's table reach that RAM. */
uint64_t plat_leaf_out(uint64_t desc) { return kc_leaf_swap(desc, HQ_SPEC_WINDOW, HQ_RAM_BASE); }
uint64_t plat_leaf_in(uint64_t desc) { return kc_leaf_swap(desc, HQ_SPEC_WINDOW, HQ_RAM_BASE); }

/* GCC emits calls to these for struct copies even when freestanding. Byte loops: the MMU is off,
 * memory is Device-nGnRnE, so no unaligned access is allowed. */
void* memcpy(void* dst, const void* src, unsigned long n) {
  unsigned char* d = dst;
  const unsigned char* s = src;
  if ((((uintptr_t)d | (uintptr_t)s | n) & 7u) == 0) {
    for (unsigned long i = 0; i < n / 8; ++i) ((uint64_t*)d)[i] = ((const uint64_t*)s)[i];
    return dst;
  }
  for (unsigned long i = 0; i < n; ++i) d[i] = s[i];
  return dst;
}
void* memset(void* dst, int c, unsigned long n) {
  unsigned char* d = dst;
  for (unsigned long i = 0; i < n; ++i) d[i] = (unsigned char)c;
  return dst;
}

/* ---- TLB maintenance ---- */

/* TLBI by IPA and by VMID act on the VMID in VTTBR_EL2: switch to the principal's for the
 * invalidation. COREVISOR's table stands for EL2's own stage 1 (unused while EL2's MMU is off),
 * flushed with the EL2 regime anyway. */
static int is_corevisor(uint32_t vmid) { return vmid == kc_corevisor(&hq_kcore()->cfg); }

void plat_tlb_flush_ipa(uint32_t vmid, uint64_t ipa) {
  __asm__ volatile("dsb ishst" ::: "memory");
  if (is_corevisor(vmid)) {
    __asm__ volatile("tlbi alle2is\n dsb ish\n isb" ::: "memory");
    return;
  }
  const uint64_t saved = HQ_READ_SYSREG(vttbr_el2);
  HQ_WRITE_SYSREG(vttbr_el2, (uint64_t)vmid << 48);
  __asm__ volatile(
      "isb\n tlbi ipas2e1is, %0\n dsb ish\n tlbi vmalle1is\n dsb ish\n isb" ::"r"(ipa >> 12)
      : "memory");
  HQ_WRITE_SYSREG(vttbr_el2, saved);
  __asm__ volatile("isb" ::: "memory");
}

void plat_tlb_flush_vmid(uint32_t vmid) {
  __asm__ volatile("dsb ishst" ::: "memory");
  if (is_corevisor(vmid)) {
    __asm__ volatile("tlbi alle2is\n dsb ish\n isb" ::: "memory");
    return;
  }
  const uint64_t saved = HQ_READ_SYSREG(vttbr_el2);
  HQ_WRITE_SYSREG(vttbr_el2, (uint64_t)vmid << 48);
  __asm__ volatile("isb\n tlbi vmalls12e1is\n dsb ish\n isb" ::: "memory");
  HQ_WRITE_SYSREG(vttbr_el2, saved);
  __asm__ volatile("isb" ::: "memory");
}

/* No SMMU is emulated yet: its tables are read by software walks (docs/qemu.md). */
void plat_smmu_tlb_flush(uint32_t index, uint32_t cbndx) {
  (void)index;
  (void)cbndx;
}

void plat_wmb(void) { __asm__ volatile("dmb ishst" ::: "memory"); }

/* ---- the UART and panics ---- */

#define UART_DR 0x00u
#define UART_FR 0x18u
#define UART_FR_TXFF (1u << 5)

static void uart_putc(char c) {
  volatile uint32_t* base = (volatile uint32_t*)(uintptr_t)HQ_UART_PA;
  while (base[UART_FR / 4] & UART_FR_TXFF) {
  }
  base[UART_DR / 4] = (uint32_t)(unsigned char)c;
}

void hq_uart_puts(const char* s) {
  for (; *s; ++s) {
    if (*s == '\n') uart_putc('\r');
    uart_putc(*s);
  }
}

static void hex(char* out, uint64_t v) {
  out[0] = '0';
  out[1] = 'x';
  for (int i = 0; i < 16; ++i) out[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15u];
  out[18] = 0;
}

void hq_uart_hex(uint64_t v) {
  char buf[19];
  hex(buf, v);
  hq_uart_puts(buf);
}

/* The harness sees `panicked` through the shared file; the CPU then waits forever (a reset or
 * a new QEMU ends it). */
static KC_NORETURN void stop(const char* why, const char* suffix) {
  struct hq_plat* p = hq_plat();
  const int secondary = !hq_cpu()->info.driven;
  uint32_t n = 0;
  for (const char* s = "CPU 1: "; secondary && *s; ++s) p->panic_text[n++] = *s;
  for (const char* s = why; *s && n + 1 < HQ_PANIC_TEXT; ++s) p->panic_text[n++] = *s;
  for (const char* s = suffix; s && *s && n + 1 < HQ_PANIC_TEXT; ++s) p->panic_text[n++] = *s;
  p->panic_text[n] = 0;
  /* The UART first: once the harness sees the flag, the text is in QEMU's output too. */
  hq_uart_puts("KCORE PANIC: ");
  hq_uart_puts(p->panic_text);
  hq_uart_puts("\n");
  __asm__ volatile("dmb ish" ::: "memory");
  p->panicked = 1;
  if (secondary) hq_secondary_stop();
  hq_park_all(); /* until a reset: QMP system_reset, or the harness's go after a soft reset */
}

void plat_panic(const char* why) { stop(why, 0); }

void hq_panic_hex(const char* why, uint64_t value) {
  char buf[20];
  buf[0] = ' ';
  hex(buf + 1, value);
  stop(why, buf);
}

/* ---- locks: a ticket lock per id, and per-CPU flags that catch misuse ---- */

#define MAX_LOCKS HQ_MAX_LOCKS

/* .bss: free after every (re)start of CPU 0, while CPU 1 is off. The atomics compile to
 * LDAXR/STXR (-mno-outline-atomics, Armv8.0), which QEMU's TCG does on any memory type. */
static struct { volatile uint32_t next, owner; } tickets[MAX_LOCKS];

/* Asks the harness (layout.h, struct hq_plat) and waits for its answer. Only the driven CPU
 * talks to the harness: CPU 1's jobs need no answer. */
static uint64_t ask(uint64_t kind, uint64_t a, uint64_t b) {
  if (!hq_cpu()->info.driven) plat_panic("the other CPU asked the harness");
  struct hq_plat* p = hq_plat();
  p->ask_kind = kind;
  p->ask_a = a;
  p->ask_b = b;
  __asm__ volatile("dmb ish" ::: "memory");
  p->ask_pending = 1;
  while (p->ask_pending) {
  }
  __asm__ volatile("dmb ish" ::: "memory");
  return p->ask_value;
}

static uint64_t log_now(const struct hq_plat* p) {
  return p->log_base + p->step_sections + p->step_injected;
}

uint64_t hq_events_due(void) {
  struct hq_plat* p = hq_plat();
  const uint64_t now = log_now(p);
  if (now < p->next_event) return 0;
  const uint64_t n = ask(HQ_ASK_EVENTS, now, 0);
  if (n > HQ_MAX_EVENTS) hq_panic_hex("too many other-CPU events:", n);
  return n;
}

void hq_query_point_with(uint64_t n) {
  struct hq_plat* p = hq_plat();
  for (uint64_t i = 0; i < n; ++i) hq_event_perform(p->event_addr[i], p->event_cpu[i]);
  p->step_injected = p->step_injected + n;
  p->step_sections = p->step_sections + 1;
}

/* One of the spec's query points (a critical section's first lock acquisition): the other
 * CPUs' events due now happen first, as on the native platform. */
void hq_query_point(void) { hq_query_point_with(hq_events_due()); }

static void lock(uint32_t id, int quiet) {
  struct hq_cpu* c = hq_cpu();
  if (id >= MAX_LOCKS) hq_panic_hex("lock id out of range:", id);
  if (c->held[id]) hq_panic_hex("lock acquired twice:", id);
  /* The spec's query point is the driven CPU's: CPU 1's sections are inside its events. */
  if (!quiet && c->held_count == 0 && c->info.driven) hq_query_point();
  c->held[id] = 1;
  ++c->held_count;
  const uint32_t mine = __atomic_fetch_add(&tickets[id].next, 1u, __ATOMIC_ACQUIRE);
  while (__atomic_load_n(&tickets[id].owner, __ATOMIC_ACQUIRE) != mine)
    __asm__ volatile("wfe" ::: "memory"); /* single-threaded TCG: let the holder run */
}
void plat_lock_acquire(uint32_t id) { lock(id, 0); }
void plat_lock_acquire_quiet(uint32_t id) { lock(id, 1); }
void plat_lock_release(uint32_t id) {
  struct hq_cpu* c = hq_cpu();
  if (id >= MAX_LOCKS || !c->held[id]) hq_panic_hex("release of a lock not held:", id);
  c->held[id] = 0;
  --c->held_count;
  __atomic_store_n(&tickets[id].owner, tickets[id].owner + 1u, __ATOMIC_RELEASE);
  __asm__ volatile("dsb ish\n sev" ::: "memory");
}

/* No other CPU runs: a no-op iteration may be passed up to the next query point with events. */
uint64_t plat_skip_sections(uint64_t iterations, uint32_t per_iteration) {
  if (!hq_cpu()->info.driven) plat_panic("the other CPU skipped sections");
  struct hq_plat* p = hq_plat();
  const uint64_t now = log_now(p);
  if (p->next_event < now) p->next_event = ask(HQ_ASK_NEXT, now, 0);
  uint64_t allowed = iterations;
  const uint64_t next = p->next_event;
  if (next != UINT64_MAX && per_iteration && (next - now) / per_iteration < allowed)
    allowed = (next - now) / per_iteration;
  p->step_sections = p->step_sections + allowed * per_iteration;
  return allowed;
}

/* ---- the harness's answers ---- */

/* Stream s's value n from the harness's window in the table, or by asking (layout.h). */
static uint64_t stream_value(uint32_t s, uint32_t vmid, uint64_t n) {
  const struct hq_plat* p = hq_plat();
  if (vmid < HQ_ORACLE_V && n - p->win_base[s][vmid] < p->win_count[s][vmid]) {
    const uint64_t i = n - p->win_base[s][vmid];
    return s == 0 ? hq_oracle()->data[vmid][i] : hq_oracle()->core[vmid][i];
  }
  return ask(s == 0 ? HQ_ASK_DATA : HQ_ASK_CORE, vmid, n);
}

uint64_t plat_doracle(uint32_t vmid, uint64_t n) {
  if (hq_plat()->ask_streams) return stream_value(0, vmid, n);
  if (vmid >= HQ_ORACLE_V || n >= HQ_ORACLE_N) hq_panic_hex("doracle beyond the table: n", n);
  return hq_oracle()->data[vmid][n];
}
uint64_t plat_core_doracle(uint32_t vmid, uint64_t n) {
  if (hq_plat()->ask_streams) return stream_value(1, vmid, n);
  if (vmid >= HQ_ORACLE_V || n >= HQ_ORACLE_N) hq_panic_hex("core_doracle beyond the table: n", n);
  return hq_oracle()->core[vmid][n];
}

/* As on the native platform, the simulated previous owner leaves the oracle's value in the
 * frame's first 8 bytes (docs/oracles.md), so that both targets hold the same page values. */
void plat_page_filled(uint64_t pfn, uint32_t vmid, uint64_t n) {
  *(volatile uint64_t*)plat_phys(pfn << 12) = plat_doracle(vmid, n);
}

uint64_t plat_param(enum kc_param which, uint64_t a, uint64_t b) {
  const struct hq_oracle* o = hq_oracle();
  switch (which) {
    case KC_PARAM_SHARED_KVM:
      if (a >= 256) break;
      return o->shared_kvm[a];
    case KC_PARAM_SHARED_VCPU:
      if (a >= HQ_ORACLE_V || b >= HQ_ORACLE_VCPUS) break;
      return o->shared_vcpu[a][b];
    case KC_PARAM_REG_DESC:
      if (a >= 128) break;
      return o->reg_desc[a];
    case KC_PARAM_VERIFY_IMG:
      if (a >= 256) break;
      return o->verify_img[a];
    case KC_PARAM_DECRYPT_GP_COUNT:
      return o->decrypt_gp_count;
    case KC_PARAM_DECRYPT_SYS_COUNT:
      return o->decrypt_sys_count;
  }
  hq_panic_hex("parameter beyond the table: argument", a);
}

/* The spec's CPU, not the hardware's: QEMU's one CPU stands for CPU curid of the case (the
 * native platform does the same). MPIDR would say 0 whatever the case's curid. */
uint32_t plat_cpu_id(void) {
  const struct hq_cpu* c = hq_cpu();
  return (uint32_t)(c->info.driven ? hq_plat()->curid : c->info.logical);
}

/* This CPU's file: boot.S saves the trapped x0..x30 there (CPU 0's is at HQ_REGS_PA). */
struct kc_cpu_regs* plat_cpu_regs(void) {
  return hq_regs();
}

void hq_stale_access(void) {
  hq_cpu()->info.stale = hq_cpu()->info.stale + 1;
  hq_ring()->hvc_status = HQ_STATUS_STALE;
}
