// host_hvc_handler (spec §3.5.1): every hypercall 13..29 and unknown numbers, each argument check,
// halting and None branches, and the profile switches owned by the handler. Expected values are
// worked out by hand from the spec text.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "model/handlers.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::model {
namespace {

#define EXPECT_Z(a, b) EXPECT_EQ(to_hex(a), to_hex(b))

const MachineConfig kCfg{};
const Z kCorevisor = kCfg.corevisor();

RData fresh(Profile p = Profile::intended(), OracleInputs o = {}) {
  return testing::fresh(p, std::make_shared<const OracleInputs>(std::move(o)));
}
Profile intended_but(bool Profile::*field) {
  Profile p = Profile::intended();
  p.*field = false;
  return p;
}

Outcome call(RData d, std::array<Z, 6> x) {
  for (std::size_t i = 0; i < x.size(); ++i) d.regs.ctxt_regs.x[i] = x[i];
  return host_hvc_handler(std::move(d));
}

std::string ev(EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0) {
  return to_string(SingleEvent{0, AtomicEvent{kind, {a, b, c, e}}});
}
std::vector<std::string> events(const RData& d) {
  std::vector<std::string> out;
  for (const SingleEvent& e : d.slog.newest(10000)) out.push_back(to_string(e));
  return out;
}

VMInfo info(const RData& d, Z v) { return d.shared.vminfos[v]; }
void set_vm_state(RData& d, Z v, Z state) {
  VMInfo i = d.shared.vminfos[v];
  i.VS.vm_state = state;
  d.shared.vminfos.set(v, i);
}
void set_vcpu_state(RData& d, Z v, Z c, Z state) {
  VMInfo i = d.shared.vminfos[v];
  i.VS.vm_vcpu_state.set(c, state);
  d.shared.vminfos.set(v, i);
}
bool lock(const RData& d, Z id) { return d.shared.hlock[id]; }

// Back in the host: no halt, icore cleared, the shadow GPRs copied to the physical registers.
void expect_returned(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_FALSE(r->icore);
  EXPECT_TRUE(r->ihost);
  for (std::size_t i = 0; i < 31; ++i) EXPECT_Z(r->regs.ctxt_regs.x[i], r->ctx(0).ctxt_regs.x[i]);
}

// BAD = d'{halt := true}: stays in KCore, no QO, no event, shared state untouched.
void expect_bad(const Outcome& r, const RData& before, std::array<Z, 6> x) {
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_TRUE(r->shared.vminfos == before.shared.vminfos);
  EXPECT_TRUE(r->shared.s2page == before.shared.s2page);
  EXPECT_TRUE(r->shared.hlock == before.shared.hlock);
  EXPECT_TRUE(r->shared.smmu_vmid == before.shared.smmu_vmid);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_Z(r->ctx(0).ctxt_regs.x[i], x[i]);
}

// ---- mode and halt ----------------------------------------------------------------------------

TEST(HostHvc, WrongModeIsNone) {
  RData d = fresh();
  d.icore = true;
  EXPECT_FALSE(call(d, {13}).has_value());
  d.icore = false;
  d.ihost = false;
  EXPECT_FALSE(call(d, {13}).has_value());
  d.icore = true;
  EXPECT_FALSE(call(d, {13}).has_value());
}

TEST(HostHvc, HaltedStateIsReturnedUnchanged) {
  RData d = fresh();
  d.halt = true;
  d.regs.ctxt_regs.x[0] = k::HVC_REGISTER_KVM;
  const Outcome r = host_hvc_handler(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(r->icore);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_TRUE(r->shadow_ctxts == d.shadow_ctxts);
  EXPECT_Z(r->shared.core_data.next_vmid, 1);
}

// ---- 13 and unknown numbers: no-ops -----------------------------------------------------------

TEST(HostHvc, TimerSetCntvoffIsNoOp) {
  RData d = fresh();
  d.regs.ctxt_regs.x[7] = 0x77;
  const Outcome r = call(d, {k::HVC_TIMER_SET_CNTVOFF, 5});
  expect_returned(r);
  EXPECT_EQ(r->slog.length(), 0u);
  // The host GPRs went through the shadow context and back unchanged.
  EXPECT_Z(r->ctx(0).ctxt_regs.x[0], 13);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[1], 5);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[7], 0x77);
  EXPECT_Z(r->regs.ctxt_regs.x[7], 0x77);
}

TEST(HostHvc, UnknownNumbersAreNoOps) {
  for (Z n : {Z{0}, Z{11}, Z{12}, Z{30}, Z{99}, k::INVALID64}) {
    const Outcome r = call(fresh(), {n, 1, 2, 3});
    expect_returned(r);
    EXPECT_EQ(r->slog.length(), 0u);
    EXPECT_Z(r->regs.ctxt_regs.x[0], n);
  }
}

// ---- 14 CLEAR_VM_S2_RANGE ---------------------------------------------------------------------

TEST(HostHvc, ClearVmS2RangeArgumentChecks) {
  const RData d = fresh();
  for (std::array<Z, 6> x : {std::array<Z, 6>{14, 0, 0x300000, 0x1000},
                             std::array<Z, 6>{14, kCorevisor, 0x300000, 0x1000},
                             std::array<Z, 6>{14, 1, k::KVM_PHYS_SIZE, 0x1000},
                             std::array<Z, 6>{14, 1, 0x300000, k::KVM_PHYS_SIZE}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, ClearVmS2RangeOfLiveVmOnlyLogs) {
  RData d = fresh();
  set_vm_state(d, 1, k::VERIFIED);
  d.shared.s2page.set(0x300, S2Page{1, 0, 5});
  const Outcome r = call(d, {14, 1, 0x300000, 0x1000});
  expect_returned(r);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_GET, 0)});
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{1, 0, 5}));
}

