// The ownership array (defaults, layout, transitions) and the frame-transfer primitives, run
// side by side with the model's local_* primitives on the same sequence of calls.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "model/init.hpp"
#include "model/primitives.hpp"
#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

class Ownership : public Booted {};

TEST_F(Ownership, DefaultsAreTheSpecsInsideAndOutsideRam) {
  const model::S2PageDefault dflt{0x200, 0x1E00};
  for (uint64_t pfn : {0ull, 1ull, 0x1FFull, 0x200ull, 0x345ull, 0x1FFFull, 0x2000ull,
                       (1ull << 28) - 1, 1ull << 40}) {
    EXPECT_EQ(to_model(page(pfn)), dflt(pfn)) << pfn;
  }
  EXPECT_EQ(page(0).owner, KC_INVALID);  // page_0_invalid
  EXPECT_EQ(page(0x200).gfn, 0x200 + KC_SMMU_HOST_OFFSET);
}

TEST_F(Ownership, EntriesLiveInPhysicalMemory) {
  const uint64_t e = kc.lay.s2page + 16 * (0x345 - 0x200);
  EXPECT_EQ(kn_mem_peek64(e), 0u);  // owner 0 (host), count 0
  EXPECT_EQ(kn_mem_peek64(e + 8), 0x345 + KC_SMMU_HOST_OFFSET);
  const kc_s2page vm{3, 7, 0x50};
  kc_s2page_set(&kc, 0x345, &vm);
  EXPECT_EQ(kn_mem_peek64(e), 3u | (7ull << 32));  // little-endian {owner, count}
  EXPECT_EQ(kn_mem_peek64(e + 8), 0x50u);
}

TEST_F(Ownership, WritingOutsideRamPanics) {
  const kc_s2page p{1, 0, 5};
  EXPECT_EQ(run([&] { kc_s2page_set(&kc, 0x2000, &p); }), KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "ownership change of a frame outside RAM");
  EXPECT_EQ(run([&] { kc_s2page_set(&kc, 0, &p); }), KN_PANICKED);
}

TEST_F(Ownership, ShareCountsAreBounded) {
  const kc_s2page vm{1, 0, 0x50};
  kc_s2page_set(&kc, 0x300, &vm);
  for (int i = 0; i < 105; ++i) kc_s2page_share(&kc, 0x300, 1);
  EXPECT_EQ(page(0x300).count, 100u);  // max_share_count
  EXPECT_FALSE(kc_s2page_share(&kc, 0x300, 2));
  EXPECT_EQ(kc_s2page_unshare(&kc, 0x300, 2), 0u);
  EXPECT_EQ(kc_s2page_unshare(&kc, 0x300, 1), 100u);
  EXPECT_EQ(page(0x300).count, 99u);
  // A host page counts its SMMU mappings, up to EL2_SMMU_CFG_SIZE (16 contexts).
  for (int i = 0; i < 20; ++i) kc_s2page_smmu_map(&kc, 0x301);
  EXPECT_EQ(page(0x301).count, 16u);
  for (int i = 0; i < 20; ++i) kc_s2page_smmu_unmap(&kc, 0x301);
  EXPECT_EQ(page(0x301).count, 0u);
  kc_s2page_smmu_map(&kc, 0x300);  // not a host page: unchanged
  EXPECT_EQ(page(0x300).count, 99u);
}

// The same calls on KCore and on the model's Shared; after each, the same halt, the same
// ownership of the frames involved, the same host table and the same oracle cursor.
class Transfers : public Booted {
 protected:
  void SetUp() override {
    Booted::SetUp();
    oracle_ = std::make_shared<const model::OracleInputs>();
    s_ = model::initial_state(model::MachineConfig{}, model::Profile::intended(), oracle_).shared;
  }
  model::Dorc dorc(uint32_t v) const { return model::Dorc{oracle_.get(), v}; }

