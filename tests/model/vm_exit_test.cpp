// vm_exit_handler and its pieces (spec §3.5.4): every exit class, prep_exit_vm's branches taken
// directly (including those the dispatcher makes unreachable), and a full VM lifecycle driven
// through the exported handlers.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "model/handlers.hpp"
#include "model/loops.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::model {
namespace {

#define EXPECT_Z(a, b) EXPECT_EQ(to_hex(a), to_hex(b))

const MachineConfig kCfg{};
const Z kVm = 1;
const Z kCtx = kCfg.ctxt_id(1, 0);

Profile intended_but(bool Profile::*field) {
  Profile p = Profile::intended();
  p.*field = false;
  return p;
}

std::string ev(EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0) {
  return to_string(SingleEvent{0, AtomicEvent{kind, {a, b, c, e}}});
}
std::vector<std::string> events(const RData& d) {
  std::vector<std::string> out;
  for (const SingleEvent& e : d.slog.newest(100)) out.push_back(to_string(e));
  return out;
}
VMInfo info(const RData& d) { return d.shared.vminfos[kVm]; }

// VM 1 VERIFIED with vCPU 0 ACTIVE and running on CPU 0. The host's saved context and the VM's
// live registers differ in every field the tests look at.
RData running(OracleInputs o = {}, Profile p = Profile::intended()) {
  RData d = testing::fresh(p, std::make_shared<const OracleInputs>(std::move(o)));
  VMInfo i = d.shared.vminfos[kVm];
  i.VS.vm_state = k::VERIFIED;
  i.VS.vm_vcpu_state.set(0, k::ACTIVE);
  d.shared.vminfos.set(kVm, i);

  Ctxt host = d.ctx(0);
  host.ctxt_regs.x[0] = kVm;
  host.ctxt_regs.x[9] = 0x99;
  host.ctxt_regs.sctlr_el1 = 0x55;
  host.ctxt_regs.fp_q[0] = 5;
  host.ctxt_states.pc = 0x4000;
  host.ctxt_states.pstate = 0x3C5;
  d.set_ctx(0, host);
  Ctxt vm = d.ctx(kCtx);
  vm.ctxt_states.dirty = 0;
  vm.ctxt_states.pc = 0x80100;
  vm.ctxt_states.pstate = 5;
  d.set_ctx(kCtx, vm);

  d.cur_vmid = kVm;
  d.cur_vcpuid = 0;
  d.ihost = false;
  d.icore = false;
  CtxtRegs& phys = d.regs.ctxt_regs;
  phys.x[9] = 0x1234;
  phys.elr_el2 = 0x80100;
  phys.sctlr_el1 = 0x66;
  phys.fp_q[0] = 7;
  phys.vmpidr_el2 = 0x80000000;
  phys.far_el2 = 0xF00;
  phys.hpfar_el2 = 0x50;
  d.regs.trap_regs = TrapRegs{3, 4, 5, 6, 20};
  return d;
}

Z hsr(Z ec) { return ec << k::ESR_ELx_EC_SHIFT; }

Outcome vm_exit(RData d, Z ec, Z esr, std::array<Z, 4> x = {}) {
  d.regs.ctxt_regs.ec = ec;
  d.regs.ctxt_regs.esr_el2 = esr;
  for (std::size_t i = 0; i < x.size(); ++i) d.regs.ctxt_regs.x[i] = x[i];
  return vm_exit_handler(std::move(d));
}

void expect_resumed(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_FALSE(r->ihost);
  EXPECT_FALSE(r->icore);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_Z(r->cur_vcpuid, 0);
  for (std::size_t i = 0; i < 31; ++i) {
    EXPECT_Z(r->regs.ctxt_regs.x[i], r->ctx(kCtx).ctxt_regs.x[i]);
  }
}

// Back in the host with the host's saved context restored into the physical registers.
void expect_in_host(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_TRUE(r->ihost);
  EXPECT_FALSE(r->icore);
  EXPECT_Z(r->cur_vmid, 0);
  EXPECT_Z(r->cur_vcpuid, 0);
  const CtxtRegs& phys = r->regs.ctxt_regs;
  EXPECT_Z(phys.x[0], kVm);
  EXPECT_Z(phys.x[9], 0x99);
  EXPECT_Z(phys.sctlr_el1, 0x55);
  EXPECT_Z(phys.fp_q[0], 5);
  EXPECT_Z(phys.elr_el2, 0x4000);
  EXPECT_Z(phys.spsr_el2, 0x3C5);
  EXPECT_Z(phys.vttbr_el2, MachineConfig::pt_vttbr(0));
  EXPECT_Z(phys.hcr_el2, k::HCR_HOST_NVHE_FLAGS);
  EXPECT_Z(phys.tpidr_el2, 0);
  EXPECT_Z(phys.mpidr_el1, 0);
  EXPECT_Z(phys.vmpidr_el2, 0);
  // deactivate_traps, then timer_enable_traps (+1 on cnthctl).
  EXPECT_EQ(r->regs.trap_regs, (TrapRegs{3, 0, 0, k::CPTR_EL2_DEFAULT, 21}));
  // The VM's state was saved into its shadow context.
  const CtxtRegs& vm = r->ctx(kCtx).ctxt_regs;
  EXPECT_Z(vm.x[9], 0x1234);
  EXPECT_Z(vm.sctlr_el1, 0x66);
  EXPECT_Z(vm.fp_q[0], 7);
  EXPECT_Z(vm.mpidr_el1, 0x80000000);
  EXPECT_Z(vm.far_el2, 0xF00);
  EXPECT_Z(info(*r).VS.vm_vcpu_state[0], k::READY);
}

// ---- mode and halt ----------------------------------------------------------------------------

TEST(VmExit, WrongModeIsNone) {
  for (auto [ihost, icore] :
       {std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    RData d = running();
    d.ihost = ihost;
    d.icore = icore;
    EXPECT_FALSE(vm_exit(d, k::ARM_EXCEPTION_INTERRUPT, 0).has_value());
  }
}

TEST(VmExit, HaltedStateIsReturnedUnchanged) {
  RData d = running();
  d.halt = true;
  const Outcome r = vm_exit(d, k::ARM_EXCEPTION_INTERRUPT, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_FALSE(r->ihost);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_TRUE(r->ctx(kCtx) == d.ctx(kCtx));
  EXPECT_EQ(r->slog.length(), 0u);
}

// ---- trap exits handled in KCore --------------------------------------------------------------

TEST(VmExit, Sys64ResumesTheVmPastTheInstruction) {
  const Outcome r = vm_exit(running(), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_SYS64), {5});
  expect_resumed(r);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x80104);
  EXPECT_Z(r->regs.ctxt_regs.esr_el2, hsr(k::ESR_ELx_EC_SYS64));
  const CtxtRegs& vm = r->ctx(kCtx).ctxt_regs;
  EXPECT_Z(vm.x[0], 5);
  EXPECT_Z(vm.esr_el2, hsr(k::ESR_ELx_EC_SYS64));
  EXPECT_Z(vm.ec, k::ARM_EXCEPTION_TRAP);
  EXPECT_Z(vm.far_el2, 0xF00);
  EXPECT_Z(vm.hpfar_el2, 0x50);
  EXPECT_EQ(r->slog.length(), 0u);
  EXPECT_Z(info(*r).VS.vm_vcpu_state[0], k::ACTIVE);
}

TEST(VmExit, PcAdvanceProfileLiteralWritesEsr) {
  const Outcome r = vm_exit(running({}, intended_but(&Profile::pc_advance)), k::ARM_EXCEPTION_TRAP,
                            hsr(k::ESR_ELx_EC_SYS64));
  expect_resumed(r);
  EXPECT_Z(r->regs.ctxt_regs.esr_el2, 0x80104);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x80100);
}

