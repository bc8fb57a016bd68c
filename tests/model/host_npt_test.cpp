// host_npt_handler (spec §3.5.2): the RAM/device path (lazy host mapping) and the SMMU MMIO
// emulation path, with expected values worked out by hand from the spec text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/handlers.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::model {
namespace {

#define EXPECT_Z(a, b) EXPECT_EQ(to_hex(a), to_hex(b))

const MachineConfig kCfg{};

RData fresh(Profile p = Profile::intended(), OracleInputs o = {}) {
  return testing::fresh(p, std::make_shared<const OracleInputs>(std::move(o)));
}
Profile intended_but(bool Profile::*field) {
  Profile p = Profile::intended();
  p.*field = false;
  return p;
}

// The host faults: hpfar/esr/far as the hardware reports them.
Outcome fault(RData d, Z hpfar, Z esr = 0, Z far = 0) {
  d.regs.ctxt_regs.hpfar_el2 = hpfar;
  d.regs.ctxt_regs.esr_el2 = esr;
  d.regs.ctxt_regs.far_el2 = far;
  return host_npt_handler(std::move(d));
}

std::string ev(EventKind kind, Z a = 0, Z cpu = 0) {
  return to_string(SingleEvent{cpu, AtomicEvent{kind, {a, 0, 0, 0}}});
}
std::vector<std::string> events(const RData& d) {
  std::vector<std::string> out;
  for (const SingleEvent& e : d.slog.newest(100)) out.push_back(to_string(e));
  return out;
}

PtEntry host_pt(const RData& d, Z gfn) { return d.shared.npts[0].pt[gfn]; }

void expect_returned(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_FALSE(r->icore);
  for (std::size_t i = 0; i < 31; ++i) EXPECT_Z(r->regs.ctxt_regs.x[i], r->ctx(0).ctxt_regs.x[i]);
}
void expect_halted(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
}

// ---- mode and halt ----------------------------------------------------------------------------

TEST(HostNpt, WrongModeIsNone) {
  RData d = fresh();
  d.icore = true;
  EXPECT_FALSE(fault(d, 0x3000).has_value());
  d.icore = false;
  d.ihost = false;
  EXPECT_FALSE(fault(d, 0x3000).has_value());
}

TEST(HostNpt, HaltedStateIsReturnedUnchanged) {
  RData d = fresh();
  d.halt = true;
  const Outcome r = fault(d, 0x3000);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(r->icore);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_EQ(host_pt(*r, 0x300), (PtEntry{0, 0, 0}));
}

// ---- RAM and device pages ---------------------------------------------------------------------

TEST(HostNpt, RamFaultMapsTheHostPage) {
  // addr = (hpfar & 0xFFFF) * 256: the high hpfar bits are dropped.
  for (Z hpfar : {Z{0x3000}, Z{0x13000}}) {
    const Outcome r = fault(fresh(), hpfar, 0, 0xABC);
    expect_returned(r);
    EXPECT_EQ(host_pt(*r, 0x300), (PtEntry{0x300, 3, 0x300000 | k::PAGE_S2_KERNEL}));
    EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OMAP_HOST, 0x300000),
                                                    ev(EventKind::OSMMU_GET)}));
  }
}

TEST(HostNpt, DeviceFaultMapsWithDeviceAttributes) {
  const Outcome r = fault(fresh(), 0x500);  // addr 0x50000: neither RAM nor an SMMU window
  expect_returned(r);
  EXPECT_EQ(host_pt(*r, 0x50), (PtEntry{0x50, 3, 0x50000 | k::PAGE_S2_DEVICE | k::S2_RDWR}));
}

TEST(HostNpt, FaultOnPrivateVmPageHalts) {
  RData d = fresh();
  d.shared.s2page.set(0x300, S2Page{1, 0, 5});
  const Outcome r = fault(d, 0x3000);
  expect_halted(r);
  EXPECT_FALSE(r->shared.hlock[k::S2PAGE_ID]);
  EXPECT_EQ(host_pt(*r, 0x300), (PtEntry{0, 0, 0}));
  EXPECT_EQ(events(*r).size(), 2u);
}

