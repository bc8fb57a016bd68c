// mem_load / mem_store / dev_load / dev_store (spec §3.5.5): accesses by the host and by a VM to
// owned, shared, unmapped and invalid frames, through the stage-2 table or an SMMU context.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/handlers.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::model {
namespace {

#define EXPECT_Z(a, b) EXPECT_EQ(to_hex(a), to_hex(b))

const MachineConfig kCfg{};
const Z kVm = 1;
const Z kCtx = kCfg.ctxt_id(1, 0);
const Z kTtbr = kCfg.smmu_ttbr(0, 1);  // SMMU 0, context bank 1

std::string ev(EventKind kind, Z a = 0, Z cpu = 0) {
  return to_string(SingleEvent{cpu, AtomicEvent{kind, {a, 0, 0, 0}}});
}
std::vector<std::string> events(const RData& d) {
  std::vector<std::string> out;
  for (const SingleEvent& e : d.slog.newest(100)) out.push_back(to_string(e));
  return out;
}

void set_pt(RData& d, Z v, Z gfn, Z pfn) {
  NPT npt = d.shared.npts[v];
  npt.pt.set(gfn, PtEntry{pfn, 3, pfn * k::PAGE_SIZE | k::PAGE_S2_KERNEL});
  d.shared.npts.set(v, npt);
}
void set_reg(RData& d, Z id, std::size_t i, Z v) {
  Ctxt c = d.ctx(id);
  c.ctxt_regs.x[i] = v;
  d.set_ctx(id, c);
}

// The host runs; frame 0x300 holds 42 and is mapped at gfn 0x300 (identity), and at IOVA page
// 0x50 of the host-owned SMMU context (0, 1). Host x3 = 0x33.
RData host_state(OracleInputs o = {}) {
  RData d = testing::fresh(Profile::intended(), std::make_shared<const OracleInputs>(std::move(o)));
  set_pt(d, 0, 0x300, 0x300);
  d.shared.flatmem.set(0x300, 42);
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 1), 0);
  d.shared.spts.spt_pt.set(kTtbr, ZMap<SptEntry>().with(0x50, SptEntry{0x300, 0x300000}));
  set_reg(d, 0, 3, 0x33);
  return d;
}

// VM 1 (VERIFIED) runs vCPU 0; frame 0x300 is its private page at gfn 5 and at IOVA page 0x50 of
// its SMMU context (0, 1). VM x3 = 0x33.
RData vm_state(OracleInputs o = {}) {
  RData d = host_state(std::move(o));
  VMInfo i = d.shared.vminfos[kVm];
  i.VS.vm_state = k::VERIFIED;
  d.shared.vminfos.set(kVm, i);
  d.shared.s2page.set(0x300, S2Page{kVm, 0, 5});
  set_pt(d, kVm, 5, 0x300);
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 1), kVm);
  d.cur_vmid = kVm;
  d.cur_vcpuid = 0;
  d.ihost = false;
  set_reg(d, kCtx, 3, 0x33);
  return d;
}

OracleInputs oracle_values() {
  OracleInputs o;
  o.data[0] = {0x70, 0x71};
  o.data[kVm] = {0x80, 0x81};
  return o;
}

// ---- mode -------------------------------------------------------------------------------------

TEST(MemAccess, InKCoreEveryAccessIsNone) {
  RData d = host_state();
  d.icore = true;
  EXPECT_FALSE(mem_load(d, 0x300, 3).has_value());
  EXPECT_FALSE(mem_store(d, 0x300, 3).has_value());
  EXPECT_FALSE(dev_load(d, 0x50, 3, 1, 0).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, 1, 0).has_value());
}

TEST(MemAccess, HaltAndIhostAreNotTested) {
  RData d = host_state();
  d.halt = true;
  d.ihost = false;
  const Outcome r = mem_load(d, 0x300, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 42);
}

// ---- host loads and stores --------------------------------------------------------------------

TEST(MemAccess, HostLoadOfOwnedPageWritesTheShadowRegister) {
  const RData d = host_state();
  const Outcome r = mem_load(d, 0x300, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 42);
  EXPECT_Z(r->regs.ctxt_regs.x[4], 0);  // the physical registers are untouched
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, 0)});
  EXPECT_FALSE(r->halt);
  EXPECT_FALSE(r->icore);
}

TEST(MemAccess, HostLoadOfUnmappedPageFaults) {
  EXPECT_FALSE(mem_load(host_state(), 0x301, 4).has_value());
}