// Guest page gfn 5 -> host frame 0x300, owned by the VM with the given share count.
RData with_guest_page(Z count, OracleInputs o = {}) {
  RData d = running(std::move(o));
  NPT npt = d.shared.npts[kVm];
  npt.pt.set(5, PtEntry{0x300, 3, 0x300000 | k::PAGE_S2_KERNEL});
  d.shared.npts.set(kVm, npt);
  d.shared.s2page.set(0x300, S2Page{kVm, count, 5});
  return d;
}

TEST(VmExit, GuestGrantSharesThePageAndResumes) {
  const Outcome r = vm_exit(with_guest_page(0), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64),
                            {k::HVC_KVM_SET_DESC_PFN, 0, 0x5000, 0x1000});
  expect_resumed(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{kVm, 1, 5}));
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OGRANT, 1, 0x300), ev(EventKind::OPT_GET, 1),
                                      ev(EventKind::OPT_GET, 1)}));
}

TEST(VmExit, GuestGrantSkipsUnmappedPages) {
  // Size 0x1001 covers gfn 5 (mapped) and gfn 6 (not mapped: only the two reads are logged).
  const Outcome r = vm_exit(with_guest_page(0), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64),
                            {k::HVC_KVM_SET_DESC_PFN, 0, 0x5000, 0x1001});
  expect_resumed(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{kVm, 1, 5}));
  EXPECT_EQ(events(*r).size(), 5u);
}