TEST(HostNpt, FaultOnSharedVmPageMapsIt) {
  RData d = fresh();
  d.shared.s2page.set(0x300, S2Page{1, 1, 5});
  const Outcome r = fault(d, 0x3000);
  expect_returned(r);
  EXPECT_EQ(host_pt(*r, 0x300), (PtEntry{0x300, 3, 0x300000 | k::PAGE_S2_KERNEL}));
}

TEST(HostNpt, QueryReplaysAnotherCpusHostMapping) {
  OracleInputs o;
  o.soracle[0] = {SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {0x400000, 0, 0, 0}}}};
  const Outcome r = fault(fresh(Profile::intended(), o), 0x3000);
  expect_returned(r);
  EXPECT_EQ(host_pt(*r, 0x400), (PtEntry{0x400, 3, 0x400000 | k::PAGE_S2_KERNEL}));
  EXPECT_EQ(host_pt(*r, 0x300), (PtEntry{0x300, 3, 0x300000 | k::PAGE_S2_KERNEL}));
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OMAP_HOST, 0x300000), ev(EventKind::OSMMU_GET),
                                      ev(EventKind::OMAP_HOST, 0x400000, 1)}));
}

TEST(HostNpt, RamPathAssertsItsLocks) {
  for (Z id : {k::SMMU_ID, k::S2PAGE_ID, k::NPT_ID}) {
    RData d = fresh(intended_but(&Profile::hlock_acquire));
    d.shared.hlock.set(id, false);
    EXPECT_FALSE(fault(d, 0x3000).has_value());
  }
}

// ---- SMMU MMIO emulation ----------------------------------------------------------------------

constexpr Z kSmmu0 = 0x1000;  // hpfar of the first SMMU window 0x100000
constexpr Z kSmmu1 = 0x1100;  // hpfar of the second SMMU window 0x110000
constexpr Z kWrite = 64;
Z esr_for(Z sas, Z rt, bool write) { return (sas << 22) | (rt << 16) | (write ? kWrite : 0); }

RData mmio_state(Profile p = Profile::intended()) {
  OracleInputs o;
  o.data[0] = {0x1122334455667788};
  RData d = fresh(p, o);
  d.regs.ctxt_regs.elr_el2 = 0x1000;
  d.regs.ctxt_regs.x[5] = 0x55;
  return d;
}

TEST(HostNpt, MmioReadOfEightBytesReturnsOracleData) {
  const Outcome r = fault(mmio_state(), kSmmu0, esr_for(3, 5, false));
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[5], 0x1122334455667788);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[5], 0x1122334455667788);
  EXPECT_Z(r->data_log[0], 1);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x1004);
  EXPECT_Z(r->regs.ctxt_regs.esr_el2, esr_for(3, 5, false));
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_GET)});
  EXPECT_EQ(host_pt(*r, 0x100), (PtEntry{0, 0, 0}));  // nothing is mapped
}

TEST(HostNpt, MmioReadOfFourBytesTruncates) {
  const Outcome r = fault(mmio_state(), kSmmu1, esr_for(2, 5, false));
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[5], 0x55667788);
  EXPECT_Z(r->data_log[0], 1);
}

TEST(HostNpt, MmioReadOfOtherLengthHalts) {
  for (Z sas : {Z{0}, Z{1}}) {
    const Outcome r = fault(mmio_state(), kSmmu0, esr_for(sas, 5, false));
    expect_halted(r);
    EXPECT_Z(r->data_log[0], 0);
    EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x1000);
    EXPECT_Z(r->ctx(0).ctxt_regs.x[5], 0x55);
    EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_GET)});
  }
}

TEST(HostNpt, PcAdvanceProfileLiteralWritesEsr) {
  const Outcome r =
      fault(mmio_state(intended_but(&Profile::pc_advance)), kSmmu0, esr_for(3, 5, false));
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.esr_el2, 0x1004);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x1000);
}

