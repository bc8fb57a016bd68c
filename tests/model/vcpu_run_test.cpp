// host_vcpu_run_handler and its pieces (spec §3.5.3): switch to KCore, the vCPU choice, first-run
// initialization, re-entry with and without a fault mapping, and the switch into the VM.
#include <gtest/gtest.h>

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

OracleInputs streams(std::vector<Z> core, std::vector<Z> data) {
  OracleInputs o;
  o.core[kVm] = std::move(core);
  o.data[kVm] = std::move(data);
  return o;
}

// VM 1 VERIFIED with vCPU 0 READY and one image [0x80000, 0x82000) remapped at REMAP_START; the
// host asks to run VM 1 (x0 = 1).
RData runnable(OracleInputs o, Profile p = Profile::intended()) {
  RData d = testing::fresh(p, std::make_shared<const OracleInputs>(std::move(o)));
  VMInfo i = d.shared.vminfos[kVm];
  i.VS.vm_state = k::VERIFIED;
  i.VS.vm_vcpu_state.set(0, k::READY);
  i.VB.vm_next_load_info = 1;
  i.VB.vm_load_addr.set(0, 0x80000);
  i.VB.vm_load_size.set(0, 0x2000);
  i.VB.vm_remap_addr.set(0, k::REMAP_START);
  d.shared.vminfos.set(kVm, i);
  d.regs.ctxt_regs.x[0] = kVm;
  return d;
}

// vCPU 0 of VM 1 has run before and exited: its saved state is `c`.
RData re_entering(OracleInputs o, Profile p = Profile::intended(), Z dirty = 0, Z ec = 0) {
  RData d = runnable(std::move(o), p);
  Ctxt c = d.ctx(kCtx);
  c.ctxt_states.dirty = dirty;
  c.ctxt_states.pc = 0x80100;
  c.ctxt_states.pstate = 5;
  c.ctxt_states.esr_el1 = 7;
  c.ctxt_regs.ec = ec;
  c.ctxt_regs.far_el2 = 0x123;
  c.ctxt_regs.x[4] = 0x44;
  d.set_ctx(kCtx, c);
  return d;
}

std::string ev(EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0, Z cpu = 0) {
  return to_string(SingleEvent{cpu, AtomicEvent{kind, {a, b, c, e}}});
}
std::vector<std::string> events(const RData& d) {
  std::vector<std::string> out;
  for (const SingleEvent& e : d.slog.newest(100)) out.push_back(to_string(e));
  return out;
}
Z vcpu_state(const RData& d) { return d.shared.vminfos[kVm].VS.vm_vcpu_state[0]; }

void expect_in_vm(const Outcome& r) {
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_FALSE(r->ihost);
  EXPECT_FALSE(r->icore);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_Z(r->cur_vcpuid, 0);
}

// ---- mode, halt, switch to core, vCPU choice --------------------------------------------------

TEST(VcpuRun, WrongModeIsNone) {
  RData d = runnable(streams({0}, {}));
  d.icore = true;
  EXPECT_FALSE(host_vcpu_run_handler(d).has_value());
  d.icore = false;
  d.ihost = false;
  EXPECT_FALSE(host_vcpu_run_handler(d).has_value());
}

TEST(VcpuRun, HaltedStateIsReturnedUnchanged) {
  RData d = runnable(streams({0}, {0x80100}));
  d.halt = true;
  const Outcome r = host_vcpu_run_handler(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->ihost);
  EXPECT_Z(r->cur_vmid, 0);
  EXPECT_Z(r->core_data_log[kVm], 0);
}

TEST(VcpuRun, X0MustNameAVm) {
  for (Z v : {Z{0}, kCfg.corevisor(), Z{-1}}) {
    RData d = runnable(streams({0}, {}));
    d.regs.ctxt_regs.x[0] = v;
    const Outcome r = host_vcpu_run_handler(d);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->halt);
    EXPECT_FALSE(r->icore);  // halts before entering KCore
    EXPECT_Z(r->cur_vmid, 0);
    EXPECT_TRUE(r->ctx(0) == d.ctx(0));
  }
}

