/* The catalog of KCore's mutants (native/mutants.h). Each entry names a KC_MUTANT(id) branch in
 * hypervisor/core; the comment there says the same in the code's terms. `caught_by` is the
 * failure class `hypdiff check` reports first (measured: tests/harness/mutants_test.cpp). */
#include "native/mutants.h"

#include "core/mutant.h"

#ifndef KC_MUTANTS
#error "native/mutants.c belongs to the KC_MUTANTS build (libhypdiff_native_mutants.so)"
#endif

#define HOST "host"
#define VMS "VMs"
#define ALL "everyone"

/* Why some mutants cannot be told apart natively, or are not reached by generated cases. */
#define NO_SMMU_HOST_PAGES                                                                       \
  "a host frame's count only counts SMMU mappings, and a host SMMU context can map nothing (a "  \
  "host page's gfn is pfn + 10^9, beyond every iova is_paddr admits, so LPAE_MAP halts): every " \
  "host frame's count is 0 and the check never fails"
#define FRESH_POOL_PAGES                                                                    \
  "pool pages are never reused (bump pointers only grow) and the native platform's memory " \
  "reads as zero until written (a reset frees it all), so a new table is already zero; on " \
  "hardware with unscrubbed memory this is a real bug"
#define NO_ATTRIBUTE_OBSERVATION                                                              \
  "the spec observes a stage-2 entry only through the frame it maps (observe_npt; the host "  \
  "only its own frames), no invariant constrains a host entry's attributes, and the model's " \
  "loads and stores treat device and normal memory alike: a pte's attributes are invisible "  \
  "to every oracle (generated host faults on non-RAM frames do reach it)"
#define NO_NATIVE_TLB                                                                         \
  "native only: the native platform has no TLB: plat_tlb_flush_* only count, and the target " \
  "ABI exports no translation cache. The QEMU target runs it: the hardware's TLB keeps the "  \
  "stale translation (docs/qemu.md, \"Stale translations\")"