TEST(VmExit, GuestRevokeOfLastShareScrubsThePage) {
  OracleInputs o;
  o.data[kVm] = {0xE0};
  const Outcome r = vm_exit(with_guest_page(1, o), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64),
                            {k::HVC_KVM_UNSET_DESC_PFN, 0, 0x5000, 0x1000});
  expect_resumed(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{kVm, 0, 5}));
  EXPECT_Z(r->shared.flatmem[0x300], 0xE0);
  EXPECT_Z(r->data_log[kVm], 1);
  const std::vector<SingleEvent> log = r->slog.newest(10);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].event.kind, EventKind::OREVOKE);
}

// ---- exits to the host ------------------------------------------------------------------------

TEST(VmExit, PsciSystemOffPowersTheVmOffAndReturnsToTheHost) {
  for (Z x0 : {k::PSCI_0_2_FN_SYSTEM_OFF, (Z{0xFFFFFFFF} << 32) | k::PSCI_0_2_FN_SYSTEM_OFF}) {
    const Outcome r = vm_exit(running(), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64), {x0});
    expect_in_host(r);
    EXPECT_Z(info(*r).VS.vm_state, k::POWEROFF);
    EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[0], x0);
    EXPECT_EQ(events(*r), (std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0),
                                                    ev(EventKind::OVM_POWEROFF, 1)}));
  }
}

TEST(VmExit, PsciSystemOffAssertsInfoLock) {
  RData d = running({}, intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(kCfg.info_lock(kVm), false);
  EXPECT_FALSE(
      vm_exit(d, k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64), {k::PSCI_0_2_FN_SYSTEM_OFF})
          .has_value());
}

TEST(VmExit, OtherGuestHypercallReturnsToTheHost) {
  const Outcome r = vm_exit(running(), k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64), {0x1234});
  expect_in_host(r);
  EXPECT_Z(info(*r).VS.vm_state, k::VERIFIED);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0)});
}

TEST(VmExit, InterruptReturnsToTheHost) {
  const Outcome r = vm_exit(running(), k::ARM_EXCEPTION_INTERRUPT, 0, {3});
  expect_in_host(r);
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[0], 3);
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.ec, k::ARM_EXCEPTION_INTERRUPT);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0)});
}

TEST(VmExit, ExitOfVcpuNotActiveHaltsInKCore) {
  RData d = running();
  VMInfo i = d.shared.vminfos[kVm];
  i.VS.vm_vcpu_state.set(0, k::READY);
  d.shared.vminfos.set(kVm, i);
  const Outcome r = vm_exit(d, k::ARM_EXCEPTION_INTERRUPT, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_FALSE(r->ihost);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0)});
}

// ---- halting exits ----------------------------------------------------------------------------

