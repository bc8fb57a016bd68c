// KCore's configuration must accept exactly the machines the model accepts (plus its own layout
// rules) and derive the same ids.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

kc_config defaults() {
  kc_config c;
  kc_config_default(&c);
  return c;
}

TEST(KcConfig, DefaultsAreTheModelsDefaults) {
  const kc_config c = defaults();
  EXPECT_EQ(to_model(c), model::MachineConfig{});
  EXPECT_EQ(c.el2_base, 1ull << 40);
  EXPECT_EQ(kc_config_check(&c), nullptr);
}

TEST(KcConfig, DerivedIdsMatchTheModel) {
  for (uint32_t vms : {1u, 15u, 40u}) {
    kc_config c = defaults();
    c.max_vms = vms;
    c.vcpus_per_vm = 16;
    c.smmu_ctxt_banks = 4;
    const model::MachineConfig m = to_model(c);
    EXPECT_EQ(Z(kc_corevisor(&c)), m.corevisor());
    EXPECT_EQ(Z(kc_lock_count(&c)), m.lock_count());
    EXPECT_EQ(Z(kc_smmu_ids(&c)), m.smmu_ids());
    for (uint32_t v = 0; v <= kc_corevisor(&c); ++v) {
      EXPECT_EQ(Z(kc_npt_lock(v)), m.npt_lock(v));
      EXPECT_EQ(Z(kc_info_lock(&c, v)), m.info_lock(v));
      EXPECT_EQ(Z(kc_ctxt_id(&c, v, 3)), m.ctxt_id(v, 3));
      EXPECT_EQ(kc_is_vm(&c, v), m.is_vm(v));
      EXPECT_EQ(Z(kc_pool_start(v)), model::MachineConfig::pool_start(v));
      EXPECT_EQ(Z(kc_pgd_start(v)), model::MachineConfig::pgd_start(v));
      EXPECT_EQ(Z(kc_pud_start(v)), model::MachineConfig::pud_start(v));
      EXPECT_EQ(Z(kc_pmd_start(v)), model::MachineConfig::pmd_start(v));
      EXPECT_EQ(Z(kc_pool_end(v)), model::MachineConfig::pool_end(v));
    }
    EXPECT_FALSE(kc_is_vm(&c, kc_corevisor(&c)));
    for (uint32_t i = 0; i < 2; ++i) {
      for (uint32_t cb = 0; cb < 4; ++cb) {
        EXPECT_EQ(Z(kc_smmu_id(&c, i, cb)), m.smmu_id(i, cb));
        EXPECT_EQ(Z(kc_smmu_ttbr(&c, i, cb)), m.smmu_ttbr(i, cb));
      }
    }
  }
  // The spec's default lock ids (§1.4): host NPT 5, COREVISOR's 21, INFO 22..38, ID_END 39.
  const kc_config c = defaults();
  EXPECT_EQ(kc_npt_lock(KC_HOSTVISOR), 5u);
  EXPECT_EQ(kc_npt_lock(kc_corevisor(&c)), 21u);
  EXPECT_EQ(kc_info_lock(&c, 0), 22u);
  EXPECT_EQ(kc_lock_count(&c), 39u);
}

