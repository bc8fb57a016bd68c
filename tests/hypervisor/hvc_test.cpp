// Host hypercalls on VM identities, images and vCPU state (13, 15-17, 24, 25, 28, 29) against
// the model: Twin::hvc compares outcome, query points and the whole state after every call; the
// tests also assert the concrete results the spec defines.
#include <gtest/gtest.h>

#include "hypervisor/core/vm.h"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

class Hvc : public Twin {
 protected:
  uint32_t new_vm() {
    EXPECT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);
    return static_cast<uint32_t>(x0());
  }
  const kc_vm_state& vs(uint64_t v) const { return *kc_vm_state_of(&kc, v); }
  const kc_vm_boot& vb(uint64_t v) const { return *kc_vm_boot_of(&kc, v); }
  // SET_BOOT_INFO and a REMAP of each frame: a READY VM with one image.
  void load_image(uint64_t v, uint64_t load_addr, uint64_t size, std::vector<uint64_t> pfns) {
    const uint64_t idx = vb(v).next_load_info;
    ASSERT_EQ(hvc({KC_HVC_SET_BOOT_INFO, v, load_addr, size}), StepKind::ok);
    for (uint64_t pfn : pfns) ASSERT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, v, pfn, idx}), StepKind::ok);
  }
};

TEST_F(Hvc, UnknownNumbersAndTimerChangeNothing) {
  for (uint64_t n : {0ull, 12ull, 13ull, 30ull, ~0ull}) {
    EXPECT_EQ(hvc({n, 1, 2, 3, 4, 5}), StepKind::ok);
    EXPECT_EQ(kn_sections(), 0u);
    EXPECT_EQ(x0(), n);
    EXPECT_EQ(kn_cpu_regs(0)->regs.x[5], 5u);
  }
}

TEST_F(Hvc, RegisterKvmHandsOutEveryVmIdOnce) {
  model::OracleInputs oi;
  oi.params.shared_kvm[3] = 0xC0FFEE;
  reset(oi);
  for (uint64_t v = 1; v <= 15; ++v) {
    EXPECT_EQ(new_vm(), v);
    EXPECT_EQ(kn_sections(), 2u);
    EXPECT_EQ(vs(v).state, KC_VM_READY);
  }
  EXPECT_EQ(vs(3).kvm, 0xC0FFEEu);
  EXPECT_EQ(kc_globals_of(&kc)->next_vmid, 16u);
  EXPECT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::halted);  // no id left
  EXPECT_EQ(kn_sections(), 1u);
  // The CPU halted inside KCore: the host is not running, so the next call is undefined.
  EXPECT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::undefined);
}

TEST_F(Hvc, RegisterVcpuNeedsAReadyVmAndAFreeVcpu) {
  model::OracleInputs oi;
  oi.params.shared_vcpu[{1, 7}] = 77;
  reset(oi);
  const uint32_t v = new_vm();
  EXPECT_EQ(hvc({KC_HVC_REGISTER_VCPU, v, 7}), StepKind::ok);
  EXPECT_EQ(vs(v).vcpu_state[7], KC_VCPU_READY);
  EXPECT_EQ(vs(v).vcpu[7], 77u);
  EXPECT_EQ(kc_ctxt_of(&kc, v, 7)->states.dirty, KC_INVALID64);
  EXPECT_EQ(hvc({KC_HVC_REGISTER_VCPU, v, 7}), StepKind::halted);  // registered twice
}

TEST_F(Hvc, RegisterVcpuRefusesBadArguments) {
  for (auto x :
       std::vector<std::array<uint64_t, 6>>{{25, 0, 0}, {25, 16, 0}, {25, 1, 8}, {25, 2, 0}}) {
    reset();
    new_vm();  // VM 1 READY; VM 2 unused
    EXPECT_EQ(hvc(x), StepKind::halted) << x[1] << "/" << x[2];
  }
}

TEST_F(Hvc, SetBootInfoFillsTheLoadTableThenIgnores) {
  const uint32_t v = new_vm();
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(hvc({KC_HVC_SET_BOOT_INFO, v, 0x400000 + i * 0x10000, 0x1001}), StepKind::ok);
    EXPECT_EQ(vb(v).remap_addr[i], KC_REMAP_START + i * 0x2000);
  }
  EXPECT_EQ(vb(v).next_load_info, 5u);
  EXPECT_EQ(kc_globals_of(&kc)->next_remap_ptr, KC_REMAP_START + 5 * 0x2000);
  EXPECT_EQ(hvc({KC_HVC_SET_BOOT_INFO, v, 0x500000, 0x1000}), StepKind::ok);  // table full
  EXPECT_EQ(vb(v).next_load_info, 5u);
}

