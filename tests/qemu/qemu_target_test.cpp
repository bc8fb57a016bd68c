// QemuTarget (docs/qemu.md, "The QEMU target"): the Runner drives it against the model on
// generated cases of host hypercalls, the native target gives the same verdicts and outcomes on
// the same cases, and a planted difference in the exported memory is caught.
#include "qemu/host/qemu_target.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "generators/case_gen.hpp"
#include "harness/model_target.hpp"
#include "harness/runner.hpp"
#include "model/constants.hpp"
#include "oracles/projection.hpp"
#include "tests/qemu/generated_runs.hpp"

extern "C" {
#include "core/ctxt.h"
}

namespace hypdiff::qemu {
namespace {

namespace k = model::k;
using qt::run_all;  // tests/qemu/generated_runs.hpp
using qt::Trace;

// Generated cases with only their host hypercalls kept (the oracle answers, other-CPU events
// included, stay as generated: any answers make a valid case).
std::vector<generators::Case> hvc_cases(size_t n, uint64_t seed) {
  generators::GenOptions opts;
  opts.max_ops = 40;
  std::vector<generators::Case> out;
  for (uint64_t s = seed; out.size() < n; ++s) {
    generators::Case c = generators::generate_case(opts, s);
    std::vector<model::Op> ops;
    for (const auto& op : c.ops)
      if (std::holds_alternative<model::HostHvc>(op)) ops.push_back(op);
    if (ops.empty()) continue;
    c.ops = std::move(ops);
    out.push_back(std::move(c));
  }
  return out;
}

// Generated cases with only the operations the QEMU target realizes while only the host runs:
// host hypercalls, host stage-2 faults, the host's loads and stores, SET_REG. At least
// `min_other` of each case's operations are not hypercalls.
std::vector<generators::Case> host_cases(size_t n, uint64_t seed, size_t min_other = 1) {
  generators::GenOptions opts;
  opts.max_ops = 40;
  std::vector<generators::Case> out;
  for (uint64_t s = seed; out.size() < n; ++s) {
    generators::Case c = generators::generate_case(opts, s);
    std::vector<model::Op> ops;
    size_t other = 0;
    for (const auto& op : c.ops) {
      const model::Handler h = model::handler_of(op);
      if (h == model::Handler::host_hvc || h == model::Handler::host_npt ||
          h == model::Handler::mem_load || h == model::Handler::mem_store ||
          h == model::Handler::set_reg) {
        ops.push_back(op);
        other += h == model::Handler::host_hvc ? 0 : 1;
      }
    }
    if (other < min_other) continue;
    c.ops = std::move(ops);
    out.push_back(std::move(c));
  }
  return out;
}

TEST(QemuTarget, HostHypercallCasesPassAgainstTheModelAndMatchNative) {
  const std::vector<generators::Case> cases = hvc_cases(300, 1);
  size_t with_events = 0;
  for (const auto& c : cases) with_events += c.oracle.soracle.empty() ? 0 : 1;
  EXPECT_GT(with_events, 10u);  // the other CPUs' events are exercised too

  size_t qemu_steps = 0;
  std::vector<Trace> on_qemu;
  uint64_t events = 0;
  {
    QemuTarget qemu;
    on_qemu = run_all(qemu, cases, &qemu_steps);
    events = qemu.stats().events;
  }
  EXPECT_GT(events, 5u);  // EL2 replayed other CPUs' maps at its query points
  size_t failures = 0, halted = 0;
  for (size_t i = 0; i < on_qemu.size(); ++i) {
    EXPECT_EQ(on_qemu[i].verdict, "") << "case " << i;
    failures += on_qemu[i].verdict.empty() ? 0 : 1;
    for (const auto& o : on_qemu[i].outcomes) halted += o == "halted/halted" ? 1 : 0;
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(qemu_steps, 1000u);
  EXPECT_GT(halted, 20u);  // panics are compared too

  // The native target, after the QEMU target is gone (both use the native platform's memory).
  std::string err;
  auto native = harness::make_target("native", &err);
  ASSERT_NE(native, nullptr) << err;
  size_t native_steps = 0;
  const std::vector<Trace> on_native = run_all(*native, cases, &native_steps);
  EXPECT_EQ(native_steps, qemu_steps);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(on_qemu[i], on_native[i]) << "case " << i;
  std::printf(
      "%zu cases (%zu with other-CPU events), %zu checked steps, %zu halts, %llu events "
      "replayed\n",
      cases.size(), with_events, qemu_steps, halted, static_cast<unsigned long long>(events));
}

generators::Case register_kvm_case() {
  generators::Case c;
  model::HostHvc h;
  h.x[0] = k::HVC_REGISTER_KVM;
  c.ops = {h, h};
  return c;
}

TEST(QemuTarget, APlantedDifferenceInKCoresMemoryIsADivergence) {
  std::string err;
  auto model = harness::make_target("model", &err);
  ASSERT_NE(model, nullptr) << err;
  QemuTarget qemu;
  harness::Runner runner(qemu, model.get());
  const generators::Case c = register_kvm_case();
  ASSERT_FALSE(runner.run(c).failure);
  ASSERT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]),
            2u);  // the second REGISTER_KVM gave VM 2

