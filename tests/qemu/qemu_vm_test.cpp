// The world switch (docs/qemu.md, "vCPU run and VM exits"): generated cases with vCPU runs, VM
// exits and the running VM's loads and stores pass against the model on the QEMU target and
// give the native target's verdicts and per-step outcomes, case by case; the harness-side
// answers (no VM runs, a stopped CPU) have the spec's values.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "generated_runs.hpp"
#include "generators/case_gen.hpp"
#include "harness/runner.hpp"
#include "model/constants.hpp"
#include "qemu/host/qemu_target.hpp"
#include "qemu/layout.h"

namespace hypdiff::qemu {
namespace {

namespace k = model::k;
using model::Handler;
using model::handler_bit;

using qt::count;
using qt::qemu_matches_native;
using qt::run_all;
using qt::Trace;

// Generated cases drawing only `handlers`, each with at least `min_runs` VCPU_RUNs.
std::vector<generators::Case> cases_with(model::HandlerMask handlers, size_t n, uint64_t seed,
                                         size_t min_runs) {
  return qt::generate(handlers, n, seed, [&](const generators::Case& c) {
    return qt::ops_of(c, Handler::host_vcpu_run) >= min_runs;
  });
}

// Step 1: vCPU runs, interrupt exits and hypercall exits (grant, revoke, PSCI SYSTEM_OFF, other
// numbers), with the host's hypercalls and SET_REG; SYS64 and the exits the spec halts on come
// with the same handler (the generator draws them among the VM's exits).
TEST(QemuVm, RunsAndExitsPassAgainstTheModelAndMatchNative) {
  const model::HandlerMask h = handler_bit(Handler::host_hvc) |
                               handler_bit(Handler::host_vcpu_run) | handler_bit(Handler::vm_exit) |
                               handler_bit(Handler::set_reg);
  const std::vector<generators::Case> cases = cases_with(h, 40, 1, 1);
  QemuTarget::Stats st;
  size_t steps = 0;
  const std::vector<Trace> t = qemu_matches_native(cases, &st, &steps);
  const size_t runs_ok = count(cases, t, Handler::host_vcpu_run, "ok/ok");
  const size_t exits_ok = count(cases, t, Handler::vm_exit, "ok/ok");
  const size_t exits_halted = count(cases, t, Handler::vm_exit, "halted/halted");
  size_t sys64_ok = 0;  // SYS64 exits: the VM resumes with its pc advanced in the file
  for (size_t i = 0; i < cases.size(); ++i)
    for (size_t j = 0; j < cases[i].ops.size() && j < t[i].outcomes.size(); ++j)
      if (const auto* e = std::get_if<model::VmExit>(&cases[i].ops[j]))
        sys64_ok += e->ec == k::ARM_EXCEPTION_TRAP &&
                            e->esr == k::ESR_ELx_EC_SYS64 * model::pow2(k::ESR_ELx_EC_SHIFT) &&
                            t[i].outcomes[j] == "ok/ok"
                        ? 1
                        : 0;
  EXPECT_GT(steps, 600u);
  EXPECT_GT(runs_ok, 40u);   // the hardware really switched to a vCPU
  EXPECT_GT(exits_ok, 60u);  // and came back, or resumed the VM
  EXPECT_GT(sys64_ok, 8u);
  EXPECT_GT(exits_halted, 0u);     // the spec's halting exits
  EXPECT_GT(st.real_exits, 100u);  // every exit but HVC32, WFE and unknown codes
  std::printf(
      "%zu cases, %zu checked steps; %zu runs ok (%llu reached the machine), %zu exits ok "
      "(%zu SYS64), %zu halted; %llu real exits, %llu injected\n",
      cases.size(), steps, runs_ok, static_cast<unsigned long long>(st.vcpu_runs), exits_ok,
      sys64_ok, exits_halted, static_cast<unsigned long long>(st.real_exits),
      static_cast<unsigned long long>(st.injected_exits));
}

// Step 2: everything the target realizes (what realized() lists), the running VM's loads and
// stores included: real accesses through the VM's stage 2.
TEST(QemuVm, VmLoadsAndStoresPassAgainstTheModelAndMatchNative) {
  const model::HandlerMask h = handler_bit(Handler::host_hvc) | handler_bit(Handler::host_npt) |
                               handler_bit(Handler::host_vcpu_run) | handler_bit(Handler::vm_exit) |
                               handler_bit(Handler::mem_load) | handler_bit(Handler::mem_store) |
                               handler_bit(Handler::set_reg);
  const std::vector<generators::Case> cases = cases_with(h, 40, 500, 1);
  QemuTarget::Stats st;
  size_t steps = 0;
  const std::vector<Trace> t = qemu_matches_native(cases, &st, &steps);
  const size_t loads_ok = count(cases, t, Handler::mem_load, "ok/ok");
  const size_t stores_ok = count(cases, t, Handler::mem_store, "ok/ok");
  EXPECT_GT(steps, 600u);
  EXPECT_GT(st.vm_accesses, 40u);
  EXPECT_GT(loads_ok + stores_ok, 40u);
  std::printf("%zu cases, %zu checked steps; %llu VM accesses; loads ok %zu, stores ok %zu\n",
              cases.size(), steps, static_cast<unsigned long long>(st.vm_accesses), loads_ok,
              stores_ok);
}

// The step log lists every page the world switch and the VM's accesses changed: a mirror
// copied afresh from every resident page exports the same state after each step.
TEST(QemuVm, TheStepLogMissesNoPageAVmChanged) {
  const model::HandlerMask h = handler_bit(Handler::host_hvc) | handler_bit(Handler::host_npt) |
                               handler_bit(Handler::host_vcpu_run) | handler_bit(Handler::vm_exit) |
                               handler_bit(Handler::mem_load) | handler_bit(Handler::mem_store) |
                               handler_bit(Handler::set_reg);
  const std::vector<generators::Case> cases = cases_with(h, 5, 700, 2);
  QemuTarget qemu;
  qemu.set_verify_export(true);
  size_t steps = 0;
  const std::vector<Trace> t = run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 80u);
  EXPECT_GT(qemu.stats().vcpu_runs, 8u);
  EXPECT_GT(qemu.stats().vm_accesses, 2u);
  std::printf("%zu checked steps, %llu runs, %llu VM accesses, each step verified\n", steps,
              static_cast<unsigned long long>(qemu.stats().vcpu_runs),
              static_cast<unsigned long long>(qemu.stats().vm_accesses));
}

// SYS64 and WFx exits trap by their real instructions (a trapped MRS, a trapped WFI): on a VM
// a generated case got running, a SYS64 exit resumes the VM (ok), an interrupt exit returns to
// the host, and after the next run a WFI exit halts with KCore's text (a WFI that did not trap
// would hang the agent: the watchdog's TargetError).
// Resets `qemu` to case `c` and runs it up to its first VCPU_RUN that enters the VM; returns
// that VM's id.
model::Z run_until_a_vm_runs(QemuTarget& qemu, const generators::Case& c) {
  qemu.reset(c.cfg, std::make_shared<const model::OracleInputs>(c.oracle));
  for (const model::Op& op : c.ops) {
    const model::StepKind kind = qemu.step(op);
    EXPECT_NE(kind, model::StepKind::halted);
    if (std::holds_alternative<model::VcpuRun>(op) && kind == model::StepKind::ok) {
      EXPECT_FALSE(qemu.state().ihost);
      return std::get<model::VcpuRun>(op).vmid;
    }
  }
  ADD_FAILURE() << "no vCPU ran";
  return 0;
}

model::VmExit trap_exit(model::Z ec_class) {
  model::VmExit e;
  e.ec = k::ARM_EXCEPTION_TRAP;
  e.esr = ec_class * model::pow2(k::ESR_ELx_EC_SHIFT);
  return e;
}

// The first generated case with host hypercalls, vCPU runs and VM exits that runs a vCPU: the
// exit tests below take its VM and step their own exits.
generators::Case a_case_that_runs_a_vm() {
  const model::HandlerMask h = handler_bit(Handler::host_hvc) |
                               handler_bit(Handler::host_vcpu_run) | handler_bit(Handler::vm_exit);
  return cases_with(h, 1, 1, 1).front();
}

// EL2's counters of CPU 0 (interrupt, abort and HVC32 exits), in the machine QEMU now runs.
const hq_cpu_info* el2_counts(QemuTarget& qemu) {
  return static_cast<const hq_cpu_info*>(qemu.machine()->guest(HQ_PERCPU_PA));
}

// Each exit class traps the way docs/qemu.md says, and EL2 took it by that way: a SYS64 exit by
// a trapped MRS (the VM resumes), an interrupt exit by the VM's timer through the GIC (EL2's
// interrupt count moves), WFx by a trapped WFI, a data or instruction abort by a real stage-2
// abort on the hole (EL2's abort count moves), HVC32 by an A32 `hvc` in AArch32 (EL2's HVC32
// count moves); WFE stays injected. The spec halts on the last five.
TEST(QemuVm, EachExitClassTrapsByItsOwnMechanism) {
  const generators::Case c = a_case_that_runs_a_vm();
  QemuTarget qemu;
  const model::Z vmid = run_until_a_vm_runs(qemu, c);
  const hq_cpu_info* cpu0 = el2_counts(qemu);
  const auto real0 = qemu.stats().real_exits;
  const auto irqs0 = cpu0->irqs;
  EXPECT_EQ(qemu.step(trap_exit(k::ESR_ELx_EC_SYS64)), model::StepKind::ok);
  EXPECT_FALSE(qemu.state().ihost);  // the VM resumed
  model::VmExit irq;
  irq.ec = k::ARM_EXCEPTION_INTERRUPT;
  EXPECT_EQ(qemu.step(irq), model::StepKind::ok);
  EXPECT_TRUE(qemu.state().ihost);  // back in the host
  EXPECT_EQ(cpu0->irqs, irqs0 + 1);
  EXPECT_EQ(qemu.stats().real_exits, real0 + 2);
  EXPECT_EQ(qemu.step(model::VcpuRun{vmid}), model::StepKind::ok);
  EXPECT_EQ(qemu.step(trap_exit(k::ESR_ELx_EC_WFx)), model::StepKind::halted);
  EXPECT_EQ(qemu.stats().real_exits, real0 + 3);
  EXPECT_NE(qemu.machine()->panic_text().find("VM exit: a trap KCore does not handle"),
            std::string::npos)
      << qemu.machine()->panic_text();

  for (const model::Z cls : {k::ESR_ELx_EC_DABT_LOW, k::ESR_ELx_EC_IABT_LOW}) {
    run_until_a_vm_runs(qemu, c);
    const auto aborts = cpu0->guest_aborts;
    const auto real = qemu.stats().real_exits;
    EXPECT_EQ(qemu.step(trap_exit(cls)), model::StepKind::halted)
        << "class " << static_cast<int>(cls);
    EXPECT_EQ(cpu0->guest_aborts, aborts + 1) << "class " << static_cast<int>(cls);
    EXPECT_EQ(qemu.stats().real_exits, real + 1) << "class " << static_cast<int>(cls);
    EXPECT_NE(qemu.machine()->panic_text().find("VM exit: a trap KCore does not handle"),
              std::string::npos)
        << qemu.machine()->panic_text();
  }

  run_until_a_vm_runs(qemu, c);
  const auto real = qemu.stats().real_exits;
  const auto hvc32s = cpu0->guest_hvc32s;
  EXPECT_EQ(qemu.step(trap_exit(k::ESR_ELx_EC_HVC32)), model::StepKind::halted);
  EXPECT_EQ(cpu0->guest_hvc32s, hvc32s + 1);  // by the A32 hvc, not injected
  EXPECT_EQ(qemu.stats().real_exits, real + 1);
  EXPECT_NE(qemu.machine()->panic_text().find("VM exit: a trap KCore does not handle"),
            std::string::npos)
      << qemu.machine()->panic_text();

  // WFE stays injected (QEMU 7.2 does not trap it).
  run_until_a_vm_runs(qemu, c);
  const auto injected = qemu.stats().injected_exits;
  model::VmExit wfe = trap_exit(k::ESR_ELx_EC_WFx);
  wfe.esr += 1;
  EXPECT_EQ(qemu.step(wfe), model::StepKind::halted);
  EXPECT_EQ(qemu.stats().injected_exits, injected + 1);
}

// An interrupt exit leaves no instruction to resume after: if KCore re-enters the VM (mutant 50
// does; the spec returns to the host), the guest agent resumes at guest_exit_resume and keeps
// serving the VM's commands.
TEST(QemuVm, AVmReenteredAfterARealInterruptRunsOn) {
  QemuTarget qemu;
  qemu.set_mutant(50);
  run_until_a_vm_runs(qemu, a_case_that_runs_a_vm());
  const hq_cpu_info* cpu0 = el2_counts(qemu);
  const auto irqs0 = cpu0->irqs;
  model::VmExit irq;
  irq.ec = k::ARM_EXCEPTION_INTERRUPT;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(qemu.step(irq), model::StepKind::ok);
    EXPECT_FALSE(qemu.state().ihost);  // the mutant re-entered the VM
    EXPECT_EQ(qemu.step(trap_exit(k::ESR_ELx_EC_SYS64)), model::StepKind::ok);
    EXPECT_FALSE(qemu.state().ihost);
  }
  EXPECT_EQ(cpu0->irqs, irqs0 + 3);
  EXPECT_EQ(qemu.step(trap_exit(k::ESR_ELx_EC_WFx)), model::StepKind::halted);
}