TEST(VmExit, UnhandledTrapClassesHaltInTheDispatcher) {
  // WFx, HVC32, IABT, DABT, UNKNOWN and an unassigned class all halt before prep_exit_vm; the
  // resume path still runs, so icore is cleared and the guest registers are restored.
  for (bool hvc32 : {true, false}) {
    Profile p = Profile::intended();
    p.hvc32_exit = hvc32;
    for (Z ec : {k::ESR_ELx_EC_WFx, k::ESR_ELx_EC_HVC32, k::ESR_ELx_EC_IABT_LOW,
                 k::ESR_ELx_EC_DABT_LOW, k::ESR_ELx_EC_UNKNOWN, Z{0x3F}}) {
      const Outcome r = vm_exit(running({}, p), k::ARM_EXCEPTION_TRAP, hsr(ec), {1, 2});
      ASSERT_TRUE(r.has_value());
      EXPECT_TRUE(r->halt);
      EXPECT_FALSE(r->icore);
      EXPECT_FALSE(r->ihost);
      EXPECT_Z(r->cur_vmid, kVm);
      EXPECT_Z(r->regs.ctxt_regs.x[1], 2);
      EXPECT_EQ(r->slog.length(), 0u);
      EXPECT_Z(info(*r).VS.vm_vcpu_state[0], k::ACTIVE);
    }
  }
}

TEST(VmExit, OtherExceptionCodeHaltsInKCore) {
  const Outcome r = vm_exit(running(), 5, 0, {9});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_FALSE(r->ihost);
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[0], 9);  // saved before the halt
  EXPECT_EQ(r->slog.length(), 0u);
}

// ---- prep_exit_vm on its own (branches the dispatcher never reaches) --------------------------

// The state vm_exit_pre_process hands to prep_exit_vm: in KCore, the trap saved in the shadow.
RData in_core_after_trap(Z hsr_ec, OracleInputs o = {}, Profile p = Profile::intended()) {
  RData d = running(std::move(o), p);
  d.icore = true;
  Ctxt c = d.ctx(kCtx);
  c.ctxt_regs.ec = k::ARM_EXCEPTION_TRAP;
  c.ctxt_regs.esr_el2 = hsr(hsr_ec);
  c.ctxt_regs.hpfar_el2 = 0x100;  // fault IPA 0x10000
  c.ctxt_regs.x[0] = k::PSCI_0_2_FN_SYSTEM_OFF;
  d.set_ctx(kCtx, c);
  return d;
}

void expect_inactive(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_Z(info(*r).VS.vm_vcpu_state[0], k::READY);
  EXPECT_EQ(r->regs.trap_regs, (TrapRegs{3, 0, 0, k::CPTR_EL2_DEFAULT, 21}));
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.sctlr_el1, 0x66);
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.fp_q[0], 7);
}

TEST(PrepExitVm, WfxAdvancesThePcOnNextEntry) {
  const Outcome r = prep_exit_vm(in_core_after_trap(k::ESR_ELx_EC_WFx));
  expect_inactive(r);
  EXPECT_Z(r->ctx(kCtx).ctxt_states.dirty, k::DIRTY_PC_FLAG);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0)});
}

TEST(PrepExitVm, AbortReadsTheSyndromeFromTheOracle) {
  struct Case {
    Z esr;
    Z hpfar;
    Z dirty;
  };
  const Z rd7 = Z{7} << 16;
  for (const Case& c :
       {Case{rd7, 0x100, Z{1} << 7},                            // MMIO read: refresh x7
        Case{rd7 | k::ESR_ELx_WNR, 0x100, k::DIRTY_PC_FLAG},    // MMIO write: skip it
        Case{rd7 | k::ESR_ELx_S1PTW, 0x100, k::DIRTY_PC_FLAG},  // stage-1 walk
        Case{rd7, k::MAX_MMIO_ADDR / k::PAGE_SIZE * 16, 0}}) {  // not MMIO: unchanged
    for (Z ec : {k::ESR_ELx_EC_IABT_LOW, k::ESR_ELx_EC_DABT_LOW}) {
      OracleInputs o;
      o.data[kVm] = {c.esr};
      RData d = in_core_after_trap(ec, o);
      Ctxt ctx = d.ctx(kCtx);
      ctx.ctxt_regs.hpfar_el2 = c.hpfar;
      d.set_ctx(kCtx, ctx);
      const Outcome r = prep_exit_vm(d);
      expect_inactive(r);
      EXPECT_Z(r->ctx(kCtx).ctxt_states.dirty, c.dirty);
      EXPECT_Z(r->data_log[kVm], 1);
    }
  }
}

