/* Host stage-2 faults. The two critical sections are the spec's two query_oracle points: the
 * SMMU configuration read (SMMU_ID, which also covers the emulation of an SMMU register access),
 * then, for memory, the mapping (S2PAGE_ID, NPT_ID of the host). */
#include "core/host_npt.h"

#include "core/cpu.h"
#include "core/mutant.h"
#include "core/pages.h"
#include "core/vm.h"

#define HPFAR_MASK 0xFFFFull

uint32_t kc_smmu_range(const struct kc_config* cfg, uint64_t addr) {
  uint32_t res = KC_INVALID;
  for (uint32_t i = 0; i < cfg->smmu_num; ++i) {
    const struct kc_smmu_unit* s = &cfg->smmus[i];
    if (s->phys_base <= addr && addr - s->phys_base < s->size) res = i;
  }
  return res;
}

/* smmu_vmid at the spec's smmu_id(index, n) for a CBAR index n the host names (0..511): ids
 * beyond the SMMU id space read as free, as the spec's map defaults do. */
static uint32_t owner_by_id(const struct kcore* kc, uint32_t index, uint64_t n) {
  const uint64_t id = (uint64_t)index * kc->cfg.smmu_ctxt_banks + n;
  if (id >= kc_smmu_ids(&kc->cfg)) return KC_INVALID;
  const uint32_t banks = kc->cfg.smmu_ctxt_banks;
  return kc_smmu_owner(kc, (uint32_t)(id / banks), (uint32_t)(id % banks));
}

/* Whether the host may write `data` to global register `off` of SMMU `index`. */
static bool global_write_ok(const struct kcore* kc, uint32_t index, uint64_t off, uint64_t data) {
  if (off < KC_SMMU_GR1_BASE) { /* GR0 (mmio-gr0-bound: offset 4096 is GR1) */
    if (off == KC_SMMU_GR0_SCR0) return ((data >> KC_SMMU_SCR0_SMCFCFG_SHIFT) & 1u) != 0;
    if (off == KC_SMMU_GR0_SCR2) return (data & 0xFFu) == 0;
    return true;
  }
  if (off < KC_SMMU_GR1_END) { /* CBAR[n]: a bank with an owner stays a stage-2 bank of it */
    const uint32_t v = owner_by_id(kc, index, (off - KC_SMMU_GR1_BASE) / 4u);
    /* mutant 36: a free bank is taken to be the host's: the host configures it at will */
    return v == KC_HOSTVISOR || (v == KC_INVALID && KC_MUTANT(36)) ||
           ((data >> KC_CBAR_TYPE_SHIFT) == 0 && v == (data & KC_CBAR_VMID_MASK));
  }
  return true;
}

const char* kc_host_mmio(const struct kcore* kc, const struct kc_mmio_access* a,
                         struct kc_ctxt* host, struct kc_cpu_regs* phys) {
  if (a->len != 4 && a->len != 8) return "SMMU access of 1 or 2 bytes";
  if (!a->is_write) {
    const uint64_t n = kc_data_log(kc, KC_HOSTVISOR);
    const uint64_t data = plat_doracle(KC_HOSTVISOR, n);
    /* mutant 42: a 4-byte read returns all 64 bits of the value */
    kc_ctxt_set(host, a->rt, a->len == 8 || KC_MUTANT(42) ? data : (data & 0xFFFFFFFFu));
    kc_set_data_log(kc, KC_HOSTVISOR, n + 1u);
  } else {
    const uint64_t data = kc_ctxt_get(host, a->rt);
    const uint64_t off = a->fault_ipa & KC_SMMU_OFFSET_MASK;
    if (off < KC_SMMU_GLOBAL_BASE) {
      if (!global_write_ok(kc, a->smmu_index, off, data))
        return "SMMU global register write refused";
    } else if (((off - KC_SMMU_GLOBAL_BASE) & KC_SMMU_PGSHIFT_MASK) == KC_SMMU_CB_CONTEXTIDR) {
      return "SMMU CONTEXTIDR write refused";
    }
  }
  phys->regs.elr_el2 += 4u; /* pc-advance: the host resumes after the access */
  return 0;
}

static const char* why(enum kc_status st) {
  return st == KC_E_DENIED ? "host stage-2 fault on a page private to a VM or KCore"
                           : "host stage-2 table pool exhausted";
}

enum kc_step kc_host_fault(const struct kcore* kc, uint64_t hpfar, uint64_t esr, uint64_t far) {
  struct kc_cpu* cpu = kc_cpu_of(kc);
  if (!(cpu->ihost && !cpu->icore)) return KC_STEP_UNDEFINED;
  struct kc_cpu_regs* phys = plat_cpu_regs();
  phys->regs.hpfar_el2 = hpfar;
  phys->regs.esr_el2 = esr;
  phys->regs.far_el2 = far;
  if (cpu->halted) kc_halt(kc, "the CPU has halted");
  struct kc_ctxt* host = kc_ctxt_of(kc, cpu->cur_vmid, (uint64_t)cpu->cur_vcpuid);
  kc_gprs_to_core(&host->regs, &phys->regs);
  cpu->icore = 1;

  /* The spec's fault address: hpfar bits [15:0] shifted by 8, so always below 16 MiB. */
  const uint64_t addr = (hpfar & HPFAR_MASK) * 256u;
  const char* fail = 0;
  plat_lock_acquire(KC_SMMU_ID);
  const uint32_t smmu = kc_smmu_range(&kc->cfg, addr);
  if (smmu != KC_INVALID) {
    const struct kc_mmio_access a = {smmu, addr | (far & 4095u), 1u << ((esr & 0xC00000u) >> 22),
                                     (esr & KC_ESR_WNR) != 0, (uint32_t)((esr >> 16) & 31u)};
    fail = kc_host_mmio(kc, &a, host, phys);
  }
  plat_lock_release(KC_SMMU_ID);
  if (smmu == KC_INVALID) {
    plat_lock_acquire(KC_S2PAGE_ID);
    plat_lock_acquire(kc_npt_lock(KC_HOSTVISOR));
    const enum kc_status st = kc_map_host(kc, addr);
    plat_lock_release(kc_npt_lock(KC_HOSTVISOR));
    plat_lock_release(KC_S2PAGE_ID);
    if (st != KC_OK) fail = why(st);
  }
  if (fail) kc_halt(kc, fail);
  kc_gprs_from_core(&host->regs, &phys->regs);
  cpu->icore = 0;
  return KC_STEP_DONE;
}

void kc_replay_map_host(const struct kcore* kc, uint64_t addr) {
  /* The other CPU took this fault and held the locks; a failure was its halt. */
  (void)kc_map_host(kc, addr);
}