// With a KCore that sends the exits the spec halts on to the host (mutant 44), each real one
// (HVC32 in AArch32, the aborts, WFI) returns to the host agent with the hardware as it was: the
// host's hypercalls run on.
TEST(QemuVm, AfterEachHaltingExitSentToTheHostTheHostRunsOn) {
  const generators::Case c = a_case_that_runs_a_vm();
  QemuTarget qemu;
  qemu.set_mutant(44);
  run_until_a_vm_runs(qemu, c);
  const hq_cpu_info* cpu0 = el2_counts(qemu);
  const auto hvc32s = cpu0->guest_hvc32s, aborts = cpu0->guest_aborts;
  model::HostHvc register_kvm;
  register_kvm.x[0] = k::HVC_REGISTER_KVM;
  for (const model::Z cls :
       {k::ESR_ELx_EC_HVC32, k::ESR_ELx_EC_DABT_LOW, k::ESR_ELx_EC_IABT_LOW, k::ESR_ELx_EC_WFx}) {
    run_until_a_vm_runs(qemu, c);
    EXPECT_EQ(qemu.step(trap_exit(cls)), model::StepKind::ok) << static_cast<int>(cls);
    EXPECT_TRUE(qemu.state().ihost);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(qemu.step(register_kvm), model::StepKind::ok) << qemu.machine()->panic_text();
  }
  EXPECT_EQ(cpu0->guest_hvc32s, hvc32s + 1);
  EXPECT_EQ(cpu0->guest_aborts, aborts + 2);
  EXPECT_EQ(qemu.stats().injected_exits, 0u);
}

