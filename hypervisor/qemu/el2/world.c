/* The world switch at EL2 on QEMU virt (docs/qemu.md, "vCPU run and VM exits"): when KCore's
 * vcpu_run has filled the register file with a vCPU, the hardware becomes that vCPU (its
 * stage 2 and VMID, a guest HCR_EL2, the EL1 registers the hardware keeps verbatim, x0..x30)
 * and EL2 erets into the guest agent; a trap of the guest agent is the VM's exit, handed to
 * KCore's vm-exit handler, after which the hardware becomes the host again or the VM resumes.
 * No FP/SIMD state is switched: the spec does not model it (its registers stay in the file). */
#include "core/cpu.h"
#include "core/ctxt.h"
#include "core/kcore.h"
#include "core/ownership.h"
#include "core/s2pt.h"
#include "core/vm.h"
#include "qemu/el2/el2.h"
#include "qemu/el2/percpu.h"

int hq_in_guest(void);
void hq_world_reset(void);
uint64_t hq_vcpu_run(uint64_t elr, uint64_t* spsr);
uint64_t hq_guest_trap(uint64_t esr, uint64_t elr, uint64_t* spsr);
void hq_irq(void);
void hq_dma(void);

#define ESR_EC(esr) (((esr) >> 26) & 0x3Fu)
#define EC_HVC64 0x16u
#define EC_HVC32 0x12u
#define EC_WFX 0x01u
#define EC_SYS64 0x18u
#define EC_IABT_LOW 0x20u
#define EC_DABT_LOW 0x24u

/* hq_cpu's in_guest, host_elr, host_spsr, host_sp_el1: zero after every (re)start of EL2, which
 * always enters the host agent. */

int hq_in_guest(void) { return hq_cpu()->in_guest; }

/* The EL1 registers QEMU keeps bit for bit (no RES0/RES1 masking, no side effect on the agent,
 * which runs with its stage 1 off and takes no exception at EL1): written from the register
 * file when a world is entered and read back into it when that world traps, so that what
 * KCore saves is what the hardware held. The others (SCTLR_EL1, VBAR_EL1, TCR_EL1, SP_EL1, the
 * SPSRs, ...) would stop or redirect the agent, or read back masked: they stay in the file. */
#define HQ_EL1_VERBATIM(X) \
  X(tpidr_el0) X(tpidrro_el0) X(tpidr_el1) X(sp_el0) X(far_el1) X(mair_el1) X(elr_el1)

static void el1_to_hw(const struct kc_ctxt_regs* r) {
#define HQ_W(f) HQ_WRITE_SYSREG(f, r->f);
  HQ_EL1_VERBATIM(HQ_W)
#undef HQ_W
}

static void el1_from_hw(struct kc_ctxt_regs* r) {
#define HQ_R(f) r->f = HQ_READ_SYSREG(f);
  HQ_EL1_VERBATIM(HQ_R)
#undef HQ_R
}

/* The guest agent's block in the running VM's stage 2 without writing KCore's tables (KCore
 * maps VM IPAs up to 2^48, root entry 1 included): the hardware walks a copy of the VM's root
 * table, whose entry 1 leads to the agent's block at HQ_AGENT_IPA. Where KCore maps something
 * in that 512 GiB (or 1 GiB) range, its level-1 (level-2) table is copied too and the agent's
 * entry added to the copy; the lower tables stay KCore's own. The VM's tables do not change
 * while it runs (only vcpu_run maps into them), so the copy is made at each entry. A VM
 * mapping inside the agent's 2 MiB is not realized (a panic says so). Returns the root. */
#define DESC_ADDR 0x0000FFFFFFFFF000ull

static void copy_page(uint64_t dst, uint64_t src) {
  volatile uint64_t* d = (volatile uint64_t*)(uintptr_t)dst;
  const volatile uint64_t* s = (const volatile uint64_t*)(uintptr_t)src;
  for (uint32_t i = 0; i < 512; ++i) d[i] = s[i];
}

/* An IPA the hardware's walk of the running VM's stage 2 (just built by guest_root) does not
 * map, for the guest agent's abort exits: a free 2 MiB slot of the level-2 table that maps the
 * agent's block, which is the host agent's own (only the block) or a copy of KCore's. */
