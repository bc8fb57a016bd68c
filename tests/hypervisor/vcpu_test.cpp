// vCPU runs and VM exits against the model (Twin::step compares outcome, query points and the
// whole state after every step, physical registers included), with concrete expectations.
#include <gtest/gtest.h>

#include <chrono>

#include "hypervisor/core/cpu.h"
#include "hypervisor/core/vm.h"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

constexpr uint64_t kTrap = KC_ARM_EXCEPTION_TRAP, kIrq = KC_ARM_EXCEPTION_INTERRUPT;
constexpr uint64_t esr_ec(uint64_t ec) { return ec << 26; }

class Vcpu : public Twin {
 protected:
  void SetUp() override {
    Twin::SetUp();
    boot_vm();
  }
  // VM 1: image at 12 MiB (frames 0xC00..0xDFF), vCPUs 0 and 1 registered, VERIFIED. Its data
  // stream: 512 assignments, then the first run's pc, pstate and ACTLR.
  void boot_vm(bool verify = true) {
    ASSERT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_REGISTER_VCPU, 1, 0}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_REGISTER_VCPU, 1, 1}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_SET_BOOT_INFO, 1, 0xC00000, 0x1000}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, 1, 0xC00, 0}), StepKind::ok);
    if (verify) {
      ASSERT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);
    }
    set_data(1, 512, 0xC00010);  // pc
    set_data(1, 513, 0x3C5);     // pstate
    set_data(1, 514, 0x77);      // ACTLR
  }
  // The host's next choices for VM 1: the vCPU, then (on re-entry) the fault to map.
  void host_answers(uint64_t vcpu, uint64_t addr = 0, uint64_t pte = 0, uint64_t level = 3) {
    const uint64_t c = kc_core_data_log(&kc, 1);
    set_core(1, c, vcpu);
    set_core(1, c + 1, addr);
    set_core(1, c + 2, pte);
    set_core(1, c + 3, level);
  }
  const kc_cpu& cpu() const { return *reinterpret_cast<const kc_cpu*>(plat_phys(kc.lay.cpus)); }
  const kc_cpu_regs& phys() const { return *kn_cpu_regs(0); }
  const kc_ctxt& ctxt(uint64_t v, uint64_t c) const { return *kc_ctxt_of(&kc, v, c); }
  // Runs vCPU `vcpu` of VM 1 and takes it back with an interrupt.
  void run_and_return(uint64_t vcpu, uint64_t addr = 0, uint64_t pte = 0, uint64_t level = 3) {
    host_answers(vcpu, addr, pte, level);
    ASSERT_EQ(run_vcpu(1), StepKind::ok);
    ASSERT_EQ(exit_vm(kIrq, 0), StepKind::ok);
  }
};

TEST_F(Vcpu, FirstRunStartsTheVcpuInItsImage) {
  step(model::SetReg{5, 0x55});  // the host's x5, saved in its context
  host_answers(0);
  EXPECT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(kn_sections(), 3u);  // active, inc_exe, load table
  EXPECT_FALSE(cpu().ihost);
  EXPECT_FALSE(cpu().icore);
  EXPECT_EQ(cpu().cur_vmid, 1u);
  EXPECT_EQ(cpu().cur_vcpuid, 0);
  const kc_ctxt& c = ctxt(1, 0);
  EXPECT_EQ(c.states.pc, 0xC00010u);
  EXPECT_EQ(c.states.dirty, 0u);
  EXPECT_EQ(c.regs.mpidr_el1, 1ull << 31);
  EXPECT_EQ(c.regs.actlr_el1, 0x77u);
  EXPECT_EQ(phys().regs.elr_el2, 0xC00010u);
  EXPECT_EQ(phys().regs.spsr_el2, 0x3C5u);
  EXPECT_EQ(phys().regs.x[5], 0u);  // the VM's, cleared
  EXPECT_EQ(phys().regs.vttbr_el2, kc_npt_root(&kc, 1) | (1ull << 48));
  EXPECT_EQ(phys().trap.mdcr_el2, KC_HYPSEC_MDCR_EL2_FLAG);
  EXPECT_EQ(ctxt(0, 0).regs.x[5], 0x55u);
  EXPECT_EQ(kc_vm_state_of(&kc, 1)->vcpu_state[0], KC_VCPU_ACTIVE);
  EXPECT_EQ(kc_data_log(&kc, 1), 515u);
  EXPECT_EQ(kc_core_data_log(&kc, 1), 1u);
  // While the VM runs, host operations are undefined.
  EXPECT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::undefined);
  EXPECT_EQ(fault(0x3000), StepKind::undefined);
}

TEST_F(Vcpu, FirstRunOutsideTheImagesHalts) {
  set_data(1, 512, 0xE00000);
  host_answers(0);
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
  EXPECT_EQ(kc_data_log(&kc, 1), 513u);
}