// The harness answers what KCore's entry checks would while the CPU cannot take the trap: a VM
// exit while the host runs is undefined; VCPU_RUN of a non-VM halts the CPU, and later a
// VCPU_RUN halts again with x0 recorded, a VM exit is undefined.
TEST(QemuVm, ExitsWhileTheHostRunsAndAfterAHaltHaveTheSpecsOutcomes) {
  QemuTarget qemu;
  generators::Case c;
  qemu.reset(c.cfg, nullptr);
  model::VmExit e;
  e.ec = k::ARM_EXCEPTION_INTERRUPT;
  EXPECT_EQ(qemu.step(e), model::StepKind::undefined);
  model::HostHvc reg;
  reg.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(reg), model::StepKind::ok);
  EXPECT_EQ(qemu.step(model::VcpuRun{0}), model::StepKind::halted);  // the host is no VM
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]), 0u);
  EXPECT_EQ(qemu.step(model::VcpuRun{7}), model::StepKind::halted);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]), 7u);
  EXPECT_EQ(qemu.step(e), model::StepKind::undefined);
  EXPECT_EQ(qemu.stats().vcpu_runs, 1u);  // the second never reached the machine
  try {
    model::VmExit big;
    big.esr = model::pow2(64);
    qemu.step(big);
    FAIL() << "no TargetError";
  } catch (const harness::TargetError& err) {
    EXPECT_STREQ(err.what(), "qemu target: esr does not fit 64 bits");
  }
}