TEST(HostHvc, ClearVmS2RangeReclaimsPagesOfPoweredOffVm) {
  RData d = fresh();
  set_vm_state(d, 1, k::POWEROFF);
  d.shared.s2page.set(0x300, S2Page{1, 0, 5});
  d.shared.flatmem.set(0x300, 42);
  // Size 0x2fff: floor(size / 4096) = 2 pages, 0x300 and 0x301 (the latter the host's: no-op).
  const Outcome r = call(d, {14, 1, 0x300000, 0x2fff});
  expect_returned(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{0, 0, 0x300 + k::SMMU_HOST_OFFSET}));
  EXPECT_Z(r->shared.flatmem[0x300], 0);
  EXPECT_EQ(r->shared.s2page[0x301], (S2Page{0, 0, 0x301 + k::SMMU_HOST_OFFSET}));
  EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OCLEAR_VM, 1, 0x301),
                                                  ev(EventKind::OCLEAR_VM, 1, 0x300),
                                                  ev(EventKind::OVM_GET, 0)}));
}

TEST(HostHvc, ClearVmS2RangeAssertsNptLockOfTheVm) {
  RData d = fresh(intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(kCfg.npt_lock(1), false);
  EXPECT_FALSE(call(d, {14, 1, 0x300000, 0x1000}).has_value());
  d.shared.hlock.set(kCfg.npt_lock(1), true);
  d.shared.hlock.set(kCfg.info_lock(1), false);  // the lock the spec should have asserted
  expect_returned(call(d, {14, 1, 0x300000, 0x1000}));
}

// ---- 15 SET_BOOT_INFO -------------------------------------------------------------------------

TEST(HostHvc, SetBootInfoRecordsTheImage) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {15, 1, 0x80000, 0x3000});
  expect_returned(r);
  const BootInfo vb = info(*r, 1).VB;
  EXPECT_Z(vb.vm_next_load_info, 1);
  EXPECT_Z(vb.vm_load_addr[0], 0x80000);
  EXPECT_Z(vb.vm_load_size[0], 0x3000);
  EXPECT_Z(vb.vm_remap_addr[0], k::REMAP_START);
  EXPECT_Z(vb.vm_mapped_pages[0], 0);
  EXPECT_Z(r->shared.core_data.next_remap_ptr, k::REMAP_START + 0x3000);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OBOOT_INFO, 1, 0x80000, 0x3000)});
}

TEST(HostHvc, SetBootInfoOfVmNotReadyHalts) {
  const Outcome r = call(fresh(), {15, 1, 0x80000, 0x3000});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OBOOT_INFO, 1, 0x80000, 0x3000)});
  EXPECT_Z(info(*r, 1).VB.vm_next_load_info, 0);
}

TEST(HostHvc, SetBootInfoArgumentChecks) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  for (std::array<Z, 6> x :
       {std::array<Z, 6>{15, 0, 0x80000, 0x1000}, std::array<Z, 6>{15, 1, k::KVM_PHYS_SIZE, 0x1000},
        std::array<Z, 6>{15, 1, 0x80000, k::KVM_PHYS_SIZE}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, SetBootInfoArgsProfile) {
  // load_addr + size = 2^28 + 4096: a valid physical range, but not below 2^28 (is_pfn).
  const std::array<Z, 6> x{15, 1, 0x10000000, 0x1000};
  RData lit = fresh(intended_but(&Profile::boot_info_args));
  set_vm_state(lit, 1, k::READY);
  expect_bad(call(lit, x), lit, x);

  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, x);
  expect_returned(r);
  EXPECT_Z(info(*r, 1).VB.vm_load_addr[0], 0x10000000);
}

TEST(HostHvc, SetBootInfoAssertsInfoAndCoreLocks) {
  RData d = fresh(intended_but(&Profile::hlock_acquire));
  set_vm_state(d, 1, k::READY);
  d.shared.hlock.set(k::CORE_ID, false);
  EXPECT_FALSE(call(d, {15, 1, 0x80000, 0x3000}).has_value());
  d.shared.hlock.set(k::CORE_ID, true);
  d.shared.hlock.set(kCfg.info_lock(1), false);
  EXPECT_FALSE(call(d, {15, 1, 0x80000, 0x3000}).has_value());
}

// ---- 16 REMAP_VM_IMAGE ------------------------------------------------------------------------

RData with_boot_info(Profile p = Profile::intended()) {
  RData d = fresh(p);
  VMInfo i = d.shared.vminfos[1];
  i.VS.vm_state = k::READY;
  i.VB.vm_next_load_info = 1;
  i.VB.vm_load_addr.set(0, 0x80000);
  i.VB.vm_load_size.set(0, 0x2000);
  i.VB.vm_remap_addr.set(0, k::REMAP_START);
  d.shared.vminfos.set(1, i);
  return d;
}

