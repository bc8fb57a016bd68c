// Profiles: `literal` reproduces the Coq text with every quirk (spec §7.2, §4.1); `intended`
// (the default) fixes each quirk the way the lower layers or the C code do. Each difference is
// one switch, so any single quirk can be turned back on; docs/spec-deviations.md describes each,
// and a test checks that every id below is documented there.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hypdiff::model {

struct Profile {
  // true = intended behaviour, false = literal Coq behaviour.
  bool hlock_acquire = true;      // §4.1, §7.2.3c/9a/10: QO acquires the locks relied on after it
  bool calstate_fold = true;      // §7.2.15: replay every other-CPU OMAP_HOST, oldest first
  bool verify_index = true;       // §7.2.1: verify loop walks load infos 0,1,2,...
  bool map_halt_check = true;     // §7.2.2: level-3 prot_and_map stops when the assign halts
  bool grant_block_pfn = true;    // §7.2.3a: grant/revoke of a 2 MiB-mapped gfn use pfn'
  bool grant_halt_check = true;   // §7.2.3b: grant/revoke loops stop at the first halt
  bool assign_normalize = true;   // §7.2.4: re-assigning an owned page normalizes count and gfn
  bool inject_test = true;        // §7.2.6: inject the pending exception only when flagged
  bool sync_dirty_cursor = true;  // §7.2.7: each dirty GPR gets its own oracle value
  bool first_run_base = true;     // §7.2.8: first run keeps the shared effects of its QOs
  bool verify_snapshot = true;    // §7.2.9b: VERIFIED info is read after the load loop
  bool verify_img = true;         // §7.2.9c: VERIFY checks the image signature (verify_img)
  bool boot_info_args = true;     // §7.2.11a: SET_BOOT_INFO checks is_paddr(load_addr + size)
  bool remap_args = true;         // §7.2.11b: REMAP_VM_IMAGE checks the pfn argument
  bool iova_log = true;           // §7.2.12: IOVA_TO_PHYS logs its OSMMU_GET event
  bool crypt_vcpu_target = true;  // §7.2.13: LOAD_CRYPT_VCPU writes the VM vCPU's context
  bool pc_advance = true;         // §7.2.14: "advance PC" writes elr_el2, not esr_el2
  bool register_vcpu_dirty = true;  // §7.2.16: REGISTER_VCPU marks the vCPU never-run
  bool hvc32_exit = true;           // §7.2.17: prep_exit_vm accepts an HVC32 exit
  bool mmio_gr0_bound = true;       // §7.2.21: SMMU GR0 space is offsets [0, 4096)
  bool smmu_pte_attr = true;        // (not in §7.2) LPAE_MAP ORs attribute bits, not bit 16
  bool reg_wrap = true;             // (not in §7.2) "PC + 4" wraps at 2^64 like a register

  friend bool operator==(const Profile&, const Profile&) = default;

  static Profile intended() { return Profile{}; }
  static Profile literal();

  // "intended", "literal", or either followed by +id / -id items ("literal+hlock" = literal
  // except that the hlock deviation is on). nullopt and a message in *error on bad input.
  static std::optional<Profile> parse(std::string_view text, std::string* error);
  // The shortest text that parse() maps back to this profile.
  std::string name() const;
};

struct Deviation {
  std::string_view id;     // the switch name used by Profile::parse
  std::string_view quirk;  // where the spec digest describes it
  bool Profile::*field;
};

std::span<const Deviation> deviations();

}  // namespace hypdiff::model
