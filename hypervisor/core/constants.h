/* The spec's fixed encodings (digest §1.4, §2): identities, pool layout, descriptor bits and the
 * index functions. Values a machine may choose differently (VM count, RAM, SMMUs) are in
 * config.h. Freestanding: only <stdint.h>. */
#ifndef KCORE_CONSTANTS_H
#define KCORE_CONSTANTS_H

#include <stdint.h>

/* §2.1 identities */
#define KC_HOSTVISOR 0u
#define KC_INVALID 0xFFFFFFFFu             /* "no owner", 2^32 - 1 */
#define KC_INVALID64 0xFFFFFFFFFFFFFFFFull /* "no gfn", 2^64 - 1 */
#define KC_SMMU_HOST_OFFSET 1000000000ull  /* host pages: s2_gfn = pfn + this */
#define KC_EL2_SMMU_CFG_SIZE_DEFAULT 16u

/* §2.2 address spaces */
#define KC_PAGE_SHIFT 12
#define KC_PAGE_SIZE 4096ull
#define KC_PMD_SIZE 0x200000ull
#define KC_PTRS_PER_TABLE 512u
#define KC_KVM_PHYS_SIZE (1ull << 40)  /* is_paddr */
#define KC_KVM_ADDR_SPACE (1ull << 48) /* is_addr: the stage-2 input range of an NPT */
#define KC_KVM_PFN_SPACE (1ull << 28)
#define KC_MAX_MMIO_ADDR (1ull << 30)
#define KC_HOST_FAULT_REACH (1ull << 24) /* (hpfar & 0xFFFF) * 256 < 16 MiB */

/* §2.2 stage-2 pools, per principal v: [pool_start(v), pool_end(v)). These are the spec's own
 * numbers; KCore places spec address X at physical address el2_base + X (docs/kcore.md). */
#define KC_PT_POOL_START 0x10000ull
#define KC_PT_POOL_PER_VM 0x2000000ull
#define KC_PGD_OFFSET 0x1000ull
#define KC_PUD_OFFSET 0x101000ull
#define KC_PMD_OFFSET 0x901000ull

/* §2.2 SMMU pool, shared by every SMMU context. */
#define KC_SMMU_POOL_START 0x10000ull
#define KC_SMMU_PGD_START 0x110000ull
#define KC_SMMU_PMD_START 0x210000ull
#define KC_SMMU_POOL_END 0x310000ull
#define KC_SMMU_TTBR_SLOT 0x2000ull /* each context's root: 1024 entries, 8 KiB */

/* §2.3 descriptor bits */
#define KC_PHYS_MASK 0x0000FFFFFFFFFFFFull
#define KC_PAGE_MASK 0x0FFFFFFFFFFFF000ull
#define KC_PAGE_S2_KERNEL 0xFFFull
#define KC_PAGE_S2_DEVICE 0x40000000000747ull
#define KC_S2_RDWR 0xC0ull
#define KC_PAGE_HYP 0x40000000000753ull
#define KC_PAGE_GUEST 0x0200000000000000ull /* software bit 57 only: an invalid descriptor */
#define KC_NOT_PMD_TABLE_BIT 0xFFFFFFFFFFFFFFFDull
#define KC_DESC_VALID 0x1ull
#define KC_DESC_TYPE_MASK 0x3ull
#define KC_DESC_TABLE 0x3ull /* levels 0..2: next-level table; level 3: page */
#define KC_DESC_BLOCK 0x1ull /* levels 1..2: block */

/* §1.4 lock ids; NPT_ID + v and INFO_ID + v are computed in config.h */
#define KC_FLATMEM_ID 0u
#define KC_CORE_ID 1u
#define KC_S2PAGE_ID 2u
#define KC_SPT_ID 3u
#define KC_SMMU_ID 4u
#define KC_NPT_ID 5u

/* §2.1 VM and vCPU states (one constant namespace in the spec) */
#define KC_VM_UNUSED 0u
#define KC_VM_READY 2u
#define KC_VM_VERIFIED 3u
#define KC_VM_POWEROFF 4u
#define KC_VCPU_UNUSED 0u
#define KC_VCPU_READY 2u
#define KC_VCPU_ACTIVE 5u
#define KC_SHARED_KVM_START 1u

/* §2.2 the EL2 remap window for VM images (COREVISOR's table) */
#define KC_REMAP_START 0x2000000ull
#define KC_REMAP_END 0x4000000ull

