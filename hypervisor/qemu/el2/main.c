/* KCore's EL2 main on QEMU virt (docs/qemu.md, "Boot"): boots KCore once, gives the host agent
 * its own stage-2 block beside KCore's host table, enables the host's stage 2 and erets to the
 * agent at EL1. Then every trap of the agent comes back through boot.S into hq_trap; VCPU_RUN
 * (`hvc #4`) and every trap of the guest agent go on to the world switch (world.c). */
#include "core/cpu.h"
#include "core/ctxt.h"
#include "core/kcore.h"
#include "core/mutant.h"
#include "core/ownership.h"
#include "core/s2pt.h"
#include "core/vm.h"
#include "qemu/el2/el2.h"
#include "qemu/el2/percpu.h"

void hq_main(void);
void hq_trap(void);
void hq_world_reset(void);
uint64_t hq_guest_trap(uint64_t esr, uint64_t elr, uint64_t* spsr);
uint64_t hq_vcpu_run(uint64_t elr, uint64_t* spsr);
void hq_dma(void);
KC_NORETURN void hq_unexpected(uint64_t vector);

#define SCTLR_EL1_MMU_OFF 0x30D00800ull

static void zero_page(uint64_t pa) {
  volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)pa;
  for (uint32_t i = 0; i < 512; ++i) p[i] = 0;
}

static void boot_kcore(void) {
  struct hq_plat* p = hq_plat();
  struct kc_config cfg;
  if (p->cfg_set) {
    _Static_assert(sizeof cfg <= sizeof p->cfg, "the config fits its slot");
    __builtin_memcpy(&cfg, p->cfg, sizeof cfg);
  } else {
    kc_config_default(&cfg);
    cfg.el2_base = HQ_EL2_BASE;
  }
  /* Where plat_phys can reach, before kc_boot writes anything. */
  const char* why = kc_config_check(&cfg);
  if (why) plat_panic(why);
  struct kc_layout lay;
  kc_layout_compute(&cfg, &lay);
  if (cfg.el2_base < HQ_EL2_BASE || lay.end > HQ_RAM_END)
    hq_panic_hex("KCore's memory is not in the RAM QEMU has: it ends at", lay.end);
  if (cfg.ram_base_pfn + cfg.ram_pages > (HQ_SPEC_WINDOW >> 12))
    hq_panic_hex("host RAM beyond the spec window: pages", cfg.ram_pages);
  struct kcore* kc = hq_kcore();
  why = kc_boot(kc, &cfg);
  if (why) plat_panic(why);

  /* The agent's block: host IPA HQ_AGENT_IPA -> HQ_AGENT_PA, under root entry 1. */
  zero_page(HQ_AGENT_L1_PA);
  zero_page(HQ_AGENT_L2_PA);
  *(volatile uint64_t*)(uintptr_t)HQ_AGENT_L2_PA = HQ_AGENT_PA | S2_BLOCK_NORMAL;
  *(volatile uint64_t*)(uintptr_t)HQ_AGENT_L1_PA = HQ_AGENT_L2_PA | S2_TABLE;
  const uint64_t root = kc_vttbr(kc, KC_HOSTVISOR) & KC_PHYS_MASK;
  kc_wr64(root + 8u * kc_pgd_index(HQ_AGENT_IPA), HQ_AGENT_L1_PA | S2_TABLE);
  p->booted = HQ_MAGIC_BOOTED;
}

_Static_assert(sizeof(struct hq_plat) <= 4096, "the EL2 page is one page");
_Static_assert(sizeof(struct kc_cpu_regs) <= 4096, "the register file is one page (HQ_REGS_PA)");
_Static_assert(__builtin_offsetof(struct hq_plat, parked) == 800, "boot.S: HQ_PLAT_PARKED");
_Static_assert(__builtin_offsetof(struct hq_plat, go) == 808, "boot.S: HQ_PLAT_GO");

/* The VM's timer interrupt (world.c, hq_irq): EL1 may use its physical timer and counter
 * (CNTHCTL_EL2.EL1PCEN, EL1PCTEN), the timer starts disarmed, and the GIC forwards its PPI to
 * CPU 0's interface at a priority the mask lets through. Device state outlives a soft reset,
 * so every entry sets it again. */