TEST(VcpuRun, SwitchToCoreSavesTheHost) {
  RData d = runnable(streams({}, {}));
  d.regs.ctxt_regs.x[7] = 7;
  d.regs.ctxt_regs.sctlr_el1 = 0x55;
  d.regs.ctxt_regs.fp_q[0] = 9;
  const Outcome r = vcpu_run_swith_to_core(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_Z(r->cur_vcpuid, -1);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[0], kVm);
  EXPECT_Z(r->ctx(0).ctxt_regs.x[7], 7);
  EXPECT_Z(r->ctx(0).ctxt_regs.sctlr_el1, 0x55);
  EXPECT_Z(r->ctx(0).ctxt_regs.fp_q[0], 9);
}

TEST(VcpuRun, InvalidVcpuFromOracleHalts) {
  const Outcome r = host_vcpu_run_handler(runnable(streams({kCfg.vcpus_per_vm}, {})));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_Z(r->cur_vmid, kVm);
  EXPECT_Z(r->cur_vcpuid, -1);
  EXPECT_Z(r->core_data_log[kVm], 0);
  EXPECT_EQ(r->slog.length(), 0u);
}

TEST(VcpuRun, VcpuNotReadyHalts) {
  RData d = runnable(streams({0}, {0x80100}));
  VMInfo i = d.shared.vminfos[kVm];
  i.VS.vm_vcpu_state.set(0, k::ACTIVE);  // already running elsewhere
  d.shared.vminfos.set(kVm, i);
  const Outcome r = host_vcpu_run_handler(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_Z(r->cur_vcpuid, 0);
  EXPECT_Z(r->core_data_log[kVm], 1);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_ACTIVE, 1, 0)});
}

// ---- first run --------------------------------------------------------------------------------

TEST(VcpuRun, FirstRunInitializesTheVcpuAndEntersTheVm) {
  OracleInputs o = streams({0}, {0x80100, 0x3C5, 0xAC});
  o.params.reg_desc[k::REG_CSSELR] = 0x77;
  o.params.reg_desc[k::REG_ELR_EL2] = 0x99;
  RData d = runnable(o);
  d.regs.ctxt_regs.x[7] = 7;
  d.regs.ctxt_regs.sctlr_el1 = 0x55;
  d.regs.ctxt_regs.fp_q[0] = 9;
  d.regs.trap_regs.cnthctl_el2 = 20;
  const Outcome r = host_vcpu_run_handler(d);
  expect_in_vm(r);
  EXPECT_Z(vcpu_state(*r), k::ACTIVE);
  EXPECT_Z(r->data_log[kVm], 3);
  EXPECT_Z(r->core_data_log[kVm], 1);
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OVM_GET, 1), ev(EventKind::OVM_GET, 1),
                                      ev(EventKind::OVM_ACTIVE, 1, 0)}));

  const Ctxt vm = r->ctx(kCtx);
  for (Z x : vm.ctxt_regs.x) EXPECT_Z(x, 0);
  for (Z q : vm.ctxt_regs.fp_q) EXPECT_Z(q, 0);
  EXPECT_Z(vm.ctxt_states.pc, 0x80100);
  EXPECT_Z(vm.ctxt_states.pstate, 0x3C5);
  EXPECT_Z(vm.ctxt_states.dirty, 0);
  EXPECT_Z(vm.ctxt_regs.actlr_el1, 0xAC);
  EXPECT_Z(vm.ctxt_regs.mpidr_el1, 0x80000000);  // vcpuid 0 + 2^31
  EXPECT_Z(vm.ctxt_regs.csselr_el1, 0x77);
  EXPECT_Z(vm.ctxt_regs.elr_el2, 0x99);

  const Ctxt host = r->ctx(0);
  EXPECT_Z(host.ctxt_regs.x[0], kVm);
  EXPECT_Z(host.ctxt_regs.x[7], 7);
  EXPECT_Z(host.ctxt_regs.sctlr_el1, 0x55);
  EXPECT_Z(host.ctxt_regs.fp_q[0], 9);

  const CtxtRegs& phys = r->regs.ctxt_regs;
  EXPECT_Z(phys.x[0], 0);
  EXPECT_Z(phys.x[7], 0);
  EXPECT_Z(phys.fp_q[0], 0);
  EXPECT_Z(phys.elr_el2, 0x80100);
  EXPECT_Z(phys.spsr_el2, 0x3C5);
  EXPECT_Z(phys.vttbr_el2, MachineConfig::pt_vttbr(kVm));
  EXPECT_Z(phys.vttbr_el2, (k::PT_POOL_START + k::PT_POOL_PER_VM) | pow2(48));
  EXPECT_Z(phys.hcr_el2, k::HCR_HYPSEC_VM_FLAGS);
  EXPECT_Z(phys.actlr_el1, 0xAC);
  EXPECT_Z(phys.mpidr_el1, 0x80000000);
  EXPECT_Z(phys.vmpidr_el2, 0x80000000);
  EXPECT_Z(phys.sctlr_el1, 0);
  EXPECT_Z(phys.csselr_el1, 0x77);
  const TrapRegs& t = r->regs.trap_regs;
  EXPECT_Z(t.cnthctl_el2, 21);
  EXPECT_Z(t.pmuselr_el0, 0);
  EXPECT_Z(t.pmuserenr_el0, k::ARMV8_PMU_USERENR_MASK);
  EXPECT_Z(t.mdcr_el2, k::HYPSEC_MDCR_EL2_FLAG);
  EXPECT_Z(t.cptr_el2, k::CPTR_VM);
}