TEST_F(Hvc, SetBootInfoHaltsWhenTheRemapWindowIsFull) {
  const uint32_t v = new_vm();
  EXPECT_EQ(hvc({KC_HVC_SET_BOOT_INFO, v, 0, KC_REMAP_END - KC_REMAP_START - 0x1000}),
            StepKind::ok);
  EXPECT_EQ(hvc({KC_HVC_SET_BOOT_INFO, v, 0, 0x1000}), StepKind::halted);  // remap + size == end
}

TEST_F(Hvc, SetBootInfoRefusals) {
  for (auto x : std::vector<std::array<uint64_t, 6>>{
           {15, 1, 0, 0},                           // empty image
           {15, 2, 0, 0x1000},                      // VM not READY
           {15, 0, 0, 0x1000},                      // not a VM
           {15, 1, 1ull << 40, 0x1000},             // load_addr not a physical address
           {15, 1, 0, 1ull << 40},                  // size either
           {15, 1, (1ull << 40) - 0x1000, 0x1000},  // nor load_addr + size
           {15, 1, ~0ull, ~0ull}}) {
    reset();
    new_vm();
    EXPECT_EQ(hvc(x), StepKind::halted) << x[2] << "+" << x[3];
  }
}

TEST_F(Hvc, RemapMapsEachImagePageIntoTheWindowOnce) {
  const uint32_t v = new_vm();
  load_image(v, 0x1000000, 0x2001, {0x1000, 0x1001, 0x1005});
  EXPECT_EQ(vb(v).mapped_pages[0], 3u);
  const uint32_t core = kc_corevisor(&kc.cfg);
  EXPECT_EQ(to_model(walk_of(core, 0x2002)),
            (model::PtEntry{0x1005, 3, Z(0x1005000 | KC_PAGE_HYP)}));
  EXPECT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, v, 0x1006, 0}), StepKind::ok);  // image complete: ignored
  EXPECT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, v, 0x1006, 1}), StepKind::ok);  // no image 1: ignored
  EXPECT_EQ(vb(v).mapped_pages[0], 3u);
  EXPECT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, v, 1ull << 28, 0}), StepKind::halted);  // pfn checked
}

TEST_F(Hvc, RemapOfAVmNotReadyHalts) {
  EXPECT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, 1, 0x1000, 0}), StepKind::halted);
  reset();
  EXPECT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, 1, 0x1000, 5}), StepKind::halted);  // load index
}

// An image at 16 MiB, 3 pages remapped from frames 0x1000..0x1002: VERIFY gives the VM the 2 MiB
// block of frames 0x1000..0x11FF, mapped as one block at the image's address.
TEST_F(Hvc, VerifyGivesTheImageBlocksToTheVm) {
  const uint32_t v = new_vm();
  load_image(v, 0x1000000, 0x3000, {0x1000, 0x1001, 0x1002});
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::ok);
  EXPECT_EQ(kn_sections(), 1u + 1u + 512u + 1u);  // state, remap lookup, assignments, map
  EXPECT_EQ(vs(v).state, KC_VM_VERIFIED);
  EXPECT_EQ(to_model(walk_of(v, 0x1123)), (model::PtEntry{0x1123, 2, Z(0x1000FFD)}));
  EXPECT_EQ(to_model(page(0x11FF)), (model::S2Page{Z(v), 0, 0x11FF}));
  EXPECT_EQ(kc_data_log(&kc, v), 512u);
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::halted);  // not READY any more
}

// Unaligned images over two blocks, and an image whose frames lie in another 2 MiB block.
TEST_F(Hvc, VerifyWalksEveryImageAndBlock) {
  const uint32_t v = new_vm();
  load_image(v, 0x11FF000, 0x2000, {0x1600, 0x1801});  // blocks at 16 MiB and 18 MiB
  load_image(v, 0x1401000, 0x1000, {0x1A00});
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::ok);
  EXPECT_EQ(walk_of(v, 0x1000).pfn, 0x1600u);
  EXPECT_EQ(walk_of(v, 0x1200).pfn, 0x1800u);
  EXPECT_EQ(walk_of(v, 0x1400).pfn, 0x1A00u);
  EXPECT_EQ(kc_data_log(&kc, v), 3u * 512u);
}

// Images are loaded in order 0, 1, 2, ... (verify-index: the spec's text repeats image 1).
TEST_F(Hvc, VerifyLoadsEachImageOnce) {
  const uint32_t v = new_vm();
  load_image(v, 0xC00000, 0x1000, {0xC00});
  load_image(v, 0x1000000, 0x1000, {0x1000});
  load_image(v, 0x1200000, 0x1000, {0x1200});
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::ok);
  EXPECT_EQ(walk_of(v, 0xC00).pfn, 0xC00u);
  EXPECT_EQ(walk_of(v, 0x1200).pfn, 0x1200u);
  EXPECT_EQ(kc_data_log(&kc, v), 3u * 512u);
}