TEST(HostHvc, RemapVmImageMapsThePageIntoTheRemapWindow) {
  const Outcome r = call(with_boot_info(), {16, 1, 0x400, 0});
  expect_returned(r);
  EXPECT_EQ(r->shared.npts[kCorevisor].pt[k::REMAP_START / k::PAGE_SIZE],
            (PtEntry{0x400, 3, 0x400000 | k::PAGE_HYP}));
  EXPECT_Z(info(*r, 1).VB.vm_mapped_pages[0], 1);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OREMAP_IMAGE, 1, 0x400, 0)});
}

TEST(HostHvc, RemapVmImageArgumentChecks) {
  const RData d = with_boot_info();
  for (std::array<Z, 6> x :
       {std::array<Z, 6>{16, 0, 0x400, 0}, std::array<Z, 6>{16, 1, 0x400, kCfg.max_load_info},
        std::array<Z, 6>{16, 1, 0x400, -1}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, RemapArgsProfile) {
  // pfn 2^28 is not a pfn; literally only a3 is checked (twice), so it is accepted.
  const std::array<Z, 6> x{16, 1, k::KVM_PFN_SPACE, 0};
  const RData d = with_boot_info();
  expect_bad(call(d, x), d, x);

  const Outcome r = call(with_boot_info(intended_but(&Profile::remap_args)), x);
  expect_returned(r);
  EXPECT_EQ(r->shared.npts[kCorevisor].pt[k::REMAP_START / k::PAGE_SIZE],
            (PtEntry{k::KVM_PFN_SPACE, 3, k::KVM_PHYS_SIZE | k::PAGE_HYP}));
}

TEST(HostHvc, RemapVmImageOfVmNotReadyHaltsAndClearsInfoLock) {
  RData d = with_boot_info();
  set_vm_state(d, 1, k::VERIFIED);
  const Outcome r = call(d, {16, 1, 0x400, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, kCfg.info_lock(1)));
}

// ---- 17 VERIFY_VM_IMAGE -----------------------------------------------------------------------

TEST(HostHvc, VerifyArgumentCheck) {
  const RData d = fresh();
  expect_bad(call(d, {17, kCorevisor}), d, {17, kCorevisor});
  expect_bad(call(d, {17, 0}), d, {17, 0});
}

TEST(HostHvc, VerifyOfVmNotReadyHaltsAfterTheQueryAndEvent) {
  const Outcome r = call(fresh(), {17, 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVERIFY, 1)});
  EXPECT_FALSE(lock(*r, kCfg.info_lock(0)));  // the host's flag (sic)
  EXPECT_Z(info(*r, 1).VS.vm_state, k::UNUSED);
}

TEST(HostHvc, VerifyWithoutImagesMarksVerified) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {17, 1});
  expect_returned(r);
  EXPECT_Z(info(*r, 1).VS.vm_state, k::VERIFIED);
  EXPECT_FALSE(lock(*r, kCfg.info_lock(0)));
  EXPECT_TRUE(lock(*r, kCfg.info_lock(1)));
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OVERIFY, 1), ev(EventKind::OVERIFY, 1)}));
}

TEST(HostHvc, VerifySnapshotProfileIsUnobservableWithoutImages) {
  // Nothing between the snapshot and the end of the load loop writes vminfos, so both readings
  // give the same VERIFIED info.
  RData a = fresh();
  RData b = fresh(intended_but(&Profile::verify_snapshot));
  for (RData* d : {&a, &b}) {
    VMInfo i = d->shared.vminfos[1];
    i.VS.vm_state = k::READY;
    i.VS.vm_kvm = 0x55;
    d->shared.vminfos.set(1, i);
  }
  const Outcome ra = call(a, {17, 1});
  const Outcome rb = call(b, {17, 1});
  expect_returned(ra);
  expect_returned(rb);
  EXPECT_TRUE(info(*ra, 1) == info(*rb, 1));
  EXPECT_Z(info(*ra, 1).VS.vm_kvm, 0x55);
}

TEST(HostHvc, VerifyLeavesHostInfoLockClearedSoSmmuHypercallsGetStuck) {
  // §4.1: with QO not acquiring locks, the cleared host INFO flag makes SMMU_FREE undefined.
  RData d = fresh(intended_but(&Profile::hlock_acquire));
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {17, 1});
  expect_returned(r);
  EXPECT_FALSE(call(*r, {18, 0, 0}).has_value());
  // With lock acquisition the same sequence goes on.
  RData e = fresh();
  set_vm_state(e, 1, k::READY);
  const Outcome re = call(e, {17, 1});
  expect_returned(re);
  expect_returned(call(*re, {18, 0, 0}));
}

TEST(HostHvc, VerifyAssertsInfoLockOfTheVm) {
  RData d = fresh(intended_but(&Profile::hlock_acquire));
  set_vm_state(d, 1, k::READY);
  d.shared.hlock.set(kCfg.info_lock(1), false);
  EXPECT_FALSE(call(d, {17, 1}).has_value());
}

// ---- 18 SMMU_FREE_PGD -------------------------------------------------------------------------

TEST(HostHvc, SmmuFreePgdArgumentChecks) {
  const RData d = fresh();
  expect_bad(call(d, {18, kCfg.smmu_ctxt_banks, 0}), d, {18, kCfg.smmu_ctxt_banks, 0});
  expect_bad(call(d, {18, 0, kCfg.smmu_num()}), d, {18, 0, kCfg.smmu_num()});
}

TEST(HostHvc, SmmuFreePgdOfPoweredOffVm) {
  RData d = fresh();
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 2), 3);  // index 1, cbndx 2
  set_vm_state(d, 3, k::POWEROFF);
  const Outcome r = call(d, {18, 2, 1});
  expect_returned(r);
  EXPECT_Z(r->shared.smmu_vmid[kCfg.smmu_id(1, 2)], k::INVALID);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_FREE, 2, 1)});
}

