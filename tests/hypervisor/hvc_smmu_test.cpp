// SMMU hypercalls (18-22) against the model: Twin::hvc compares outcome, query points and the
// whole state after every call; the tests also assert the concrete results.
#include <gtest/gtest.h>

#include "hypervisor/core/vm.h"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

class HvcSmmu : public Twin {
 protected:
  void SetUp() override {
    Twin::SetUp();
    ASSERT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);  // VM 1, READY
  }
  // The calls, by their argument names.
  StepKind alloc(uint64_t cbndx, uint64_t vmid, uint64_t index) {
    return hvc({KC_HVC_SMMU_ALLOC_PGD, cbndx, vmid, index});
  }
  StepKind free_pgd(uint64_t cbndx, uint64_t index) {
    return hvc({KC_HVC_SMMU_FREE_PGD, cbndx, index});
  }
  StepKind map(uint64_t iova, uint64_t pa, uint64_t cbndx, uint64_t index, uint64_t prot = 0) {
    return hvc({KC_HVC_SMMU_LPAE_MAP, iova, pa, prot, cbndx, index});
  }
  StepKind clear(uint64_t iova, uint64_t cbndx, uint64_t index) {
    return hvc({KC_HVC_SMMU_CLEAR, iova, cbndx, index});
  }
  uint64_t iova_to_phys(uint64_t iova, uint64_t cbndx, uint64_t index) {
    EXPECT_EQ(hvc({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, iova, cbndx, index}), StepKind::ok);
    return x0();
  }
};

TEST_F(HvcSmmu, AllocGivesAFreeBankOnce) {
  EXPECT_EQ(alloc(3, 1, 1), StepKind::ok);
  EXPECT_EQ(kn_sections(), 1u);
  EXPECT_EQ(kc_smmu_owner(&kc, 1, 3), 1u);
  EXPECT_EQ(alloc(3, 0, 1), StepKind::ok);  // taken: ignored
  EXPECT_EQ(kc_smmu_owner(&kc, 1, 3), 1u);
  EXPECT_EQ(alloc(4, 0, 1), StepKind::ok);  // the host's
  EXPECT_EQ(kc_smmu_owner(&kc, 1, 4), 0u);
}

TEST_F(HvcSmmu, AllocRefusals) {
  for (auto x : std::vector<std::array<uint64_t, 6>>{
           {19, 8, 1, 0}, {19, 0, 16, 0}, {19, 0, 1, 2}, {19, ~0ull, 1, 0}}) {
    reset();
    EXPECT_EQ(hvc(x), StepKind::halted) << x[1] << "/" << x[2] << "/" << x[3];
  }
}

TEST_F(HvcSmmu, AllocBeyondTheSmmusOwnBanksHalts) {
  kc_config cfg = default_config();
  cfg.smmus[0].context_banks = 4;
  reset({}, cfg);
  EXPECT_EQ(alloc(3, 0, 0), StepKind::ok);
  EXPECT_EQ(alloc(4, 0, 0), StepKind::halted);
}

TEST_F(HvcSmmu, AllocForAVerifiedVmHalts) {
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);  // no images
  EXPECT_EQ(alloc(0, 1, 0), StepKind::halted);
}

// The page goes to the context's VM (count INVALID, gfn = iova's), then the context maps it.
TEST_F(HvcSmmu, MapGivesThePageToTheOwnerAndMapsIt) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(fault(0x3000), StepKind::ok);  // the host maps frame 0x300 first
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0, 0x40), StepKind::ok);
  EXPECT_EQ(kn_sections(), 2u);
  EXPECT_EQ(to_model(page(0x300)), (model::S2Page{1, Z(KC_INVALID), 5}));
  EXPECT_EQ(to_model(walk_of(0, 0x300)), (model::PtEntry{0, 3, Z(KC_PAGE_GUEST)}));
  EXPECT_EQ(to_model(spt_walk(2, 0, 5)), (model::SptEntry{0x300, 0x300740}));
  EXPECT_EQ(iova_to_phys(0x5ABC, 2, 0), 0x300ABCu);
  EXPECT_EQ(iova_to_phys(0x6ABC, 2, 0), 0xABCu);             // unmapped
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);      // again: same owner, same gfn
  EXPECT_EQ(map(0x6000, 0x300000, 2, 0), StepKind::halted);  // another gfn
}

TEST_F(HvcSmmu, MapThroughAFreeContextDoesNothing) {
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);
  EXPECT_EQ(kn_sections(), 2u);
  EXPECT_TRUE(spt_entries(kc, 2, 0).empty());
}

TEST_F(HvcSmmu, TheHostsContextCannotMapItsPages) {
  // A host page's gfn is pfn + 10^9, beyond every iova is_paddr allows.
  EXPECT_EQ(alloc(1, 0, 1), StepKind::ok);
  EXPECT_EQ(map(0x300000, 0x300000, 1, 1), StepKind::halted);
}

