/* The QEMU target's physical memory map and the structures the harness shares with the machine
 * through the memory-backend file (docs/qemu.md). Included by the EL2 platform, the EL1 host
 * agent (both freestanding AArch64) and the harness (C++ on the host), so: plain C, fixed-width
 * fields, no pointers. Addresses are guest physical; the harness's file offset of physical
 * address pa is pa - HQ_RAM_BASE. */
#ifndef HYPDIFF_QEMU_LAYOUT_H
#define HYPDIFF_QEMU_LAYOUT_H

#include <stdint.h>

#include "core/constants.h"

/* QEMU virt's GICv2 (-M virt,gic-version=2): distributor and CPU interface. The VM's interrupt
 * exits are the EL1 physical timer's (non-secure) PPI. */
#define HQ_GICD_PA 0x08000000ull
#define HQ_GICC_PA 0x08010000ull
#define HQ_TIMER_PPI 30u

/* QEMU virt: RAM starts at 1 GiB; we give it 2 GiB (-m 2048M). */
#define HQ_RAM_BASE 0x40000000ull
#define HQ_RAM_SIZE 0x80000000ull
#define HQ_RAM_END (HQ_RAM_BASE + HQ_RAM_SIZE)

/* Spec physical addresses below 512 MiB (host RAM, 2..32 MiB by default; pfn 0 and the SMMU
 * windows are never memory) live in QEMU RAM at HQ_RAM_BASE + pa: QEMU virt has flash and
 * devices there. KCore's own memory (el2_base) is identity mapped. */
#define HQ_SPEC_WINDOW 0x20000000ull
#define HQ_EL2_IMAGE 0x60000000ull /* the EL2 ELF (kcore.elf), < 4 MiB */

/* The host agent: one 2 MiB block of RAM, seen by the agent (EL1, stage-1 MMU off) at
 * intermediate physical address HQ_AGENT_IPA through a stage-2 block entry the platform adds
 * under root entry 1 of the host's table, which KCore never uses (host mappings stay below
 * 16 MiB). The command ring is in the same block. */
#define HQ_AGENT_PA 0x60400000ull
#define HQ_AGENT_IPA 0x8000000000ull /* 512 GiB: root (level 0) index 1 */
#define HQ_AGENT_SIZE 0x200000ull
#define HQ_AGENT_STACK_TOP 0xF0000ull /* offset in the block */
#define HQ_RING_OFFSET 0x100000ull
#define HQ_RING_PA (HQ_AGENT_PA + HQ_RING_OFFSET)
#define HQ_RING_IPA (HQ_AGENT_IPA + HQ_RING_OFFSET)
/* The guest agent is the same image's second entry (agent/start.S guest_start), mapped at the
 * same IPA in the running VM's stage 2 (root entry 1, linked only while the VM runs); its stack
 * is below this offset, the host agent's above. */
#define HQ_GUEST_STACK_TOP 0xE0000ull
#define HQ_GUEST_ENTRY_OFFSET 0x80ull

/* EL2's persistent page (struct hq_plat), the kcore handle, the agent's stage-2 tables and the
 * oracle table. Not in the ELF, so that QEMU's reload of the ELF on system_reset keeps them. */
#define HQ_PLAT_PA 0x60600000ull
#define HQ_KCORE_PA 0x60601000ull
#define HQ_AGENT_L1_PA 0x60602000ull
#define HQ_AGENT_L2_PA 0x60603000ull
#define HQ_ORACLE_PA 0x60610000ull
/* The running VM's stage-2 root, level-1 and level-2 tables as the hardware walks them: copies
 * of KCore's with the guest agent's block added at HQ_AGENT_IPA (el2/world.c). */
#define HQ_GUEST_ROOT_PA 0x60605000ull
#define HQ_GUEST_L1_PA 0x60606000ull
#define HQ_GUEST_L2_PA 0x60607000ull
/* For an HVC32 exit (AArch32 addresses only 32 bits): a level-1 table under root entry 0 (a
 * copy of KCore's, or a new one) and a level-2 table mapping the agent's block at a free GiB
 * below 4 GiB, so that the agent's A32 stub is reachable (el2/world.c). */