TEST_F(Vcpu, RunningNoVmHaltsOutsideKCore) {
  EXPECT_EQ(run_vcpu(0), StepKind::halted);
  EXPECT_FALSE(cpu().icore);
  EXPECT_EQ(run_vcpu(1), StepKind::halted);  // the host still runs, halted
  EXPECT_EQ(kn_sections(), 0u);
}

TEST_F(Vcpu, TheHostMustNameARunnableVcpu) {
  host_answers(8);
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
  EXPECT_EQ(cpu().cur_vcpuid, -1);
  reset();
  boot_vm();
  host_answers(2);  // not registered
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
  reset();
  boot_vm(false);  // not VERIFIED
  host_answers(0);
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
}

// LOAD_CRYPT_VCPU builds the vCPU's context from the host's (crypt-vcpu-target), CtxtStates
// included: dirty becomes the host's 0, so the vCPU is not "never run" and re-enters at the
// host's pc; the first run's encrypted branch (inc_exe) is never reached (docs/kcore.md).
TEST_F(Vcpu, AnEncryptedVcpuReEntersWithTheHostsStates) {
  reset();
  ASSERT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);
  ASSERT_EQ(hvc({KC_HVC_REGISTER_VCPU, 1, 0}), StepKind::ok);
  ASSERT_EQ(hvc({KC_HVC_LOAD_CRYPT_VCPU, 1, 0}), StepKind::ok);
  ASSERT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);
  host_answers(0);
  EXPECT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(kn_sections(), 1u);  // activation only: no first run
  EXPECT_EQ(kc_data_log(&kc, 1), 0u);
  EXPECT_EQ(phys().regs.elr_el2, 0u);
}

TEST_F(Vcpu, ExitsResumeTheVmOrTheHost) {
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_SYS64), {1, 2, 3, 4}), StepKind::ok);
  EXPECT_EQ(phys().regs.elr_el2, 0xC00014u);  // skipped
  EXPECT_FALSE(cpu().ihost);
  EXPECT_EQ(ctxt(1, 0).regs.x[3], 4u);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {0x1234}), StepKind::ok);  // to the host
  EXPECT_TRUE(cpu().ihost);
  EXPECT_EQ(cpu().cur_vcpuid, 0);
  EXPECT_EQ(kc_vm_state_of(&kc, 1)->vcpu_state[0], KC_VCPU_READY);
  EXPECT_EQ(phys().regs.hcr_el2, KC_HCR_HOST_NVHE_FLAGS);
  EXPECT_EQ(phys().regs.vttbr_el2, kc_npt_root(&kc, 0));
  EXPECT_EQ(phys().trap.cptr_el2, KC_CPTR_EL2_DEFAULT);
  EXPECT_EQ(exit_vm(kIrq, 0), StepKind::undefined);  // no VM runs
}

// Re-entry maps the page the host says the VM faulted on: one frame, or a 2 MiB block.
TEST_F(Vcpu, ReEntryMapsTheFaultingPage) {
  run_and_return(0);
  run_and_return(0, 0x40000123, 0x1500000 | 0x7FF, 3);
  EXPECT_EQ(kn_sections(), 1u);  // the exit's
  EXPECT_EQ(to_model(walk_of(1, 0x40000)), (model::PtEntry{0x1500, 3, 0x1500FFF}));
  EXPECT_EQ(to_model(page(0x1500)), (model::S2Page{1, 0, 0x40000}));
  run_and_return(0, 0x80000000, 0x1600000, 2);
  EXPECT_EQ(walk_of(1, 0x801FF).pfn, 0x17FFu);
  EXPECT_EQ(kc_core_data_log(&kc, 1), 1u + 4u + 4u);  // first run: the vCPU id only
}

TEST_F(Vcpu, ReEntryHaltsOnAFrameTheVmMayNotHave) {
  run_and_return(0);
  host_answers(0, 0x40000000, 0x100000, 3);  // an SMMU window
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
}

// Host-emulated registers, a pending exception and a skipped instruction (the spec's dead paths:
// nothing reachable sets these bits, so they are set directly here).
TEST_F(Vcpu, ReEntryAppliesTheDirtyBits) {
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  ASSERT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {0x1234}), StepKind::ok);  // ec: a trap
  for (uint64_t i = 515; i < 520; ++i) set_data(1, i, 0x1000 + i);
  set_dirty(1, 0, (1ull << 3) | (1ull << 30) | KC_DIRTY_PC_FLAG | KC_PENDING_EXCEPT_INJECT_FLAG);
  host_answers(0);
  EXPECT_EQ(run_vcpu(1), StepKind::ok);
  const kc_ctxt& c = ctxt(1, 0);
  EXPECT_EQ(c.regs.x[3], 0x1000u + 515u);
  EXPECT_EQ(c.regs.x[30], 0x1000u + 516u);
  EXPECT_EQ(c.regs.elr_el1, 0xC00010u);
  EXPECT_EQ(c.states.pc, 0xC00014u);
  EXPECT_EQ(c.states.pstate, KC_PSTATE_FAULT_BITS_64);
  EXPECT_EQ(c.states.spsr_0, 0x3C5u);
}