TEST_F(HvcSmmu, MapRefusesFramesTheVmCannotHave) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x100000, 2, 0), StepKind::halted);  // an SMMU window, not RAM
  reset();
  hvc({KC_HVC_REGISTER_KVM});
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  set_page(0x300, model::S2Page{0, 3, 0x300 + KC_SMMU_HOST_OFFSET});  // DMA-mapped by the host
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::halted);
  reset();
  hvc({KC_HVC_REGISTER_KVM});
  hvc({KC_HVC_REGISTER_KVM});
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  set_page(0x300, model::S2Page{2, 0, 5});  // VM 2's
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::halted);
}

TEST_F(HvcSmmu, MapRefusesBadArguments) {
  for (auto x : std::vector<std::array<uint64_t, 6>>{{20, 1ull << 40, 0, 0, 0, 0},
                                                     {20, 0, 1ull << 40, 0, 0, 0},
                                                     {20, 0, 0, 0x1000, 0, 0},
                                                     {20, 0, 0, (1ull << 63) - 1, 0, 0},
                                                     {20, 0, 0, 0, 8, 0},
                                                     {20, 0, 0, 0, 0, 2}}) {
    reset();
    EXPECT_EQ(hvc(x), StepKind::halted) << x[1] << "/" << x[2] << "/" << x[3];
  }
}

TEST_F(HvcSmmu, AVerifiedVmsDevicesAreFixed) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);
  EXPECT_EQ(clear(0x5000, 2, 0), StepKind::halted);
  reset();
  hvc({KC_HVC_REGISTER_KVM});
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::halted);
}

TEST_F(HvcSmmu, ClearRemovesTheMapping) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);
  EXPECT_EQ(clear(0x5FFF, 2, 0), StepKind::ok);
  EXPECT_TRUE(spt_entries(kc, 2, 0).empty());
  EXPECT_EQ(page(0x300).owner, 1u);                  // the VM keeps the page
  EXPECT_EQ(clear(0x5000, 2, 0), StepKind::ok);      // nothing mapped there
  EXPECT_EQ(clear(0x5000, 7, 1), StepKind::ok);      // a free context
  EXPECT_EQ(clear(0x5000, 2, 2), StepKind::halted);  // no SMMU 2
}

TEST_F(HvcSmmu, ClearOfAPoweredOffVmsBankHalts) {
  EXPECT_EQ(free_pgd(2, 0), StepKind::ok);  // free already
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);
  set_vm_state(1, KC_VM_POWEROFF);
  EXPECT_EQ(clear(0x5000, 2, 0), StepKind::halted);  // powered off counts as >= VERIFIED
}

TEST_F(HvcSmmu, FreeOfAPoweredOffVmsBankAndReuse) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(map(0x5000, 0x300000, 2, 0), StepKind::ok);
  set_vm_state(1, KC_VM_POWEROFF);
  EXPECT_EQ(free_pgd(2, 0), StepKind::ok);
  EXPECT_EQ(kc_smmu_owner(&kc, 0, 2), KC_INVALID);
  EXPECT_EQ(alloc(2, 0, 0), StepKind::ok);  // the host's now, with an empty table
  EXPECT_TRUE(spt_entries(kc, 2, 0).empty());
  EXPECT_EQ(iova_to_phys(0x5000, 2, 0), 0u);
}

TEST_F(HvcSmmu, FreeOfALiveOwnersBankHalts) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  EXPECT_EQ(free_pgd(2, 0), StepKind::halted);
  reset();
  EXPECT_EQ(alloc(2, 0, 0), StepKind::ok);
  EXPECT_EQ(free_pgd(2, 0), StepKind::halted);  // the host's never is freed
}

// 256 level-3 tables in the shared SMMU pool: the 257th 2 MiB region mapped halts.
TEST_F(HvcSmmu, ThePoolExhaustsAtTheSpecsCount) {
  EXPECT_EQ(alloc(2, 1, 0), StepKind::ok);
  for (uint64_t i = 0; i < 256; ++i)
    ASSERT_EQ(map(i * KC_PMD_SIZE, 0x400000 + i * 0x1000, 2, 0), StepKind::ok) << i;
  EXPECT_EQ(kc_globals_of(&kc)->spt_pmd_next, KC_SMMU_POOL_END);
  EXPECT_EQ(map(256 * KC_PMD_SIZE, 0x500000, 2, 0), StepKind::halted);
}

TEST_F(HvcSmmu, IovaToPhysRefusesBadArguments) {
  EXPECT_EQ(hvc({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, 1ull << 40, 0, 0}), StepKind::halted);
}

}  // namespace
}  // namespace hypdiff::kcore_test