static uint64_t hole_ipa(void) {
  const volatile uint64_t* r = (const volatile uint64_t*)(uintptr_t)HQ_GUEST_ROOT_PA;
  const volatile uint64_t* l1 =
      (const volatile uint64_t*)(uintptr_t)(r[kc_pgd_index(HQ_AGENT_IPA)] & DESC_ADDR);
  const volatile uint64_t* l2 = (const volatile uint64_t*)(uintptr_t)(l1[0] & DESC_ADDR);
  for (uint32_t i = 1; i < 512; ++i)
    if (l2[i] == 0) return HQ_AGENT_IPA + (uint64_t)i * KC_PMD_SIZE;
  hq_panic_hex("not realized: a VM maps the whole GiB of the guest agent's IPA", HQ_AGENT_IPA);
}

static uint64_t guest_root(uint64_t vttbr) {
  const uint64_t root = vttbr & KC_PHYS_MASK & ~(KC_PAGE_SIZE - 1u);
  const uint32_t i0 = kc_pgd_index(HQ_AGENT_IPA);
  copy_page(HQ_GUEST_ROOT_PA, root);
  volatile uint64_t* r = (volatile uint64_t*)(uintptr_t)HQ_GUEST_ROOT_PA;
  const uint64_t e0 = r[i0];
  if (e0 == 0) {
    r[i0] = HQ_AGENT_L1_PA | S2_TABLE; /* the host agent's tables: IPA -> the agent's block */
  } else {
    if ((e0 & 3u) != S2_TABLE) hq_panic_hex("a VM's root entry over the guest agent:", e0);
    copy_page(HQ_GUEST_L1_PA, e0 & DESC_ADDR);
    volatile uint64_t* l1 = (volatile uint64_t*)(uintptr_t)HQ_GUEST_L1_PA;
    const uint64_t e1 = l1[0];
    if (e1 == 0) {
      l1[0] = HQ_AGENT_L2_PA | S2_TABLE;
    } else {
      if ((e1 & 3u) != S2_TABLE) hq_panic_hex("a VM's 1 GiB block over the guest agent:", e1);
      copy_page(HQ_GUEST_L2_PA, e1 & DESC_ADDR);
      volatile uint64_t* l2 = (volatile uint64_t*)(uintptr_t)HQ_GUEST_L2_PA;
      if (l2[0] != 0)
        hq_panic_hex("not realized: a VM maps the guest agent's IPA range:", HQ_AGENT_IPA);
      l2[0] = HQ_AGENT_PA | S2_BLOCK_NORMAL;
      l1[0] = HQ_GUEST_L2_PA | S2_TABLE;
    }
    r[i0] = HQ_GUEST_L1_PA | S2_TABLE;
  }
  __asm__ volatile("dsb ishst" ::: "memory");
  hq_ring()->guest_hole_ipa = hole_ipa();
  return HQ_GUEST_ROOT_PA | (vttbr & ~KC_PHYS_MASK);
}

/* After a (re)start the hardware's EL1 registers are the host's (the file's). */
void hq_world_reset(void) {
  hq_cpu()->in_guest = 0;
  hq_cpu()->in_a32 = 0;
  el1_to_hw(&hq_regs()->regs);
}

/* The file holds the vCPU KCore chose: make it the hardware's. */
static uint64_t enter_guest(uint64_t* spsr) {
  const struct kc_ctxt_regs* r = &hq_regs()->regs;
  hq_cpu()->in_guest = 1;
  hq_cpu()->host_sp_el1 = HQ_READ_SYSREG(sp_el1);
  HQ_WRITE_SYSREG(vttbr_el2, guest_root(r->vttbr_el2));
  HQ_WRITE_SYSREG(hcr_el2, HCR_GUEST);
  el1_to_hw(r);
  /* guest_start parks x0..x30 (the eret loads them from the file) through SP_EL1. */
  HQ_WRITE_SYSREG(sp_el1, HQ_RING_IPA + __builtin_offsetof(struct hq_ring, vm_x));
  __asm__ volatile("isb" ::: "memory");
  *spsr = SPSR_EL1H_MASKED;
  return HQ_AGENT_IPA + HQ_GUEST_ENTRY_OFFSET; /* agent/start.S guest_start */
}

/* KCore switched back to the host: the hardware follows the file. */
static void leave_guest(uint64_t* elr, uint64_t* spsr) {
  const struct kc_ctxt_regs* r = &hq_regs()->regs;
  hq_cpu()->in_guest = 0;
  HQ_WRITE_SYSREG(vttbr_el2, r->vttbr_el2);
  HQ_WRITE_SYSREG(hcr_el2, HCR_VALUE);
  el1_to_hw(r);
  HQ_WRITE_SYSREG(sp_el1, hq_cpu()->host_sp_el1);
  __asm__ volatile("isb" ::: "memory");
  *elr = hq_cpu()->host_elr;
  *spsr = hq_cpu()->host_spsr;
}