TEST(PrepExitVm, Hvc64WithoutPsciOnlyDeactivates) {
  RData d = in_core_after_trap(k::ESR_ELx_EC_HVC64);
  Ctxt c = d.ctx(kCtx);
  c.ctxt_regs.x[0] = 0x1234;
  d.set_ctx(kCtx, c);
  const Outcome r = prep_exit_vm(d);
  expect_inactive(r);
  EXPECT_Z(info(*r).VS.vm_state, k::VERIFIED);
}

TEST(PrepExitVm, Hvc32ExitProfile) {
  // Intended: accepted like an HVC64 without PSCI handling (x0 = SYSTEM_OFF is ignored).
  const Outcome r = prep_exit_vm(in_core_after_trap(k::ESR_ELx_EC_HVC32));
  expect_inactive(r);
  EXPECT_Z(info(*r).VS.vm_state, k::VERIFIED);
  EXPECT_Z(r->ctx(kCtx).ctxt_states.dirty, 0);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_INACTIVE, 1, 0)});
  // Literal: halts without saving anything.
  const RData d = in_core_after_trap(k::ESR_ELx_EC_HVC32, {}, intended_but(&Profile::hvc32_exit));
  const Outcome l = prep_exit_vm(d);
  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->halt);
  EXPECT_EQ(l->slog.length(), 0u);
  EXPECT_TRUE(l->ctx(kCtx) == d.ctx(kCtx));
  EXPECT_EQ(l->regs.trap_regs, d.regs.trap_regs);
  EXPECT_Z(info(*l).VS.vm_vcpu_state[0], k::ACTIVE);
}

TEST(PrepExitVm, OtherTrapClassHalts) {
  const RData d = in_core_after_trap(k::ESR_ELx_EC_SYS64);
  const Outcome r = prep_exit_vm(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->ctx(kCtx) == d.ctx(kCtx));
}

// ---- a full VM lifecycle through the exported handlers ----------------------------------------

RData ok(const Outcome& r) {
  EXPECT_TRUE(r.has_value());
  if (!r) return RData{};
  EXPECT_FALSE(r->halt);
  return *r;
}
RData hvc(RData d, std::array<Z, 6> x) {
  for (std::size_t i = 0; i < x.size(); ++i) d.regs.ctxt_regs.x[i] = x[i];
  return ok(host_hvc_handler(std::move(d)));
}
RData guest_exit(RData d, Z ec, Z esr, std::array<Z, 4> x = {}) {
  return ok(vm_exit(std::move(d), ec, esr, x));
}

