#include "model/init.hpp"

#include <gtest/gtest.h>

namespace hypdiff::model {
namespace {

// Spec §1.5: a booted machine, the host running on CPU curid, host RAM owned by the host.
TEST(InitialState, MatchesSection1_5) {
  const MachineConfig cfg;
  const RData d = initial_state(cfg, Profile::intended(), nullptr);
  EXPECT_FALSE(d.halt);
  EXPECT_FALSE(d.icore);
  EXPECT_TRUE(d.ihost);
  EXPECT_EQ(d.cur_vmid, k::HOSTVISOR);
  EXPECT_EQ(d.cur_vcpuid, cfg.curid);
  EXPECT_EQ(d.shared.s2page.get(0).owner, k::INVALID);
  EXPECT_EQ(d.shared.s2page.get(cfg.ram_base_pfn),
            (S2Page{k::HOSTVISOR, 0, cfg.ram_base_pfn + k::SMMU_HOST_OFFSET}));
  EXPECT_EQ(d.shared.s2page.get(cfg.ram_base_pfn + cfg.ram_pages).owner, k::INVALID);
  EXPECT_EQ(d.shared.core_data, (CoreData{1, k::REMAP_START}));
  for (Z v = 0; v <= cfg.corevisor(); ++v) {
    const NPT npt = d.shared.npts.get(v);
    EXPECT_EQ(npt.pt_pgd_next, MachineConfig::pgd_start(v));
    EXPECT_EQ(npt.pt_pud_next, MachineConfig::pud_start(v));
    EXPECT_EQ(npt.pt_pmd_next, MachineConfig::pmd_start(v));
    EXPECT_EQ(npt.pt.explicit_size(), 0u);
    EXPECT_EQ(d.shared.vminfos.get(v).VS.vm_state, k::UNUSED);
  }
  EXPECT_EQ(d.shared.spts.spt_pgd_next, k::SMMU_PGD_START);
  EXPECT_EQ(d.shared.spts.spt_pmd_next, k::SMMU_PMD_START);
  EXPECT_EQ(d.shared.smmu_vmid.get(cfg.smmu_id(1, 7)), k::INVALID);
  for (Z id = 0; id < cfg.lock_count(); ++id) EXPECT_TRUE(d.shared.hlock.get(id));
  for (Z c = 0; c < cfg.vcpus_per_vm; ++c) EXPECT_EQ(d.ctx(cfg.ctxt_id(0, c)).ctxt_states.dirty, 0);
  EXPECT_EQ(d.ctx(cfg.ctxt_id(1, 0)).ctxt_states.dirty, k::INVALID64);
  EXPECT_EQ(d.ctx(cfg.ctxt_id(15, 7)).ctxt_states.dirty, k::INVALID64);
  EXPECT_EQ(d.smmu_conf.smmu_num, 2);
  EXPECT_EQ(d.smmu_conf.smmu_phys_base.get(1), cfg.smmus[1].phys_base);
  EXPECT_EQ(d.smmu_conf.smmu_dev_context_banks.get(0), 8);
  EXPECT_EQ(d.data_log.get(3), 0);
  EXPECT_EQ(d.slog.length(), 0u);
}

TEST(InitialState, CurrentCpuIsConfigurable) {
  MachineConfig cfg;
  cfg.curid = 3;
  const RData d = initial_state(cfg, Profile::literal(), nullptr);
  EXPECT_EQ(d.curid, 3);
  EXPECT_EQ(d.cur_vcpuid, 3);
  EXPECT_EQ(d.prof(), Profile::literal());
}

}  // namespace
}  // namespace hypdiff::model
