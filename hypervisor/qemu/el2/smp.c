/* QEMU's second CPU at EL2 (docs/qemu.md, "SMP"). CPU 0, the driven CPU, runs every operation
 * of the case; CPU 1 is started by PSCI CPU_ON at every entry of EL2 (a QMP reset powers it off,
 * a soft reset turns it off) and waits in a wfe loop for the jobs CPU 0 puts in its mailbox.
 * Every wait on the other CPU contains wfe: under single-threaded TCG that hands the one TCG
 * thread to the other CPU at once, where a plain spin would wait for the round-robin kick. */
#include "core/config.h"
#include "core/constants.h"
#include "core/kcore.h"
#include "qemu/el2/el2.h"
#include "qemu/el2/percpu.h"

void hq_secondary_main(void);
extern char _secondary[];        /* boot.S */
extern char _secondary_silent[]; /* boot.S: HQ_SMP_FAULT_SILENT */

#define PSCI_ON_PENDING (-5)

/* SMC calling convention: x0 function, x1..x3 arguments, x0 result; x4..x17 may change. */
static uint64_t psci(uint64_t fn, uint64_t a, uint64_t b, uint64_t c) {
  register uint64_t x0 __asm__("x0") = fn;
  register uint64_t x1 __asm__("x1") = a;
  register uint64_t x2 __asm__("x2") = b;
  register uint64_t x3 __asm__("x3") = c;
  __asm__ volatile("smc #0"
                   : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                   :
                   : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                     "x16", "x17", "memory");
  return x0;
}

static uint64_t ticks(void) {
  __asm__ volatile("isb" ::: "memory");
  return HQ_READ_SYSREG(cntpct_el0);
}
/* A second of the generic timer: the bound of every wait on the other CPU. */
static uint64_t second(void) { return HQ_READ_SYSREG(cntfrq_el0); }

static void wait_event(void) { __asm__ volatile("wfe" ::: "memory"); }
static void send_event(void) { __asm__ volatile("dsb ish\n sev" ::: "memory"); }

void hq_cpu_enter(uint64_t phys, uint64_t regs_pa, int driven) {
  struct hq_cpu* c = hq_cpu();
  unsigned char* state = (unsigned char*)c + sizeof c->info;
  for (uint64_t i = 0; i < sizeof *c - sizeof c->info; ++i) state[i] = 0;
  c->info.regs = regs_pa;
  c->info.phys = phys;
  c->info.driven = (uint64_t)driven;
  c->info.current_el = HQ_READ_SYSREG(CurrentEL) >> 2;
  c->info.mpidr = HQ_READ_SYSREG(mpidr_el1);
  c->info.vbar = HQ_READ_SYSREG(vbar_el2);
  __asm__ volatile("dmb ish" ::: "memory");
  c->info.ups = c->info.ups + 1;
}