TEST(VcpuRun, FirstRunWithPcOutsideEveryImageHalts) {
  for (Z pc : {Z{0x90000}, Z{0x82000}, Z{0x7FFFF}}) {
    const Outcome r = host_vcpu_run_handler(runnable(streams({0}, {pc, 0x3C5, 0xAC})));
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->halt);
    EXPECT_TRUE(r->icore);
    EXPECT_TRUE(r->ihost);
    EXPECT_Z(r->data_log[kVm], 1);  // only the pc was read
    EXPECT_Z(r->ctx(kCtx).ctxt_states.dirty, k::INVALID64);
    EXPECT_EQ(events(*r).size(), 3u);
  }
}

TEST(VcpuRun, FirstRunOfEncryptedlyLoadedVcpuKeepsItsRegisters) {
  RData d = runnable(streams({0}, {0x90000}));
  VMInfo i = d.shared.vminfos[kVm];
  i.VB.vm_inc_exe = 1;
  d.shared.vminfos.set(kVm, i);
  Ctxt c = d.ctx(kCtx);
  c.ctxt_regs.x[3] = 0x33;
  c.ctxt_states.pc = 0x80200;
  d.set_ctx(kCtx, c);
  const Outcome r = host_vcpu_run_handler(d);
  expect_in_vm(r);
  EXPECT_Z(r->data_log[kVm], 0);
  EXPECT_Z(r->ctx(kCtx).ctxt_states.dirty, 0);
  EXPECT_Z(r->regs.ctxt_regs.x[3], 0x33);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x80200);
  EXPECT_EQ(events(*r),
            (std::vector<std::string>{ev(EventKind::OVM_GET, 1), ev(EventKind::OVM_ACTIVE, 1, 0)}));
}