TEST(Lifecycle, RegisterBootRunShareOffAndReclaim) {
  // The VM stream: 512 page contents consumed when the image block is assigned, then the first
  // run's pc, pstate and ACTLR, then the untrusted value a shared-page load returns.
  OracleInputs o;
  for (Z i = 0; i < 512; ++i) o.data[kVm].push_back(1000 + i);
  for (Z v : {Z{0x80100}, Z{0x3C5}, Z{0xAC}, Z{0x5A5A}}) o.data[kVm].push_back(v);
  o.data[0] = {0xBEEF};
  o.core[kVm] = {0, 0};  // vCPU 0, no fault to map on entry
  RData d = testing::fresh(Profile::intended(), std::make_shared<const OracleInputs>(o));

  d = hvc(d, {k::HVC_REGISTER_KVM});
  ASSERT_TRUE(d.regs.ctxt_regs.x[0] == kVm);
  d = hvc(d, {k::HVC_REGISTER_VCPU, kVm, 0});
  d = hvc(d, {k::HVC_SET_BOOT_INFO, kVm, 0x80000, 0x2000});
  d = hvc(d, {k::HVC_REMAP_VM_IMAGE, kVm, 0x400, 0});
  d = hvc(d, {k::HVC_REMAP_VM_IMAGE, kVm, 0x401, 0});
  EXPECT_Z(info(d).VB.vm_mapped_pages[0], 2);

  // VERIFY moves the 2 MiB block holding the image (host frames 0x400..0x5FF) into the VM at
  // guest block 0, assigning page by page.
  d = hvc(d, {k::HVC_VERIFY_VM_IMAGE, kVm});
  EXPECT_Z(info(d).VS.vm_state, k::VERIFIED);
  EXPECT_EQ(d.shared.s2page[0x400], (S2Page{kVm, 0, 0}));
  EXPECT_EQ(d.shared.s2page[0x5FF], (S2Page{kVm, 0, 0x1FF}));
  EXPECT_EQ(d.shared.s2page[0x600], (S2Page{0, 0, 0x600 + k::SMMU_HOST_OFFSET}));
  const Z block_pte = (0x400000 | k::PAGE_S2_KERNEL) & k::NOT_PMD_TABLE_BIT;
  EXPECT_EQ(d.shared.npts[kVm].pt[0x80], (PtEntry{0x480, 2, block_pte}));
  EXPECT_Z(d.shared.flatmem[0x480], 1000 + 0x80);
  EXPECT_Z(d.data_log[kVm], 512);

  // First run: pc 0x80100 lies in the image.
  d.regs.ctxt_regs.x[0] = kVm;
  d = ok(host_vcpu_run_handler(d));
  EXPECT_FALSE(d.ihost);
  EXPECT_Z(d.regs.ctxt_regs.elr_el2, 0x80100);
  EXPECT_Z(d.data_log[kVm], 515);

  // The guest reads and writes its own memory.
  d = ok(mem_load(d, 0x80, 2));
  EXPECT_Z(d.ctx(kCtx).ctxt_regs.x[2], 1000 + 0x80);
  d = ok(mem_store(d, 0x81, 2));
  EXPECT_Z(d.shared.flatmem[0x481], 1000 + 0x80);

  // A SYS64 trap resumes it past the instruction.
  d = guest_exit(d, k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_SYS64));
  EXPECT_FALSE(d.ihost);
  EXPECT_Z(d.regs.ctxt_regs.elr_el2, 0x80104);

  // It shares guest page 0x80 (frame 0x480 inside the block) with the host.
  d = guest_exit(d, k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64),
                 {k::HVC_KVM_SET_DESC_PFN, 0, 0x80000, 0x1000});
  EXPECT_EQ(d.shared.s2page[0x480], (S2Page{kVm, 1, 0x80}));
  // Loads of a shared page return the untrusted oracle value.
  d = ok(mem_load(d, 0x80, 2));
  EXPECT_Z(d.ctx(kCtx).ctxt_regs.x[2], 0x5A5A);

  // PSCI SYSTEM_OFF: back to the host, VM powered off.
  d = guest_exit(d, k::ARM_EXCEPTION_TRAP, hsr(k::ESR_ELx_EC_HVC64), {k::PSCI_0_2_FN_SYSTEM_OFF});
  EXPECT_TRUE(d.ihost);
  EXPECT_Z(d.cur_vmid, 0);
  EXPECT_Z(info(d).VS.vm_state, k::POWEROFF);
  EXPECT_Z(info(d).VS.vm_vcpu_state[0], k::READY);

  // The host faults the shared frame in and reads it: not the host's, so an oracle value.
  d.regs.ctxt_regs.hpfar_el2 = 0x4800;
  d = ok(host_npt_handler(d));
  EXPECT_EQ(d.shared.npts[0].pt[0x480], (PtEntry{0x480, 3, 0x480000 | k::PAGE_S2_KERNEL}));
  d = ok(mem_load(d, 0x480, 1));
  EXPECT_Z(d.ctx(0).ctxt_regs.x[1], 0xBEEF);

  // The host reclaims the block: every frame is the host's again, scrubbed and unmapped.
  d = hvc(d, {k::HVC_CLEAR_VM_S2_RANGE, kVm, 0x400000, 0x200000});
  for (Z pfn : {Z{0x400}, Z{0x480}, Z{0x5FF}}) {
    EXPECT_EQ(d.shared.s2page[pfn], (S2Page{0, 0, pfn + k::SMMU_HOST_OFFSET}));
    EXPECT_Z(d.shared.flatmem[pfn], 0);
  }
  EXPECT_EQ(d.shared.npts[0].pt[0x480], (PtEntry{0, 3, k::PAGE_GUEST}));
  EXPECT_FALSE(mem_load(d, 0x480, 1).has_value());  // unmapped: the access faults
  d = ok(host_npt_handler(d));
  d = ok(mem_load(d, 0x480, 1));
  EXPECT_Z(d.ctx(0).ctxt_regs.x[1], 0);
}

}  // namespace
}  // namespace hypdiff::model