  // Compares everything the primitives touch.
  void same(const char* step) {
    for (uint64_t pfn : {0x300ull, 0x301ull, 0x302ull, 0x1ull})
      EXPECT_EQ(to_model(page(pfn)), s_.s2page.get(pfn)) << step << " pfn " << pfn;
    EXPECT_EQ(npt_entries(kc, 0), npt_entries(s_.npts.get(0))) << step;
    const kc_pool_ctr c = *kc_pool_of(&kc, 0);
    EXPECT_EQ(Z(c.pmd_next), s_.npts.get(0).pt_pmd_next) << step;
    for (uint32_t v : {1u, 2u}) EXPECT_EQ(Z(kc_data_log(&kc, v)), logn_[v]) << step;
  }
  bool map_host(uint64_t addr) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_map_host(&kc, addr); }), KN_RETURNED);
    const model::PrimResult r = model::local_map_host(s_, addr);
    s_ = r.s;
    EXPECT_EQ(st != KC_OK, r.halt) << "map_host " << addr;
    return r.halt;
  }
  bool assign(uint32_t v, uint64_t gfn, uint64_t pfn) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_assign_pfn_to_vm(&kc, v, gfn, pfn); }), KN_RETURNED);
    const model::PrimResult r = model::local_assign_pfn_to_vm(s_, v, gfn, pfn, dorc(v), logn_[v]);
    s_ = r.s;
    logn_[v] = r.logn;
    EXPECT_EQ(st != KC_OK, r.halt) << "assign " << pfn;
    return r.halt;
  }
  void grant(uint32_t v, uint64_t pfn) {
    kc_grant_vm_page(&kc, v, pfn);
    s_ = model::local_grant_vm_page(s_, v, pfn).s;
  }
  bool revoke(uint32_t v, uint64_t pfn) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_revoke_vm_page(&kc, v, pfn); }), KN_RETURNED);
    const model::PrimResult r = model::local_revoke_vm_page(s_, v, pfn, dorc(v), logn_[v]);
    s_ = r.s;
    logn_[v] = r.logn;
    EXPECT_EQ(st != KC_OK, r.halt) << "revoke " << pfn;
    return r.halt;
  }
  bool clear(uint32_t v, uint64_t pfn) {
    kc_status st = KC_OK;
    EXPECT_EQ(run([&] { st = kc_clear_vm_page(&kc, v, pfn); }), KN_RETURNED);
    const model::PrimResult r = model::local_clear_vm_page(s_, v, pfn);
    s_ = r.s;
    EXPECT_EQ(st != KC_OK, r.halt) << "clear " << pfn;
    return r.halt;
  }

  model::OraclePtr oracle_;
  model::Shared s_;
  Z logn_[3] = {0, 0, 0};
};

TEST_F(Transfers, APageGoesToAVmIsSharedRevokedAndReclaimed) {
  EXPECT_FALSE(map_host(0x300000));  // host RAM: normal memory
  EXPECT_FALSE(map_host(0x1000));    // no owner: a device mapping
  same("host maps");
  EXPECT_EQ(walk(0, 0x1).pte, 0x1000 | KC_PAGE_S2_DEVICE | KC_S2_RDWR);

  EXPECT_FALSE(assign(1, 0x50, 0x300));  // the host loses the page
  same("assign");
  EXPECT_EQ(to_model(walk(0, 0x300)), (model::PtEntry{0, 3, Z(KC_PAGE_GUEST)}));
  EXPECT_EQ(kc_data_log(&kc, 1), 1u);
  EXPECT_FALSE(assign(1, 0x50, 0x300));  // already VM 1's at that gfn: normalized, no value
  EXPECT_TRUE(assign(2, 0x60, 0x300));   // another VM's page
  EXPECT_TRUE(assign(1, 0x51, 0x300));   // VM 1's page at another gfn
  same("assign refusals");

  EXPECT_TRUE(map_host(0x300000));  // private to VM 1
  grant(1, 0x300);
  EXPECT_FALSE(map_host(0x300000));  // shared with the host: mapped back
  same("grant");
  grant(1, 0x300);
  EXPECT_FALSE(revoke(1, 0x300));  // 2 -> 1: the host keeps the page
  same("first revoke");
  EXPECT_FALSE(revoke(1, 0x300));  // 1 -> 0: the host loses it, a new value
  same("last revoke");
  EXPECT_EQ(kc_data_log(&kc, 1), 2u);
  EXPECT_FALSE(revoke(1, 0x300));  // not shared: nothing
  same("idle revoke");

  kn_mem_poke64(0x300000 + 8, 0xDEADBEEF);  // the VM's data
  EXPECT_FALSE(clear(2, 0x300));            // not VM 2's: left alone
  EXPECT_EQ(kn_mem_peek64(0x300000 + 8), 0xDEADBEEFu);
  EXPECT_FALSE(clear(1, 0x300));
  same("clear");
  EXPECT_EQ(kn_mem_peek64(0x300000 + 8), 0u);  // scrubbed (the spec's flatmem := 0)
  EXPECT_EQ(page(0x300).owner, KC_HOSTVISOR);
}

TEST_F(Transfers, PagesMappedByHostSmmuContextsCannotBeAssigned) {
  kc_s2page_smmu_map(&kc, 0x301);
  s_.s2page.set(0x301, model::S2Page{0, 1, 0x301 + Z(KC_SMMU_HOST_OFFSET)});
  EXPECT_TRUE(assign(1, 0x70, 0x301));
  same("smmu-shared page");
  EXPECT_EQ(kc_data_log(&kc, 1), 0u);
}

// SMMU-assigned VM pages have count INVALID (§7.2.5); assign normalizes them (intended).
TEST_F(Transfers, AssignNormalizesAnSmmuAssignedPage) {
  const kc_s2page smmu_page{1, KC_INVALID, 0x80};
  kc_s2page_set(&kc, 0x302, &smmu_page);
  s_.s2page.set(0x302, model::S2Page{1, Z(KC_INVALID), 0x80});
  EXPECT_FALSE(map_host(0x302000));  // count > 0: the host may map it (the spec's quirk)
  EXPECT_FALSE(assign(1, 0x80, 0x302));
  same("normalize");
  EXPECT_EQ(page(0x302).count, 0u);
  EXPECT_TRUE(map_host(0x302000));  // now private
}

}  // namespace
}  // namespace hypdiff::kcore_test
