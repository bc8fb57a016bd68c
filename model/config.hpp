// MachineConfig: what real hypervisors differ in. The defaults are the spec's constants (§2) plus
// a RAM/SMMU layout of our choosing (the spec fixes none, §1.5). validate() refuses what the model
// cannot honour, with one line saying why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/constants.hpp"
#include "model/z.hpp"

namespace hypdiff::model {

struct SmmuUnit {
  Z phys_base;      // byte address of its MMIO window
  Z size;           // bytes
  Z context_banks;  // smmu_dev_context_banks: the `num` bound of local_alloc_smmu_pgd
  friend bool operator==(const SmmuUnit&, const SmmuUnit&) = default;
};

struct MachineConfig {
  Z max_vms = k::MAX_VM_NUM;        // VMs are 1..max_vms; COREVISOR = max_vms + 1
  Z vcpus_per_vm = k::VCPU_PER_VM;  // ctxt_id(v, c) = v * vcpus_per_vm + c
  Z total_cpus = k::TOTAL_CPU;      // physical CPUs; the model is CPU `curid`
  Z curid = 0;
  // Host RAM: pfns [ram_base_pfn, ram_base_pfn + ram_pages) start owned by the host. Default:
  // 2 MiB .. 32 MiB, fifteen 2 MiB blocks. The spec's host fault handler only reaches addresses
  // below 16 MiB ((hpfar & 0xFFFF) * 256), so the host can map and touch the lower half only;
  // the upper half still serves as VM images and DMA pages.
  Z ram_base_pfn = 0x200;
  Z ram_pages = 0x1E00;
  // smmu_num = smmus.size(); the SMMU id space (smmu_id = index * smmu_ctxt_banks + cbndx) is
  // sized by smmu_ctxt_banks (the spec's SMMU_NUM_CTXT_BANKS).
  std::vector<SmmuUnit> smmus{{0x100000, 0x10000, 8}, {0x110000, 0x10000, 8}};
  Z smmu_ctxt_banks = k::SMMU_NUM_CTXT_BANKS;
  Z max_share_count = k::MAX_SHARE_COUNT;
  Z max_load_info = k::MAX_LOAD_INFO_NUM;

  friend bool operator==(const MachineConfig&, const MachineConfig&) = default;

  // Refuses a configuration the model cannot honour; nullopt when it is fine.
  std::optional<std::string> validate() const;

  // Derived ids and formulas (§1.4, §2.2).
  Z corevisor() const { return max_vms + 1; }
  Z smmu_num() const { return static_cast<Z>(smmus.size()); }
  Z smmu_ids() const { return smmu_num() * smmu_ctxt_banks; }  // the spec's EL2_SMMU_CFG_SIZE
  Z npt_lock(Z v) const { return k::NPT_ID + v; }
  Z info_lock(Z v) const { return k::NPT_ID + corevisor() + 1 + v; }
  Z lock_count() const { return info_lock(corevisor()) + 1; }  // ID_END
  Z ctxt_id(Z v, Z c) const { return v * vcpus_per_vm + c; }
  Z smmu_id(Z index, Z cbndx) const { return index * smmu_ctxt_banks + cbndx; }
  Z smmu_ttbr(Z index, Z cbndx) const { return 65536 + smmu_id(index, cbndx) * 8192; }

  bool is_vm(Z v) const { return 0 < v && v <= max_vms; }
  bool is_vmid(Z v) const { return 0 <= v && v <= corevisor(); }
  bool is_vcpu(Z c) const { return 0 <= c && c < vcpus_per_vm; }
  bool is_load_idx(Z i) const { return 0 <= i && i < max_load_info; }
  bool is_smmu(Z i) const { return 0 <= i && i < smmu_num(); }
  bool is_smmu_cfg(Z c) const { return 0 <= c && c < smmu_ctxt_banks; }
  bool is_ram(Z pfn) const { return ram_base_pfn <= pfn && pfn < ram_base_pfn + ram_pages; }

  static Z pool_start(Z v) { return k::PT_POOL_START + k::PT_POOL_PER_VM * v; }
  static Z pgd_start(Z v) { return pool_start(v) + k::PGD_OFFSET; }
  static Z pud_start(Z v) { return pool_start(v) + k::PUD_OFFSET; }
  static Z pmd_start(Z v) { return pool_start(v) + k::PMD_OFFSET; }
  static Z pool_end(Z v) { return k::PT_POOL_START + k::PT_POOL_PER_VM * (v + 1); }
  static Z pt_vttbr(Z v) { return pool_start(v) | (v << k::VTTBR_VMID_SHIFT); }
};

}  // namespace hypdiff::model