/* §2.4 exit codes, ESR fields, vCPU flags, PSCI */
#define KC_ARM_EXCEPTION_TRAP 2u
#define KC_ARM_EXCEPTION_INTERRUPT 31u
#define KC_ESR_EC_SHIFT 26
#define KC_ESR_EC_WFX 1u
#define KC_ESR_EC_HVC32 18u
#define KC_ESR_EC_HVC64 22u
#define KC_ESR_EC_SYS64 30u /* abstract, not the architectural 0x18 */
#define KC_ESR_EC_IABT_LOW 32u
#define KC_ESR_EC_DABT_LOW 36u
#define KC_ESR_WNR 64u
#define KC_ESR_S1PTW 128u
#define KC_DIRTY_PC_FLAG (1ull << 32)
#define KC_PENDING_EXCEPT_INJECT_FLAG 0xE00000000ull
#define KC_PSTATE_FAULT_BITS_64 965u
#define KC_PSCI_0_2_FN_SYSTEM_OFF 0x84000008u
#define KC_ESR_EC_UNKNOWN 0u

/* §2.4 the spec's symbolic trap-register values (placeholders, not hardware encodings) */
#define KC_HCR_HYPSEC_VM_FLAGS 3u
#define KC_ARMV8_PMU_USERENR_MASK 4u
#define KC_HYPSEC_MDCR_EL2_FLAG 5u
#define KC_CPTR_VM 6u
#define KC_CPTR_EL2_DEFAULT 7u
#define KC_HCR_HOST_NVHE_FLAGS 8u
#define KC_CNTHCTL_EL1PCEN 9u
#define KC_CNTHCTL_EL1PCTEN 10u

/* §2.4 SMMU register space (host MMIO emulation) */
#define KC_SMMU_GLOBAL_BASE 0x8000u
#define KC_SMMU_OFFSET_MASK 0xFFFFu
#define KC_SMMU_GR0_SCR0 0u
#define KC_SMMU_GR0_SCR2 8u
#define KC_SMMU_SCR0_SMCFCFG_SHIFT 21
#define KC_SMMU_GR1_BASE 0x1000u
#define KC_SMMU_GR1_END 0x1800u
#define KC_SMMU_CB_TTBR0 32u
#define KC_SMMU_CB_CONTEXTIDR 52u
#define KC_SMMU_PGSHIFT_MASK 0xFFFu
#define KC_CBAR_TYPE_SHIFT 16
#define KC_CBAR_VMID_MASK 0xFFu
/* The SMMU pte attribute bits LPAE_MAP adds: AF | SH inner shareable (Profile::smmu_pte_attr). */
#define KC_SMMU_PTE_AF_SH 0x700ull

/* §2.5 host hypercalls (x0) and guest hypercalls */
#define KC_HVC_KVM_SET_DESC_PFN 11u
#define KC_HVC_KVM_UNSET_DESC_PFN 12u
#define KC_HVC_TIMER_SET_CNTVOFF 13u
#define KC_HVC_CLEAR_VM_S2_RANGE 14u
#define KC_HVC_SET_BOOT_INFO 15u
#define KC_HVC_REMAP_VM_IMAGE 16u
#define KC_HVC_VERIFY_VM_IMAGE 17u
#define KC_HVC_SMMU_FREE_PGD 18u
#define KC_HVC_SMMU_ALLOC_PGD 19u
#define KC_HVC_SMMU_LPAE_MAP 20u
#define KC_HVC_SMMU_LPAE_IOVA_TO_PHYS 21u
#define KC_HVC_SMMU_CLEAR 22u
#define KC_HVC_PHYS_ADDR_IOREMAP 23u
#define KC_HVC_REGISTER_KVM 24u
#define KC_HVC_REGISTER_VCPU 25u
#define KC_HVC_ENCRYPT_BUF 26u
#define KC_HVC_DECRYPT_BUF 27u
#define KC_HVC_SAVE_CRYPT_VCPU 28u
#define KC_HVC_LOAD_CRYPT_VCPU 29u

/* §2.3 index functions */
static inline uint64_t kc_phys_page(uint64_t a) { return a & KC_PHYS_MASK & KC_PAGE_MASK; }
static inline uint32_t kc_pgd_index(uint64_t a) { return (uint32_t)((a >> 39) & 511u); }
static inline uint32_t kc_stage2_pgd_index(uint64_t a) { return (uint32_t)((a >> 30) & 1023u); }
static inline uint32_t kc_pud_index(uint64_t a) { return (uint32_t)((a >> 30) & 511u); }
static inline uint32_t kc_pmd_index(uint64_t a) { return (uint32_t)((a >> 21) & 511u); }
static inline uint32_t kc_pte_index(uint64_t a) { return (uint32_t)((a >> 12) & 511u); }

/* Status of a core operation that may fail in a way the spec turns into a halt. The caller
 * decides when to panic, because some spec primitives still change state after a failed map. */
enum kc_status {
  KC_OK = 0,
  KC_E_POOL,  /* a table pool is exhausted (the spec's bump-pointer check) */
  KC_E_BLOCK, /* 4 KiB map inside an existing 2 MiB block (the spec cannot split a block) */
  KC_E_RANGE, /* address outside the table's input range: no spec path produces it */
  KC_E_DESC,  /* a descriptor the tables cannot represent: no spec path produces it */
  KC_E_DENIED /* the ownership rules forbid the change (the spec halts) */
};

#endif