void hq_smp_start(void) {
  struct hq_plat* p = hq_plat();
  p->secondaries_up = 0;
  p->psci_on = 0;
  if (p->smp < 2) return;
  if (p->smp > HQ_PHYS_CPUS) hq_panic_hex("QEMU has more CPUs than EL2 drives (-smp):", p->smp);
  const uint64_t version =
      p->smp_fault == HQ_SMP_FAULT_OLD_PSCI ? 1u : psci(HQ_PSCI_VERSION, 0, 0, 0);
  p->psci_version = version;
  if ((version >> 31) != 0 || version < 2)
    hq_panic_hex(
        "no PSCI 0.2 or later over smc (QEMU virt gives it with virtualization=on): "
        "PSCI_VERSION",
        version);
  struct hq_cpu* c1 = hq_cpu_at(1);
  c1->info.regs = HQ_PERCPU_PA + HQ_PERCPU_SIZE + HQ_PERCPU_REGS_OFFSET;
  c1->info.phys = 1;
  c1->info.logical = 0;
  c1->info.driven = 0;
  c1->info.mbox.seq = 0;
  c1->info.mbox.done = 0;
  const uint64_t ups = c1->info.ups;
  __asm__ volatile("dsb sy" ::: "memory");
  const uint64_t t0 = ticks();
  const uint64_t deadline = t0 + second();
  uint64_t r;
  do { /* ON_PENDING: an earlier CPU_ON is still on its way (QEMU runs it asynchronously) */
    const uint64_t target = p->smp_fault == HQ_SMP_FAULT_REFUSED ? 7u : 1u; /* Aff0 7: none */
    const char* entry = p->smp_fault == HQ_SMP_FAULT_SILENT ? _secondary_silent : _secondary;
    r = psci(HQ_PSCI_CPU_ON, target, (uint64_t)(uintptr_t)entry, (uint64_t)(uintptr_t)c1);
  } while ((int64_t)r == PSCI_ON_PENDING && ticks() < deadline);
  p->psci_on = r;
  if (r != 0) return; /* the harness reports it (secondaries_up stays 0) */
  while (c1->info.ups == ups && ticks() < deadline) wait_event();
  __asm__ volatile("dmb ish" ::: "memory");
  p->secondaries_up = c1->info.ups != ups;
  hq_cpu()->info.start_ticks = ticks() - t0;
  hq_cpu()->info.timer_hz = second();
}

/* CPU 1 turns itself off (CPU_OFF is only for the calling CPU); CPU 0 waits until PSCI says it
 * is off, so that no CPU runs while the harness rewrites RAM. */
static void smp_stop(void) {
  struct hq_plat* p = hq_plat();
  if (!p->secondaries_up) return;
  struct hq_cpu* c1 = hq_cpu_at(1);
  c1->info.mbox.kind = HQ_MBOX_OFF;
  __asm__ volatile("dmb ish" ::: "memory");
  c1->info.mbox.seq = c1->info.mbox.seq + 1;
  send_event();
  const uint64_t t0 = ticks();
  const uint64_t deadline = t0 + second();
  uint64_t a;
  do {
    wait_event();
    a = psci(HQ_PSCI_AFFINITY_INFO, 1, 0, 0);
  } while (a != 1 && ticks() < deadline);
  struct hq_cpu* c0 = hq_cpu();
  c0->info.stop_affinity = a;
  c0->info.stops = c0->info.stops + 1;
  c0->info.stop_ticks = ticks() - t0;
  p->secondaries_up = 0;
}

void hq_park_all(void) {
  smp_stop();
  hq_park();
}

void hq_secondary_stop(void) {
  psci(HQ_PSCI_CPU_OFF, 0, 0, 0);
  for (;;) wait_event(); /* CPU_OFF does not return; if it did, stay out of the way */
}

/* ---- jobs: CPU 0 posts, CPU 1 performs ---- */

static void post(uint64_t kind, uint64_t addr, uint64_t logical) {
  struct hq_mbox* m = &hq_cpu_at(1)->info.mbox;
  m->kind = kind;
  m->addr = addr;
  m->logical = logical;
  __asm__ volatile("dmb ish" ::: "memory");
  m->seq = m->seq + 1;
  send_event();
}

/* Until CPU 1 has done the last job. A panic there turns CPU 1 off: CPU 0 parks then, as at a
 * panic of its own, so that the harness's soft reset finds it parked. */
static void wait_done(void) {
  const struct hq_mbox* m = &hq_cpu_at(1)->info.mbox;
  while (m->done != m->seq) {
    if (hq_plat()->panicked) hq_park_all();
    wait_event();
  }
  __asm__ volatile("dmb ish" ::: "memory");
}

void hq_event_perform(uint64_t addr, uint64_t cpu) {
  struct hq_plat* p = hq_plat();
  const uint64_t total = hq_kcore()->cfg.total_cpus;
  if (p->smp_level == 0 || !p->secondaries_up || total < 2) {
    kc_replay_map_host(hq_kcore(), addr);
    hq_cpu()->info.replays = hq_cpu()->info.replays + 1;
    return;
  }
  /* A hand-written soracle may name the driven CPU or none: another CPU of the case does it. */
  const uint64_t logical = cpu != p->curid && cpu < total ? cpu : (p->curid + 1) % total;
  p->baton = 1;
  post(HQ_MBOX_REPLAY, addr, logical);
  wait_done();
  p->baton = 0;
  __asm__ volatile("dmb ish" ::: "memory");
}