static void arm_gic(void) {
  HQ_WRITE_SYSREG(cnthctl_el2, 3ull);
  HQ_WRITE_SYSREG(cntp_ctl_el0, 0ull);
  volatile uint32_t* gicd = (volatile uint32_t*)(uintptr_t)HQ_GICD_PA;
  volatile uint32_t* gicc = (volatile uint32_t*)(uintptr_t)HQ_GICC_PA;
  gicd[0x400 / 4 + HQ_TIMER_PPI / 4] = 0x80u << (8u * (HQ_TIMER_PPI % 4)); /* IPRIORITYR */
  gicd[0x100 / 4] = 1u << HQ_TIMER_PPI;                                    /* ISENABLER0 */
  gicd[0] = 1u;                                                            /* GICD_CTLR */
  gicc[1] = 0xF0u;                                                         /* GICC_PMR */
  gicc[0] = 1u;                                                            /* GICC_CTLR */
}

void hq_main(void) {
  hq_cpu_enter(0, HQ_REGS_PA, 1); /* first: a panic looks at the block */
  struct hq_plat* p = hq_plat();
  p->secondaries_up = 0; /* CPU 1 is off (QMP reset, or parked by a soft reset) */
  p->baton = 0;
  p->boots = p->boots + 1;
  p->go = 0;
  p->parked = 0;
#ifdef KC_MUTANTS
  kc_mutant = (uint32_t)p->mutant;
#else
  if (p->mutant)
    hq_panic_hex("this image has no mutants (kcore_mutants.elf has): mutant", p->mutant);
#endif
  /* A reset restores RAM as it was after the first boot: KCore is booted already. */
  if (p->booted != HQ_MAGIC_BOOTED) boot_kcore();
  hq_ring()->hvc_status = 0;

  struct kcore* kc = hq_kcore();
  HQ_WRITE_SYSREG(vtcr_el2, VTCR_VALUE);
  HQ_WRITE_SYSREG(vttbr_el2, kc_vttbr(kc, KC_HOSTVISOR));
  HQ_WRITE_SYSREG(hcr_el2, HCR_VALUE);
  HQ_WRITE_SYSREG(cptr_el2, 0x33FFull); /* RES1 bits only: no FP/SIMD trap */
  HQ_WRITE_SYSREG(sctlr_el1, SCTLR_EL1_MMU_OFF);
  HQ_WRITE_SYSREG(cpacr_el1, 3ull << 20);
  arm_gic();
  hq_world_reset();
  /* Every VMID: a VM of the last case may have run under the same VMID. */
  __asm__ volatile("isb\n tlbi alle1is\n tlbi alle2is\n dsb ish\n isb" ::: "memory");

  hq_smp_start();
  /* Once per QEMU, like CPU 1's line: each character is a trap to QEMU and a write to the
   * harness's pipe, and a reset restarts EL2 here. */
  if (p->boots == 1) hq_uart_puts("kcore: booted, entering the host agent\n");
  HQ_WRITE_SYSREG(spsr_el2, SPSR_EL1H_MASKED);
  HQ_WRITE_SYSREG(elr_el2, HQ_AGENT_IPA);
  __asm__ volatile("isb\n eret" ::: "memory");
  __builtin_unreachable();
}

#define ESR_EC(esr) (((esr) >> 26) & 0x3Fu)
#define EC_HVC64 0x16u
#define EC_DABT_LOW 0x24u

/* ---- the host's loads, stores and real stage-2 faults (docs/qemu.md) ---- */

/* The command the agent is performing: the ring's slot at tail (tail moves after it). */
static struct hq_slot* current_slot(void) {
  struct hq_ring* r = hq_ring();
  return &r->slot[r->tail % HQ_RING_SLOTS];
}

/* d0/d1 of the agent's access (agent/start.S): EL2 itself never uses FP/SIMD registers. */
static uint64_t agent_d0(void) {
  uint64_t v;
  __asm__ volatile("fmov %0, d0" : "=r"(v));
  return v;
}
static uint64_t agent_d1(void) {
  uint64_t v;
  __asm__ volatile("fmov %0, d1" : "=r"(v));
  return v;
}

/* Per command (hq_cpu: access_qo_done, fault_taken, fault_result): the spec's query point was
 * taken at an abort (an event due then mapped the page); the host fault handler ran at an
 * abort. Cleared when the command ends. */

