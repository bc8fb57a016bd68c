#include <gtest/gtest.h>

#include <memory>

#include "model/init.hpp"
#include "model/loops.hpp"

namespace hypdiff::model {
namespace {

RData state(const Profile& prof, OracleInputs o = {}) {
  return initial_state(MachineConfig{}, prof, std::make_shared<const OracleInputs>(std::move(o)));
}

// ---- reset_sys_regs_specx -------------------------------------------------------------------

TEST(ResetSysRegs, WritesMpidrActlrFromTheStreamAndRegDescElsewhere) {
  OracleInputs o;
  o.data[2] = {0, 0, 0, 0, 0, 0, 0, 0x5A5A};  // value 7 is ACTLR's
  o.params.reg_desc = {{48, 111}, {70, 222}, {69, 333}, {47, 444}, {50, 555}};
  const RData d = state(Profile::intended(), o);
  CtxtRegs cr{};
  CtxtStates cs{};
  cr.sctlr_el1 = 99;  // index 49, absent from reg_desc: reset to 0
  cr.x[0] = 1;
  cs.pc = 0x8000;
  const RegsResult r = reset_sys_regs_specx(d, 0x12345, cr, cs, Dorc{d.oracle.get(), 2}, 7);
  // (0x12345 & 15) + ((0x12345/16) & 255)*256 + ((0x12345/4096) & 255)*65536 + 2^31
  EXPECT_EQ(r.cregs.mpidr_el1, Z{0x80123405});
  EXPECT_EQ(r.cregs.actlr_el1, 0x5A5A);
  EXPECT_EQ(r.logn, 8);  // exactly one value consumed
  EXPECT_EQ(r.cregs.csselr_el1, 111);
  EXPECT_EQ(r.cregs.sctlr_el1, 0);
  EXPECT_EQ(r.cregs.elr_el2, 222);  // index 70 is ELR_EL2 and is reset too
  // Untouched: GPRs, PC, and everything outside 47..70.
  EXPECT_EQ(r.cregs.x[0], 1);
  EXPECT_EQ(r.cstates.pc, 0x8000);
  EXPECT_EQ(r.cstates.spsr_0, 0);
  EXPECT_EQ(r.cregs.esr_el2, 0);
}

TEST(ResetSysRegs, SmallVcpuId) {
  const RData d = state(Profile::intended());
  const RegsResult r =
      reset_sys_regs_specx(d, 3, CtxtRegs{}, CtxtStates{}, Dorc{d.oracle.get(), 1}, 0);
  EXPECT_EQ(r.cregs.mpidr_el1, pow2(31) + 3);
  EXPECT_EQ(r.logn, 1);
}

// ---- sync_dirty_to_shadow_specx -------------------------------------------------------------

struct SyncCase {
  OracleInputs o;
  CtxtRegs cr{};
  // GPRs 1, 4 and 30, plus bit 31 (no GPR) and DIRTY_PC_FLAG, which the loop does not look at.
  Z dirty = (Z{1} << 1) | (Z{1} << 4) | (Z{1} << 30) | (Z{1} << 31) | pow2(32);
  SyncCase() {
    o.data[1] = {10, 11, 12, 13, 14, 15, 16};
    cr.x[2] = 77;
  }
};

TEST(SyncDirty, LiteralGivesEveryDirtyRegisterTheFirstValue) {
  SyncCase c;
  Profile p = Profile::intended();
  p.sync_dirty_cursor = false;
  const RData d = state(p, c.o);
  const RegsResult r =
      sync_dirty_to_shadow_specx(d, 1, c.dirty, c.cr, CtxtStates{}, 2, Dorc{d.oracle.get(), 1});
  EXPECT_EQ(r.cregs.x[1], 12);
  EXPECT_EQ(r.cregs.x[4], 12);
  EXPECT_EQ(r.cregs.x[30], 12);
  EXPECT_EQ(r.cregs.x[2], 77);
  EXPECT_EQ(r.cregs.x[0], 0);
  EXPECT_EQ(r.logn, 5);
}

TEST(SyncDirty, IntendedGivesEachDirtyRegisterItsOwnValue) {
  SyncCase c;
  const RData d = state(Profile::intended(), c.o);
  const RegsResult r =
      sync_dirty_to_shadow_specx(d, 1, c.dirty, c.cr, CtxtStates{}, 2, Dorc{d.oracle.get(), 1});
  EXPECT_EQ(r.cregs.x[1], 12);
  EXPECT_EQ(r.cregs.x[4], 13);
  EXPECT_EQ(r.cregs.x[30], 14);
  EXPECT_EQ(r.cregs.x[2], 77);
  EXPECT_EQ(r.logn, 5);
}

TEST(SyncDirty, NothingDirtyConsumesNothing) {
  for (const Profile& p : {Profile::literal(), Profile::intended()}) {
    const RData d = state(p);
    CtxtRegs cr{};
    cr.x[5] = 9;
    const RegsResult r =
        sync_dirty_to_shadow_specx(d, 1, pow2(32), cr, CtxtStates{}, 4, Dorc{d.oracle.get(), 1});
    EXPECT_EQ(r.cregs, cr);
    EXPECT_EQ(r.logn, 4);
  }
}

// ---- update_exception_gp_regs_specx, prep_wfx_specx ------------------------------------------

TEST(UpdateExceptionGpRegs, SavesPcAndPstateAndEntersTheFaultMode) {
  CtxtRegs cr{};
  CtxtStates cs{};
  cs.pc = 0x40001000;
  cs.pstate = 0x3C5;
  cs.esr_el1 = 0x1234;
  cs.dirty = 6;
  const auto [cr2, cs2] = update_exception_gp_regs_specx(cr, cs);
  EXPECT_EQ(cr2.elr_el1, 0x40001000);
  EXPECT_EQ(cs2.spsr_0, 0x3C5);
  EXPECT_EQ(cs2.esr_el1, 0);
  EXPECT_EQ(cs2.pstate, 965);
  EXPECT_EQ(cs2.pc, 0x40001000);  // the vector is never written
  EXPECT_EQ(cs2.dirty, 6);
}

TEST(PrepWfx, SetsOnlyThePcFlag) {
  CtxtStates cs{};
  cs.dirty = 0xFF;
  cs.pc = 4;
  const CtxtStates r = prep_wfx_specx(cs);
  EXPECT_EQ(r.dirty, pow2(32));
  EXPECT_EQ(r.pc, 4);
}

// ---- prep_abort_specx ------------------------------------------------------------------------

struct AbortCase {
  OracleInputs o;
  CtxtRegs cr{};
  CtxtStates cs{};
  explicit AbortCase(Z esr, Z hpfar = 0x100 * 16) {
    o.data[1] = {0, esr};
    cr.hpfar_el2 = hpfar;
    cs.dirty = 0xABC;
  }
  std::pair<CtxtStates, Z> run() const { return prep_abort_specx(cr, cs, 1, Dorc{&o, 1}); }
};

TEST(PrepAbort, MmioReadMarksTheTargetRegister) {
  const AbortCase c((Z{5} << 16) | 0x3);  // Rd = 5, WNR = S1PTW = 0
  const auto [cs, n] = c.run();
  EXPECT_EQ(cs.dirty, 32);
  EXPECT_EQ(n, 2);
}

TEST(PrepAbort, RdIsTakenModulo32) {
  const AbortCase c(Z{37} << 16);  // 37 mod 32 = 5
  EXPECT_EQ(c.run().first.dirty, 32);
}

TEST(PrepAbort, NegativeSyndromeUsesFloorDivision) {
  // -65536 / 65536 = -1, and -1 mod 32 = 31 (floor); bits 6 and 7 are clear.
  const AbortCase c(-65536);
  EXPECT_EQ(c.run().first.dirty, Z{1} << 31);
}

TEST(PrepAbort, MmioWriteAdvancesThePc) {
  const AbortCase c((Z{5} << 16) | 64);
  EXPECT_EQ(c.run().first.dirty, pow2(32));
}

TEST(PrepAbort, StageOnePageTableWalkAdvancesThePc) {
  const AbortCase c((Z{5} << 16) | 128);
  EXPECT_EQ(c.run().first.dirty, pow2(32));
}

TEST(PrepAbort, NonMmioAddressLeavesTheStateButConsumesTheValue) {
  // (hpfar / 16) * 4096 = 2^30 = MAX_MMIO_ADDR: not below it.
  const AbortCase c(Z{5} << 16, (pow2(30) / 4096) * 16);
  const auto [cs, n] = c.run();
  EXPECT_EQ(cs.dirty, 0xABC);
  EXPECT_EQ(n, 2);
  // Just below: an MMIO access.
  const AbortCase below(Z{5} << 16, (pow2(30) / 4096 - 1) * 16 + 15);
  EXPECT_EQ(below.run().first.dirty, 32);
}

// ---- search_load_info_loop_h, is_smmu_range_loop_h ----------------------------------------

BootInfo two_images() {
  BootInfo vb{};
  vb.vm_load_addr.set(0, 0x1000);
  vb.vm_load_size.set(0, 0x2000);
  vb.vm_remap_addr.set(0, 0x2000000);
  vb.vm_load_addr.set(1, 0x2000);  // overlaps image 0
  vb.vm_load_size.set(1, 0x1000);
  vb.vm_remap_addr.set(1, 0x3000000);
  return vb;
}

TEST(SearchLoadInfo, TranslatesIntoTheRemapWindowAndTheLastMatchWins) {
  const BootInfo vb = two_images();
  EXPECT_EQ(search_load_info_loop_h(2, 0x1800, vb), 0x2000800);
  EXPECT_EQ(search_load_info_loop_h(2, 0x2500, vb), 0x3000500);
  EXPECT_EQ(search_load_info_loop_h(1, 0x2500, vb), 0x2001500);
  EXPECT_EQ(search_load_info_loop_h(2, 0x1000, vb), 0x2000000);
}

TEST(SearchLoadInfo, NoMatchGivesZero) {
  const BootInfo vb = two_images();
  EXPECT_EQ(search_load_info_loop_h(2, 0x3000, vb), 0);  // end of image 0 and 1 is exclusive
  EXPECT_EQ(search_load_info_loop_h(2, 0xFFF, vb), 0);
  EXPECT_EQ(search_load_info_loop_h(0, 0x1800, vb), 0);
  EXPECT_EQ(search_load_info_loop_h(-1, 0x1800, vb), 0);
}

SMMUConf two_smmus() {
  SMMUConf c{};
  c.smmu_num = 2;
  c.smmu_phys_base.set(0, 0x100000);
  c.smmu_size.set(0, 0x10000);
  c.smmu_phys_base.set(1, 0x108000);  // overlaps SMMU 0's upper half
  c.smmu_size.set(1, 0x10000);
  return c;
}

TEST(IsSmmuRange, FindsTheLastSmmuContainingTheAddress) {
  const SMMUConf c = two_smmus();
  EXPECT_EQ(is_smmu_range_loop_h(2, 0x100000, c), 0);
  EXPECT_EQ(is_smmu_range_loop_h(2, 0x10C000, c), 1);
  EXPECT_EQ(is_smmu_range_loop_h(1, 0x10C000, c), 0);
  EXPECT_EQ(is_smmu_range_loop_h(2, 0x117FFF, c), 1);
}

TEST(IsSmmuRange, OutsideEverySmmuIsInvalid) {
  const SMMUConf c = two_smmus();
  EXPECT_EQ(is_smmu_range_loop_h(2, 0x118000, c), k::INVALID);
  EXPECT_EQ(is_smmu_range_loop_h(2, 0xFFFFF, c), k::INVALID);
  EXPECT_EQ(is_smmu_range_loop_h(1, 0x110000, c), k::INVALID);
  EXPECT_EQ(is_smmu_range_loop_h(0, 0x100000, c), k::INVALID);
}

// ---- handle_host_mmio_spec_h ---------------------------------------------------------------

constexpr Z kElr = 0x80001000;
constexpr Z kEsr = 0x92000046;
constexpr Z kRt = 3;

struct Mmio {
  Profile prof = Profile::intended();
  MachineConfig cfg{};
  OracleInputs o;
  CtxtRegs cregs{};
  CtxtStates cstates{};
  CtxtRegs rcregs{};
  ZMap<Z> smmu = ZMap<Z>::init(k::INVALID);