#define HQ_GUEST_LOW_L1_PA 0x60608000ull
#define HQ_GUEST_LOW_L2_PA 0x60609000ull
/* The host CPU's physical register file (struct kc_cpu_regs, what plat_cpu_regs returns): at a
 * fixed page so that the harness's export reads it (boot.S saves x0..x30 here on a trap). */
#define HQ_REGS_PA 0x60604000ull

/* The touch log: every page EL2 reaches through plat_phys since the harness last cleared it
 * (what a reset must put back). Outside the snapshot: the harness manages it. */
#define HQ_TOUCH_PA 0x60800000ull
#define HQ_TOUCH_BITMAP_PA 0x60801000ull /* one bit per RAM page: 64 KiB */
#define HQ_TOUCH_LIST_PA 0x60811000ull   /* page indices (pa - HQ_RAM_BASE) / 4096 */
#define HQ_TOUCH_CAP 65536u
/* The step log: the same record, but the harness empties it after every export (the touch log
 * keeps every page since the reset, once): the pages that may have changed since the last
 * export. Same layout as the touch log, at HQ_STEP_PA. */
#define HQ_STEP_PA 0x60900000ull
#define HQ_STEP_BITMAP_PA 0x60901000ull
#define HQ_STEP_LIST_PA 0x60911000ull

/* KCore's private memory (kc_config.el2_base): 1.5 GiB into RAM; 550 MiB for 15 VMs. */
#define HQ_EL2_BASE 0x80000000ull

#define HQ_UART_PA 0x09000000ull /* PL011 */

/* One block per physical CPU (docs/qemu.md, "SMP"): struct hq_cpu_info (EL2 keeps its private
 * per-CPU state after it, el2/percpu.h), the CPU's register file (CPU 0 uses HQ_REGS_PA, which
 * the export reads) and its EL2 stack. TPIDR_EL2 holds the block's address. Outside the
 * snapshot: EL2 fills it at every entry, and its counters outlive resets. */
#define HQ_PERCPU_PA 0x60700000ull
#define HQ_PERCPU_SIZE 0x20000ull
#define HQ_PERCPU_REGS_OFFSET 0x1000ull
#define HQ_PHYS_CPUS 2u
#define HQ_PSCI_VERSION 0x84000000ull
#define HQ_PSCI_CPU_OFF 0x84000002ull
#define HQ_PSCI_CPU_ON 0xC4000003ull
#define HQ_PSCI_AFFINITY_INFO 0xC4000004ull

/* ---- the EL2 page ---- */
#define HQ_MAGIC_BOOTED 0x4B434F5245424F4Full /* "KCOREBOO" */
#define HQ_PANIC_TEXT 256
#define HQ_MAX_EVENTS 64u
#define HQ_ORACLE_V 32u   /* principals with a stream in the oracle table */
#define HQ_ORACLE_N 1024u /* values per stream */