static uint64_t resume_skipping_access(uint64_t status) {
  hq_ring()->hvc_status = status;
  hq_cpu()->access_qo_done = 0;
  hq_cpu()->fault_taken = 0;
  return hq_ring()->access_resume;
}

/* The spec's mem_load/mem_store by the host after the real access succeeded (`hvc #2`): its
 * query point (unless an abort took it), then the value word as the spec says: a load writes
 * the host's shadow register with the frame's word (what the agent read) when the host owns
 * the frame, the host's data oracle value otherwise; a store leaves the spec's value in a frame
 * the host owns and puts the old word back in any other (the spec drops that write). */
static void access_done(struct hq_slot* s) {
  const struct kcore* kc = hq_kcore();
  const uint64_t d0 = agent_d0(), d1 = agent_d1();
  if (!hq_cpu()->access_qo_done) hq_query_point();
  hq_cpu()->access_qo_done = 0;
  struct kc_walk w;
  kc_s2pt_walk(kc, KC_HOSTVISOR, s->ipa >> KC_PAGE_SHIFT, &w);
  const struct kc_cpu* cpu = kc_cpu_of(kc);
  struct kc_ctxt* c = kc_ctxt_of(kc, cpu->cur_vmid, (uint64_t)cpu->cur_vcpuid);
  if (w.pfn == 0) { /* the MMU translated what KCore's table does not map: a stale entry */
    if (s->cmd == HQ_CMD_MEM_LOAD) kc_ctxt_set(c, s->reg, d0);
    hq_stale_access();
    return;
  }
  struct kc_s2page pg;
  kc_s2page_get(kc, w.pfn, &pg);
  const int private_page = pg.owner == KC_HOSTVISOR;
  uint64_t status = HQ_STATUS_OK;
  if (s->cmd == HQ_CMD_MEM_LOAD) {
    const uint64_t v =
        private_page ? d0 : plat_doracle(KC_HOSTVISOR, kc_data_log(kc, KC_HOSTVISOR));
    kc_ctxt_set(c, s->reg, v);
  } else {
    /* Through plat_phys: the logs learn the page the agent's store changed. */
    volatile uint64_t* word = plat_phys(w.pfn << KC_PAGE_SHIFT);
    if (!private_page) {
      *word = d1;
    } else if (*word != kc_ctxt_get(c, s->reg)) {
      status = HQ_STATUS_BAD_STEP; /* the harness's value is not the shadow register's */
      *word = kc_ctxt_get(c, s->reg);
    }
  }
  hq_ring()->hvc_status = status;
}

/* A stage-2 data abort of the agent's access. Returns the ELR to resume at. */
static uint64_t access_abort(uint64_t elr) {
  struct hq_slot* s = current_slot();
  const uint64_t hpfar = HQ_READ_SYSREG(hpfar_el2);
  /* HPFAR_EL2.FIPA [39:4] holds IPA [47:12]. */
  if (((hpfar >> 4) << KC_PAGE_SHIFT) != (s->ipa & ~(KC_PAGE_SIZE - 1u)))
    hq_panic_hex("a stage-2 abort away from the agent's access: HPFAR", hpfar);
  if (s->cmd == HQ_CMD_HOST_FAULT) {
    if (hq_cpu()->fault_taken)
      return resume_skipping_access(HQ_STATUS_BAD_STEP); /* it faults again */
    struct kc_cpu_regs* file = plat_cpu_regs();
    const uint64_t elr_file = file->regs.elr_el2;
    hq_cpu()->fault_result = kc_host_fault(hq_kcore(), s->fault[0], s->fault[1], s->fault[2]);
    hq_cpu()->fault_taken = 1;
    /* The handler emulated an SMMU access (pc-advance) or refused: no retry. */
    if (hq_cpu()->fault_result != KC_STEP_DONE || file->regs.elr_el2 != elr_file)
      return resume_skipping_access(hq_cpu()->fault_result);
    return elr; /* the page is mapped now: the access retries */
  }
  if (s->cmd != HQ_CMD_MEM_LOAD && s->cmd != HQ_CMD_MEM_STORE)
    hq_panic_hex("a stage-2 abort outside an access: command", s->cmd);
  /* The spec's access to a page the host has not mapped is undefined, unless an event due at
   * its query point maps the page: then the query point happens and the access retries. */
  if (!hq_cpu()->access_qo_done) {
    const uint64_t n = hq_events_due();
    int maps = 0;
    for (uint64_t i = 0; i < n; ++i)
      maps |= (hq_plat()->event_addr[i] >> KC_PAGE_SHIFT) == (s->ipa >> KC_PAGE_SHIFT);
    if (maps) {
      hq_query_point_with(n);
      hq_cpu()->access_qo_done = 1;
      return elr;
    }
  }
  return resume_skipping_access(HQ_STATUS_UNDEFINED);
}