TEST(VcpuRun, FirstRunBaseProfile) {
  // Another CPU maps host page 0x400 just before the first OVM_GET query (log length 1), and the
  // INFO flag of VM 1 starts clear (acquired by the first-run queries).
  OracleInputs o = streams({0}, {0x80100, 0x3C5, 0xAC});
  o.soracle[1] = {SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {0x400000, 0, 0, 0}}}};
  for (bool intended : {true, false}) {
    Profile p = Profile::intended();
    p.first_run_base = intended;
    RData d = runnable(o, p);
    d.shared.hlock.set(kCfg.info_lock(kVm), false);
    const Outcome r = host_vcpu_run_handler(d);
    expect_in_vm(r);
    EXPECT_EQ(r->shared.npts[0].pt[0x400],
              intended ? (PtEntry{0x400, 3, 0x400000 | k::PAGE_S2_KERNEL}) : (PtEntry{0, 0, 0}));
    EXPECT_EQ(r->shared.hlock[kCfg.info_lock(kVm)], intended);
    // Either way the log keeps the other CPU's event, and the vCPU is initialized.
    EXPECT_EQ(events(*r),
              (std::vector<std::string>{ev(EventKind::OVM_GET, 1), ev(EventKind::OVM_GET, 1),
                                        ev(EventKind::OMAP_HOST, 0x400000, 0, 0, 0, 1),
                                        ev(EventKind::OVM_ACTIVE, 1, 0)}));
    EXPECT_Z(r->ctx(kCtx).ctxt_states.pc, 0x80100);
    EXPECT_Z(r->data_log[kVm], 3);
    EXPECT_Z(vcpu_state(*r), k::ACTIVE);
  }
}

TEST(VcpuRun, FirstRunAssertsInfoLock) {
  RData d = runnable(streams({0}, {0x80100, 0x3C5, 0xAC}), intended_but(&Profile::hlock_acquire));
  d.shared.hlock.set(kCfg.info_lock(kVm), false);
  EXPECT_FALSE(host_vcpu_run_handler(d).has_value());
}

// ---- re-entry ---------------------------------------------------------------------------------

TEST(VcpuRun, ReEntryWithoutFaultResumesTheVcpu) {
  const Outcome r = host_vcpu_run_handler(re_entering(streams({0, 0}, {})));
  expect_in_vm(r);
  const Ctxt vm = r->ctx(kCtx);
  EXPECT_Z(vm.ctxt_states.pc, 0x80100);
  EXPECT_Z(vm.ctxt_states.pstate, 5);
  EXPECT_Z(vm.ctxt_states.esr_el1, 7);
  EXPECT_Z(vm.ctxt_states.dirty, 0);
  EXPECT_Z(vm.ctxt_regs.far_el2, 0);
  EXPECT_Z(r->core_data_log[kVm], 2);
  EXPECT_Z(r->data_log[kVm], 0);
  EXPECT_EQ(events(*r), std::vector<std::string>{ev(EventKind::OVM_ACTIVE, 1, 0)});
  EXPECT_Z(r->regs.ctxt_regs.x[4], 0x44);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x80100);
  EXPECT_Z(r->regs.ctxt_regs.spsr_el2, 5);
}

TEST(VcpuRun, InjectTestProfile) {
  const Z pending = Z{1} << 33;  // one of the PENDING_EXCEPT_INJECT_FLAG bits
  struct Case {
    bool intended;
    Z dirty;
    bool injects;
  };
  for (const Case& c : {Case{true, 0, false}, Case{true, pending, true}, Case{false, 0, true},
                        Case{false, pending, false}}) {
    Profile p = Profile::intended();
    p.inject_test = c.intended;
    const Outcome r = host_vcpu_run_handler(re_entering(streams({0, 0}, {}), p, c.dirty));
    expect_in_vm(r);
    const Ctxt vm = r->ctx(kCtx);
    if (c.injects) {
      EXPECT_Z(vm.ctxt_regs.elr_el1, 0x80100);
      EXPECT_Z(vm.ctxt_states.spsr_0, 5);
      EXPECT_Z(vm.ctxt_states.esr_el1, k::ESR_ELx_EC_UNKNOWN);
      EXPECT_Z(vm.ctxt_states.pstate, k::PSTATE_FAULT_BITS_64);
      EXPECT_Z(r->regs.ctxt_regs.spsr_el2, k::PSTATE_FAULT_BITS_64);
    } else {
      EXPECT_Z(vm.ctxt_regs.elr_el1, 0);
      EXPECT_Z(vm.ctxt_states.spsr_0, 0);
      EXPECT_Z(vm.ctxt_states.esr_el1, 7);
      EXPECT_Z(vm.ctxt_states.pstate, 5);
    }
    EXPECT_Z(vm.ctxt_states.pc, 0x80100);  // the exception vector is never applied
    EXPECT_Z(vm.ctxt_states.dirty, 0);
  }
}

