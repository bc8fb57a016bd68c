#include "model/config.hpp"

#include <gtest/gtest.h>

#include "model/init.hpp"

namespace hypdiff::model {
namespace {

TEST(MachineConfig, DefaultsAreTheSpecConstants) {
  const MachineConfig c;
  EXPECT_FALSE(c.validate());
  EXPECT_EQ(c.corevisor(), 16);
  EXPECT_EQ(c.npt_lock(0), 5);
  EXPECT_EQ(c.npt_lock(16), 21);
  EXPECT_EQ(c.info_lock(0), 22);
  EXPECT_EQ(c.info_lock(16), 38);
  EXPECT_EQ(c.lock_count(), 39);
  EXPECT_EQ(c.ctxt_id(3, 5), 29);
  EXPECT_EQ(c.smmu_id(1, 2), 10);
  EXPECT_EQ(c.smmu_ttbr(1, 2), 65536 + 10 * 8192);
  EXPECT_EQ(c.smmu_ids(), 16);
  EXPECT_TRUE(c.is_vm(15));
  EXPECT_FALSE(c.is_vm(16));
  EXPECT_EQ(MachineConfig::pool_start(1), 65536 + 33554432);
  EXPECT_EQ(MachineConfig::pud_start(0), 65536 + 1052672);
  EXPECT_EQ(MachineConfig::pt_vttbr(2), (65536 + 2 * Z{33554432}) | (Z{2} << 48));
}

void expect_refused(MachineConfig c, const char* fragment) {
  const auto why = c.validate();
  ASSERT_TRUE(why) << "expected refusal mentioning " << fragment;
  EXPECT_NE(why->find(fragment), std::string::npos) << *why;
  EXPECT_THROW(initial_state(c, Profile::intended(), nullptr), std::invalid_argument);
}

TEST(MachineConfig, RefusesWhatTheModelCannotHonour) {
  MachineConfig c;
  c.max_vms = 0;
  expect_refused(c, "max_vms");
  c = {};
  c.total_cpus = 9;
  expect_refused(c, "alias");
  c = {};
  c.curid = 8;
  expect_refused(c, "curid");
  c = {};
  c.ram_base_pfn = 0;
  expect_refused(c, "pfn 0");
  c = {};
  c.ram_pages = k::KVM_PFN_SPACE;
  expect_refused(c, "2^28");
  c = {};
  c.smmus[0].phys_base = 0x300000;  // inside RAM
  expect_refused(c, "overlaps host RAM");
  c = {};
  c.smmus[1].phys_base = c.smmus[0].phys_base;
  expect_refused(c, "overlaps smmu 0");
  c = {};
  c.smmus[0].context_banks = 9;
  expect_refused(c, "context_banks");
  c = {};
  c.max_share_count = 0;
  expect_refused(c, "max_share_count");
  c = {};
  c.max_load_info = 0;
  expect_refused(c, "max_load_info");
}

TEST(MachineConfig, SmallerMachinesAreFine) {
  MachineConfig c;
  c.max_vms = 3;
  c.vcpus_per_vm = 2;
  c.total_cpus = 2;
  c.smmus.resize(1);
  EXPECT_FALSE(c.validate());
  EXPECT_EQ(c.corevisor(), 4);
  EXPECT_EQ(c.info_lock(0), 5 + 4 + 1);
}

}  // namespace
}  // namespace hypdiff::model