TEST(HostHvc, SmmuFreePgdOfFreeContextIsNoOp) {
  const Outcome r = call(fresh(), {18, 2, 1});
  expect_returned(r);
  EXPECT_Z(r->shared.smmu_vmid[kCfg.smmu_id(1, 2)], k::INVALID);
}

TEST(HostHvc, SmmuFreePgdOfHostContextHalts) {
  RData d = fresh();
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 2), 0);
  const Outcome r = call(d, {18, 2, 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, k::SMMU_ID));
  EXPECT_Z(r->shared.smmu_vmid[kCfg.smmu_id(1, 2)], 0);
}

// ---- 19 SMMU_ALLOC_PGD ------------------------------------------------------------------------

TEST(HostHvc, SmmuAllocPgdArgumentChecks) {
  const RData d = fresh();
  for (std::array<Z, 6> x :
       {std::array<Z, 6>{19, kCfg.smmu_ctxt_banks, 1, 0}, std::array<Z, 6>{19, 0, kCorevisor, 0},
        std::array<Z, 6>{19, 0, -1, 0}, std::array<Z, 6>{19, 0, 1, kCfg.smmu_num()}}) {
    expect_bad(call(d, x), d, x);
  }
  // The upper bound is COREVISOR exclusive: the last VM is accepted, and so is the host.
  expect_returned(call(d, {19, 0, kCfg.max_vms, 0}));
  expect_returned(call(d, {19, 1, 0, 0}));
}

TEST(HostHvc, SmmuAllocPgdGivesTheContextToTheVm) {
  RData d = fresh();
  const Z ttbr = kCfg.smmu_ttbr(1, 3);
  d.shared.spts.spt_pt.set(ttbr, ZMap<SptEntry>().with(7, SptEntry{0x310, 0x310000}));
  const Outcome r = call(d, {19, 3, 2, 1});  // cbndx 3, vmid 2, index 1
  expect_returned(r);
  EXPECT_Z(r->shared.smmu_vmid[kCfg.smmu_id(1, 3)], 2);
  EXPECT_EQ(r->shared.spts.spt_pt[ttbr][7], (SptEntry{0, 0}));
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_ALLOC, 3, 2, 1, 8)});
}

TEST(HostHvc, SmmuAllocPgdReadsTheBankCountFromSmmuConf) {
  RData d = fresh();
  d.smmu_conf.smmu_dev_context_banks.set(1, 2);
  const Outcome r = call(d, {19, 3, 2, 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);  // cbndx 3 >= num 2
  EXPECT_FALSE(lock(*r, k::SMMU_ID));
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_ALLOC, 3, 2, 1, 2)});
}

TEST(HostHvc, SmmuAllocPgdForVerifiedVmHalts) {
  RData d = fresh();
  set_vm_state(d, 2, k::VERIFIED);
  const Outcome r = call(d, {19, 3, 2, 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, k::SMMU_ID));
  EXPECT_FALSE(lock(*r, kCfg.info_lock(2)));
}

TEST(HostHvc, SmmuAllocPgdOfTakenContextIsIgnored) {
  RData d = fresh();
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 3), 4);
  const Outcome r = call(d, {19, 3, 2, 1});
  expect_returned(r);
  EXPECT_Z(r->shared.smmu_vmid[kCfg.smmu_id(1, 3)], 4);
}

// ---- 20 SMMU_LPAE_MAP -------------------------------------------------------------------------

// SMMU context (index 0, cbndx 1) owned by VM 2, which is not yet verified.
RData with_vm_smmu_context(Profile p = Profile::intended()) {
  RData d = fresh(p);
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 1), 2);
  return d;
}

TEST(HostHvc, SmmuLpaeMapArgumentChecks) {
  const RData d = with_vm_smmu_context();
  for (std::array<Z, 6> x : {std::array<Z, 6>{20, k::KVM_PHYS_SIZE, 0x310000, 3, 1, 0},
                             std::array<Z, 6>{20, 0x50000, k::KVM_PHYS_SIZE, 3, 1, 0},
                             std::array<Z, 6>{20, 0x50000, 0x310000, -1, 1, 0},
                             std::array<Z, 6>{20, 0x50000, 0x310000, pow2(63) - 1, 1, 0},
                             std::array<Z, 6>{20, 0x50000, 0x310000, 0x1000, 1, 0},
                             std::array<Z, 6>{20, 0x50000, 0x310000, 3, 8, 0},
                             std::array<Z, 6>{20, 0x50000, 0x310000, 3, 1, 2}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, SmmuLpaeMapAssignsThenMaps) {
  // Literally pte = paddr | prot | PTE_AF_OR_SH_IS (0x10000); paddr has bit 16 set so that the
  // pte's frame is the assigned one.
  const Outcome r = call(with_vm_smmu_context(intended_but(&Profile::smmu_pte_attr)),
                         {20, 0x50000, 0x310000, 3, 1, 0});
  expect_returned(r);
  EXPECT_EQ(r->shared.s2page[0x310], (S2Page{2, k::INVALID, 0x50}));
  EXPECT_EQ(r->shared.spts.spt_pt[kCfg.smmu_ttbr(0, 1)][0x50], (SptEntry{0x310, 0x310003}));
  // OASSIGN_SMMU carries the pfn in its gfn slot and vice versa, as the spec's call site does.
  EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OSMMU_MAP, 1, 0, 0x50000, 0x310003),
                                                  ev(EventKind::OASSIGN_SMMU, 1, 0, 0x310, 0x50)}));
}