void hq_trap(void) {
  /* The trap registers stay out of the register file: a host hypercall does not write them in
   * the spec (the native target leaves them alone), and the export reads the file. */
  const uint64_t esr = HQ_READ_SYSREG(esr_el2);
  uint64_t elr = HQ_READ_SYSREG(elr_el2);
  const uint64_t spsr = HQ_READ_SYSREG(spsr_el2);
  struct kc_ctxt_regs* r = &hq_regs()->regs;
  if (hq_in_guest()) {
    uint64_t sp = spsr;
    elr = hq_guest_trap(esr, elr, &sp);
    HQ_WRITE_SYSREG(elr_el2, elr);
    HQ_WRITE_SYSREG(spsr_el2, sp);
    return;
  }
  switch (ESR_EC(esr)) {
    case EC_DABT_LOW:
      elr = access_abort(elr);
      break;
    case EC_HVC64: {
      /* hvc #1 is the agent's, not the host's: park for a soft reset. */
      if ((esr & 0xFFFFu) == 1u) hq_park_all();
      /* hvc #2: the agent's access went through; hvc #3: an injected host stage-2 fault. */
      if ((esr & 0xFFFFu) == 2u) {
        struct hq_slot* s = current_slot();
        if (s->cmd == HQ_CMD_HOST_FAULT) {
          /* The harness chose a real access because KCore's table does not map the page: if
           * it did not fault, a stale translation let it through. */
          if (hq_cpu()->fault_taken) {
            hq_ring()->hvc_status = hq_cpu()->fault_result;
          } else {
            hq_stale_access();
          }
          hq_cpu()->fault_taken = 0;
        } else {
          access_done(s);
        }
        break;
      }
      if ((esr & 0xFFFFu) == 4u) { /* VCPU_RUN: may enter the guest agent */
        uint64_t sp = spsr;
        elr = hq_vcpu_run(elr, &sp);
        HQ_WRITE_SYSREG(elr_el2, elr);
        HQ_WRITE_SYSREG(spsr_el2, sp);
        return;
      }
      if ((esr & 0xFFFFu) == 8u) { /* HQ_CMD_SMP_COUNT: the ticket locks' test (smp.c) */
        hq_smp_count(current_slot());
        break;
      }
      if ((esr & 0xFFFFu) == 7u) { /* the DMA doorbell: the emulated device (dma.c) */
        hq_dma();
        break;
      }
      if ((esr & 0xFFFFu) == 3u) {
        const struct hq_slot* s = current_slot();
        hq_ring()->hvc_status = kc_host_fault(hq_kcore(), s->fault[0], s->fault[1], s->fault[2]);
        break;
      }
      /* kc_host_hvc writes x0..x5 into the register file itself, as the trap does. */
      uint64_t x[6];
      for (uint32_t i = 0; i < 6; ++i) x[i] = r->x[i];
      hq_ring()->hvc_status = kc_host_hvc(hq_kcore(), x);
      break;
    }
    default:
      /* The agent's own pages are pre-mapped: any abort is an agent bug (docs/qemu.md). */
      hq_panic_hex("unexpected trap from the host agent: ESR", esr);
  }
  HQ_WRITE_SYSREG(elr_el2, elr);
  HQ_WRITE_SYSREG(spsr_el2, spsr);
}

void hq_unexpected(uint64_t vector) {
  hq_uart_puts("ESR_EL2 ");
  hq_uart_hex(HQ_READ_SYSREG(esr_el2));
  hq_uart_puts(" ELR_EL2 ");
  hq_uart_hex(HQ_READ_SYSREG(elr_el2));
  hq_uart_puts(" FAR_EL2 ");
  hq_uart_hex(HQ_READ_SYSREG(far_el2));
  hq_uart_puts("\n");
  hq_panic_hex("unexpected exception at EL2, vector", vector);
}