TEST(MemAccess, HostLoadSeesAnotherCpusMappingReplayedByTheQuery) {
  OracleInputs o;
  o.soracle[0] = {SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {0x301000, 0, 0, 0}}}};
  RData d = host_state(o);
  d.shared.flatmem.set(0x301, 43);
  const Outcome r = mem_load(d, 0x301, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 43);
  EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OPT_GET, 0),
                                                  ev(EventKind::OMAP_HOST, 0x301000, 1)}));
}

TEST(MemAccess, HostLoadOfForeignPageReadsTheOracleWithoutAdvancing) {
  RData d = host_state(oracle_values());
  d.shared.s2page.set(0x300, S2Page{kVm, 1, 5});  // a VM page shared with the host
  d.data_log.set(0, 1);
  const Outcome r = mem_load(d, 0x300, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 0x71);
  EXPECT_Z(r->data_log[0], 1);
  const Outcome r2 = mem_load(*r, 0x300, 5);
  ASSERT_TRUE(r2.has_value());
  EXPECT_Z(r2->ctx(0).ctxt_regs.x[5], 0x71);  // the same value again
}

TEST(MemAccess, LoadTargetRegisterMustBeBelowX30) {
  const RData d = host_state();
  const Outcome r = mem_load(d, 0x300, 29);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[29], 42);
  for (std::uint32_t reg : {30u, 31u, 32u, 0xFFFFFFFFu}) {
    EXPECT_FALSE(mem_load(d, 0x300, reg).has_value());
  }
}

TEST(MemAccess, HostStoreToOwnedPage) {
  const Outcome r = mem_store(host_state(), 0x300, 3);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->shared.flatmem[0x300], 0x33);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, 0)});
}

TEST(MemAccess, StoreSourceRegisterIsAnyShadowIndex) {
  RData d = host_state();
  set_reg(d, 0, 30, 0x3030);
  Ctxt c = d.ctx(0);
  c.ctxt_states.pc = 0x4444;
  d.set_ctx(0, c);
  struct Case {
    std::uint32_t reg;
    Z stored;
  };
  for (const Case& cs :
       {Case{30, 0x3030}, Case{k::REG_SP, 0}, Case{k::REG_PC, 0x4444}, Case{1000, 0}}) {
    const Outcome r = mem_store(d, 0x300, cs.reg);
    ASSERT_TRUE(r.has_value());
    EXPECT_Z(r->shared.flatmem[0x300], cs.stored);
  }
}

TEST(MemAccess, HostStoreToForeignPageIsDropped) {
  RData d = host_state();
  d.shared.s2page.set(0x300, S2Page{kVm, 1, 5});
  const Outcome r = mem_store(d, 0x300, 3);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->shared.flatmem[0x300], 42);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, 0)});
}

TEST(MemAccess, HostStoreToUnmappedPageFaults) {
  EXPECT_FALSE(mem_store(host_state(), 0x301, 3).has_value());
}

// ---- VM loads and stores ----------------------------------------------------------------------

TEST(MemAccess, VmLoadOfPrivatePage) {
  const Outcome r = mem_load(vm_state(), 5, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[4], 42);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, kVm)});
}

TEST(MemAccess, VmLoadOfSharedPageReadsItsOracle) {
  for (Z count : {Z{1}, k::INVALID}) {  // granted, or assigned through the SMMU (§7.2.5)
    RData d = vm_state(oracle_values());
    d.shared.s2page.set(0x300, S2Page{kVm, count, 5});
    const Outcome r = mem_load(d, 5, 4);
    ASSERT_TRUE(r.has_value());
    EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[4], 0x80);
    EXPECT_Z(r->data_log[kVm], 0);
  }
}

TEST(MemAccess, VmLoadFaultsOnUnmappedOrDevicePages) {
  RData d = vm_state();
  set_pt(d, kVm, 6, 0x50);  // a frame with no owner (device)
  EXPECT_FALSE(mem_load(d, 6, 4).has_value());
  EXPECT_FALSE(mem_load(d, 7, 4).has_value());
  EXPECT_FALSE(mem_store(d, 6, 3).has_value());
  EXPECT_FALSE(mem_store(d, 7, 3).has_value());
}

TEST(MemAccess, VmAccessReliesOnVerifiedVm) {
  for (Z state : {k::READY, k::POWEROFF}) {
    RData d = vm_state();
    VMInfo i = d.shared.vminfos[kVm];
    i.VS.vm_state = state;
    d.shared.vminfos.set(kVm, i);
    EXPECT_FALSE(mem_load(d, 5, 4).has_value());
    EXPECT_FALSE(mem_store(d, 5, 3).has_value());
    EXPECT_FALSE(dev_load(d, 0x50, 4, 1, 0).has_value());
    EXPECT_FALSE(dev_store(d, 0x50, 3, 1, 0).has_value());
  }
}