static void count(uint64_t n) {
  struct hq_plat* p = hq_plat();
  for (uint64_t i = 0; i < n; ++i) {
    plat_lock_acquire_quiet(KC_CORE_ID);
    /* A plain load and store, apart: only the lock keeps the other CPU's increment out. */
    const uint64_t v = p->smp_counter;
    for (int j = 0; j < 16; ++j) __asm__ volatile("dmb ish" ::: "memory");
    p->smp_counter = v + 1;
    plat_lock_release(KC_CORE_ID);
  }
}

void hq_smp_count(struct hq_slot* s) {
  struct hq_plat* p = hq_plat();
  if (!p->secondaries_up) {
    hq_ring()->hvc_status = HQ_STATUS_BAD_COMMAND;
    return;
  }
  p->smp_counter = 0;
  struct hq_mbox* m = &hq_cpu_at(1)->info.mbox;
  m->status = 0;
  post(HQ_MBOX_COUNT, s->value, 0);
  /* Both start together: a few thousand iterations take less than CPU 1's wake-up. */
  while (((volatile struct hq_mbox*)m)->status != 1) wait_event();
  count(s->value);
  wait_done();
  s->value = p->smp_counter;
  hq_ring()->hvc_status = HQ_STATUS_OK;
}

static KC_NORETURN void secondary_loop(struct hq_cpu* c) {
  volatile struct hq_mbox* m = &c->info.mbox;
  for (;;) {
    while (m->seq == m->done) wait_event();
    __asm__ volatile("dmb ish" ::: "memory");
    switch (m->kind) {
      case HQ_MBOX_OFF:
        hq_secondary_stop();
      case HQ_MBOX_REPLAY:
        /* The other CPU's host stage-2 fault, under its locks (kc_host_fault's), as that CPU. */
        c->info.logical = m->logical;
        plat_lock_acquire(KC_S2PAGE_ID);
        plat_lock_acquire(kc_npt_lock(KC_HOSTVISOR));
        kc_replay_map_host(hq_kcore(), m->addr);
        plat_lock_release(kc_npt_lock(KC_HOSTVISOR));
        plat_lock_release(KC_S2PAGE_ID);
        c->info.replays = c->info.replays + 1;
        break;
      case HQ_MBOX_COUNT:
        m->status = 1;
        send_event();
        count(m->addr);
        break;
      default:
        hq_panic_hex("CPU 1 got a job it does not know:", m->kind);
    }
    __asm__ volatile("dmb ish" ::: "memory");
    m->done = m->seq;
    send_event();
  }
}

/* boot.S _secondary, with SP and TPIDR_EL2 set: the same EL2 set-up as CPU 0's (the host's
 * stage 2, so that an access or walk on this CPU sees what CPU 0's sees), then the loop. */
void hq_secondary_main(void) {
  struct hq_cpu* c = hq_cpu();
  HQ_WRITE_SYSREG(vtcr_el2, VTCR_VALUE);
  HQ_WRITE_SYSREG(vttbr_el2, kc_vttbr(hq_kcore(), KC_HOSTVISOR));
  HQ_WRITE_SYSREG(hcr_el2, HCR_VALUE);
  HQ_WRITE_SYSREG(cptr_el2, 0x33FFull);
  __asm__ volatile("isb" ::: "memory");
  /* Once per QEMU: the UART costs a host write per character, and a soft reset restarts CPU 1. */
  if (c->info.ups == 0) hq_uart_puts("kcore: cpu 1 up\n");
  hq_cpu_enter(1, c->info.regs, 0);
  send_event();
  secondary_loop(c);
}