struct hq_plat {
  uint64_t booted;  /* HQ_MAGIC_BOOTED once kc_boot ran: a reset with restored RAM skips it */
  uint64_t cfg_set; /* 1: boot with `cfg` (the harness wrote it); 0: kc_config_default */
  volatile uint64_t panicked; /* 1: EL2 stopped; panic_text says why */
  volatile uint64_t boots;    /* EL2 entries since the file was created */
  char panic_text[HQ_PANIC_TEXT];
  uint64_t cfg[64]; /* struct kc_config, when cfg_set (kept opaque for the agent's sake) */
  /* Soft reset (docs/qemu.md): EL2 sets `parked` and spins until the harness, having restored
   * RAM, sets `go`; then it restarts at _start. Offsets fixed for boot.S. */
  volatile uint64_t parked; /* offset 800 */
  volatile uint64_t go;     /* offset 808 */
  /* The spec's log length (docs/qemu.md, "Oracle answers and the log"): the harness writes
   * log_base and zeroes the step counters before each step; EL2 counts its query points (a
   * first lock acquisition, or sections a no-op loop passes) and the other CPUs' events it
   * applied. */
  uint64_t log_base;
  volatile uint64_t step_sections, step_injected;
  /* The smallest log length >= log_base with other-CPU events (UINT64_MAX: none). EL2 asks
   * for the events at a query point at or past it. */
  volatile uint64_t next_event;
  /* Asking the harness (it services asks while it waits for a command): EL2 writes kind and
   * arguments, then pending = 1, and spins until the harness has written value and pending = 0.
   * ask_streams = 1: the doracle streams are asked for instead of read from the table. */
  volatile uint64_t ask_streams;
  volatile uint64_t ask_pending;
  uint64_t ask_kind, ask_a, ask_b;
  volatile uint64_t ask_value;
  uint64_t event_addr[HQ_MAX_EVENTS]; /* HQ_ASK_EVENTS: OMAP_HOST addresses, oldest first */
  /* With ask_streams: the oracle table's data[v][i] (stream 0) and core[v][i] (stream 1) hold
   * the stream's value n = win_base + i for i < win_count; EL2 asks for the others, and the
   * harness answers by filling a new window from n (one round trip per window, not per value). */
  uint64_t win_base[2][HQ_ORACLE_V];
  uint64_t win_count[2][HQ_ORACLE_V];
  /* The seeded bug to switch on (core/mutant.h; 0 = none), written by the harness before QEMU
   * starts: EL2 sets kc_mutant from it at every entry (kc_mutant is in the image's data, which a
   * reset reloads). Only kcore_mutants.elf honours it; kcore.elf panics when it is not 0. */
  uint64_t mutant;
  /* The spec's curid: the CPU the case runs on (kc_config's CPUs), which plat_cpu_id returns.
   * QEMU runs one CPU whatever its number; the harness writes it at every reset. */
  uint64_t curid;
  /* SMP (docs/qemu.md, "SMP"): smp = QEMU's CPUs (-smp), written by the harness before QEMU
   * starts; EL2 starts CPU 1 at every entry and sets secondaries_up = 1 once it runs (0 and
   * psci_on = CPU_ON's return value when it did not come up within a second). */
  uint64_t smp;
  volatile uint64_t secondaries_up;
  uint64_t psci_version, psci_on;
  /* Who performs the other CPUs' events (OMAP_HOST) with smp 2, written by the harness before
   * QEMU starts: 0 CPU 0 replays them, as with one CPU; 1 CPU 1 replays each under the event's
   * CPU id (docs/qemu.md, "SMP"). */
  uint64_t smp_level;
  /* HQ_ASK_EVENTS: the CPU of each event in event_addr. */
  uint64_t event_cpu[HQ_MAX_EVENTS];
  /* The physical CPU allowed to run KCore code (plat_phys checks it): 1 only while CPU 1
   * performs an event for CPU 0, which waits. */
  volatile uint64_t baton;
  /* HQ_CMD_SMP_COUNT: the word both CPUs increment under KCore's lock CORE_ID. */
  volatile uint64_t smp_counter;
  /* A test's fault in starting CPU 1 (enum hq_smp_fault), written before QEMU starts. */
  uint64_t smp_fault;
};

/* Faults a test can ask for, so that EL2's and the harness's error paths run (smp_test.cpp). */
enum hq_smp_fault {
  HQ_SMP_FAULT_NONE = 0,
  HQ_SMP_FAULT_REFUSED = 1,  /* CPU_ON names a CPU the machine does not have: PSCI refuses */
  HQ_SMP_FAULT_SILENT = 2,   /* CPU 1 starts at a wfe loop and never checks in */
  HQ_SMP_FAULT_OLD_PSCI = 3, /* PSCI_VERSION is taken as 0.1 */
};

/* What EL2 asks. EVENTS(now): value = how many events are in event_addr; the harness also sets
 * next_event past now. NEXT(now): value = the smallest scheduled log length >= now. */
enum hq_ask { HQ_ASK_DATA = 1, HQ_ASK_CORE = 2, HQ_ASK_EVENTS = 3, HQ_ASK_NEXT = 4 };