TEST_F(Hvc, VerifyHaltsOnAnImagePageNeverRemapped) {
  const uint32_t v = new_vm();
  load_image(v, 0x1001000, 0x2000, {});  // unaligned: one block, its remap entry is empty
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::halted);
  EXPECT_EQ(vs(v).state, KC_VM_READY);
}

TEST_F(Hvc, VerifyHaltsOnABadSignature) {
  model::OracleInputs oi;
  oi.params.verify_img[1] = 0;
  reset(oi);
  const uint32_t v = new_vm();
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::ok);  // no image: nothing to check
  reset(oi);
  load_image(new_vm(), 0x1000000, 0x1000, {0x1000});
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::halted);
}

TEST_F(Hvc, VerifyHaltsOnFramesTheHostCannotGive) {
  const uint32_t v = new_vm();
  load_image(v, 0x1000000, 0x1000, {0x100});  // frames 0..0x1FF: below RAM
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::halted);
  reset();
  const uint32_t w = new_vm();
  load_image(w, 0x1000000, 0x1000, {0x1000});
  set_page(0x1010, model::S2Page{0, 1, 0x1010 + KC_SMMU_HOST_OFFSET});  // DMA-mapped host page
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, w}), StepKind::halted);
  EXPECT_EQ(kc_data_log(&kc, w), 0x10u);  // the 16 frames before it were given
}

TEST_F(Hvc, VerifyUnmapsTheFramesFromTheHost) {
  const uint32_t v = new_vm();
  load_image(v, 0xC00000, 0x1000, {0xC00});  // host faults reach only the first 16 MiB
  EXPECT_EQ(fault(0xC050), StepKind::ok);    // the host maps frame 0xC05
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, v}), StepKind::ok);
  EXPECT_EQ(to_model(walk_of(0, 0xC05)), (model::PtEntry{0, 3, Z(KC_PAGE_GUEST)}));
  EXPECT_EQ(fault(0xC050), StepKind::halted);  // now the VM's
}

TEST_F(Hvc, CryptVcpuCalls) {
  model::OracleInputs oi;
  for (int i = 0; i < 60; ++i) oi.data[0].push_back(Z(1000 + i));
  reset(oi);
  const uint32_t v = new_vm();
  EXPECT_EQ(hvc({KC_HVC_SAVE_CRYPT_VCPU, v, 0}), StepKind::ok);
  EXPECT_EQ(kn_sections(), 0u);
  EXPECT_EQ(hvc({KC_HVC_LOAD_CRYPT_VCPU, v, 0}), StepKind::halted);  // vCPU not registered
  reset(oi);
  new_vm();
  EXPECT_EQ(hvc({KC_HVC_REGISTER_VCPU, v, 2}), StepKind::ok);
  EXPECT_EQ(hvc({KC_HVC_LOAD_CRYPT_VCPU, v, 2, 0x77}), StepKind::ok);
  const kc_ctxt* c = kc_ctxt_of(&kc, v, 2);
  EXPECT_EQ(c->regs.x[0], 1000u);
  EXPECT_EQ(c->regs.x[30], 1030u);
  EXPECT_EQ(c->regs.mpidr_el1, 1031u);  // sysreg 47
  EXPECT_EQ(c->regs.elr_el2, 1054u);    // sysreg 70
  EXPECT_EQ(kc_data_log(&kc, 0), 55u);
  EXPECT_EQ(vb(v).inc_exe, 1u);
  EXPECT_EQ(x0(), KC_HVC_LOAD_CRYPT_VCPU);  // the host's registers are untouched
  EXPECT_EQ(hvc({KC_HVC_SAVE_CRYPT_VCPU, v, 8}), StepKind::halted);
}

TEST_F(Hvc, CryptVcpuCountsAreParameters) {
  model::OracleInputs oi;
  oi.params.decrypt_gp_count = 2;
  oi.params.decrypt_sys_count = 0;
  reset(oi);
  const uint32_t v = new_vm();
  EXPECT_EQ(hvc({KC_HVC_REGISTER_VCPU, v, 0}), StepKind::ok);
  EXPECT_EQ(hvc({KC_HVC_LOAD_CRYPT_VCPU, v, 0}), StepKind::ok);
  EXPECT_EQ(kc_data_log(&kc, 0), 2u);
}

}  // namespace
}  // namespace hypdiff::kcore_test
