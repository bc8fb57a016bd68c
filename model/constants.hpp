// Constants of the top-level spec (Coq: Constants.md, MmioRawSpec.md, RData.md). Values that a
// real hypervisor may choose differently (VM count, vCPUs per VM, ...) live in MachineConfig; the
// numbers here are the spec's fixed encodings and the defaults of that configuration.
#pragma once

#include "model/z.hpp"

namespace hypdiff::model::k {

// §2.1 identities, states, limits
inline constexpr Z HOSTVISOR = 0;
inline constexpr Z INVALID = pow2(32) - 1;
inline constexpr Z INVALID64 = pow2(64) - 1;
inline constexpr Z MAX_VM_NUM = 15;        // default of MachineConfig::max_vms
inline constexpr Z VCPU_PER_VM = 8;        // default of MachineConfig::vcpus_per_vm
inline constexpr Z TOTAL_CPU = 8;          // default of MachineConfig::total_cpus
inline constexpr Z MAX_LOAD_INFO_NUM = 5;  // default of MachineConfig::max_load_info
inline constexpr Z MAX_SHARE_COUNT = 100;  // default of MachineConfig::max_share_count
inline constexpr Z EL2_SMMU_CFG_SIZE = 16;
inline constexpr Z MAX_REGISTER_NUM = 256;

inline constexpr Z UNUSED = 0;
inline constexpr Z MAPPED = 1;
inline constexpr Z READY = 2;
inline constexpr Z VERIFIED = 3;
inline constexpr Z POWEROFF = 4;
inline constexpr Z ACTIVE = 5;  // vCPU state
inline constexpr Z SHARED_KVM_START = 1;
inline constexpr Z SHARED_VCPU_START = 1;

// §2.2 address spaces and pools
inline constexpr Z PAGE_SIZE = 4096;
inline constexpr Z PMD_SIZE = 2097152;
inline constexpr Z PMD_PAGE_NUM = 512;
inline constexpr Z KVM_PHYS_SIZE = pow2(40);
inline constexpr Z KVM_ADDR_SPACE = pow2(48);
inline constexpr Z KVM_PFN_SPACE = pow2(28);
inline constexpr Z KVM_GFN_SPACE = pow2(36);
inline constexpr Z PT_POOL_START = 65536;
inline constexpr Z PT_POOL_PER_VM = 33554432;
inline constexpr Z PT_POOL_END = 503382016;
inline constexpr Z PGD_OFFSET = 4096;
inline constexpr Z PUD_OFFSET = 1052672;
inline constexpr Z PMD_OFFSET = 9441280;
inline constexpr Z REMAP_START = 33554432;
inline constexpr Z REMAP_SIZE = 33554432;
inline constexpr Z REMAP_END = 67108864;
inline constexpr Z SMMU_POOL_START = 65536;
inline constexpr Z SMMU_PGD_START = 1114112;
inline constexpr Z SMMU_PMD_START = 2162688;
inline constexpr Z SMMU_POOL_END = 3211264;
inline constexpr Z SMMU_NUM = 2;             // default of MachineConfig::smmu_num
inline constexpr Z SMMU_NUM_CTXT_BANKS = 8;  // default of MachineConfig::smmu_ctxt_banks
inline constexpr Z SMMU_HOST_OFFSET = 1000000000;
inline constexpr Z MAX_MMIO_ADDR = pow2(30);
inline constexpr Z SMMU_GLOBAL_BASE = 32768;
inline constexpr Z ARM_SMMU_PGSHIFT = 12;

// §2.3 page-table bits
inline constexpr Z PHYS_MASK = pow2(48) - 1;
inline constexpr Z PAGE_MASK = Z{0x0FFFFFFFFFFFF000};
inline constexpr Z PMD_PAGE_MASK = Z{0x0FFFFFFFFFE00000};
inline constexpr Z NOT_PMD_TABLE_BIT = pow2(64) - 3;
inline constexpr Z PAGE_S2_KERNEL = 0xFFF;
inline constexpr Z PAGE_S2_DEVICE = Z{0x40000000000747};
inline constexpr Z S2_RDWR = 0xC0;
inline constexpr Z PAGE_HYP = Z{0x40000000000753};
inline constexpr Z PAGE_GUEST = Z{0x0200000000000000};
inline constexpr Z PAGE_NONE = Z{0x0460000000000F92};
inline constexpr Z PTE_AF_OR_SH_IS = 0x10000;  // sic (Constants.md); inside the address bits
// What the intended profile ORs instead: AF (bit 10) | SH = inner shareable (bits 9:8).
inline constexpr Z PTE_AF_OR_SH_IS_ARM = 0x700;
inline constexpr Z SMMU_PTE_ADDR_MASK = pow2(48) - 1;
inline constexpr int VTTBR_VMID_SHIFT = 48;

// §2.4 exceptions, ESR, SMMU registers
inline constexpr Z ARM_EXCEPTION_TRAP = 2;
inline constexpr Z ARM_EXCEPTION_INTERRUPT = 31;
inline constexpr Z ESR_ELx_EC_MASK = 0xFC000000;
inline constexpr int ESR_ELx_EC_SHIFT = 26;
inline constexpr Z ESR_ELx_EC_UNKNOWN = 0;
inline constexpr Z ESR_ELx_EC_WFx = 1;
inline constexpr Z ESR_ELx_EC_HVC32 = 18;
inline constexpr Z ESR_ELx_EC_HVC64 = 22;
inline constexpr Z ESR_ELx_EC_SYS64 = 30;
inline constexpr Z ESR_ELx_EC_IABT_LOW = 32;
inline constexpr Z ESR_ELx_EC_DABT_LOW = 36;
inline constexpr Z ESR_ELx_WNR = 64;
inline constexpr Z ESR_ELx_S1PTW = 128;
inline constexpr Z HPFAR_MASK = 65535;
inline constexpr Z DIRTY_PC_FLAG = pow2(32);
inline constexpr Z PENDING_EXCEPT_INJECT_FLAG = Z{0xE00000000};
inline constexpr Z PENDING_FSC_FAULT = 2;
inline constexpr Z PSTATE_FAULT_BITS_64 = 965;
inline constexpr Z PSCI_0_2_FN_SYSTEM_OFF = 0x84000008;
// Symbolic placeholders of the spec, not hardware values.
inline constexpr Z HCR_HYPSEC_VM_FLAGS = 3;
inline constexpr Z ARMV8_PMU_USERENR_MASK = 4;
inline constexpr Z HYPSEC_MDCR_EL2_FLAG = 5;
inline constexpr Z CPTR_VM = 6;
inline constexpr Z CPTR_EL2_DEFAULT = 7;
inline constexpr Z HCR_HOST_NVHE_FLAGS = 8;
inline constexpr Z CNTHCTL_EL1PCEN = 9;
inline constexpr Z CNTHCTL_EL1PCTEN = 10;
inline constexpr Z ARM_SMMU_GR0_sCR0 = 0;
inline constexpr Z ARM_SMMU_GR0_sCR2 = 8;
inline constexpr int sCR0_SMCFCFG_SHIFT = 21;
inline constexpr Z ARM_SMMU_GR1_BASE = 4096;
inline constexpr Z ARM_SMMU_GR1_END = 6144;
inline constexpr Z ARM_SMMU_CB_TTBR0 = 32;
inline constexpr Z ARM_SMMU_CB_CONTEXTIDR = 52;
inline constexpr Z SMMU_OFFSET_MASK = 65535;

// §2.5 hypercall numbers
inline constexpr Z HVC_KVM_SET_DESC_PFN = 11;
inline constexpr Z HVC_KVM_UNSET_DESC_PFN = 12;
inline constexpr Z HVC_TIMER_SET_CNTVOFF = 13;
inline constexpr Z HVC_CLEAR_VM_S2_RANGE = 14;
inline constexpr Z HVC_SET_BOOT_INFO = 15;
inline constexpr Z HVC_REMAP_VM_IMAGE = 16;
inline constexpr Z HVC_VERIFY_VM_IMAGE = 17;
inline constexpr Z HVC_SMMU_FREE_PGD = 18;
inline constexpr Z HVC_SMMU_ALLOC_PGD = 19;
inline constexpr Z HVC_SMMU_LPAE_MAP = 20;
inline constexpr Z HVC_SMMU_LPAE_IOVA_TO_PHYS = 21;
inline constexpr Z HVC_SMMU_CLEAR = 22;
inline constexpr Z HVC_PHYS_ADDR_IOREMAP = 23;
inline constexpr Z HVC_REGISTER_KVM = 24;
inline constexpr Z HVC_REGISTER_VCPU = 25;
inline constexpr Z HVC_ENCRYPT_BUF = 26;
inline constexpr Z HVC_DECRYPT_BUF = 27;
inline constexpr Z HVC_SAVE_CRYPT_VCPU = 28;
inline constexpr Z HVC_LOAD_CRYPT_VCPU = 29;

// §1.4 lock ids (keys of hlock). NPT_ID+v and INFO_ID+v are computed by MachineConfig.
inline constexpr Z FLATMEM_ID = 0;
inline constexpr Z CORE_ID = 1;
inline constexpr Z S2PAGE_ID = 2;
inline constexpr Z SPT_ID = 3;
inline constexpr Z SMMU_ID = 4;
inline constexpr Z NPT_ID = 5;

// §2.6 register indices for get/set_shadow_ctxt_specx
inline constexpr int REG_SP = 31;
inline constexpr int REG_PC = 32;
inline constexpr int REG_PSTATE = 33;
inline constexpr int REG_SP_EL1 = 34;
inline constexpr int REG_ELR_EL1 = 35;
inline constexpr int REG_SPSR_EL1 = 36;
inline constexpr int REG_FAR_EL2 = 41;
inline constexpr int REG_HPFAR_EL2 = 42;
inline constexpr int REG_HCR_EL2 = 43;
inline constexpr int REG_EC = 44;
inline constexpr int REG_DIRTY = 45;
inline constexpr int REG_FLAGS = 46;
inline constexpr int REG_MPIDR_EL1 = 47;
inline constexpr int REG_CSSELR = 48;
inline constexpr int REG_SCTLR = 49;
inline constexpr int REG_ACTLR = 50;
inline constexpr int REG_CPACR = 51;
inline constexpr int REG_TTBR0 = 52;
inline constexpr int REG_TTBR1 = 53;
inline constexpr int REG_TCR = 54;
inline constexpr int REG_ESR_EL1 = 55;
inline constexpr int REG_AFSR0 = 56;
inline constexpr int REG_AFSR1 = 57;
inline constexpr int REG_FAR_EL1 = 58;
inline constexpr int REG_MAIR = 59;
inline constexpr int REG_VBAR = 60;
inline constexpr int REG_CONTEXTIDR = 61;
inline constexpr int REG_TPIDR_EL0 = 62;
inline constexpr int REG_TPIDRRO_EL0 = 63;
inline constexpr int REG_TPIDR_EL1 = 64;
inline constexpr int REG_AMAIR = 65;
inline constexpr int REG_CNTKCTL = 66;
inline constexpr int REG_PAR = 67;
inline constexpr int REG_MDSCR = 68;
inline constexpr int REG_MDCCINT = 69;
inline constexpr int REG_ELR_EL2 = 70;
inline constexpr int REG_SPSR_0 = 71;
inline constexpr int REG_ESR_EL2 = 72;
inline constexpr int SYSREGS_START = 47;
inline constexpr int SHADOW_SYS_REGS_SIZE = 24;

// §2.3 index functions
constexpr Z phys_page(Z a) { return a & PHYS_MASK & PAGE_MASK; }
constexpr Z pmd_page(Z a) { return a & PHYS_MASK & PMD_PAGE_MASK; }
constexpr Z pgd_index(Z a) { return (a >> 39) & 511; }
constexpr Z stage2_pgd_index(Z a) { return (a >> 30) & 1023; }
constexpr Z pud_index(Z a) { return (a >> 30) & 511; }
constexpr Z pmd_index(Z a) { return (a >> 21) & 511; }
constexpr Z pte_index(Z a) { return (a >> 12) & 511; }

constexpr bool is_paddr(Z a) { return 0 <= a && a < KVM_PHYS_SIZE; }
constexpr bool is_addr(Z a) { return 0 <= a && a < KVM_ADDR_SPACE; }
constexpr bool is_pfn(Z p) { return 0 <= p && p < KVM_PFN_SPACE; }
constexpr bool is_gfn(Z g) { return 0 <= g && g < KVM_GFN_SPACE; }

}  // namespace hypdiff::model::k
