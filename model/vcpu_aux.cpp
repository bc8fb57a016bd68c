// §3.3: the pure register and vCPU helpers of TrapHandlerSpec (section AuxSpec).
#include "model/constants.hpp"
#include "model/loops.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

// Constants.md names the top spec uses only here.
constexpr int CBAR_TYPE_SHIFT = 16;
constexpr Z CBAR_TYPE_S2_TRANS = 0;
constexpr Z CBAR_VMID_MASK = 255;
constexpr Z ARM_SMMU_PGSHIFT_MASK = 4095;

}  // namespace

// Coq: TrapHandlerSpec.reset_sys_regs_specx (with reset_sys_regs_loopx)
RegsResult reset_sys_regs_specx(const RData& d, Z vcpuid, CtxtRegs cregs, CtxtStates cstates,
                                Dorc dorc, Z logn) {
  for (int i = k::SYSREGS_START; i < k::SYSREGS_START + k::SHADOW_SYS_REGS_SIZE; ++i) {
    Z val;
    if (i == k::REG_MPIDR_EL1) {
      val = (vcpuid & 15) + (zdiv(vcpuid, 16) & 255) * 256 + (zdiv(vcpuid, 4096) & 255) * 65536 +
            pow2(31);
    } else if (i == k::REG_ACTLR) {
      val = dorc(logn);
      logn += 1;
    } else {
      val = d.oracle->params.reg_desc_at(i);
    }
    set_shadow_ctxt_specx(i, val, cregs, cstates);
  }
  return {cregs, cstates, logn};
}

// Coq: TrapHandlerSpec.sync_dirty_to_shadow_specx (with sync_dirty_to_shadow_loopx)
RegsResult sync_dirty_to_shadow_specx(const RData& d, Z /*vmid*/, Z dirty, CtxtRegs cregs,
                                      CtxtStates cstates, Z logn, Dorc dorc) {
  Z n = logn;
  for (int i = 0; i <= 30; ++i) {
    if ((dirty & zshl(1, i)) == 0) continue;
    // Literally every dirty register reads the stream at the cursor the loop started with.
    const Z at = d.prof().sync_dirty_cursor ? n : logn;
    set_shadow_ctxt_specx(i, dorc(at), cregs, cstates);
    n += 1;
  }
  return {cregs, cstates, n};
}

// Coq: TrapHandlerSpec.update_exception_gp_regs_specx
std::pair<CtxtRegs, CtxtStates> update_exception_gp_regs_specx(CtxtRegs cregs, CtxtStates cstates) {
  // exception_vector(pstate) is computed by the Coq but never stored, so it is omitted.
  cregs.elr_el1 = cstates.pc;
  cstates.spsr_0 = cstates.pstate;
  cstates.esr_el1 = k::ESR_ELx_EC_UNKNOWN;
  cstates.pstate = k::PSTATE_FAULT_BITS_64;
  return {cregs, cstates};
}

// Coq: TrapHandlerSpec.prep_wfx_specx
CtxtStates prep_wfx_specx(CtxtStates cstates) {
  cstates.dirty = k::DIRTY_PC_FLAG;
  return cstates;
}

// Coq: TrapHandlerSpec.prep_abort_specx
std::pair<CtxtStates, Z> prep_abort_specx(const CtxtRegs& cregs, CtxtStates cstates, Z logn,
                                          Dorc dorc) {
  const Z esr = dorc(logn);
  const Z rd = zmod(zdiv(esr, 65536), 32);
  const Z fault_ipa = zdiv(cregs.hpfar_el2, 16) * 4096;
  if (fault_ipa < k::MAX_MMIO_ADDR) {
    if ((esr & k::ESR_ELx_WNR) == 0 && (esr & k::ESR_ELx_S1PTW) == 0) {
      cstates.dirty = zshl(1, static_cast<int>(rd));
    } else {
      cstates.dirty = k::DIRTY_PC_FLAG;
    }
  }
  return {cstates, logn + 1};
}