TEST(HostHvc, SmmuLpaeMapPteFlagLandsInAddressBits) {
  // paddr 0x300000: the pte's frame becomes 0x310, which the VM does not own -> phase 2 halts.
  const Outcome r = call(with_vm_smmu_context(intended_but(&Profile::smmu_pte_attr)),
                         {20, 0x50000, 0x300000, 3, 1, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{2, k::INVALID, 0x50}));
  EXPECT_FALSE(lock(*r, k::SMMU_ID));
  EXPECT_FALSE(lock(*r, kCfg.info_lock(2)));
  EXPECT_FALSE(lock(*r, k::S2PAGE_ID));
  EXPECT_EQ(events(*r).size(), 2u);
}

// smmu_pte_attr (intended): the attribute bits stay out of the address, so any assigned page maps.
TEST(HostHvc, SmmuLpaeMapWithArchitecturalAttributesMapsTheAssignedFrame) {
  const Outcome r = call(with_vm_smmu_context(), {20, 0x50000, 0x300000, 3, 1, 0});
  expect_returned(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{2, k::INVALID, 0x50}));
  EXPECT_EQ(r->shared.spts.spt_pt[kCfg.smmu_ttbr(0, 1)][0x50], (SptEntry{0x300, 0x300703}));
}

TEST(HostHvc, SmmuLpaeMapPhaseOneHaltSkipsPhaseTwo) {
  RData d = with_vm_smmu_context();
  set_vm_state(d, 2, k::VERIFIED);
  const Outcome r = call(d, {20, 0x50000, 0x310000, 3, 1, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OASSIGN_SMMU, 1, 0, 0x310, 0x50)});
  EXPECT_EQ(r->shared.s2page[0x310], (S2Page{0, 0, 0x310 + k::SMMU_HOST_OFFSET}));
}

TEST(HostHvc, SmmuLpaeMapPhaseTwoAssertsSwappedInfoLock) {
  // Phase 2 asserts INFO of smmu_vmid[smmu_id(cbndx, index)] = smmu_vmid[smmu_id(1, 0)].
  RData d = with_vm_smmu_context(intended_but(&Profile::hlock_acquire));
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 0), 5);
  d.shared.hlock.set(kCfg.info_lock(5), false);
  EXPECT_FALSE(call(d, {20, 0x50000, 0x310000, 3, 1, 0}).has_value());

  RData e = with_vm_smmu_context(intended_but(&Profile::hlock_acquire));
  e.shared.hlock.set(kCfg.info_lock(2), false);  // the owner's flag is never asserted
  expect_returned(call(e, {20, 0x50000, 0x310000, 3, 1, 0}));
}

// ---- 21 SMMU_LPAE_IOVA_TO_PHYS ----------------------------------------------------------------

RData with_iova_mapping(Profile p = Profile::intended()) {
  RData d = fresh(p);
  d.shared.spts.spt_pt.set(kCfg.smmu_ttbr(1, 2),
                           ZMap<SptEntry>().with(0x50, SptEntry{0x310, 0x310747}));
  return d;
}

TEST(HostHvc, IovaToPhysReturnsTheTranslationInX0) {
  const Outcome r = call(with_iova_mapping(), {21, 0x50123, 2, 1});  // cbndx 2, index 1
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 0x310123);
  EXPECT_Z(r->regs.ctxt_regs.x[1], 0x50123);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_GET)});
}

TEST(HostHvc, IovaToPhysOfUnmappedIovaReturnsTheOffset) {
  const Outcome r = call(with_iova_mapping(), {21, 0x51123, 2, 1});
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 0x123);
}

TEST(HostHvc, IovaLogProfile) {
  const Outcome r = call(with_iova_mapping(intended_but(&Profile::iova_log)), {21, 0x50123, 2, 1});
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 0x310123);
  EXPECT_EQ(r->slog.length(), 0u);
}

TEST(HostHvc, IovaToPhysArgumentChecks) {
  const RData d = fresh();
  for (std::array<Z, 6> x :
       {std::array<Z, 6>{21, k::KVM_PHYS_SIZE, 2, 1}, std::array<Z, 6>{21, 0x50123, 8, 1},
        std::array<Z, 6>{21, 0x50123, 2, 2}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, IovaToPhysAssertsSptLock) {
  RData d = with_iova_mapping(intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(k::SPT_ID, false);
  EXPECT_FALSE(call(d, {21, 0x50123, 2, 1}).has_value());
}

// ---- 22 SMMU_CLEAR ----------------------------------------------------------------------------

RData with_smmu_entry(Z owner, Profile p = Profile::intended()) {
  RData d = fresh(p);
  d.shared.smmu_vmid.set(kCfg.smmu_id(0, 1), owner);
  d.shared.spts.spt_pt.set(kCfg.smmu_ttbr(0, 1),
                           ZMap<SptEntry>().with(0x50, SptEntry{0x310, 0x310003}));
  return d;
}

TEST(HostHvc, SmmuClearOfVmContextClearsTheEntry) {
  RData d = with_smmu_entry(2);
  d.shared.s2page.set(0x310, S2Page{2, k::INVALID, 0x50});
  const Outcome r = call(d, {22, 0x50000, 1, 0});  // cbndx 1, index 0
  expect_returned(r);
  EXPECT_EQ(r->shared.spts.spt_pt[kCfg.smmu_ttbr(0, 1)][0x50], (SptEntry{0, 0}));
  EXPECT_EQ(r->shared.s2page[0x310], (S2Page{2, k::INVALID, 0x50}));
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OSMMU_CLEAR, 0x50000, 1, 0)});
}