/* The host agent's `hvc #4`: KCore's vcpu_run on the host's registers (x0 = vmid). */
uint64_t hq_vcpu_run(uint64_t elr, uint64_t* spsr) {
  struct kcore* kc = hq_kcore();
  el1_from_hw(&hq_regs()->regs);
  const enum kc_step st = kc_vcpu_run(kc, hq_regs()->regs.x[0]);
  hq_ring()->hvc_status = st;
  if (st != KC_STEP_DONE || kc_cpu_of(kc)->ihost) return elr;
  hq_cpu()->host_elr = elr;
  hq_cpu()->host_spsr = *spsr;
  return enter_guest(spsr);
}

static struct hq_slot* current_slot(void) {
  struct hq_ring* r = hq_ring();
  return &r->slot[r->tail % HQ_RING_SLOTS];
}

static uint64_t fp_d0(void) {
  uint64_t v;
  __asm__ volatile("fmov %0, d0" : "=r"(v));
  return v;
}
static uint64_t fp_d1(void) {
  uint64_t v;
  __asm__ volatile("fmov %0, d1" : "=r"(v));
  return v;
}

/* The VM's exit, trapped by the hardware as `kind` (enum hq_exit_kind), which must be how the
 * agent realizes the operation's exit (hq_exit_kind_of). x0..x30 are the hardware's at the trap
 * (the agent loaded the VM's; for an interrupt or abort its x30 held the agent's own value, and
 * the VM's is vm_x[30]; after HVC32 a32_exit put all of them back from vm_x). The exit code,
 * syndrome and fault registers are the operation's (docs/qemu.md: the generator's syndromes
 * have IL = 0, which no trap reports, and the spec's SYS64 class is abstract, so they are never
 * the hardware's). If KCore resumes the VM, the agent resumes after the trapped instruction
 * (MRS, WFI), at guest_exit_resume in AArch64 (interrupt, abort, HVC32: nothing to resume
 * after), or where the hvc returns. */
static void vm_exit(uint64_t* elr, uint64_t* spsr, enum hq_exit_kind kind) {
  struct kcore* kc = hq_kcore();
  const struct hq_slot* s = current_slot();
  if (s->cmd != HQ_CMD_VM_EXIT) hq_panic_hex("a guest exit outside a VM exit: command", s->cmd);
  if (kind != hq_exit_kind_of(s->exit[0], s->exit[1]))
    hq_panic_hex("a guest trap of another kind than its exit's: kind", kind);
  const int late =
      kind == HQ_EXIT_IRQ || kind == HQ_EXIT_DABT || kind == HQ_EXIT_IABT || kind == HQ_EXIT_HVC32;
  if (late) hq_regs()->regs.x[30] = hq_ring()->vm_x[30];
  uint64_t x[4];
  for (uint32_t i = 0; i < 4; ++i) x[i] = hq_regs()->regs.x[i];
  el1_from_hw(&hq_regs()->regs);
  const enum kc_step st = kc_vm_exit(kc, s->exit[0], s->exit[1], x, s->exit[2], s->exit[3]);
  hq_ring()->hvc_status = st;
  if (kc_cpu_of(kc)->ihost) {
    leave_guest(elr, spsr);
  } else if (late) {
    *elr = hq_ring()->guest_exit_resume;
    *spsr = SPSR_EL1H_MASKED; /* after HVC32: back to AArch64 */
    HQ_WRITE_SYSREG(sp_el1, HQ_RING_IPA + __builtin_offsetof(struct hq_ring, vm_x));
  } else if (kind == HQ_EXIT_SYSREG || kind == HQ_EXIT_WFI) {
    *elr += 4u;
  }
}

/* The guest agent's abort exit (agent/start.S: a load from or a branch to the hole): the
 * hardware's fault address must be the hole. */
static void abort_exit(uint64_t* elr, uint64_t* spsr, enum hq_exit_kind kind) {
  const uint64_t hpfar = HQ_READ_SYSREG(hpfar_el2);
  if (((hpfar >> 4) << KC_PAGE_SHIFT) != hq_ring()->guest_hole_ipa)
    hq_panic_hex("a guest abort exit away from the hole: HPFAR", hpfar);
  hq_cpu()->info.guest_aborts = hq_cpu()->info.guest_aborts + 1;
  vm_exit(elr, spsr, kind);
}