// Coq: TrapHandlerSpec.search_load_info_loop_h
Z search_load_info_loop_h(Z n, Z addr, const BootInfo& vb) {
  Z ret = 0;
  for (Z i = 0; i < n; ++i) {
    const Z base = vb.vm_load_addr.get(i);
    if (base <= addr && addr < base + vb.vm_load_size.get(i)) {
      ret = addr - base + vb.vm_remap_addr.get(i);
    }
  }
  return ret;
}

// Coq: TrapHandlerSpec.is_smmu_range_loop_h
Z is_smmu_range_loop_h(Z n, Z addr, const SMMUConf& conf) {
  Z res = k::INVALID;
  for (Z i = 0; i < n; ++i) {
    const Z base = conf.smmu_phys_base.get(i);
    if (base <= addr && addr < base + conf.smmu_size.get(i)) res = i;
  }
  return res;
}

// Coq: TrapHandlerSpec.handle_host_mmio_spec_h
MmioResult handle_host_mmio_spec_h(const Profile& prof, const MachineConfig& cfg, Z index,
                                   Z fault_ipa, Z len, Z is_write, Z rt, CtxtRegs cregs,
                                   CtxtStates cstates, CtxtRegs rcregs, Dorc dorc, Z logn,
                                   const ZMap<Z>& smmu) {
  // "Advance the host's PC past the access"; the Coq writes the sum into esr_el2 (§7.2.14).
  CtxtRegs adv = rcregs;
  (prof.pc_advance ? adv.elr_el2 : adv.esr_el2) = advance_pc(prof, rcregs.elr_el2);
  const MmioResult fail{true, logn, cregs, cstates, rcregs};

  if (is_write == 0) {
    const Z data = dorc(logn);
    if (len == 8) {
      set_shadow_ctxt_specx(rt, data, cregs, cstates);
      return {false, logn + 1, cregs, cstates, adv};
    }
    if (len == 4) {
      set_shadow_ctxt_specx(rt, data & k::INVALID, cregs, cstates);
      return {false, logn + 1, cregs, cstates, adv};
    }
    return fail;
  }

  // Writes are validated only; no device model receives them.
  const Z data = get_shadow_ctxt_specx(rt, cregs, cstates);
  const MmioResult ok =
      (len == 8 || len == 4) ? MmioResult{false, logn, cregs, cstates, adv} : fail;
  const Z offset = fault_ipa & k::SMMU_OFFSET_MASK;
  if (offset < k::SMMU_GLOBAL_BASE) {
    Z ret;
    const bool gr0 = offset >= 0 && (prof.mmio_gr0_bound ? offset < k::ARM_SMMU_GR1_BASE
                                                         : offset <= k::ARM_SMMU_GR1_BASE);
    if (gr0) {
      if (offset == k::ARM_SMMU_GR0_sCR0) {
        // The host may not clear SMCFCFG (unmatched streams must keep faulting).
        ret = (zshr(data, k::sCR0_SMCFCFG_SHIFT) & 1) == 0 ? 0 : 1;
      } else if (offset == k::ARM_SMMU_GR0_sCR2) {
        ret = (data & 255) == 0 ? 1 : 0;
      } else {
        ret = 1;
      }
    } else if (offset >= k::ARM_SMMU_GR1_BASE && offset < k::ARM_SMMU_GR1_END) {
      // CBAR[n]: a bank owned by a VM must stay a stage-2 context with that VM's id.
      const Z n = (offset - k::ARM_SMMU_GR1_BASE) / 4;
      const Z vmid = smmu.get(cfg.smmu_id(index, n));
      const Z type = zshr(data, CBAR_TYPE_SHIFT);
      const Z t_vmid = data & CBAR_VMID_MASK;
      ret = vmid == 0 ? 1 : (type == CBAR_TYPE_S2_TRANS && vmid == t_vmid) ? 1 : 0;
    } else {
      ret = 1;
    }
    return ret == 0 ? fail : ok;
  }
  const Z cb_offset = (offset - k::SMMU_GLOBAL_BASE) & ARM_SMMU_PGSHIFT_MASK;
  if (cb_offset == k::ARM_SMMU_CB_TTBR0)
    return ok;  // the Coq computes cbndx here but never uses it
  if (cb_offset == k::ARM_SMMU_CB_CONTEXTIDR) return fail;
  return ok;
}

}  // namespace hypdiff::model