  // Test-only corruption of the mirror: next_vmid one too high whenever the globals page (page
  // 0 of KCore's memory) is copied, as if the export read a wrong value.
  qemu.set_page_hook([](uint64_t pa, uint8_t* page) {
    if (pa != HQ_EL2_BASE) return;
    uint64_t next_vmid;
    std::memcpy(&next_vmid, page, 8);
    ++next_vmid;
    std::memcpy(page, &next_vmid, 8);
  });
  const harness::CaseResult r = runner.run(c);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->cls, harness::FailureClass::divergence) << r.failure->summary;

  // Without the hook the same machine agrees again.
  qemu.set_page_hook({});
  EXPECT_FALSE(runner.run(c).failure);
}

TEST(QemuTarget, APlantedDifferenceInTheRegisterFileIsCaught) {
  std::string err;
  auto model = harness::make_target("model", &err);
  ASSERT_NE(model, nullptr) << err;
  QemuTarget qemu;
  harness::Runner runner(qemu, model.get());
  generators::Case c = register_kvm_case();
  ASSERT_FALSE(runner.run(c).failure);
  // x7 written behind KCore's back between two hypercalls: the host's registers differ.
  qemu.reset(c.cfg, std::make_shared<const model::OracleInputs>(c.oracle));
  model::HostHvc h;
  h.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(h), model::StepKind::ok);
  auto* file = static_cast<kc_cpu_regs*>(qemu.machine()->guest(HQ_REGS_PA));
  file->regs.x[7] = 0x77;
  EXPECT_EQ(qemu.step(h), model::StepKind::ok);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]), 2u);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[7]),
            0x77u);  // the register file is what is exported
}

// Every operation is realized now (DMA last, qemu_dma_test.cpp): a DMA through a free bank
// reaches the emulated device and is undefined; a value beyond 64 bits is still an error.
TEST(QemuTarget, EveryOperationIsRealizedAndAHugeValueIsAnError) {
  QemuTarget qemu;
  EXPECT_EQ(qemu.realized(), model::kAllHandlers);
  generators::Case c;
  qemu.reset(c.cfg, nullptr);
  EXPECT_EQ(qemu.step(model::DevLoad{}), model::StepKind::undefined);
  EXPECT_EQ(qemu.stats().dma, 1u);
  try {
    qemu.step(model::SetReg{3, model::pow2(64)});
    FAIL() << "no TargetError";
  } catch (const harness::TargetError& e) {
    EXPECT_STREQ(e.what(), "qemu target: a register value does not fit 64 bits");
  }
  // The machine still answers.
  model::HostHvc h;
  h.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(h), model::StepKind::ok);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]), 1u);
}

TEST(QemuTarget, StepBeforeResetAndAConfigurationQemuCannotHoldAreErrors) {
  QemuTarget qemu;
  try {
    QemuTarget second;
    FAIL() << "two QemuTargets in one process";
  } catch (const harness::TargetError& e) {
    EXPECT_STREQ(e.what(),
                 "qemu target: one per process (its mirror is the native platform's memory)");
  }
  model::HostHvc h;
  EXPECT_THROW(qemu.step(h), harness::TargetError);
  model::MachineConfig big;
  big.max_vms = 100;  // KCore's memory would end beyond QEMU's RAM
  try {
    qemu.reset(big, nullptr);
    FAIL() << "no TargetError";
  } catch (const harness::TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("KCore's memory is not in the RAM QEMU has"),
              std::string::npos)
        << e.what();
  }
  // A configuration that fits works afterwards.
  model::MachineConfig small;
  small.max_vms = 4;
  qemu.reset(small, nullptr);
  h.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(h), model::StepKind::ok);
  EXPECT_EQ(static_cast<uint64_t>(qemu.state().regs.ctxt_regs.x[0]), 1u);
}