/* HVC32 (docs/qemu.md, "vCPU run and VM exits"): the guest agent's `hvc #9` with the VM's
 * registers loaded. AArch32 reaches only 32-bit addresses and the agent's block is at 512 GiB,
 * so the hardware's copy of the VM's root gets, under entry 0, a level-1 table (KCore's copied,
 * or a new one) whose first free GiB below 4 GiB maps the agent's block; EL2 then erets in
 * AArch32 SVC mode (HCR_EL2.RW = 0) to the agent's A32 `hvc #0` there. Without a free GiB the
 * exit is taken here, injected. */
#define HQ_GIB (1ull << 30)
#define HCR_RW (1ull << 31)
#define SPSR_A32_SVC_MASKED 0x1D3ull

static uint64_t a32_root_entry; /* root entry 0 of the copy before the A32 mapping */

static void enter_a32(uint64_t* elr, uint64_t* spsr) {
  const struct hq_slot* s = current_slot();
  if (s->cmd != HQ_CMD_VM_EXIT || hq_exit_kind_of(s->exit[0], s->exit[1]) != HQ_EXIT_HVC32)
    hq_panic_hex("the guest agent's hvc #9 outside an HVC32 exit: command", s->cmd);
  volatile uint64_t* r = (volatile uint64_t*)(uintptr_t)HQ_GUEST_ROOT_PA;
  volatile uint64_t* l1 = (volatile uint64_t*)(uintptr_t)HQ_GUEST_LOW_L1_PA;
  volatile uint64_t* l2 = (volatile uint64_t*)(uintptr_t)HQ_GUEST_LOW_L2_PA;
  const uint64_t e0 = r[0];
  if (e0 != 0 && (e0 & 3u) != S2_TABLE) hq_panic_hex("a VM's root entry 0 is not a table:", e0);
  if (e0 != 0) {
    copy_page(HQ_GUEST_LOW_L1_PA, e0 & DESC_ADDR);
  } else {
    for (uint32_t i = 0; i < 512; ++i) l1[i] = 0;
  }
  uint32_t gib = 4;
  while (gib > 0 && l1[gib - 1] != 0) --gib;
  if (gib == 0) { /* KCore maps something in every GiB below 4 GiB: injected */
    vm_exit(elr, spsr, HQ_EXIT_HVC32);
    return;
  }
  --gib;
  for (uint32_t i = 0; i < 512; ++i) l2[i] = 0;
  l2[0] = HQ_AGENT_PA | S2_BLOCK_NORMAL;
  l1[gib] = HQ_GUEST_LOW_L2_PA | S2_TABLE;
  a32_root_entry = e0;
  r[0] = HQ_GUEST_LOW_L1_PA | S2_TABLE;
  __asm__ volatile("dsb ishst\n tlbi vmalls12e1\n dsb ish" ::: "memory");
  hq_cpu()->in_a32 = 1;
  HQ_WRITE_SYSREG(hcr_el2, HCR_GUEST & ~HCR_RW);
  __asm__ volatile("isb" ::: "memory");
  *elr = (uint64_t)gib * HQ_GIB + (hq_ring()->guest_a32_stub - HQ_AGENT_IPA);
  *spsr = SPSR_A32_SVC_MASKED;
}

/* The A32 `hvc #0` trapped (EC 0x12, vector 0x600): the hardware's x0..x30 are the AArch32
 * view (upper halves gone, banked registers), so the VM's come back from vm_x; the hardware
 * is AArch64 at EL1 again and the low mapping gone before KCore sees the exit. */
static void a32_exit(uint64_t esr, uint64_t* elr, uint64_t* spsr) {
  if (!hq_cpu()->in_a32 || (esr & 0xFFFFu) != 0)
    hq_panic_hex("an AArch32 trap the guest agent did not ask for: ESR", esr);
  hq_cpu()->in_a32 = 0;
  volatile uint64_t* r = (volatile uint64_t*)(uintptr_t)HQ_GUEST_ROOT_PA;
  r[0] = a32_root_entry;
  __asm__ volatile("dsb ishst\n tlbi vmalls12e1\n dsb ish" ::: "memory");
  HQ_WRITE_SYSREG(hcr_el2, HCR_GUEST);
  __asm__ volatile("isb" ::: "memory");
  for (uint32_t i = 0; i < 31; ++i) hq_regs()->regs.x[i] = hq_ring()->vm_x[i];
  hq_cpu()->info.guest_hvc32s = hq_cpu()->info.guest_hvc32s + 1;
  vm_exit(elr, spsr, HQ_EXIT_HVC32);
}

