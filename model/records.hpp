// Leaf records of the abstract state (Coq: RData.md, section DataType), declared with Boost.Hana
// so that oracles/ can compare, hash, print and diff them field by field without per-field code.
// Fields the top-level spec never reads (NPT pools, unused SMMU configuration, ...) are omitted;
// docs/spec-deviations.md lists them. Hana-defined members have no initializers: value-initialize
// records (`S2Page p{}`), never default-initialize them.
#pragma once

#include <array>
#include <boost/hana/define_struct.hpp>

#include "model/zmap.hpp"

namespace hypdiff::model {

// Metadata of one physical frame (key: pfn).
struct S2Page {
  BOOST_HANA_DEFINE_STRUCT(S2Page, (Z, owner), (Z, count), (Z, gfn));
  friend bool operator==(const S2Page&, const S2Page&) = default;
};

// One flattened stage-2 translation: npts[v].pt[gfn] = (pfn, level, pte). pfn 0 = unmapped.
struct PtEntry {
  BOOST_HANA_DEFINE_STRUCT(PtEntry, (Z, pfn), (Z, level), (Z, pte));
  friend bool operator==(const PtEntry&, const PtEntry&) = default;
};

// One SMMU translation: spt_pt[ttbr][gfn] = (pfn, pte).
struct SptEntry {
  BOOST_HANA_DEFINE_STRUCT(SptEntry, (Z, pfn), (Z, pte));
  friend bool operator==(const SptEntry&, const SptEntry&) = default;
};

struct CoreData {
  BOOST_HANA_DEFINE_STRUCT(CoreData, (Z, next_vmid), (Z, next_remap_ptr));
  friend bool operator==(const CoreData&, const CoreData&) = default;
};

// Stage-2 table of one principal, at the spec's high level. The nested "table allocated" maps
// are flattened: pud_t key = (g << 9) | u, pmd_t key = (g << 18) | (u << 9) | m, where each index
// is already masked to 9 bits by pgd/pud/pmd_index.
struct NPT {
  BOOST_HANA_DEFINE_STRUCT(NPT, (Z, pt_pgd_next), (Z, pt_pud_next), (Z, pt_pmd_next),
                           (ZMap<PtEntry>, pt), (ZMap<bool>, pgd_t), (ZMap<bool>, pud_t),
                           (ZMap<bool>, pmd_t));
  friend bool operator==(const NPT&, const NPT&) = default;
};

// The VM image load table.
struct BootInfo {
  BOOST_HANA_DEFINE_STRUCT(BootInfo, (Z, vm_next_load_info), (ZMap<Z>, vm_load_addr),
                           (ZMap<Z>, vm_load_size), (ZMap<Z>, vm_remap_addr),
                           (ZMap<Z>, vm_mapped_pages), (Z, vm_inc_exe));
  friend bool operator==(const BootInfo&, const BootInfo&) = default;
};

struct StateInfo {
  BOOST_HANA_DEFINE_STRUCT(StateInfo, (Z, vm_kvm), (ZMap<Z>, vm_vcpu), (Z, vm_state),
                           (ZMap<Z>, vm_vcpu_state), (Z, vm_power));
  friend bool operator==(const StateInfo&, const StateInfo&) = default;
};

struct VMInfo {
  BOOST_HANA_DEFINE_STRUCT(VMInfo, (StateInfo, VS), (BootInfo, VB));
  friend bool operator==(const VMInfo&, const VMInfo&) = default;
};

// The four SMMU configuration fields the top spec reads (keyed by SMMU index).
struct SMMUConf {
  BOOST_HANA_DEFINE_STRUCT(SMMUConf, (Z, smmu_num), (ZMap<Z>, smmu_phys_base), (ZMap<Z>, smmu_size),
                           (ZMap<Z>, smmu_dev_context_banks));
  friend bool operator==(const SMMUConf&, const SMMUConf&) = default;
};

// All SMMU tables. Keyed by ttbr = smmu_ttbr(index, cbndx); inner pgd_t key = stage2_pgd_index,
// inner pmd_t key = (stage2_pgd_index << 9) | pmd_index.
struct SPT {
  BOOST_HANA_DEFINE_STRUCT(SPT, (Z, spt_pgd_next), (Z, spt_pmd_next),
                           (ZMap<ZMap<SptEntry>>, spt_pt), (ZMap<ZMap<bool>>, spt_pgd_t),
                           (ZMap<ZMap<bool>>, spt_pmd_t));
  friend bool operator==(const SPT&, const SPT&) = default;
};

// The 100-register file. x0..x30 and fp_q0..fp_q31 are arrays (x[3] is x3).
struct CtxtRegs {
  BOOST_HANA_DEFINE_STRUCT(CtxtRegs, (std::array<Z, 31>, x), (std::array<Z, 32>, fp_q),
                           (Z, fp_fpsr), (Z, fp_fpcr), (Z, csselr_el1), (Z, sctlr_el1),
                           (Z, cpacr_el1), (Z, ttbr0_el1), (Z, ttbr1_el1), (Z, tcr_el1),
                           (Z, afsr0_el1), (Z, afsr1_el1), (Z, far_el1), (Z, mair_el1),
                           (Z, vbar_el1), (Z, contextidr_el1), (Z, amair_el1), (Z, cntkctl_el1),
                           (Z, par_el1), (Z, tpidr_el1), (Z, spsr_el1), (Z, mdscr_el1), (Z, sp_el0),
                           (Z, tpidr_el0), (Z, tpidrro_el0), (Z, spsr_el2), (Z, vmpidr_el2),
                           (Z, mpidr_el1), (Z, actlr_el1), (Z, sp_el1), (Z, elr_el1), (Z, elr_el2),
                           (Z, vttbr_el2), (Z, hcr_el2), (Z, tpidr_el2), (Z, esr_el2), (Z, ec),
                           (Z, far_el2), (Z, hpfar_el2));
  friend bool operator==(const CtxtRegs&, const CtxtRegs&) = default;
};

struct TrapRegs {
  BOOST_HANA_DEFINE_STRUCT(TrapRegs, (Z, pmuselr_el0), (Z, pmuserenr_el0), (Z, mdcr_el2),
                           (Z, cptr_el2), (Z, cnthctl_el2));
  friend bool operator==(const TrapRegs&, const TrapRegs&) = default;
};

// vCPU state kept only in the shadow context.
struct CtxtStates {
  BOOST_HANA_DEFINE_STRUCT(CtxtStates, (Z, pc), (Z, pstate), (Z, dirty), (Z, flags), (Z, esr_el1),
                           (Z, spsr_0));
  friend bool operator==(const CtxtStates&, const CtxtStates&) = default;
};

struct Ctxt {
  BOOST_HANA_DEFINE_STRUCT(Ctxt, (CtxtRegs, ctxt_regs), (TrapRegs, trap_regs),
                           (CtxtStates, ctxt_states));
  friend bool operator==(const Ctxt&, const Ctxt&) = default;
};

}  // namespace hypdiff::model