struct hq_touch {
  volatile uint64_t count;    /* entries in the list */
  volatile uint64_t overflow; /* 1: the list filled up; the harness scans instead */
};

/* ---- the command ring (in the agent's block) ---- */
#define HQ_RING_SLOTS 64u
/* PARK: the agent's `hvc #1`, which EL2 takes as "park for a soft reset" (never returns).
 * MEM_LOAD, MEM_STORE: the host's load or store of 8 bytes at IPA `ipa` (docs/qemu.md, "Host
 * loads and stores"): the agent accesses it for real with the host's x0..x30 loaded, then
 * `hvc #2` lets EL2 finish the spec's access; a stage-2 abort goes to EL2 first.
 * HOST_FAULT: a real access at `ipa` that aborts; EL2 runs KCore's host fault handler with the
 * registers in `fault` (the operation's), then the access retries. HOST_FAULT_INJECT: `hvc #3`
 * with the host's x0..x30: EL2 runs the handler with `fault` without any access. */
enum hq_cmd {
  HQ_CMD_NOP = 0,
  HQ_CMD_HOST_HVC = 1,
  HQ_CMD_PARK = 2,
  HQ_CMD_MEM_LOAD = 3,
  HQ_CMD_MEM_STORE = 4,
  HQ_CMD_HOST_FAULT = 5,
  HQ_CMD_HOST_FAULT_INJECT = 6,
  /* The world switch (docs/qemu.md, "vCPU run and VM exits"). VCPU_RUN: the host agent's
   * `hvc #4` with x0..x30 (x0 = vmid); when KCore runs the vCPU, EL2 enters the guest agent,
   * which completes this command, and the host agent resumes only at the exit to the host.
   * VM_EXIT (the guest agent's): x0..x3 from the slot, x4..x30 the vCPU's, then the trapping
   * instruction (enum hq_exit_kind); EL2 hands KCore the exit code and syndrome from `exit`. While
   * a VM runs, MEM_LOAD and MEM_STORE are the VM's real accesses (`hvc #6` finishes them), NOP and
   * PARK work as for the host. */
  HQ_CMD_VCPU_RUN = 7,
  HQ_CMD_VM_EXIT = 8,
  /* Device DMA (docs/qemu.md, "Device DMA"): the running principal's device reads (DEV_LOAD)
   * or writes (DEV_STORE) the word at iova page fault[0] through SMMU context bank
   * (index fault[2], cbndx fault[1]); `reg` is the spec's register. The agent (host or guest)
   * rings EL2's doorbell, `hvc #7`, with the principal's x0..x30 loaded, and EL2's emulated
   * device walks the bank's table and does the access (el2/dma.c). */
  HQ_CMD_DEV_LOAD = 9,
  HQ_CMD_DEV_STORE = 10,
  /* A test of the ticket locks with two CPUs (docs/qemu.md, "SMP"): the agent's `hvc #8`; CPU 0
   * and CPU 1 each take and release lock CORE_ID `value` times, incrementing a shared word under
   * it; `value` comes back as the word. BAD_COMMAND with one CPU. */
  HQ_CMD_SMP_COUNT = 11,
};
/* How the guest agent's VM_EXIT traps (agent/start.S guest_exit, docs/qemu.md "vCPU run and VM
 * exits"): hvc #0; `mrs x0, id_aa64pfr0_el1` (trapped by HCR_EL2.TID3: EC 0x18); wfi
 * (HCR_EL2.TWI: EC 0x01); the EL1 physical timer armed to fire at once, whose interrupt the GIC
 * delivers to EL2 (HCR_EL2.IMO); a load from, or a branch to, an IPA the running VM's stage 2
 * does not map (hq_ring.guest_hole_ipa: a stage-2 data or instruction abort); `hvc #9`, after
 * which EL2 runs the VM in AArch32 at an A32 `hvc #0` (hq_ring.guest_a32_stub: an HVC32 trap);
 * hvc #5, which EL2 takes as the operation's exit injected (WFE, an unknown class or code).
 * HQ_EXIT_FAULT is no exit: a host stage-2 fault injected while a VM runs (`hvc #3`); nor is
 * HQ_EXIT_DMA: the DMA doorbell while a VM runs (`hvc #7`). */