TEST(MemAccess, VmLoadDoesNotCheckTheOwner) {
  // Isolation rests on the invariants (a VM's table only maps its own frames); the access itself
  // reads any frame with a count of 0.
  RData d = vm_state();
  d.shared.s2page.set(0x300, S2Page{2, 0, 5});
  const Outcome r = mem_load(d, 5, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[4], 42);
}

TEST(MemAccess, VmStoreToPrivatePageAndSharedPage) {
  const Outcome r = mem_store(vm_state(), 5, 3);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->shared.flatmem[0x300], 0x33);
  RData d = vm_state();
  d.shared.s2page.set(0x300, S2Page{kVm, 1, 5});
  const Outcome s = mem_store(d, 5, 3);
  ASSERT_TRUE(s.has_value());
  EXPECT_Z(s->shared.flatmem[0x300], 42);  // dropped
  EXPECT_EQ(events(*s), std::vector<std::string>{ev(EventKind::OPT_GET, kVm)});
}

// ---- DMA through an SMMU context --------------------------------------------------------------

TEST(MemAccess, DevAccessReliesOnValidSmmuContext) {
  const RData d = host_state();
  const auto banks = static_cast<std::uint32_t>(kCfg.smmu_ctxt_banks);
  const auto smmus = static_cast<std::uint32_t>(kCfg.smmu_num());
  EXPECT_FALSE(dev_load(d, 0x50, 4, 1, smmus).has_value());
  EXPECT_FALSE(dev_load(d, 0x50, 4, banks, 0).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, 1, smmus).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, banks, 0).has_value());
  // (cbndx 0, index 1) is another, free context: not the host's.
  EXPECT_FALSE(dev_load(d, 0x50, 4, 0, 1).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, 0, 1).has_value());
}

TEST(MemAccess, HostDmaThroughItsContext) {
  const Outcome r = dev_load(host_state(), 0x50, 4, 1, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 42);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, 0)});
  const Outcome s = dev_store(host_state(), 0x50, 3, 1, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_Z(s->shared.flatmem[0x300], 0x33);
}

TEST(MemAccess, DmaUsesTheSmmuTableNotTheStage2Table) {
  const RData d = host_state();
  EXPECT_FALSE(dev_load(d, 0x300, 4, 1, 0).has_value());  // mapped in the NPT only
  EXPECT_FALSE(dev_store(d, 0x300, 3, 1, 0).has_value());
  EXPECT_FALSE(dev_load(d, 0x51, 4, 1, 0).has_value());   // unmapped IOVA
  EXPECT_FALSE(dev_load(d, 0x50, 30, 1, 0).has_value());  // x30 excluded
}

TEST(MemAccess, HostDmaToForeignPage) {
  RData d = host_state(oracle_values());
  d.shared.s2page.set(0x300, S2Page{kVm, 1, 5});
  const Outcome r = dev_load(d, 0x50, 4, 1, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(0).ctxt_regs.x[4], 0x70);
  const Outcome s = dev_store(d, 0x50, 3, 1, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_Z(s->shared.flatmem[0x300], 42);
}

TEST(MemAccess, ContextOfAnotherPrincipalIsNone) {
  RData d = host_state();
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 1), 2);
  EXPECT_FALSE(dev_load(d, 0x50, 4, 1, 0).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, 1, 0).has_value());
}

TEST(MemAccess, VmDma) {
  const Outcome r = dev_load(vm_state(), 0x50, 4, 1, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[4], 42);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OPT_GET, kVm)});
  const Outcome s = dev_store(vm_state(), 0x50, 3, 1, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_Z(s->shared.flatmem[0x300], 0x33);

  // A frame assigned through the SMMU carries count INVALID: loads read the oracle and stores are
  // dropped (§7.2.5).
  RData d = vm_state(oracle_values());
  d.shared.s2page.set(0x300, S2Page{kVm, k::INVALID, 0x50});
  const Outcome l = dev_load(d, 0x50, 4, 1, 0);
  ASSERT_TRUE(l.has_value());
  EXPECT_Z(l->ctx(kCtx).ctxt_regs.x[4], 0x80);
  const Outcome w = dev_store(d, 0x50, 3, 1, 0);
  ASSERT_TRUE(w.has_value());
  EXPECT_Z(w->shared.flatmem[0x300], 42);

  // A device frame with no owner faults.
  d.shared.spts.spt_pt.set(kTtbr, ZMap<SptEntry>().with(0x50, SptEntry{0x50, 0x50000}));
  EXPECT_FALSE(dev_load(d, 0x50, 4, 1, 0).has_value());
  EXPECT_FALSE(dev_store(d, 0x50, 3, 1, 0).has_value());
}

}  // namespace
}  // namespace hypdiff::model