TEST(HostHvc, SmmuClearOfHostContextDropsTheMapCount) {
  RData d = with_smmu_entry(0);
  d.shared.s2page.set(0x310, S2Page{0, 1, 0x310 + k::SMMU_HOST_OFFSET});
  const Outcome r = call(d, {22, 0x50000, 1, 0});
  expect_returned(r);
  EXPECT_EQ(r->shared.s2page[0x310], (S2Page{0, 0, 0x310 + k::SMMU_HOST_OFFSET}));
}

TEST(HostHvc, SmmuClearOfVerifiedVmContextHalts) {
  RData d = with_smmu_entry(2);
  set_vm_state(d, 2, k::POWEROFF);  // >= VERIFIED
  const Outcome r = call(d, {22, 0x50000, 1, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, k::SMMU_ID));
  EXPECT_FALSE(lock(*r, kCfg.info_lock(2)));
  EXPECT_EQ(r->shared.spts.spt_pt[kCfg.smmu_ttbr(0, 1)][0x50], (SptEntry{0x310, 0x310003}));
}

TEST(HostHvc, SmmuClearArgumentChecks) {
  const RData d = with_smmu_entry(2);
  for (std::array<Z, 6> x :
       {std::array<Z, 6>{22, k::KVM_PHYS_SIZE, 1, 0}, std::array<Z, 6>{22, 0x50000, 8, 0},
        std::array<Z, 6>{22, 0x50000, 1, 2}}) {
    expect_bad(call(d, x), d, x);
  }
}

TEST(HostHvc, SmmuClearAssertsSwappedInfoLock) {
  RData d = with_smmu_entry(2, intended_but(&Profile::hlock_acquire));
  d.shared.smmu_vmid.set(kCfg.smmu_id(1, 0), 5);
  d.shared.hlock.set(kCfg.info_lock(5), false);
  EXPECT_FALSE(call(d, {22, 0x50000, 1, 0}).has_value());
}

// ---- 23 PHYS_ADDR_IOREMAP ---------------------------------------------------------------------

TEST(HostHvc, IoremapMapsDevicePagesPageByPage) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  // size 0x1001 -> ceil = 2 pages; pa 0x100000 is SMMU MMIO (owner INVALID).
  const Outcome r = call(d, {23, 1, 0x8000000, 0x100000, 0x1001});
  expect_returned(r);
  const Z dev = k::PAGE_S2_DEVICE | k::S2_RDWR;
  EXPECT_EQ(r->shared.npts[1].pt[0x8000], (PtEntry{0x100, 3, 0x100000 | dev}));
  EXPECT_EQ(r->shared.npts[1].pt[0x8001], (PtEntry{0x101, 3, 0x101000 | dev}));
  EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OMAP_IO, 1, 0x8001000, 0x101000),
                                                  ev(EventKind::OMAP_IO, 1, 0x8000000, 0x100000)}));
}

TEST(HostHvc, IoremapOfRamIsSilentlyIgnoredAndZeroSizeDoesNothing) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {23, 1, 0x8000000, 0x300000, 0x1000});
  expect_returned(r);
  EXPECT_EQ(r->shared.npts[1].pt[0x8000], (PtEntry{0, 0, 0}));
  EXPECT_EQ(events(*r).size(), 1u);
  const Outcome z = call(d, {23, 1, 0x8000000, 0x100000, 0});
  expect_returned(z);
  EXPECT_EQ(z->slog.length(), 0u);
}

TEST(HostHvc, IoremapOfVmNotReadyHalts) {
  const Outcome r = call(fresh(), {23, 1, 0x8000000, 0x100000, 0x2000});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, kCfg.info_lock(1)));
  EXPECT_EQ(events(*r).size(), 1u);  // stops after the first page
}

TEST(HostHvc, IoremapArgumentChecks) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Z top = k::KVM_ADDR_SPACE - k::PAGE_SIZE;
  const Z ptop = k::KVM_PHYS_SIZE - k::PAGE_SIZE;
  for (std::array<Z, 6> x : {std::array<Z, 6>{23, 0, 0x8000000, 0x100000, 0x1000},
                             std::array<Z, 6>{23, 1, k::KVM_ADDR_SPACE, 0x100000, 0x1000},
                             std::array<Z, 6>{23, 1, 0x8000000, k::KVM_PHYS_SIZE, 0x1000},
                             std::array<Z, 6>{23, 1, 0x8000000, 0x100000, k::KVM_PHYS_SIZE},
                             std::array<Z, 6>{23, 1, top, 0x100000, 0x1000},
                             std::array<Z, 6>{23, 1, 0x8000000, ptop, 1}}) {
    expect_bad(call(d, x), d, x);
  }
  // One page below the top of each space is fine.
  expect_returned(call(d, {23, 1, top, ptop, 0}));
}

// ---- 24 REGISTER_KVM --------------------------------------------------------------------------