// The step log lists every page a step changed: a mirror copied afresh from every resident page
// gives the same state after each step.
TEST(QemuTarget, TheStepLogMissesNoChangedPage) {
  const std::vector<generators::Case> cases = hvc_cases(40, 2000);
  QemuTarget qemu;
  qemu.set_verify_export(true);
  size_t steps = 0;
  const std::vector<Trace> t = run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 100u);
}

// Host stage-2 faults, loads, stores and SET_REG among the hypercalls (docs/qemu.md, "Host
// loads and stores"): no failure against the model, and the native target's verdicts and
// per-step outcomes, case by case.
TEST(QemuTarget, HostAccessCasesPassAgainstTheModelAndMatchNative) {
  const std::vector<generators::Case> cases = host_cases(300, 1, 3);
  size_t qemu_steps = 0;
  std::vector<Trace> on_qemu;
  QemuTarget::Stats st;
  {
    QemuTarget qemu;
    on_qemu = run_all(qemu, cases, &qemu_steps);
    st = qemu.stats();
  }
  size_t failures = 0;
  for (size_t i = 0; i < on_qemu.size(); ++i) {
    EXPECT_EQ(on_qemu[i].verdict, "") << "case " << i;
    failures += on_qemu[i].verdict.empty() ? 0 : 1;
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(qemu_steps, 1000u);
  EXPECT_GT(st.accesses, 100u);
  EXPECT_GT(st.real_faults, 100u);
  EXPECT_GT(st.injected_faults, 0u);  // rare in generated cases: QemuAccess tests it
  // The export at reset overlaps EL2's restart, which changes nothing modelled (docs/qemu.md).
  EXPECT_EQ(st.restart_changes, 0u);

  std::string err;
  auto native = harness::make_target("native", &err);
  ASSERT_NE(native, nullptr) << err;
  size_t native_steps = 0;
  const std::vector<Trace> on_native = run_all(*native, cases, &native_steps);
  EXPECT_EQ(native_steps, qemu_steps);
  size_t ok_access = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(on_qemu[i], on_native[i]) << "case " << i;
    for (size_t j = 0; j < cases[i].ops.size() && j < on_qemu[i].outcomes.size(); ++j) {
      const model::Handler h = model::handler_of(cases[i].ops[j]);
      if ((h == model::Handler::mem_load || h == model::Handler::mem_store) &&
          on_qemu[i].outcomes[j] == "ok/ok")
        ++ok_access;
    }
  }
  EXPECT_GT(ok_access, 50u);  // loads and stores that really went through
  std::printf(
      "%zu cases, %zu checked steps; %llu accesses (%zu ok), %llu real faults, %llu injected\n",
      cases.size(), qemu_steps, static_cast<unsigned long long>(st.accesses), ok_access,
      static_cast<unsigned long long>(st.real_faults),
      static_cast<unsigned long long>(st.injected_faults));
}

// Mutant 11 (register-kvm-returns-next-id, native/mutants.c) in kcore_mutants.elf: the model
// comparison kills it on generated host-hypercall cases; the same cases pass on the unmutated
// image, and a mutant id the image does not have is not the original's behaviour either.
TEST(QemuTarget, AMutantImageIsKilledByTheModelComparison) {
  const std::vector<generators::Case> cases = hvc_cases(40, 3000);
  QemuTarget qemu;
  qemu.set_mutant(11);
  EXPECT_EQ(qemu.mutant(), 11u);
  size_t steps = 0;
  std::vector<Trace> t = run_all(qemu, cases, &steps);
  const auto [killed, first] = qt::kills(t);
  EXPECT_GT(killed, 5u);
  EXPECT_EQ(first.rfind("divergence/", 0), 0u) << first;
  EXPECT_NE(qemu.machine()->output().find("kcore: booted"), std::string::npos);

  // The original image: a fresh QEMU, every case passes.
  qemu.set_mutant(0);
  t = run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 100u);

  // Back to the mutant: killed again (the mutant survives soft resets: EL2 sets kc_mutant at
  // every entry from the EL2 page).
  qemu.set_mutant(11);
  t = run_all(qemu, cases, &steps);
  EXPECT_EQ(qt::kills(t).killed, killed);
}