TEST_F(Vcpu, PsciSystemOffPowersTheVmOff) {
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {0xFFFFFFFF84000008ull}), StepKind::ok);
  EXPECT_EQ(kn_sections(), 2u);
  EXPECT_EQ(kc_vm_state_of(&kc, 1)->state, KC_VM_POWEROFF);
  EXPECT_TRUE(cpu().ihost);
  host_answers(1);
  EXPECT_EQ(run_vcpu(1), StepKind::halted);
}

TEST_F(Vcpu, UnhandledExitsHalt) {
  for (uint64_t esr :
       {esr_ec(KC_ESR_EC_WFX), esr_ec(KC_ESR_EC_DABT_LOW), esr_ec(KC_ESR_EC_HVC32), esr_ec(63)}) {
    reset();
    boot_vm();
    host_answers(0);
    ASSERT_EQ(run_vcpu(1), StepKind::ok);
    EXPECT_EQ(exit_vm(kTrap, esr, {7, 7, 7, 7}), StepKind::halted) << esr;
    EXPECT_FALSE(cpu().icore);  // the spec resumes the VM, halted
    EXPECT_EQ(phys().regs.x[2], 7u);
  }
  reset();
  boot_vm();
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(exit_vm(5, 0), StepKind::halted);  // an unknown exit code
  EXPECT_TRUE(cpu().icore);
}

// The guest shares frames of its image block with the host, then takes them back.
TEST_F(Vcpu, GrantAndRevokeShareTheGuestsPages) {
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {11, 0, 0xC01000, 0x1001}), StepKind::ok);
  EXPECT_EQ(kn_sections(), 6u);  // two pages, three query points each
  EXPECT_EQ(page(0xC01).count, 1u);
  EXPECT_EQ(page(0xC02).count, 1u);
  EXPECT_EQ(exit_vm(kIrq, 0), StepKind::ok);
  EXPECT_EQ(fault(0xC010), StepKind::ok);  // the host maps the shared frame
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {12, 0, 0xC01000, 0x1000}), StepKind::ok);
  EXPECT_EQ(page(0xC01).count, 0u);
  EXPECT_EQ(walk_of(0, 0xC01).pte, KC_PAGE_GUEST);
  EXPECT_EQ(kc_data_log(&kc, 1), 516u);
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {12, 0, 0xC01000, 0x1000}), StepKind::ok);
  EXPECT_EQ(page(0xC01).count, 0u);  // not shared: nothing
}

// 2^52 pages from a guest: the loop costs the pages the VM maps (its 512-page block).
TEST_F(Vcpu, AHugeGrantCostsOnlyTheMappedPages) {
  host_answers(0);
  ASSERT_EQ(run_vcpu(1), StepKind::ok);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {11, 0, 0, ~0ull}), StepKind::ok);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(kn_sections(), 2u * (1ull << 52) + 512u);
  EXPECT_EQ(page(0xDFF).count, 1u);
  EXPECT_LT(ms, 200.0);
}

// Another CPU's host fault on a frame the guest revokes, before or after the revoke.
TEST_F(Vcpu, AnotherCpusFaultLandsInsideARevoke) {
  const auto setup = [&](uint64_t at) {
    model::OracleInputs oi;
    if (at)
      oi.soracle[at] = {model::SingleEvent{
          1, model::AtomicEvent{model::EventKind::OMAP_HOST, {0xC02000, 0, 0, 0}}}};
    reset(oi);
    boot_vm();
    host_answers(0);
    EXPECT_EQ(run_vcpu(1), StepKind::ok);
    EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {11, 0, 0xC00000, 0x4000}), StepKind::ok);
  };
  setup(0);
  const uint64_t log0 = d.slog.length();
  // Pages 0xC00..0xC03, three query points each; 0xC02's revoke is at log0 + 8.
  for (uint64_t k : {0ull, 7ull, 8ull, 9ull}) {
    setup(log0 + k);
    EXPECT_EQ(exit_vm(kTrap, esr_ec(KC_ESR_EC_HVC64), {12, 0, 0xC00000, 0x4000}), StepKind::ok);
    EXPECT_EQ(injected_total, 1u);
    EXPECT_EQ(walk_of(0, 0xC02).pte, k <= 8 ? KC_PAGE_GUEST : 0u) << k;
  }
}

}  // namespace
}  // namespace hypdiff::kcore_test