TEST(HostHvc, RegisterKvmReturnsTheNewVmidInX0) {
  OracleInputs o;
  o.params.shared_kvm[1] = 0xAB;
  const Outcome r = call(fresh(Profile::intended(), o), {24});
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 1);
  EXPECT_Z(info(*r, 1).VS.vm_state, k::READY);
  EXPECT_Z(info(*r, 1).VS.vm_kvm, 0xAB);
  EXPECT_Z(r->shared.core_data.next_vmid, 2);
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OREG_KVM, 1), ev(EventKind::OGEN_VMID)}));
  const Outcome r2 = call(*r, {24});
  expect_returned(r2);
  EXPECT_Z(r2->regs.ctxt_regs.x[0], 2);
}

TEST(HostHvc, RegisterKvmOutOfVmidsHalts) {
  RData d = fresh();
  d.shared.core_data.next_vmid = kCorevisor;
  const Outcome r = call(d, {24});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OGEN_VMID)});
}

TEST(HostHvc, RegisterKvmOfUsedVmidHaltsInPhaseTwo) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {24});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_EQ(events(*r).size(), 2u);
  EXPECT_Z(r->shared.core_data.next_vmid, 2);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[0], 1);
}

TEST(HostHvc, RegisterKvmAssertsCoreAndInfoLocks) {
  RData d = fresh(intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(k::CORE_ID, false);
  EXPECT_FALSE(call(d, {24}).has_value());
  d.shared.hlock.set(k::CORE_ID, true);
  d.shared.hlock.set(kCfg.info_lock(1), false);
  EXPECT_FALSE(call(d, {24}).has_value());
}

// ---- 25 REGISTER_VCPU -------------------------------------------------------------------------

TEST(HostHvc, RegisterVcpuMakesItReady) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {25, 1, 3});
  expect_returned(r);
  EXPECT_Z(info(*r, 1).VS.vm_vcpu_state[3], k::READY);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OREG_VCPU, 1, 3)});
}

TEST(HostHvc, RegisterVcpuDirtyProfile) {
  for (bool intended : {true, false}) {
    Profile p = Profile::intended();
    p.register_vcpu_dirty = intended;
    RData d = fresh(p);
    set_vm_state(d, 1, k::READY);
    Ctxt c = d.ctx(kCfg.ctxt_id(1, 3));
    c.ctxt_states.dirty = 0;  // left over from an earlier use of the slot
    d.set_ctx(kCfg.ctxt_id(1, 3), c);
    const Outcome r = call(d, {25, 1, 3});
    expect_returned(r);
    EXPECT_Z(r->ctx(kCfg.ctxt_id(1, 3)).ctxt_states.dirty, intended ? k::INVALID64 : 0);
  }
}

TEST(HostHvc, RegisterVcpuOfVmNotReadyHaltsWithoutTouchingTheContext) {
  RData d = fresh();
  Ctxt c = d.ctx(kCfg.ctxt_id(1, 3));
  c.ctxt_states.dirty = 0;
  d.set_ctx(kCfg.ctxt_id(1, 3), c);
  const Outcome r = call(d, {25, 1, 3});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_Z(r->ctx(kCfg.ctxt_id(1, 3)).ctxt_states.dirty, 0);
}

TEST(HostHvc, RegisterVcpuArgumentChecks) {
  RData d = fresh();
  set_vm_state(d, 1, k::READY);
  expect_bad(call(d, {25, 1, kCfg.vcpus_per_vm}), d, {25, 1, kCfg.vcpus_per_vm});
  expect_bad(call(d, {25, 0, 0}), d, {25, 0, 0});
}

// ---- 26 ENCRYPT_BUF ---------------------------------------------------------------------------

TEST(HostHvc, EncryptBufWritesOracleCiphertext) {
  OracleInputs o;
  o.data[0] = {77};
  RData d = fresh(Profile::intended(), o);
  d.shared.s2page.set(0x300, S2Page{1, 0, 0x10});
  const Outcome r = call(d, {26, 1, 0x300000, 0x301000});
  expect_returned(r);
  EXPECT_Z(r->shared.flatmem[0x301], 77);
  EXPECT_Z(r->data_log[0], 1);
  EXPECT_EQ(events(*r),
            std::vector<std::string>{ev(EventKind::OSAVE_ENC_BUF, 1, 0x300000, 0x301000, 0)});
}

TEST(HostHvc, EncryptBufOfForeignPageHalts) {
  const Outcome r = call(fresh(), {26, 1, 0x300000, 0x301000});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, k::S2PAGE_ID));
  EXPECT_Z(r->data_log[0], 0);
}

TEST(HostHvc, EncryptBufArgumentChecks) {
  const RData d = fresh();
  for (std::array<Z, 6> x : {std::array<Z, 6>{26, 0, 0x300000, 0x301000},
                             std::array<Z, 6>{26, 1, k::KVM_PHYS_SIZE, 0x301000},
                             std::array<Z, 6>{26, 1, 0x300000, k::KVM_PHYS_SIZE}}) {
    expect_bad(call(d, x), d, x);
  }
}

// ---- 27 DECRYPT_BUF ---------------------------------------------------------------------------

TEST(HostHvc, DecryptBufMovesTheHostPageToTheVm) {
  OracleInputs o;
  o.data[0] = {88};
  RData d = fresh(Profile::intended(), o);
  set_vm_state(d, 1, k::READY);
  const Outcome r = call(d, {27, 1, 0x300000});
  expect_returned(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{1, 0, k::INVALID64}));
  EXPECT_Z(r->shared.flatmem[0x300], 88);
  EXPECT_Z(r->data_log[0], 1);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OLOAD_ENC_BUF, 1, 0x300000, 0, 0)});
}