// Seeded bugs of the world switch's KCore side (native/mutants.c), in kcore_mutants.elf: 39 (the
// vCPU runs with the host's x0..x30) and 43 (a SYS64 exit does not advance the pc) are killed
// by the model comparison through real runs and exits; the original image passes the cases.
TEST(QemuVm, MutantsOfRunAndExitAreKilled) {
  const model::HandlerMask h = handler_bit(Handler::host_hvc) |
                               handler_bit(Handler::host_vcpu_run) | handler_bit(Handler::vm_exit) |
                               handler_bit(Handler::set_reg);
  const std::vector<generators::Case> cases = cases_with(h, 15, 9000, 2);
  QemuTarget qemu;
  for (const uint32_t mutant : {39u, 43u, 50u, 0u}) {
    qemu.set_mutant(mutant);
    size_t steps = 0;
    const std::vector<Trace> t = run_all(qemu, cases, &steps);
    const auto [killed, first] = qt::kills(t);
    if (mutant == 0) {
      EXPECT_EQ(killed, 0u) << first;
    } else {
      EXPECT_GT(killed, 0u) << "mutant " << mutant;
      EXPECT_EQ(first.rfind("divergence/", 0), 0u) << first;
    }
    std::printf("mutant %u: %zu of %zu cases killed, first: %s\n", mutant, killed, cases.size(),
                first.c_str());
  }
}

}  // namespace
}  // namespace hypdiff::qemu