enum hq_exit_kind {
  HQ_EXIT_HVC = 0,
  HQ_EXIT_INJECT = 1,
  HQ_EXIT_SYSREG = 2,
  HQ_EXIT_WFI = 3,
  HQ_EXIT_FAULT = 4,
  HQ_EXIT_DMA = 5,
  HQ_EXIT_IRQ = 6,
  HQ_EXIT_DABT = 7,
  HQ_EXIT_IABT = 8,
  HQ_EXIT_HVC32 = 9
};
/* The instruction a VM_EXIT with exit code `ec` and syndrome `esr` traps by (the agent's choice,
 * which the harness counts as real or injected). The spec's classes are the architecture's but
 * for SYS64 (abstract: 30). */
static inline enum hq_exit_kind hq_exit_kind_of(uint64_t ec, uint64_t esr) {
  if (ec == KC_ARM_EXCEPTION_INTERRUPT) return HQ_EXIT_IRQ;
  if (ec != KC_ARM_EXCEPTION_TRAP) return HQ_EXIT_INJECT;
  switch ((esr >> KC_ESR_EC_SHIFT) & 0x3Fu) {
    case KC_ESR_EC_HVC64:
      return HQ_EXIT_HVC;
    case KC_ESR_EC_SYS64:
      return HQ_EXIT_SYSREG;
    case KC_ESR_EC_WFX: /* ISS.TI 0: WFI. QEMU 7.2 does not trap WFE (HCR_EL2.TWE). */
      return (esr & 1u) ? HQ_EXIT_INJECT : HQ_EXIT_WFI;
    case KC_ESR_EC_DABT_LOW:
      return HQ_EXIT_DABT;
    case KC_ESR_EC_IABT_LOW:
      return HQ_EXIT_IABT;
    case KC_ESR_EC_HVC32:
      return HQ_EXIT_HVC32;
    default:
      return HQ_EXIT_INJECT;
  }
}
/* BAD_STEP: EL2 saw something the harness did not expect (an access that should have faulted
 * did not, a store value that is not the spec's): a bug of the platform, not a verdict. */
enum hq_status {
  HQ_STATUS_OK = 0,
  HQ_STATUS_UNDEFINED = 1,
  HQ_STATUS_BAD_COMMAND = 2,
  HQ_STATUS_BAD_STEP = 3,
  /* The access completed through a translation KCore's stage-2 table no longer holds: a stale
   * TLB entry, so a missing TLB invalidation in KCore (docs/qemu.md, "Stale translations"). The
   * command did what the hardware did: a load wrote the principal's shadow register with the
   * word it read; a host fault's access did not fault, so KCore's handler did not run. */
  HQ_STATUS_STALE = 4,
};

struct hq_slot {
  uint64_t cmd;      /* enum hq_cmd */
  uint64_t status;   /* enum hq_status, written by the agent */
  uint64_t x[31];    /* HOST_HVC: x0..x30 at the hvc, replaced by x0..x30 after it */
  uint64_t ipa;      /* MEM_*, HOST_FAULT: the address the agent accesses (8-byte aligned) */
  uint64_t value;    /* MEM_STORE: the value stored; MEM_LOAD: the value loaded (agent) */
  uint64_t reg;      /* MEM_*: the spec's register (the host's shadow context's index) */
  uint64_t fault[3]; /* HOST_FAULT*: hpfar, esr, far as KCore's handler gets them; DEV_*:
                      * the iova's page (gfn), cbndx, index */
  uint64_t exit[4];  /* VM_EXIT: ec, esr, hpfar, far as KCore's vm-exit handler gets them */
};