// Each mutation must be refused by both KCore and the model, with KCore's reason given.
TEST(KcConfig, RefusesWhatTheModelRefuses) {
  const std::vector<std::pair<std::string, std::function<void(kc_config&)>>> bad = {
      {"max_vms 0", [](kc_config& c) { c.max_vms = 0; }},
      {"max_vms 255", [](kc_config& c) { c.max_vms = 255; }},
      {"vcpus 0", [](kc_config& c) { c.vcpus_per_vm = 0; }},
      {"vcpus 257", [](kc_config& c) { c.vcpus_per_vm = 257; }},
      {"cpus 0", [](kc_config& c) { c.total_cpus = 0; }},
      {"cpus > vcpus", [](kc_config& c) { c.total_cpus = 9; }},
      {"ram at pfn 0", [](kc_config& c) { c.ram_base_pfn = 0; }},
      {"no ram", [](kc_config& c) { c.ram_pages = 0; }},
      {"ram past 2^28", [](kc_config& c) { c.ram_pages = (1ull << 28); }},
      {"17 smmus", [](kc_config& c) { c.smmu_num = 17; }},
      {"0 banks", [](kc_config& c) { c.smmu_ctxt_banks = 0; }},
      {"129 banks", [](kc_config& c) { c.smmu_ctxt_banks = 129; }},
      {"ttbr slots overrun",
       [](kc_config& c) {
         c.smmu_num = 16;
         c.smmu_ctxt_banks = 128;
       }},
      {"empty window", [](kc_config& c) { c.smmus[0].size = 0; }},
      {"window past 2^30", [](kc_config& c) { c.smmus[0].phys_base = (1ull << 30) - 4096; }},
      {"too many banks", [](kc_config& c) { c.smmus[1].context_banks = 9; }},
      {"window over ram", [](kc_config& c) { c.smmus[0].phys_base = 0x1FF800; }},
      {"windows overlap", [](kc_config& c) { c.smmus[1].phys_base = 0x10F000; }},
      {"share count 0", [](kc_config& c) { c.max_share_count = 0; }},
      {"load info 0", [](kc_config& c) { c.max_load_info = 0; }},
      {"load info 65", [](kc_config& c) { c.max_load_info = 65; }},
  };
  for (const auto& [name, mutate] : bad) {
    kc_config c = defaults();
    mutate(c);
    EXPECT_NE(kc_config_check(&c), nullptr) << name;
    EXPECT_TRUE(to_model(c).validate().has_value()) << name;
  }
}

TEST(KcConfig, RefusesLayoutsKCoreCannotUse) {
  const std::vector<std::pair<std::string, std::function<void(kc_config&)>>> bad = {
      {"unaligned", [](kc_config& c) { c.el2_base += 4096; }},
      {"host-reachable", [](kc_config& c) { c.el2_base = 0x800000; }},
      {"over ram",
       [](kc_config& c) {
         c.el2_base = 0x1000000;
         c.ram_pages = 0x7000;
       }},
      {"over smmu",
       [](kc_config& c) {
         c.el2_base = 0x2000000;
         c.smmus[0].phys_base = 0x10000000;
       }},
      {"past 2^48", [](kc_config& c) { c.el2_base = (1ull << 48) - 0x200000; }},
      {"count width", [](kc_config& c) { c.max_share_count = 1ull << 32; }},
  };
  for (const auto& [name, mutate] : bad) {
    kc_config c = defaults();
    mutate(c);
    EXPECT_NE(kc_config_check(&c), nullptr) << name;
  }
  kc_config ok = defaults();
  ok.el2_base = 0x40000000;  // 1 GiB, as on QEMU's virt board
  EXPECT_EQ(kc_config_check(&ok), nullptr);
}

TEST(KcConfig, LayoutOfTheDefaultMachine) {
  const kc_config c = defaults();
  kc_layout lay;
  kc_layout_compute(&c, &lay);
  const uint64_t base = 1ull << 40;
  EXPECT_EQ(lay.globals, base);
  EXPECT_EQ(lay.pool_ctr, base + 0x1000);
  EXPECT_EQ(lay.cursors, base + 0x3000);
  EXPECT_EQ(lay.npt_base, base);
  // pool_end(16) = 0x22010000, rounded up to 2 MiB.
  EXPECT_EQ(lay.smmu_base, base + 0x22200000);
  EXPECT_EQ(lay.s2page, base + 0x22200000 + 0x310000);
  EXPECT_EQ(lay.cpus, base + 0x4000);
  EXPECT_EQ(lay.smmu_vmid, base + 0x5000);
  EXPECT_EQ(lay.vminfo, lay.s2page + 0x1E00 * 16);
  EXPECT_EQ(lay.ctxts, lay.vminfo + 17 * 2 * 0x1000);  // VS and VB of 17 principals
  EXPECT_EQ(lay.end, lay.ctxts + 16 * 8 * 2048);       // host and 15 VMs, 8 vCPUs each
  EXPECT_LT(lay.end - base, 600ull << 20);
}

}  // namespace
}  // namespace hypdiff::kcore_test
