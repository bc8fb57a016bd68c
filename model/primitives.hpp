// The 24 shared-object primitives (spec §3.2): pure functions Shared -> (Shared', halt[, logn']).
// They are exactly the units the security lemmas of §6.2 talk about. Each returns the whole
// result; on halt, the hlock flags the spec clears are cleared in `s`.
#pragma once

#include "model/pagetable.hpp"
#include "model/state.hpp"

namespace hypdiff::model {

struct PrimResult {
  Shared s;
  bool halt = false;
  Z logn = 0;  // the advanced oracle cursor, for the primitives that take one (else unchanged 0)
};

struct LoadVcpuResult {
  Shared s;
  bool halt = false;
  CtxtRegs cregs;
  CtxtStates cstates;
  Z logn = 0;
};

// The oracle stream a primitive reads: dorc = doracle(principal).
struct Dorc {
  const OracleInputs* oracle;
  Z principal;
  Z operator()(Z n) const { return oracle->doracle(principal, n); }
};

// UNMAP_HOST digest macro (§3.0): unmap pfn from the host NPT if it is mapped there.
MmapResult unmap_host(const Shared& s, Z pfn);

PrimResult local_map_host(Shared s, Z addr);
PrimResult local_clear_vm_page(Shared s, Z vmid, Z pfn);
PrimResult local_assign_pfn_to_vm(Shared s, Z vmid, Z gfn, Z pfn, Dorc dorc, Z logn);
PrimResult local_map_pfn_vm(Shared s, Z vmid, Z addr, Z pte, Z level);
PrimResult local_map_io(Shared s, Z vmid, Z gpa, Z pa);
PrimResult local_grant_vm_page(Shared s, Z vmid, Z pfn);
PrimResult local_revoke_vm_page(Shared s, Z vmid, Z pfn, Dorc dorc, Z logn);
PrimResult local_set_vcpu_active(Shared s, Z vmid, Z vcpuid);
PrimResult local_set_vcpu_inactive(Shared s, Z vmid, Z vcpuid);
PrimResult local_set_vm_poweroff(Shared s, Z vmid);
// `params` supplies shared_vcpu. With Profile::register_vcpu_dirty the caller (not this Shared
// primitive, which has no shadow contexts) resets the vCPU's dirty field.
PrimResult local_register_vcpu(Shared s, Z vmid, Z vcpuid, const Params& params);
PrimResult local_gen_vmid(Shared s);
PrimResult local_register_kvm(Shared s, Z vmid, const Params& params);
PrimResult local_set_boot_info(Shared s, Z vmid, Z load_addr, Z size);
PrimResult local_remap_vm_image(Shared s, Z vmid, Z pfn, Z load_idx);
PrimResult local_verify_vm(Shared s, Z vmid);  // defined by the spec but never called
PrimResult local_free_smmu_pgd(Shared s, Z cbndx, Z index);
PrimResult local_alloc_smmu_pgd(Shared s, Z cbndx, Z vmid, Z index, Z num);
PrimResult local_smmu_assign_page(Shared s, Z cbndx, Z index, Z pfn, Z gfn);
PrimResult local_smmu_map_page(Shared s, Z cbndx, Z index, Z iova, Z pte);
PrimResult local_smmu_clear(Shared s, Z iova, Z cbndx, Z index);
LoadVcpuResult local_load_encryted_vcpu(Shared s, Z vmid, Z vcpuid, CtxtRegs cregs,
                                        CtxtStates cstates, Dorc dorc, Z logn,
                                        const Params& params);
PrimResult local_save_encrypt_buf(Shared s, Z vmid, Z inbuf, Z outbuf, Dorc dorc, Z logn);
PrimResult local_load_decrypt_buf(Shared s, Z vmid, Z inbuf, Dorc dorc, Z logn);

// Abstract Parameters decrypt_gp_regs_specx / decrypt_sys_regs_specx, instantiated by Params.
struct DecryptResult {
  CtxtRegs cregs;
  CtxtStates cstates;
  Z logn;
};
DecryptResult decrypt_gp_regs_specx(CtxtRegs cr, CtxtStates cs, Dorc dorc, Z logn, const Params& p);
DecryptResult decrypt_sys_regs_specx(CtxtRegs cr, CtxtStates cs, Dorc dorc, Z logn,
                                     const Params& p);

}  // namespace hypdiff::model