TEST(HostHvc, DecryptBufOfVmNotReadyHalts) {
  const Outcome r = call(fresh(), {27, 1, 0x300000});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, kCfg.info_lock(1)));
}

TEST(HostHvc, DecryptBufArgumentChecks) {
  const RData d = fresh();
  expect_bad(call(d, {27, 0, 0x300000}), d, {27, 0, 0x300000});
  expect_bad(call(d, {27, 1, k::KVM_PHYS_SIZE}), d, {27, 1, k::KVM_PHYS_SIZE});
}

TEST(HostHvc, DecryptBufAssertsItsLocks) {
  for (Z id : {k::S2PAGE_ID, kCfg.info_lock(1), k::NPT_ID}) {
    RData d = fresh(intended_but(&Profile::hlock_acquire));
    set_vm_state(d, 1, k::READY);
    d.shared.hlock.set(id, false);
    EXPECT_FALSE(call(d, {27, 1, 0x300000}).has_value());
  }
}

// ---- 28 SAVE_CRYPT_VCPU -----------------------------------------------------------------------

TEST(HostHvc, SaveCryptVcpuIsNoOpAfterItsCheck) {
  const RData d = fresh();
  const Outcome r = call(d, {28, 1, 2});
  expect_returned(r);
  EXPECT_EQ(r->slog.length(), 0u);
  expect_bad(call(d, {28, 1, kCfg.vcpus_per_vm}), d, {28, 1, kCfg.vcpus_per_vm});
  expect_bad(call(d, {28, kCorevisor, 0}), d, {28, kCorevisor, 0});
}

// ---- 29 LOAD_CRYPT_VCPU -----------------------------------------------------------------------

RData with_encrypted_vcpu(Profile p) {
  OracleInputs o;
  o.data[0] = {0xA0, 0xA1, 0xA2};
  o.params.decrypt_gp_count = 2;   // x0, x1
  o.params.decrypt_sys_count = 1;  // index 47 = MPIDR_EL1
  RData d = fresh(p, o);
  set_vm_state(d, 1, k::READY);
  set_vcpu_state(d, 1, 2, k::READY);
  d.regs.ctxt_regs.x[7] = 0x77;
  return d;
}

TEST(HostHvc, LoadCryptVcpuWritesTheVmContext) {
  const Outcome r = call(with_encrypted_vcpu(Profile::intended()), {29, 1, 2});
  expect_returned(r);
  const Ctxt vm = r->ctx(kCfg.ctxt_id(1, 2));
  EXPECT_Z(vm.ctxt_regs.x[0], 0xA0);
  EXPECT_Z(vm.ctxt_regs.x[1], 0xA1);
  EXPECT_Z(vm.ctxt_regs.x[2], 2);  // the rest comes from the host registers passed in
  EXPECT_Z(vm.ctxt_regs.x[7], 0x77);
  EXPECT_Z(vm.ctxt_regs.mpidr_el1, 0xA2);
  EXPECT_Z(vm.ctxt_states.dirty, 0);
  EXPECT_Z(info(*r, 1).VB.vm_inc_exe, 1);
  EXPECT_Z(r->data_log[0], 3);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 29);  // the host's registers are untouched
  EXPECT_Z(r->ctx(0).ctxt_regs.mpidr_el1, 0);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OLOAD_ENC_VCPU, 1, 2, 0, 0)});
}

TEST(HostHvc, CryptVcpuTargetProfileLiteralWritesTheHostContext) {
  const RData d = with_encrypted_vcpu(intended_but(&Profile::crypt_vcpu_target));
  const Outcome r = call(d, {29, 1, 2});
  expect_returned(r);
  EXPECT_Z(r->regs.ctxt_regs.x[0], 0xA0);
  EXPECT_Z(r->regs.ctxt_regs.x[1], 0xA1);
  EXPECT_Z(r->ctx(0).ctxt_regs.mpidr_el1, 0xA2);
  EXPECT_TRUE(r->ctx(kCfg.ctxt_id(1, 2)) == d.ctx(kCfg.ctxt_id(1, 2)));
  EXPECT_Z(r->ctx(kCfg.ctxt_id(1, 2)).ctxt_states.dirty, k::INVALID64);
  EXPECT_Z(r->data_log[0], 3);
}

TEST(HostHvc, LoadCryptVcpuOfVcpuNotReadyHaltsWithoutWriting) {
  RData d = with_encrypted_vcpu(Profile::intended());
  set_vcpu_state(d, 1, 2, k::UNUSED);
  const Outcome r = call(d, {29, 1, 2});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(lock(*r, kCfg.info_lock(1)));
  EXPECT_TRUE(r->ctx(kCfg.ctxt_id(1, 2)) == d.ctx(kCfg.ctxt_id(1, 2)));
  EXPECT_Z(r->data_log[0], 0);
  EXPECT_Z(info(*r, 1).VB.vm_inc_exe, 0);
}

TEST(HostHvc, LoadCryptVcpuArgumentChecks) {
  const RData d = with_encrypted_vcpu(Profile::intended());
  expect_bad(call(d, {29, 1, kCfg.vcpus_per_vm}), d, {29, 1, kCfg.vcpus_per_vm});
  expect_bad(call(d, {29, 0, 2}), d, {29, 0, 2});
}

}  // namespace
}  // namespace hypdiff::model
