// VM and vCPU lifecycle primitives (spec §3.2) and the abstract decrypt Parameters.
#include <string>

#include "model/concurrency.hpp"
#include "model/pagetable.hpp"
#include "model/primitives.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

// Params is data from a case file; a count the register file cannot hold is a tool bug.
void check_count(int count, int max, const char* what) {
  if (count < 0 || count > max) {
    throw ModelBug(std::string(what) + " must be in 0.." + std::to_string(max) + ", got " +
                   std::to_string(count));
  }
}

}  // namespace

// Coq: TrapHandlerSpec.local_set_vcpu_active
PrimResult local_set_vcpu_active(Shared s, Z vmid, Z vcpuid) {
  VMInfo info = s.vminfos.get(vmid);
  if (!(info.VS.vm_state == k::VERIFIED && info.VS.vm_vcpu_state.get(vcpuid) == k::READY)) {
    return PrimResult{std::move(s), true};
  }
  info.VS.vm_vcpu_state.set(vcpuid, k::ACTIVE);
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_set_vcpu_inactive
PrimResult local_set_vcpu_inactive(Shared s, Z vmid, Z vcpuid) {
  VMInfo info = s.vminfos.get(vmid);
  if (info.VS.vm_vcpu_state.get(vcpuid) != k::ACTIVE) return PrimResult{std::move(s), true};
  info.VS.vm_vcpu_state.set(vcpuid, k::READY);
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_set_vm_poweroff
PrimResult local_set_vm_poweroff(Shared s, Z vmid) {
  VMInfo info = s.vminfos.get(vmid);
  info.VS.vm_state = k::POWEROFF;
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_register_vcpu
PrimResult local_register_vcpu(Shared s, Z vmid, Z vcpuid, const Params& params) {
  VMInfo info = s.vminfos.get(vmid);
  if (!(info.VS.vm_state == k::READY && info.VS.vm_vcpu_state.get(vcpuid) == k::UNUSED)) {
    return PrimResult{std::move(s), true};
  }
  info.VS.vm_vcpu.set(vcpuid, params.shared_vcpu_at(vmid, vcpuid));
  info.VS.vm_vcpu_state.set(vcpuid, k::READY);
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_gen_vmid
PrimResult local_gen_vmid(Shared s) {
  const Z vmid = s.core_data.next_vmid;
  if (!(vmid < s.cfg().corevisor())) return PrimResult{std::move(s), true};
  s.core_data.next_vmid = vmid + 1;
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_register_kvm
PrimResult local_register_kvm(Shared s, Z vmid, const Params& params) {
  VMInfo info = s.vminfos.get(vmid);
  if (info.VS.vm_state != k::UNUSED) return PrimResult{std::move(s), true};
  info.VS.vm_kvm = params.shared_kvm_at(vmid);
  info.VS.vm_state = k::READY;
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_set_boot_info
PrimResult local_set_boot_info(Shared s, Z vmid, Z load_addr, Z size) {
  VMInfo info = s.vminfos.get(vmid);
  // Neither halting branch here clears a lock flag.
  if (info.VS.vm_state != k::READY) return PrimResult{std::move(s), true};
  const Z i = info.VB.vm_next_load_info;
  if (!(i < s.cfg().max_load_info)) return PrimResult{std::move(s), false};  // table full: ignored
  const Z pgnum = zdiv(size + 4095, k::PAGE_SIZE);
  const Z remap = s.core_data.next_remap_ptr;
  if (!(0 < pgnum && remap + pgnum * k::PAGE_SIZE < k::REMAP_END)) {
    return PrimResult{std::move(s), true};
  }
  s.core_data.next_remap_ptr = remap + pgnum * k::PAGE_SIZE;
  info.VB.vm_next_load_info = i + 1;
  info.VB.vm_load_addr.set(i, load_addr);
  info.VB.vm_load_size.set(i, size);
  info.VB.vm_remap_addr.set(i, remap);
  info.VB.vm_mapped_pages.set(i, 0);
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_remap_vm_image
PrimResult local_remap_vm_image(Shared s, Z vmid, Z pfn, Z load_idx) {
  const MachineConfig& cfg = s.cfg();
  VMInfo info = s.vminfos.get(vmid);
  if (info.VS.vm_state != k::READY) {
    clr(s, {cfg.info_lock(vmid)});
    return PrimResult{std::move(s), true};
  }
  if (!(load_idx < info.VB.vm_next_load_info)) return PrimResult{std::move(s), false};
  const Z size = info.VB.vm_load_size.get(load_idx);
  const Z remap = info.VB.vm_remap_addr.get(load_idx);
  const Z mapped = info.VB.vm_mapped_pages.get(load_idx);
  if (!(mapped < zdiv(size + 4095, k::PAGE_SIZE))) return PrimResult{std::move(s), false};
  const Z core = cfg.corevisor();
  MmapResult m = local_mmap_h(cfg, core, remap + mapped * k::PAGE_SIZE, 3,
                              (pfn * k::PAGE_SIZE) | k::PAGE_HYP, s.npts.get(core));
  s.npts.set(core, std::move(m.npt));
  if (m.halt) {
    clr(s, {cfg.info_lock(vmid), cfg.npt_lock(core)});
    return PrimResult{std::move(s), true};
  }
  info.VB.vm_mapped_pages.set(load_idx, mapped + 1);
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_verify_vm
PrimResult local_verify_vm(Shared s, Z vmid) {
  VMInfo info = s.vminfos.get(vmid);
  if (info.VS.vm_state != k::READY) {
    clr(s, {s.cfg().info_lock(vmid)});
    return PrimResult{std::move(s), true};
  }
  info.VS.vm_state = k::VERIFIED;
  s.vminfos.set(vmid, std::move(info));
  return PrimResult{std::move(s), false};
}

// Coq: TrapHandlerSpec.local_load_encryted_vcpu
LoadVcpuResult local_load_encryted_vcpu(Shared s, Z vmid, Z vcpuid, CtxtRegs cregs,
                                        CtxtStates cstates, Dorc dorc, Z logn,
                                        const Params& params) {
  VMInfo info = s.vminfos.get(vmid);
  if (!(info.VS.vm_state == k::READY && info.VS.vm_vcpu_state.get(vcpuid) == k::READY)) {
    clr(s, {s.cfg().info_lock(vmid)});
    return LoadVcpuResult{std::move(s), true, std::move(cregs), cstates, logn};
  }
  DecryptResult gp = decrypt_gp_regs_specx(std::move(cregs), cstates, dorc, logn, params);
  DecryptResult sys =
      decrypt_sys_regs_specx(std::move(gp.cregs), gp.cstates, dorc, gp.logn, params);
  info.VB.vm_inc_exe = 1;
  s.vminfos.set(vmid, std::move(info));
  return LoadVcpuResult{std::move(s), false, std::move(sys.cregs), sys.cstates, sys.logn};
}

// Coq: AbstractMachineSpec.decrypt_gp_regs_specx (a Parameter; Params fixes how many GPRs)
DecryptResult decrypt_gp_regs_specx(CtxtRegs cr, CtxtStates cs, Dorc dorc, Z logn,
                                    const Params& p) {
  check_count(p.decrypt_gp_count, static_cast<int>(cr.x.size()), "decrypt_gp_count");
  for (int i = 0; i < p.decrypt_gp_count; ++i) {
    cr.x[static_cast<std::size_t>(i)] = dorc(logn + i);
  }
  return DecryptResult{std::move(cr), cs, logn + p.decrypt_gp_count};
}

// Coq: AbstractMachineSpec.decrypt_sys_regs_specx (a Parameter; Params fixes how many sysregs)
DecryptResult decrypt_sys_regs_specx(CtxtRegs cr, CtxtStates cs, Dorc dorc, Z logn,
                                     const Params& p) {
  check_count(p.decrypt_sys_count, k::SHADOW_SYS_REGS_SIZE, "decrypt_sys_count");
  for (int i = 0; i < p.decrypt_sys_count; ++i) {
    set_shadow_ctxt_specx(k::SYSREGS_START + i, dorc(logn + i), cr, cs);
  }
  return DecryptResult{std::move(cr), cs, logn + p.decrypt_sys_count};
}

}  // namespace hypdiff::model