struct hq_ring {
  volatile uint64_t ready;      /* the agent sets 1 when it polls; the harness clears it */
  volatile uint64_t head;       /* commands posted (the harness increments) */
  volatile uint64_t tail;       /* commands done (the agent increments) */
  volatile uint64_t hvc_status; /* EL2: the kc_step of the last hypercall, or enum hq_status */
  /* The agent's IPA where an access that EL2 ends without retrying resumes (agent/start.S). */
  uint64_t access_resume;
  /* The guest agent's: where its access resumes, and the running vCPU's x0..x30 between its
   * traps (EL2 enters it with SP_EL1 pointing here, and the agent parks the registers the
   * eret loaded; a VM_EXIT loads them back before its hvc and stores them after it). */
  uint64_t guest_access_resume;
  uint64_t vm_x[31];
  /* Right after vm_x (the agent reaches it from SP_EL1): an IPA EL2 keeps unmapped in the
   * running VM's stage 2 as the hardware walks it, for an abort exit (set at each entry). */
  uint64_t guest_hole_ipa;
  /* Where the guest agent resumes after an exit whose trap leaves no instruction to resume
   * after (an interrupt, an abort) when KCore resumes the VM (agent/start.S guest_exit). */
  uint64_t guest_exit_resume;
  /* The guest agent's A32 `hvc #0` (agent/start.S), which EL2 maps below 4 GiB for HVC32. */
  uint64_t guest_a32_stub;
  struct hq_slot slot[HQ_RING_SLOTS];
};

/* ---- the per-CPU block (HQ_PERCPU_PA + phys * HQ_PERCPU_SIZE) ---- */
/* The driven CPU (0) hands CPU 1 one job at a time: it writes kind and arguments, then seq + 1,
 * and waits (wfe) until CPU 1 has set done = seq. OFF: CPU 1 turns itself off (PSCI CPU_OFF). */
/* REPLAY: the event OMAP_HOST at `addr` by spec CPU `logical`. COUNT: `addr` increments of
 * hq_plat.smp_counter under lock CORE_ID (HQ_CMD_SMP_COUNT). */
enum hq_mbox_kind { HQ_MBOX_OFF = 1, HQ_MBOX_REPLAY = 2, HQ_MBOX_COUNT = 3 };
struct hq_mbox {
  volatile uint64_t seq, done;
  uint64_t kind, logical, addr, status;
};

struct hq_cpu_info {
  uint64_t regs; /* offset 0 (boot.S): the register file's physical address */
  uint64_t phys; /* MPIDR.Aff0 */
  /* The spec CPU this CPU runs as (plat_cpu_id); the driven CPU's is hq_plat.curid. */
  uint64_t logical;
  uint64_t driven;
  /* Recorded at each entry: CurrentEL, MPIDR_EL1, VBAR_EL2; ups counts the entries. */
  volatile uint64_t ups;
  uint64_t current_el, mpidr, vbar;
  /* CPU 0: how often it turned CPU 1 off (a park), and AFFINITY_INFO(1) when it had. */
  volatile uint64_t stops, stop_affinity;
  /* CPU 0: generic-timer ticks (CNTFRQ_EL0 a second) its last turning CPU 1 off and on took. */
  uint64_t stop_ticks, start_ticks, timer_hz;
  /* Other-CPU events this CPU performed (kc_replay_map_host), since QEMU started. */
  volatile uint64_t replays;
  /* VM exits by the VM's timer interrupt, by a real stage-2 abort, by an AArch32 hvc
   * (world.c). */
  volatile uint64_t irqs, guest_aborts, guest_hvc32s;
  /* Accesses EL2 found completed through a stale translation (HQ_STATUS_STALE). */
  volatile uint64_t stale;
  struct hq_mbox mbox; /* CPU 1's jobs */
};

/* ---- the oracle table (EL2 reads it; the harness fills it) ---- */
#define HQ_ORACLE_VCPUS 256u

struct hq_oracle {
  uint64_t data[HQ_ORACLE_V][HQ_ORACLE_N]; /* doracle(v)(n) */
  uint64_t core[HQ_ORACLE_V][HQ_ORACLE_N]; /* core_doracle(v)(n) */
  uint64_t shared_kvm[256];
  uint64_t shared_vcpu[HQ_ORACLE_V][HQ_ORACLE_VCPUS];
  uint64_t reg_desc[128];
  uint64_t verify_img[256];
  uint64_t decrypt_gp_count, decrypt_sys_count;
};

#endif