TEST(VcpuRun, DirtyPcFlagAdvancesThePc) {
  const Outcome r = host_vcpu_run_handler(
      re_entering(streams({0, 0}, {}), Profile::intended(), k::DIRTY_PC_FLAG));
  expect_in_vm(r);
  EXPECT_Z(r->ctx(kCtx).ctxt_states.pc, 0x80104);
  EXPECT_Z(r->regs.ctxt_regs.elr_el2, 0x80104);
}

TEST(VcpuRun, TrapExitRefreshesDirtyRegistersFromTheOracle) {
  const Z dirty = (Z{1} << 3) | (Z{1} << 5);
  for (bool intended : {true, false}) {
    Profile p = Profile::intended();
    p.sync_dirty_cursor = intended;
    const Outcome r = host_vcpu_run_handler(
        re_entering(streams({0, 0}, {0xD0, 0xD1}), p, dirty, k::ARM_EXCEPTION_TRAP));
    expect_in_vm(r);
    EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[3], 0xD0);
    EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[5], intended ? 0xD1 : 0xD0);
    EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[4], 0x44);
    EXPECT_Z(r->data_log[kVm], 2);
  }
  // Not a trap exit: no refresh.
  const Outcome r = host_vcpu_run_handler(
      re_entering(streams({0, 0}, {0xD0, 0xD1}), Profile::intended(), dirty, 0));
  expect_in_vm(r);
  EXPECT_Z(r->ctx(kCtx).ctxt_regs.x[3], 0);
  EXPECT_Z(r->data_log[kVm], 0);
}

TEST(VcpuRun, ReEntryMapsThePageTheHostNames) {
  const Outcome r = host_vcpu_run_handler(re_entering(streams({0, 0x5000, 0x300000, 3}, {0xF0})));
  expect_in_vm(r);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{kVm, 0, 5}));
  EXPECT_Z(r->shared.flatmem[0x300], 0xF0);
  EXPECT_Z(r->data_log[kVm], 1);
  EXPECT_EQ(r->shared.npts[kVm].pt[5], (PtEntry{0x300, 3, 0x300000 | k::PAGE_S2_KERNEL}));
  EXPECT_Z(r->core_data_log[kVm], 4);
  const std::vector<SingleEvent> log = r->slog.newest(10);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(to_string(log[0]), ev(EventKind::OMAP_VM, 1, 0x5000, 0x300000, 3));
  EXPECT_EQ(log[1].event.kind, EventKind::OASSIGN_VM);
  EXPECT_EQ(to_string(log[2]), ev(EventKind::OVM_ACTIVE, 1, 0));
}

TEST(VcpuRun, FaultAddressMustLieInTheAddressSpace) {
  for (Z addr : {Z{0}, Z{4095}, k::KVM_ADDR_SPACE}) {
    const Outcome r = host_vcpu_run_handler(re_entering(streams({0, addr, 0x300000, 3}, {})));
    expect_in_vm(r);
    EXPECT_Z(r->core_data_log[kVm], 2);
    EXPECT_EQ(r->shared.s2page[0x300], (S2Page{0, 0, 0x300 + k::SMMU_HOST_OFFSET}));
  }
  const Outcome r = host_vcpu_run_handler(re_entering(streams({0, 4096, 0x300000, 3}, {})));
  expect_in_vm(r);
  EXPECT_Z(r->core_data_log[kVm], 4);
  EXPECT_EQ(r->shared.npts[kVm].pt[1].pfn, 0x300);
}

TEST(VcpuRun, HaltingFaultMappingStaysInKCore) {
  RData d = re_entering(streams({0, 0x5000, 0x300000, 3}, {}));
  d.shared.s2page.set(0x300, S2Page{2, 0, 9});  // another VM's page
  const Outcome r = host_vcpu_run_handler(d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->halt);
  EXPECT_TRUE(r->icore);
  EXPECT_TRUE(r->ihost);
  EXPECT_EQ(r->shared.s2page[0x300], (S2Page{2, 0, 9}));
}

}  // namespace
}  // namespace hypdiff::model
