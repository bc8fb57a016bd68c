#include "model/init.hpp"

#include <stdexcept>

namespace hypdiff::model {

RData initial_state(const MachineConfig& cfg, const Profile& prof, OraclePtr oracle) {
  if (auto why = cfg.validate()) throw std::invalid_argument("machine configuration: " + *why);
  if (!oracle) oracle = std::make_shared<const OracleInputs>();

  Shared s;
  s.env = std::make_shared<const Env>(Env{cfg, prof});
  s.flatmem = ZMap<Z>::init(0);
  // Every principal's table starts empty with its bump pointers at the start of its pool areas,
  // as the lower-layer allocators rely on (pgd_start <= next <= pud_start, ...).
  for (Z v = 0; v <= cfg.corevisor(); ++v) {
    NPT npt{};
    npt.pt_pgd_next = MachineConfig::pgd_start(v);
    npt.pt_pud_next = MachineConfig::pud_start(v);
    npt.pt_pmd_next = MachineConfig::pmd_start(v);
    s.npts.set(v, npt);
  }
  s.s2page = ZMap<S2Page, S2PageDefault>(S2PageDefault{cfg.ram_base_pfn, cfg.ram_pages});
  s.core_data = CoreData{k::SHARED_KVM_START, k::REMAP_START};
  s.spts.spt_pgd_next = k::SMMU_PGD_START;
  s.spts.spt_pmd_next = k::SMMU_PMD_START;
  s.smmu_vmid = ZMap<Z>::init(k::INVALID);
  // §4.1: every ghost lock flag starts "held"; with the literal profile only halting branches
  // (and VERIFY) change them.
  s.hlock = ZMap<bool>::init(true);

  RData d;
  d.halt = false;
  d.icore = false;
  d.ihost = true;
  d.curid = cfg.curid;
  d.cur_vmid = k::HOSTVISOR;
  d.cur_vcpuid = cfg.curid;
  // A vCPU context the spec never wrote is "never run" (dirty = INVALID64) so that first-run
  // initialization fires (§1.5, §7.2.16); the host's per-CPU contexts are live (dirty = 0).
  Ctxt never_run{};
  never_run.ctxt_states.dirty = k::INVALID64;
  d.shadow_ctxts = ZMap<Box<Ctxt>>::init(Box<Ctxt>(never_run));
  for (Z c = 0; c < cfg.vcpus_per_vm; ++c) d.set_ctx(cfg.ctxt_id(k::HOSTVISOR, c), Ctxt{});
  d.smmu_conf.smmu_num = cfg.smmu_num();
  for (std::size_t i = 0; i < cfg.smmus.size(); ++i) {
    const Z idx = static_cast<Z>(i);
    d.smmu_conf.smmu_phys_base.set(idx, cfg.smmus[i].phys_base);
    d.smmu_conf.smmu_size.set(idx, cfg.smmus[i].size);
    d.smmu_conf.smmu_dev_context_banks.set(idx, cfg.smmus[i].context_banks);
  }
  d.oracle = std::move(oracle);
  d.data_log = ZMap<Z>::init(0);
  d.core_data_log = ZMap<Z>::init(0);
  d.shared = std::move(s);
  return d;
}

}  // namespace hypdiff::model