/* GICv2 of QEMU virt (-M virt,gic-version=2): the CPU interface, for the VM's timer (main.c
 * arms the GIC; the guest agent, the timer). */
#define GICC_IAR (HQ_GICC_PA + 0x0Cu)
#define GICC_EOIR (HQ_GICC_PA + 0x10u)

/* An interrupt from EL1 (boot.S, vector 0x480; HCR_EL2.IMO routes them here while a VM runs):
 * the running VM's EL1 physical timer, which the guest agent armed for an interrupt exit. The
 * timer is disarmed (its level drops) and the interrupt ended before KCore sees the exit. */
void hq_irq(void) {
  uint64_t elr = HQ_READ_SYSREG(elr_el2);
  uint64_t spsr = HQ_READ_SYSREG(spsr_el2);
  const uint32_t iar = *(volatile uint32_t*)(uintptr_t)GICC_IAR;
  HQ_WRITE_SYSREG(cntp_ctl_el0, 0ull);
  __asm__ volatile("isb" ::: "memory");
  *(volatile uint32_t*)(uintptr_t)GICC_EOIR = iar;
  if ((iar & 0x3FFu) != HQ_TIMER_PPI)
    hq_panic_hex("an interrupt EL2 did not arm: INTID", iar & 0x3FFu);
  if (!hq_in_guest()) hq_panic_hex("the VM's timer interrupt while the host runs: ELR", elr);
  hq_cpu()->info.irqs = hq_cpu()->info.irqs + 1;
  vm_exit(&elr, &spsr, HQ_EXIT_IRQ);
  HQ_WRITE_SYSREG(elr_el2, elr);
  HQ_WRITE_SYSREG(spsr_el2, spsr);
}

/* The word the MMU reached for an access at ipa through the leaf `w` found. A level-2 block
 * whose spec address is not 2 MiB aligned (vcpu_run maps the core oracle's pte as it comes, and
 * the spec gives gfn the block's pfn plus gfn's offset) cannot be expressed to the hardware,
 * which ignores the address bits [20:12] of a block: the access went to the aligned frame. */
static volatile uint64_t* hw_word(const struct kc_walk* w, uint64_t ipa) {
  if (w->level != 2) return plat_phys(w->pfn << KC_PAGE_SHIFT);
  const uint64_t raw = plat_leaf_out(w->pte) & DESC_ADDR & ~(KC_PMD_SIZE - 1u);
  const uint64_t pa = raw | (ipa & (KC_PMD_SIZE - 1u) & ~(KC_PAGE_SIZE - 1u));
  /* back to the spec's address, which plat_phys takes (and logs) */
  return plat_phys(pa >= HQ_RAM_BASE && pa - HQ_RAM_BASE < HQ_SPEC_WINDOW ? pa - HQ_RAM_BASE : pa);
}

/* The spec's mem_load/mem_store by the running VM after its real access went through (`hvc
 * #6`), as the native target decides it: no access when the VM is not VERIFIED or the frame is
 * unowned (the store is undone, no query point); else the query point, then a load writes the
 * vCPU's shadow register with the frame's word (the agent's d0) if the VM holds the frame
 * alone, the VM's data oracle value otherwise; a store stays only in a frame held alone. */