static const struct kn_mutant mutants[] = {
    /* ---- ownership transfer ---- */
    {1, "assign-keeps-host-mapping", "ownership",
     "a frame given to a VM gets its new owner but stays mapped in the host's stage-2 table", VMS,
     "invariant", 0},
    {2, "host-map-ignores-vm-owner", "ownership",
     "a host stage-2 fault maps any frame not owned by KCore, VM-private ones included", VMS,
     "invariant", 0},
    {3, "decrypt-gfn-zero", "ownership",
     "DECRYPT_BUF records the VM's new page at gfn 0 instead of no fixed gfn (INVALID64)", VMS,
     "divergence", 0},
    {4, "decrypt-ignores-smmu-count", "ownership",
     "DECRYPT_BUF takes a host page without checking that no SMMU context maps it", VMS, "outcome",
     NO_SMMU_HOST_PAGES},
    /* ---- stage-2 page tables ---- */
    {5, "s2pt-block-no-offset", "page-tables",
     "a walk through a 2 MiB block gives the block's first frame for every gfn in it", ALL,
     "divergence", 0},
    {6, "s2pt-leaf-pmd-index", "page-tables",
     "a 4 KiB map writes its level-3 entry at the slot of the level-2 index bits", ALL,
     "divergence", 0},
    {7, "s2pt-pool-check-off-by-one", "page-tables",
     "the level-3 pool check uses < for <=: the last page of a pool is never handed out", ALL,
     "outcome", 0},
    {8, "s2pt-new-table-not-zeroed", "page-tables",
     "a table page taken from the pool is linked without being zeroed first", ALL, "divergence",
     FRESH_POOL_PAGES},
    {9, "s2pt-no-tlb-flush", "page-tables",
     "break-before-make without the TLB invalidation between break and make", ALL, "divergence",
     NO_NATIVE_TLB},
    {10, "vttbr-missing-vmid", "page-tables",
     "VTTBR is written without the VMID field: every principal's translations are tagged 0", ALL,
     "divergence", 0},
    /* ---- VM lifecycle ---- */
    {11, "register-kvm-returns-next-id", "vm-lifecycle",
     "REGISTER_KVM returns the global's value after the increment: the next VM's id", HOST,
     "divergence", 0},
    {12, "register-vcpu-skips-vm-state", "vm-lifecycle",
     "REGISTER_VCPU checks the vCPU's state only: a VERIFIED VM gains unverified vCPUs", VMS,
     "outcome", 0},
    {13, "vcpu-run-skips-vcpu-state", "vm-lifecycle",
     "vcpu_run checks the VM's state only: an unregistered vCPU runs", VMS, "outcome", 0},
    {14, "verify-skips-ready-check", "vm-lifecycle",
     "VERIFY_VM_IMAGE reads the VM's state but does not test it: unused, running and powered-off "
     "VMs are verified again",
     VMS, "outcome", 0},
    {15, "psci-off-wrong-function", "vm-lifecycle",
     "PSCI SYSTEM_OFF is recognized by SYSTEM_RESET's function id: the VM is never powered off",
     HOST, "divergence", 0},
    /* ---- boot and the remap window ---- */
    {16, "boot-smmu-owned-by-host", "boot-remap",
     "boot leaves smmu_vmid as zeroed memory: every SMMU context bank starts as the host's", VMS,
     "divergence", 0},
    {17, "boot-remap-ptr-unset", "boot-remap",
     "boot does not initialize next_remap_ptr: the remap window starts at address 0", VMS,
     "divergence", 0},
    {18, "set-boot-info-remap-not-bumped", "boot-remap",
     "SET_BOOT_INFO does not advance next_remap_ptr: every image starts at the same window page",
     VMS, "divergence", 0},
    {19, "verify-ignores-signature", "boot-remap",
     "VERIFY_VM_IMAGE computes the image check but ignores a failed signature", VMS, "outcome", 0},
    {20, "verify-loads-image-0-only", "boot-remap",
     "VERIFY_VM_IMAGE loads image 0 on every pass of its loop (the spec's verify-index slip)", VMS,
     "divergence", 0},
    {21, "vcpu-run-skips-entry-check", "boot-remap",
     "a first run looks up the entry point in the load table but runs the vCPU on a miss", VMS,
     "outcome", 0},
    /* ---- grant and revoke ---- */
    {22, "revoke-unmap-off-by-one", "grant-revoke",
     "revoke unmaps the host when 2 shares were left, and keeps its mapping after the last one",
     VMS, "divergence", 0},
    {23, "grant-block-base-pfn", "grant-revoke",
     "a grant or revoke inside a 2 MiB block shares the block's first frame, not gfn's own", VMS,
     "divergence", 0},
    {24, "revoke-skips-host-unmap", "grant-revoke",
     "the last revoke makes the page private again but leaves the host's mapping of it", VMS,
     "invariant", 0},
    {25, "share-loop-one-extra-page", "grant-revoke",
     "the guest's grant/revoke loop treats the end of the range as inclusive: one page more", VMS,
     "divergence", 0},
    /* ---- power-off and reclaim (CLEAR_VM_S2_RANGE) ---- */
    {26, "clear-range-ignores-poweroff", "reclaim",
     "CLEAR_VM_S2_RANGE reads the VM's state but does not test it: a live VM's frames are "
     "reclaimed",
     VMS, "divergence", 0},
    {27, "clear-range-one-extra-page", "reclaim",
     "CLEAR_VM_S2_RANGE reclaims one frame past the end of the range", VMS, "divergence", 0},
    {28, "clear-skips-scrub", "reclaim",
     "a reclaimed frame returns to the host without being zeroed: the VM's data leaks", VMS,
     "divergence", 0},
    {29, "reclaim-keeps-count-and-gfn", "reclaim",
     "a reclaimed frame changes owner only: the VM's share count and gfn stay in s2page", HOST,
     "divergence", 0},
    /* ---- SMMU: tables, ownership, MMIO emulation ---- */
    {30, "spt-leaf-pmd-index", "smmu",
     "an SMMU map writes its level-3 entry at the slot of the level-2 index bits", ALL,
     "divergence", 0},
    {31, "smmu-map-skips-owner-check", "smmu",
     "SMMU_LPAE_MAP does not check that the frame is the context owner's at that iova", ALL,
     "outcome", 0},
    {32, "smmu-free-live-vm", "smmu",
     "SMMU_FREE_PGD frees a context bank whatever its owner's state", VMS, "outcome", 0},
    {33, "smmu-clear-verified-allowed", "smmu",
     "SMMU_CLEAR tests state > VERIFIED for >=: a VERIFIED VM's device mappings can be removed",
     VMS, "outcome", 0},
    {34, "iova-to-phys-swapped-args", "smmu",
     "SMMU_LPAE_IOVA_TO_PHYS walks context (index, cbndx) instead of (cbndx, index)", HOST,
     "divergence", 0},
    {35, "smmu-assign-count-zero", "smmu",
     "a frame assigned to a VM through its SMMU context gets count 0 instead of the INVALID mark",
     VMS, "divergence", 0},
    {36, "mmio-cbar-free-bank-writable", "smmu",
     "the SMMU MMIO emulation treats a free context bank as the host's: its CBAR is writable", VMS,
     "outcome", 0},
    {37, "iova-to-phys-drops-offset", "smmu",
     "SMMU_LPAE_IOVA_TO_PHYS returns the frame's address without the iova's page offset", HOST,
     "divergence", 0},
    /* ---- vCPU contexts ---- */
    {38, "restore-skips-contextidr", "vcpu-context",
     "CONTEXTIDR_EL1 is missing from the restore list: the last principal's value stays", ALL,
     "divergence", 0},
    {39, "vcpu-run-leaks-host-gprs", "vcpu-context",
     "vcpu_run does not load the vCPU's x0..x30: the VM runs with the host's registers", HOST,
     "divergence", 0},
    {40, "vm-exit-leaks-vm-fp", "vcpu-context",
     "the return to the host does not restore its FP/SIMD registers: it sees the VM's", VMS,
     "divergence",
     "no operation of the spec gives an FP/SIMD register a value (SetReg names x0..x30 only, a "
     "first run zeroes them, LOAD_CRYPT_VCPU decrypts x and system registers only), so they are "
     "0 in every reachable state; a finding: the vocabulary cannot test FP state"},
    {41, "vm-exit-wrong-vcpu-context", "vcpu-context",
     "a VM exit saves the registers into the VM's vCPU 0 whichever vCPU ran", VMS, "divergence", 0},
    /* ---- exits and host faults ---- */
    {42, "mmio-read-unmasked", "exit-handling",
     "an emulated 4-byte SMMU register read returns all 64 bits of the value", HOST, "divergence",
     0},
    {43, "sys64-no-pc-advance", "exit-handling",
     "a system-register trap resumes the VM at the trapping instruction", VMS, "divergence", 0},
    {44, "unhandled-trap-exits-to-host", "exit-handling",
     "a trap the dispatcher does not handle (WFx, aborts, HVC32) goes to the host instead of "
     "halting",
     VMS, "outcome", 0},
    {45, "host-map-device-as-normal", "exit-handling",
     "a host fault on a frame nobody owns maps it as normal memory instead of a device", HOST,
     "divergence", NO_ATTRIBUTE_OBSERVATION},
    /* ---- argument validation ---- */
    {46, "remap-load-idx-unchecked", "argument-validation",
     "REMAP_VM_IMAGE does not refuse load_idx >= max_load_info, relying on a later test", HOST,
     "outcome", 0},
    {47, "clear-range-accepts-any-vmid", "argument-validation",
     "CLEAR_VM_S2_RANGE checks the id with kc_is_vmid for kc_is_vm: the host and KCore pass", HOST,
     "outcome", 0},
    {48, "encrypt-skips-owner-check", "argument-validation",
     "ENCRYPT_BUF checks the output page only: the host gets any frame it names encrypted", VMS,
     "outcome", 0},
    {49, "set-boot-info-no-end-check", "argument-validation",
     "SET_BOOT_INFO does not check that load_addr + size is a physical address", HOST, "outcome",
     0},
    /* ---- exits, later (ids ascend) ---- */
    {50, "interrupt-exit-resumes-vm", "exit-handling",
     "an interrupt exit re-enters the VM instead of returning to the host", VMS, "divergence", 0},
};

#define COUNT (sizeof mutants / sizeof mutants[0])

static void select_mutant(uint32_t id) {
  kc_mutant = 0;
  for (uint32_t i = 0; i < COUNT; ++i) {
    if (mutants[i].id == id) kc_mutant = id;
  }
}

__attribute__((visibility("default"))) const struct hd_kcore_mutants_v1* hypdiff_kcore_mutants_v1(
    void) {
  static const struct hd_kcore_mutants_v1 api = {(uint32_t)COUNT, mutants, select_mutant};
  return &api;
}