// A write of x3 = data to SMMU window `hpfar` at offset `far` (len 8 unless given).
Outcome mmio_write(RData d, Z hpfar, Z far, Z data, Z sas = 3) {
  d.regs.ctxt_regs.x[3] = data;
  return fault(std::move(d), hpfar, esr_for(sas, 3, true), far);
}

void expect_write_accepted(const Outcome& r) {
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x1004);
  EXPECT_Z(r->data_log[0], 0);
}

TEST(HostNpt, WriteToSCR0MustKeepSmcfcfg) {
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0, 0, Z{1} << 21));
  expect_halted(mmio_write(mmio_state(), kSmmu0, 0, 0));
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0, 0, Z{1} << 21, 2));  // len 4
  expect_halted(mmio_write(mmio_state(), kSmmu0, 0, Z{1} << 21, 1));          // len 2
}

TEST(HostNpt, WriteToSCR2MustKeepLowByteZero) {
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0, 8, 0x100));
  expect_halted(mmio_write(mmio_state(), kSmmu0, 8, 1));
}

TEST(HostNpt, WriteToOtherGlobalRegistersIsAccepted) {
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0, 0x10, 0));
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0 + 0x20, 0, 0));  // offset 0x2000
}

TEST(HostNpt, WriteToCbarChecksTheContextOwner) {
  // hpfar 0x1010 + far 8: offset 0x1008 = CBAR[2] of SMMU 0, i.e. smmu_id(0, 2).
  RData d = mmio_state();
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 2), 3);
  expect_write_accepted(mmio_write(d, kSmmu0 + 0x10, 8, 3));
  expect_halted(mmio_write(d, kSmmu0 + 0x10, 8, 4));
  expect_halted(mmio_write(d, kSmmu0 + 0x10, 8, 0x10003));
  // The same offset in SMMU 1's window checks smmu_id(1, 2), which is free.
  expect_halted(mmio_write(d, kSmmu1 + 0x10, 8, 3));
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 2), 3);
  expect_write_accepted(mmio_write(d, kSmmu1 + 0x10, 8, 3));
  // A host-owned context bank accepts any value.
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 2), 0);
  expect_write_accepted(mmio_write(d, kSmmu0 + 0x10, 8, 0x12345));
}

TEST(HostNpt, MmioGr0BoundProfileAtOffset4096) {
  // Offset 4096 is CBAR[0] (free context: refused); literally it is still GR0 (accepted).
  expect_halted(mmio_write(mmio_state(), kSmmu0 + 0x10, 0, 5));
  expect_write_accepted(
      mmio_write(mmio_state(intended_but(&Profile::mmio_gr0_bound)), kSmmu0 + 0x10, 0, 5));
}

TEST(HostNpt, ContextBankWrites) {
  // Offset 0x8020 = TTBR0 of bank 0: accepted; CONTEXTIDR (0x34) of any bank: refused.
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0 + 0x80, 0x20, 0xdead000));
  expect_halted(mmio_write(mmio_state(), kSmmu0 + 0x80, 0x34, 1));
  expect_halted(mmio_write(mmio_state(), kSmmu0 + 0x90, 0x34, 1));  // bank 1
  expect_write_accepted(mmio_write(mmio_state(), kSmmu0 + 0x80, 0, 1));
  expect_halted(mmio_write(mmio_state(), kSmmu0 + 0x80, 0x20, 1, 0));  // len 1
}

TEST(HostNpt, MmioPathAssertsSmmuLock) {
  RData d = mmio_state(intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(k::SMMU_ID, false);
  EXPECT_FALSE(fault(d, kSmmu0, esr_for(3, 5, false)).has_value());
  d.shared.hlock.set(k::SMMU_ID, true);
  d.shared.hlock.set(k::S2PAGE_ID, false);  // not needed on this path
  expect_returned(fault(d, kSmmu0, esr_for(3, 5, false)));
}

}  // namespace
}  // namespace hypdiff::model
