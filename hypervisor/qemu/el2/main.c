/* KCore's EL2 main on QEMU virt (docs/qemu.md, "Boot"): boots KCore once, gives the host agent
 * its own stage-2 block beside KCore's host table, enables the host's stage 2 and erets to the
 * agent at EL1. Then every trap of the agent comes back through boot.S into hq_trap. */
#include "core/cpu.h"
#include "core/ctxt.h"
#include "core/kcore.h"
#include "qemu/el2/el2.h"

extern struct kc_cpu_regs hq_regs;

void hq_main(void);
void hq_trap(void);
KC_NORETURN void hq_unexpected(uint64_t vector);

/* Stage-2 descriptor bits: valid table, and a 2 MiB block of normal write-back memory,
 * read/write, inner shareable, accessed. */
#define S2_TABLE 0x3ull
#define S2_BLOCK_NORMAL 0x7FDull

/* VTCR_EL2: 44-bit IPA (T0SZ 20, start at level 0: KCore's tables are 4-level) and 44-bit PA
 * (cortex-a57), 4 KiB granule, inner shareable write-back walks. */
#define VTCR_VALUE \
  ((1ull << 31) | (4ull << 16) | (3ull << 12) | (1ull << 10) | (1ull << 8) | (2ull << 6) | 20ull)
/* HCR_EL2: RW (EL1 is AArch64), DC (stage-1 off at EL1 means normal cacheable memory, so the
 * agent needs no page tables of its own), SWIO, VM (stage 2 on). */
#define HCR_VALUE ((1ull << 31) | (1ull << 12) | (1ull << 1) | 1ull)
#define SCTLR_EL1_MMU_OFF 0x30D00800ull
#define SPSR_EL1H_MASKED 0x3C5ull

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

void hq_main(void) {
  struct hq_plat* p = hq_plat();
  p->boots = p->boots + 1;
  p->go = 0;
  p->parked = 0;
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
  __asm__ volatile("isb\n tlbi vmalls12e1is\n tlbi alle2is\n dsb ish\n isb" ::: "memory");

  hq_uart_puts("kcore: booted, entering the host agent\n");
  HQ_WRITE_SYSREG(spsr_el2, SPSR_EL1H_MASKED);
  HQ_WRITE_SYSREG(elr_el2, HQ_AGENT_IPA);
  __asm__ volatile("isb\n eret" ::: "memory");
  __builtin_unreachable();
}

#define ESR_EC(esr) (((esr) >> 26) & 0x3Fu)
#define EC_HVC64 0x16u

void hq_trap(void) {
  /* The trap registers stay out of the register file: a host hypercall does not write them in
   * the spec (the native target leaves them alone), and the export reads the file. */
  const uint64_t esr = HQ_READ_SYSREG(esr_el2);
  const uint64_t elr = HQ_READ_SYSREG(elr_el2);
  const uint64_t spsr = HQ_READ_SYSREG(spsr_el2);
  struct kc_ctxt_regs* r = &hq_regs.regs;
  switch (ESR_EC(esr)) {
    case EC_HVC64: {
      /* hvc #1 is the agent's, not the host's: park for a soft reset. */
      if ((esr & 0xFFFFu) == 1u) hq_park();
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