static void guest_access_done(void) {
  const struct kcore* kc = hq_kcore();
  struct hq_slot* s = current_slot();
  uint64_t d0 = fp_d0(), d1 = fp_d1();
  const struct kc_cpu* cpu = kc_cpu_of(kc);
  const uint32_t v = cpu->cur_vmid;
  struct kc_walk w;
  kc_s2pt_walk(kc, v, s->ipa >> KC_PAGE_SHIFT, &w);
  if (w.pfn == 0) { /* the MMU translated what KCore's table does not map: a stale entry */
    if (s->cmd == HQ_CMD_MEM_LOAD)
      kc_ctxt_set(kc_ctxt_of(kc, v, (uint64_t)cpu->cur_vcpuid), s->reg, d0);
    hq_stale_access();
    return;
  }
  struct kc_s2page pg;
  kc_s2page_get(kc, w.pfn, &pg);
  const int store = s->cmd == HQ_CMD_MEM_STORE;
  volatile uint64_t* word = plat_phys(w.pfn << KC_PAGE_SHIFT);
  volatile uint64_t* real = hw_word(&w, s->ipa);
  if (real != word) { /* an unaligned block: do the spec's access here, undo the hardware's */
    if (store) {
      *real = d1;
      d1 = *word;
      *word = d0;
    } else {
      d0 = *word;
    }
  }
  if (kc_vm_state_of(kc, v)->state != KC_VM_VERIFIED || pg.owner == KC_INVALID) {
    if (store) *word = d1;
    hq_ring()->hvc_status = HQ_STATUS_UNDEFINED;
    return;
  }
  hq_query_point();
  const int private_page = pg.count == 0;
  struct kc_ctxt* c = kc_ctxt_of(kc, v, (uint64_t)cpu->cur_vcpuid);
  uint64_t status = HQ_STATUS_OK;
  if (!store) {
    kc_ctxt_set(c, s->reg, private_page ? d0 : plat_doracle(v, kc_data_log(kc, v)));
  } else if (!private_page) {
    *word = d1;
  } else if (*word != kc_ctxt_get(c, s->reg)) {
    status = HQ_STATUS_BAD_STEP; /* the harness's value is not the shadow register's */
    *word = kc_ctxt_get(c, s->reg);
  }
  hq_ring()->hvc_status = status;
}

/* A trap of the guest agent. Returns the ELR to resume at (and sets the SPSR). */
uint64_t hq_guest_trap(uint64_t esr, uint64_t elr, uint64_t* spsr) {
  switch (ESR_EC(esr)) {
    case EC_HVC64:
      switch (esr & 0xFFFFu) {
        case 1u:
          hq_park_all();
        case 0u: /* a hypercall exit */
          vm_exit(&elr, spsr, HQ_EXIT_HVC);
          break;
        case 5u: /* any other exit, injected */
          vm_exit(&elr, spsr, HQ_EXIT_INJECT);
          break;
        case 6u:
          guest_access_done();
          break;
        case 9u: /* an HVC32 exit: run the agent's A32 hvc */
          enter_a32(&elr, spsr);
          break;
        case 7u: /* the DMA doorbell: the VM's device (dma.c); the VM resumes */
          hq_dma();
          break;
        case 3u: { /* a host fault injected while the VM runs: KCore's handler, as on the host */
          const struct hq_slot* s = current_slot();
          if (s->cmd != HQ_CMD_HOST_FAULT_INJECT)
            hq_panic_hex("a guest fault injection outside its command:", s->cmd);
          hq_ring()->hvc_status = kc_host_fault(hq_kcore(), s->fault[0], s->fault[1], s->fault[2]);
          break;
        }
        default:
          hq_panic_hex("unexpected hvc from the guest agent: ESR", esr);
      }
      break;
    case EC_SYS64: /* the agent's trapped MRS: a SYS64 exit */
      vm_exit(&elr, spsr, HQ_EXIT_SYSREG);
      break;
    case EC_WFX: /* its trapped WFI: a WFx exit (it executes no WFE) */
      if (esr & 1u) hq_panic_hex("a trapped WFE from the guest agent: ESR", esr);
      vm_exit(&elr, spsr, HQ_EXIT_WFI);
      break;
    case EC_HVC32: /* its A32 hvc (enter_a32): an HVC32 exit */
      a32_exit(esr, &elr, spsr);
      break;
    case EC_IABT_LOW: /* its branch to the hole: an instruction abort exit */
      abort_exit(&elr, spsr, HQ_EXIT_IABT);
      break;
    case EC_DABT_LOW: {
      const struct hq_slot* s = current_slot();
      if (s->cmd == HQ_CMD_VM_EXIT) { /* its load from the hole: a data abort exit */
        abort_exit(&elr, spsr, HQ_EXIT_DABT);
        break;
      }
      /* The VM's access to a page its stage 2 does not map: the spec's access does nothing. */
      const uint64_t hpfar = HQ_READ_SYSREG(hpfar_el2);
      if ((s->cmd != HQ_CMD_MEM_LOAD && s->cmd != HQ_CMD_MEM_STORE) ||
          ((hpfar >> 4) << KC_PAGE_SHIFT) != (s->ipa & ~(KC_PAGE_SIZE - 1u)))
        hq_panic_hex("a stage-2 abort of the guest agent away from its access: HPFAR", hpfar);
      hq_ring()->hvc_status = HQ_STATUS_UNDEFINED;
      elr = hq_ring()->guest_access_resume;
      break;
    }
    default:
      hq_panic_hex("unexpected trap from the guest agent: ESR", esr);
  }
  return elr;
}
