// Auxiliary functions and the loops that call query_oracle (spec §3.3, §3.4), and the pieces the
// exported handlers are built from (§3.5). Each returns nullopt for the spec's None.
#pragma once

#include "model/primitives.hpp"
#include "model/state.hpp"

namespace hypdiff::model {

// §3.3 pure register/vCPU helpers
struct RegsResult {
  CtxtRegs cregs;
  CtxtStates cstates;
  Z logn;
};
RegsResult reset_sys_regs_specx(const RData& d, Z vcpuid, CtxtRegs cregs, CtxtStates cstates,
                                Dorc dorc, Z logn);
RegsResult sync_dirty_to_shadow_specx(const RData& d, Z vmid, Z dirty, CtxtRegs cregs,
                                      CtxtStates cstates, Z logn, Dorc dorc);
std::pair<CtxtRegs, CtxtStates> update_exception_gp_regs_specx(CtxtRegs cregs, CtxtStates cstates);
CtxtStates prep_wfx_specx(CtxtStates cstates);
std::pair<CtxtStates, Z> prep_abort_specx(const CtxtRegs& cregs, CtxtStates cstates, Z logn,
                                          Dorc dorc);
Z search_load_info_loop_h(Z n, Z addr, const BootInfo& vb);  // returns `ret`
Z is_smmu_range_loop_h(Z n, Z addr, const SMMUConf& conf);   // returns `res`

struct MmioResult {
  bool halt;
  Z logn;
  CtxtRegs cregs;
  CtxtStates cstates;
  CtxtRegs rcregs;
};
MmioResult handle_host_mmio_spec_h(const Profile& prof, const MachineConfig& cfg, Z index,
                                   Z fault_ipa, Z len, Z is_write, Z rt, CtxtRegs cregs,
                                   CtxtStates cstates, CtxtRegs rcregs, Dorc dorc, Z logn,
                                   const ZMap<Z>& smmu);

// §3.4 loops (threading RData)
Outcome prot_and_map_vm_loop_h(Z n, Z vmid, Z gfn, Z pfn, RData d);
Outcome prot_and_map_vm_s2pt_spec_h(Z vmid, Z addr, Z pte, Z level, RData d);
Outcome clear_vm_loop_h(Z n, Z pfn, Z vmid, RData d);
Outcome unmap_and_load_loop_h(Z n, Z vmid, Z start, Z target, Z remap, RData d);
Outcome verify_and_load_loop_h(Z n, Z vmid, RData d);
Outcome kvm_phys_addr_ioremap_loop_h(Z n, Z vmid, Z gpa, Z pa, RData d);
Outcome grant_stage2_loop(Z n, Z vmid, Z addr, RData d);
Outcome revoke_stage2_loop(Z n, Z vmid, Z addr, RData d);
struct DispatchResult {
  RData d;
  Z ret;  // 0 = resume the VM, 1 = exit to the host
};
std::optional<DispatchResult> vm_exit_dispatcher_spec_h(Z vmid, Z vcpuid, RData d);
Outcome prep_hvc_spec_h(Z vmid, Z vcpuid, RData d);

// §3.5 handler pieces
Outcome vcpu_run_swith_to_core(RData d);
Outcome vcpu_run_process(RData d);
Outcome vcpu_run_switch_to_vm(RData d);
Outcome prep_exit_vm(RData d);
std::optional<DispatchResult> vm_exit_pre_process(RData d);
Outcome switch_to_host(RData d);

}  // namespace hypdiff::model