  Mmio() {
    o.data[0] = {0, 0, 0x1122334455667788};
    rcregs.elr_el2 = kElr;
    rcregs.esr_el2 = kEsr;
    cregs.x[0] = 0x99;
  }
  MmioResult read(Z len, Z fault_ipa = 0x100000) const {
    return handle_host_mmio_spec_h(prof, cfg, 0, fault_ipa, len, 0, kRt, cregs, cstates, rcregs,
                                   Dorc{&o, 0}, 2, smmu);
  }
  // Writes x[rt] = data to SMMU `index` at `offset`.
  MmioResult write(Z offset, Z data, Z len = 8, Z index = 0) {
    cregs.x[kRt] = data;
    return handle_host_mmio_spec_h(prof, cfg, index, 0x100000 + offset, len, 1, kRt, cregs, cstates,
                                   rcregs, Dorc{&o, 0}, 2, smmu);
  }
};

// The "advance" of the host's PC past the access, per profile.
void expect_advanced(const MmioResult& r, const Profile& p) {
  EXPECT_FALSE(r.halt);
  if (p.pc_advance) {
    EXPECT_EQ(r.rcregs.elr_el2, kElr + 4);
    EXPECT_EQ(r.rcregs.esr_el2, kEsr);
  } else {
    EXPECT_EQ(r.rcregs.esr_el2, kElr + 4);
    EXPECT_EQ(r.rcregs.elr_el2, kElr);
  }
}

void expect_refused(const MmioResult& r, const Mmio& m) {
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(r.logn, 2);
  EXPECT_EQ(r.rcregs, m.rcregs);
  EXPECT_EQ(r.cregs, m.cregs);
}

TEST(HostMmio, Read8ReturnsTheOracleValue) {
  for (const Profile& p : {Profile::literal(), Profile::intended()}) {
    Mmio m;
    m.prof = p;
    const MmioResult r = m.read(8);
    expect_advanced(r, p);
    EXPECT_EQ(r.cregs.x[kRt], 0x1122334455667788);
    EXPECT_EQ(r.cregs.x[0], 0x99);
    EXPECT_EQ(r.logn, 3);
  }
}

TEST(HostMmio, Read4TruncatesTo32Bits) {
  Mmio m;
  const MmioResult r = m.read(4);
  expect_advanced(r, m.prof);
  EXPECT_EQ(r.cregs.x[kRt], 0x55667788);
  EXPECT_EQ(r.logn, 3);
}

TEST(HostMmio, ReadOfAnotherSizeHalts) {
  Mmio m;
  expect_refused(m.read(2), m);
  expect_refused(m.read(1), m);
}

TEST(HostMmio, Scr0WriteMustKeepSmcfcfg) {
  for (const Profile& p : {Profile::literal(), Profile::intended()}) {
    Mmio m;
    m.prof = p;
    const MmioResult ok = m.write(0, Z{1} << 21);
    expect_advanced(ok, p);
    EXPECT_EQ(ok.logn, 2);  // writes consume no oracle value
    EXPECT_EQ(ok.cregs, m.cregs);
    expect_refused(m.write(0, 0xFFFFFFFF & ~(Z{1} << 21)), m);
  }
}

TEST(HostMmio, Scr2WriteMustClearTheLowByte) {
  Mmio m;
  expect_advanced(m.write(8, 0x100), m.prof);
  expect_refused(m.write(8, 0x101), m);
}

TEST(HostMmio, OtherGlobalRegistersAreAccepted) {
  Mmio m;
  expect_advanced(m.write(0x10, 0), m.prof);
  expect_advanced(m.write(4092, 0), m.prof);
  expect_advanced(m.write(6144, 0), m.prof);   // past GR1
  expect_advanced(m.write(32764, 0), m.prof);  // last global word
}

TEST(HostMmio, WriteOfAnotherSizeHaltsEvenWhenAccepted) {
  Mmio m;
  expect_refused(m.write(0x10, 0, 2), m);
  expect_advanced(m.write(0x10, 0, 4), m.prof);
}

TEST(HostMmio, CbarOfAVmBankMustNameThatVmAsStage2) {
  Mmio m;
  // SMMU 1, bank 2: smmu_id = 1*8 + 2.
  m.smmu.set(10, 3);
  expect_advanced(m.write(4096 + 2 * 4, 3, 8, 1), m.prof);
  expect_refused(m.write(4096 + 2 * 4, 4, 8, 1), m);                 // another vmid
  expect_refused(m.write(4096 + 2 * 4, (Z{1} << 16) | 3, 8, 1), m);  // not S2 translation
  expect_refused(m.write(4096 + 2 * 4, 3, 8, 0), m);  // SMMU 0 bank 2: free (INVALID)
}

TEST(HostMmio, CbarOfAHostBankIsFree) {
  Mmio m;
  m.smmu.set(3, 0);
  expect_advanced(m.write(4096 + 3 * 4, 0xFFFFFF, 4), m.prof);
}

TEST(HostMmio, CbarBeyondTheConfiguredBanksReadsTheMap) {
  Mmio m;
  // n = (6140 - 4096) / 4 = 511: smmu_id(0, 511) = 511, unset (INVALID).
  expect_refused(m.write(6140, 0), m);
  m.smmu.set(511, 0);
  expect_advanced(m.write(6140, 0), m.prof);
}

TEST(HostMmio, Offset4096IsGr0LiterallyAndCbar0Intended) {
  Mmio lit;
  lit.prof.mmio_gr0_bound = false;
  lit.smmu.set(0, 3);
  expect_advanced(lit.write(4096, 4), lit.prof);  // GR0 "other register": accepted

  Mmio fixed;
  fixed.smmu.set(0, 3);
  expect_refused(fixed.write(4096, 4), fixed);  // CBAR[0] of VM 3 with vmid 4
  expect_advanced(fixed.write(4096, 3), fixed.prof);
}

TEST(HostMmio, OffsetIsMaskedTo16Bits) {
  Mmio m;
  // fault_ipa = base + 0x10008: offset 8 (sCR2).
  expect_refused(m.write(0x10008, 1), m);
}

TEST(HostMmio, ContextBankTtbr0IsAccepted) {
  Mmio m;
  expect_advanced(m.write(32768 + 32, 0xDEAD), m.prof);
  expect_advanced(m.write(32768 + 5 * 4096 + 32, 0xDEAD), m.prof);
}

TEST(HostMmio, ContextBankContextidrIsRefused) {
  Mmio m;
  expect_refused(m.write(32768 + 52, 0), m);
  expect_refused(m.write(32768 + 3 * 4096 + 52, 0, 4), m);
}

TEST(HostMmio, OtherContextBankRegistersAreAccepted) {
  Mmio m;
  expect_advanced(m.write(32768, 0), m.prof);
  expect_advanced(m.write(32768 + 4095, 0, 4), m.prof);
  expect_refused(m.write(32768 + 4, 0, 1), m);
}

}  // namespace
}  // namespace hypdiff::model