// Mutant 2 (host-map-ignores-vm-owner): a host stage-2 fault maps a VM's private frame. Only
// host faults reach it, here taken by real accesses of the agent.
TEST(QemuTarget, AMutantInTheHostFaultHandlerIsKilledThroughRealFaults) {
  const std::vector<generators::Case> cases = host_cases(60, 1, 3);
  QemuTarget qemu;
  qemu.set_mutant(2);
  size_t steps = 0;
  const std::vector<Trace> t = run_all(qemu, cases, &steps);
  const auto [killed, first] = qt::kills(t);
  EXPECT_GT(killed, 0u);
  EXPECT_GT(qemu.stats().real_faults, 50u);
  std::printf("mutant 2: %zu of %zu cases killed, first: %s\n", killed, cases.size(),
              first.c_str());
}

TEST(QemuMutant, TheOriginalImageRefusesAMutant) {
  QemuOptions o;
  o.mutant = 11;
  o.kcore_elf = HYPDIFF_TEST_KCORE_ELF;  // the image without KC_MUTANTS
  try {
    QemuMachine m(o);
    FAIL() << "booted";
  } catch (const QemuError& e) {
    EXPECT_NE(std::string(e.what()).find("KCore panicked during boot: this image has no mutants"),
              std::string::npos)
        << e.what();
  }
}

// The same with host faults, loads, stores and SET_REG: a real store changes a frame through
// the MMU, not through plat_phys, so EL2 must log the page itself.
TEST(QemuTarget, TheStepLogMissesNoPageTheHostsAccessesChanged) {
  const std::vector<generators::Case> cases = host_cases(40, 2000, 3);
  QemuTarget qemu;
  qemu.set_verify_export(true);
  size_t steps = 0;
  const std::vector<Trace> t = run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 200u);
  EXPECT_GT(qemu.stats().accesses, 20u);
}

// Pipelining (harness/target.hpp): while QEMU runs a started step, state() is still the last
// finished step's, and finish() gives what step() gives. A case left with a step started (the
// Runner stops at a failure) is drained by the next reset. Checked against the model step by
// step, with the state read between start() and finish().
TEST(QemuTarget, StateStaysTheLastStepsWhileTheNextRunsAndResetDrainsAStartedStep) {
  const std::vector<generators::Case> cases = host_cases(30, 500);
  QemuTarget qemu;
  harness::ModelTarget model("model", model::Profile::intended());
  size_t compared = 0, left_started = 0;
  for (size_t n = 0; n < cases.size(); ++n) {
    const generators::Case& c = cases[n];
    const auto oracle = std::make_shared<const model::OracleInputs>(c.oracle);
    qemu.reset(c.cfg, oracle);
    model.reset(c.cfg, oracle);
    // Every third case stops with its middle step started: the next reset must drain it.
    const size_t stop = n % 3 == 2 ? c.ops.size() / 2 : c.ops.size();
    for (size_t i = 0; i < stop; ++i) {
      qemu.start(c.ops[i]);
      ASSERT_EQ(qemu.state().slog.length(), model.state().slog.length()) << n << "/" << i;
      ASSERT_TRUE(oracles::same_observables(model.state(), qemu.state())) << n << "/" << i;
      ++compared;
      const model::StepKind kq = qemu.finish();
      const model::StepKind km = model.step(c.ops[i]);
      ASSERT_EQ(kq, km) << n << "/" << i;
      if (kq == model::StepKind::halted) break;
      ASSERT_TRUE(oracles::same_observables(model.state(), qemu.state())) << n << "/" << i;
    }
    if (stop < c.ops.size() && stop > 0 && !qemu.state().halt) {
      qemu.start(c.ops[stop]);
      ++left_started;
    }
  }
  EXPECT_GT(compared, 100u);
  EXPECT_GT(left_started, 3u);
  // The last case was left started: a reset drops it, and the machine runs the first case again.
  const auto oracle = std::make_shared<const model::OracleInputs>(cases[0].oracle);
  qemu.reset(cases[0].cfg, oracle);
  EXPECT_THROW(qemu.finish(), harness::TargetError);
  model.reset(cases[0].cfg, oracle);
  for (const model::Op& op : cases[0].ops) {
    const model::StepKind kq = qemu.step(op);
    ASSERT_EQ(kq, model.step(op));
    if (kq == model::StepKind::halted) break;
    ASSERT_TRUE(oracles::same_observables(model.state(), qemu.state()));
  }
}

TEST(QemuTarget, QmpResetGivesTheSameVerdicts) {
  const std::vector<generators::Case> cases = hvc_cases(40, 1000);
  QemuTarget qemu({}, /*soft_reset=*/false);
  size_t steps = 0;
  const std::vector<Trace> t = run_all(qemu, cases, &steps);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].verdict, "") << "case " << i;
  EXPECT_GT(steps, 100u);
}

}  // namespace
}  // namespace hypdiff::qemu
