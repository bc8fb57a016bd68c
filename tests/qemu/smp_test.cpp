// QEMU's second CPU (docs/qemu.md, "SMP"; design in the SMP notes, §7 tests 2 and 3): EL2
// starts CPU 1 by PSCI at every entry, records what it saw there, and turns it off before it
// parks, so that every kind of reset brings it back.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>

#include "generated_runs.hpp"
#include "harness/target.hpp"
#include "model/constants.hpp"
#include "qemu/host/qemu_machine.hpp"
#include "qemu/host/qemu_target.hpp"

extern "C" {
#include "core/constants.h"
}

namespace hypdiff::qemu {
namespace {

using Status = HvcResult::Status;

Regs regs(std::initializer_list<uint64_t> first) {
  Regs r{};
  std::copy(first.begin(), first.end(), r.begin());
  for (size_t i = first.size(); i < r.size(); ++i) r[i] = 0x1000 + i;
  return r;
}

QemuOptions two_cpus() {
  QemuOptions o;
  o.smp = 2;
  return o;
}

const hq_plat& page(const QemuMachine& m) {
  return *static_cast<const hq_plat*>(m.guest(HQ_PLAT_PA, sizeof(hq_plat)));
}

// After any entry of EL2: CPU 1 is up once more, and the host's hypercalls work.
void expect_up(QemuMachine& m, uint64_t ups) {
  EXPECT_FALSE(m.panicked());
  EXPECT_EQ(page(m).secondaries_up, 1u);
  EXPECT_EQ(page(m).psci_on, 0u);
  EXPECT_EQ(m.cpu_info(1).ups, ups);
  EXPECT_EQ(m.cpu_info(1).current_el, 2u);
  const auto r = m.hvc(regs({KC_HVC_REGISTER_KVM}));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.x[0], 1u);
}

TEST(QemuSmp, TheSecondaryComesUpAtEl2) {
  QemuMachine m(two_cpus());
  const hq_plat& p = page(m);
  EXPECT_EQ(p.smp, 2u);
  EXPECT_EQ(p.secondaries_up, 1u);
  EXPECT_EQ(p.psci_on, 0u);
  EXPECT_GE(p.psci_version, 2u);  // 0.2 or later (QEMU 7.2 says 1.1: 0x10001)
  EXPECT_LT(p.psci_version, 1ull << 31);

  const hq_cpu_info& c0 = m.cpu_info(0);
  EXPECT_EQ(c0.ups, 1u);
  EXPECT_EQ(c0.phys, 0u);
  EXPECT_EQ(c0.driven, 1u);
  EXPECT_EQ(c0.current_el, 2u);
  EXPECT_EQ(c0.mpidr & 0xFFu, 0u);
  EXPECT_EQ(c0.regs, HQ_REGS_PA);
  EXPECT_EQ(c0.stops, 0u);

  const hq_cpu_info& c1 = m.cpu_info(1);
  EXPECT_EQ(c1.ups, 1u);
  EXPECT_EQ(c1.phys, 1u);
  EXPECT_EQ(c1.driven, 0u);
  EXPECT_EQ(c1.logical, 0u);
  EXPECT_EQ(c1.current_el, 2u);  // PSCI CPU_ON from EL2 starts the CPU at EL2
  EXPECT_EQ(c1.mpidr & 0xFFu, 1u);
  EXPECT_EQ(c1.regs, HQ_PERCPU_PA + HQ_PERCPU_SIZE + HQ_PERCPU_REGS_OFFSET);
  // Both CPUs take their exceptions at hq_vectors (boot.S), inside the EL2 image.
  EXPECT_EQ(c1.vbar, c0.vbar);
  EXPECT_EQ(c1.vbar % 0x800u, 0u);
  EXPECT_GE(c1.vbar, HQ_EL2_IMAGE);
  EXPECT_LT(c1.vbar, HQ_AGENT_PA);
  EXPECT_EQ(c1.mbox.seq, 0u);
  EXPECT_EQ(c1.mbox.done, 0u);

  const std::string out = m.output();
  const auto up = out.find("kcore: cpu 1 up");
  ASSERT_NE(up, std::string::npos) << out;
  EXPECT_LT(up, out.find("kcore: booted, entering the host agent"));  // CPU 0 waited for it
  expect_up(m, 1);
}

TEST(QemuSmp, ResetsBringTheSecondaryBack) {
  QemuMachine m(two_cpus());
  uint64_t ups = 1, stops = 0;
  for (int i = 0; i < 3; ++i) {
    m.hvc(regs({KC_HVC_REGISTER_KVM}));
    m.soft_reset();
    ++ups;
    ++stops;
    // CPU 0 waited for PSCI to say CPU 1 is off (AFFINITY_INFO 1) before it parked.
    EXPECT_EQ(m.cpu_info(0).stops, stops) << "soft reset " << i;
    EXPECT_EQ(m.cpu_info(0).stop_affinity, 1u) << "soft reset " << i;
    expect_up(m, ups);
  }
  // A QMP reset powers CPU 1 off without a park: EL2 starts it again.
  m.reset();
  ++ups;
  EXPECT_EQ(m.cpu_info(0).stops, stops);
  expect_up(m, ups);
  // A halt parks CPU 0, which turns CPU 1 off first; the soft reset brings both back.
  const auto halt = m.hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0}));
  EXPECT_EQ(halt.status, Status::halted);
  EXPECT_EQ(halt.panic_text, "hypercall arguments refused");
  m.soft_reset();
  ++ups;
  ++stops;
  EXPECT_EQ(m.cpu_info(0).stops, stops);
  EXPECT_EQ(m.cpu_info(0).stop_affinity, 1u);
  EXPECT_EQ(m.panic_text(), "");
  expect_up(m, ups);
  // And a QMP reset of a halted machine.
  EXPECT_EQ(m.hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0})).status, Status::halted);
  m.reset();
  ++ups;
  expect_up(m, ups);
  EXPECT_EQ(m.cpu_info(0).ups, ups);  // CPU 0 entered EL2 as often as it started CPU 1
}

QemuOptions one_cpu() {
  QemuOptions o;
  o.smp = 1;
  return o;
}

TEST(QemuSmp, OneCpuStartsNoSecondary) {
  QemuMachine m(one_cpu());
  EXPECT_EQ(page(m).smp, 1u);
  EXPECT_EQ(page(m).secondaries_up, 0u);
  EXPECT_EQ(m.cpu_info(1).ups, 0u);
  m.soft_reset();
  EXPECT_EQ(m.cpu_info(0).stops, 0u);
  EXPECT_EQ(m.cpu_info(0).ups, 2u);
  EXPECT_EQ(m.output().find("kcore: cpu 1 up"), std::string::npos);
  EXPECT_THROW(m.cpu_info(2), QemuError);
}

TEST(QemuSmp, MoreCpusThanEl2DrivesIsAOneLineError) {
  QemuOptions o;
  o.smp = 3;
  try {
    QemuMachine m(o);
    FAIL() << "started QEMU with 3 CPUs";
  } catch (const QemuError& e) {
    EXPECT_EQ(std::string(e.what()), "QemuOptions::smp is 3: EL2 drives 1 to 2 CPUs");
  }
  o.smp = 0;
  EXPECT_THROW(QemuMachine{o}, QemuError);
}

// The ways CPU 1 can fail to start, each forced by a test knob EL2 reads at boot: a one-line
// QemuError from the constructor, and the machine's QEMU is gone with it.
QemuError start_error(uint32_t fault) {
  QemuOptions o = two_cpus();
  o.smp_fault = fault;
  try {
    QemuMachine m(o);
  } catch (const QemuError& e) {
    return e;
  }
  return QemuError("QEMU started");
}

TEST(QemuSmp, ACpuOnPsciRefusesIsAOneLineError) {
  EXPECT_EQ(std::string(start_error(HQ_SMP_FAULT_REFUSED).what()),
            "KCore in QEMU: PSCI CPU_ON did not start CPU 1 (it returned -2)");  // INVALID_PARAMS
}

TEST(QemuSmp, ACpuThatNeverChecksInIsAOneLineError) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(std::string(start_error(HQ_SMP_FAULT_SILENT).what()),
            "KCore in QEMU: CPU 1 did not come up within 1000 ms of PSCI CPU_ON");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
}

TEST(QemuSmp, PsciOlderThan02IsABootPanic) {
  EXPECT_EQ(std::string(start_error(HQ_SMP_FAULT_OLD_PSCI).what()),
            "KCore panicked during boot: no PSCI 0.2 or later over smc (QEMU virt gives it with "
            "virtualization=on): PSCI_VERSION 0x0000000000000001");
}

// ---- ticket locks (design §7 test 7) ----

uint64_t count_under_lock(QemuMachine& m, uint64_t n) {
  QemuMachine::Access a;
  a.cmd = HQ_CMD_SMP_COUNT;
  a.value = n;
  uint64_t word = 0;
  EXPECT_EQ(m.access(a, &word).status, Status::ok);
  EXPECT_EQ(page(m).smp_counter, word);
  return word;
}

// Both CPUs increment one word under KCore's lock CORE_ID, each on its own host thread: a lock
// that let both in at once would lose increments (the per-CPU flags of one CPU do).
TEST(QemuSmp, TicketLocksExcludeUnderMttcg) {
  QemuOptions o = two_cpus();
  o.mttcg = true;
  // Each CPU's host thread competes with the others on a loaded machine: a ticket passes to a
  // waiter only when its thread runs, so the count once took 9 s at load 5.
  o.command_timeout = std::chrono::milliseconds(120000);
  QemuMachine m(o);
  EXPECT_EQ(count_under_lock(m, 100000), 200000u);
  EXPECT_EQ(m.cpu_info(1).mbox.done, m.cpu_info(1).mbox.seq);
  expect_up(m, 1);  // the tickets are at rest: KCore takes CORE_ID again
  m.soft_reset();
  EXPECT_EQ(count_under_lock(m, 1000), 2000u);
  expect_up(m, 2);
}

TEST(QemuSmp, TicketLocksUnderOneTcgThreadAndWithOneCpu) {
  {
    QemuMachine m(two_cpus());
    EXPECT_EQ(count_under_lock(m, 20000), 40000u);
    expect_up(m, 1);
  }
  QemuMachine one(one_cpu());
  QemuMachine::Access a;
  a.cmd = HQ_CMD_SMP_COUNT;
  a.value = 10;
  try {
    one.access(a);
    FAIL() << "counted without a second CPU";
  } catch (const QemuError& e) {
    EXPECT_EQ(std::string(e.what()), "EL2 refused access command 11 at IPA 0: status 2");
  }
  EXPECT_TRUE(one.ping());
}

// ---- the other CPUs' events performed by CPU 1 (design §4 Level 1, §7 tests 4 and 6) ----

namespace k = model::k;

model::SingleEvent omap_host(int cpu, uint64_t pfn) {
  model::SingleEvent e;
  e.cpu = cpu;
  e.event.kind = model::EventKind::OMAP_HOST;
  e.event.args[0] = static_cast<model::Z>(pfn << 12);
  return e;
}

// Three host hypercalls; two events at log length 0 (the first query point) and one at 3 (the
// next: 0 + two events + the query point), the last one naming the case's own CPU.
generators::Case events_case() {
  generators::Case c;
  model::HostHvc h;
  h.x[0] = k::HVC_REGISTER_KVM;
  c.ops = {h, h, h};
  c.oracle.soracle[0] = {omap_host(2, 0x401), omap_host(5, 0x400)};  // newest first
  c.oracle.soracle[3] = {omap_host(0, 0x402)};
  return c;
}

struct Replays {
  uint64_t cpu0, cpu1, logical;
};
Replays replays(QemuTarget& t) {
  return {t.machine()->cpu_info(0).replays, t.machine()->cpu_info(1).replays,
          t.machine()->cpu_info(1).logical};
}

TEST(QemuSmp, EventsAreReplayedByTheSecondary) {
  const generators::Case c = events_case();
  // The model's log after the case: what both levels must give.
  std::string err;
  auto model = harness::make_target("model", &err);
  ASSERT_NE(model, nullptr) << err;
  model->reset(c.cfg, std::make_shared<const model::OracleInputs>(c.oracle));
  for (const auto& op : c.ops) model->step(op);
  const size_t log = model->state().slog.length();
  EXPECT_EQ(log, 9u);  // 3 events + a query point per critical section

  for (const uint32_t level : {1u, 0u}) {
    SCOPED_TRACE(level);
    QemuOptions o = two_cpus();
    o.smp_level = level;
    QemuTarget qemu(o);
    size_t steps = 0;
    const auto traces = qt::run_all(qemu, {c}, &steps);
    ASSERT_EQ(traces.size(), 1u);
    EXPECT_EQ(traces[0].verdict, "");
    EXPECT_EQ(traces[0].outcomes, (std::vector<std::string>{"ok/ok", "ok/ok", "ok/ok"}));
    EXPECT_EQ(qemu.stats().events, 3u);
    EXPECT_EQ(qemu.state().slog.length(), log);
    for (const uint64_t pfn : {0x400u, 0x401u, 0x402u})
      EXPECT_EQ(static_cast<uint64_t>(qemu.state().shared.npts.get(0).pt.get(pfn).pfn), pfn);
    const Replays r = replays(qemu);
    if (level == 1) {
      EXPECT_EQ(r.cpu0, 0u);
      EXPECT_EQ(r.cpu1, 3u);
      EXPECT_EQ(r.logical, 1u);  // the event named CPU 0, the case's: (curid + 1) % 8
    } else {
      EXPECT_EQ(r.cpu0, 3u);
      EXPECT_EQ(r.cpu1, 0u);
    }
    // Again after a soft reset: CPU 1 is back and takes the events.
    EXPECT_EQ(qt::run_all(qemu, {c}, &steps)[0].verdict, "");
    EXPECT_EQ(replays(qemu).cpu1, level == 1 ? 6u : 0u);
  }
}

size_t event_count(const generators::Case& c) {
  size_t n = 0;
  for (const auto& [at, events] : c.oracle.soracle) n += events.size();
  return n;
}

TEST(QemuSmp, GeneratedCasesPassAndMatchNative) {
  model::HandlerMask realized{};
  {
    const QemuTarget probe;  // one per process; it starts no QEMU before a reset
    realized = probe.realized();
  }
  const auto cases =
      qt::generate(realized, 200, 1, [](const generators::Case& c) { return event_count(c) >= 2; });
  QemuTarget::Stats st;
  size_t steps = 0;
  Replays r{};
  const auto traces = qt::qemu_matches_native(cases, &st, &steps, two_cpus(),
                                              [&](QemuTarget& t) { r = replays(t); });
  EXPECT_EQ(qt::kills(traces).killed, 0u);
  EXPECT_GT(steps, 2000u);
  // One QEMU for all cases (one configuration): CPU 1 performed every event. The harness counts
  // the events it handed out, which includes those asked for at an access that stayed undefined
  // (none mapped its page, so none happened, and the next query point gets them again).
  EXPECT_EQ(r.cpu0, 0u);
  EXPECT_GE(r.cpu1, 200u);
  EXPECT_LE(r.cpu1, st.events);
  std::printf("%zu cases, %zu checked steps, %llu events handed out, %llu performed by CPU 1\n",
              cases.size(), steps, static_cast<unsigned long long>(st.events),
              static_cast<unsigned long long>(r.cpu1));

  // The same cases on a fresh QEMU with other options: their traces, steps and replays.
  struct Rerun {
    std::vector<qt::Trace> traces;
    size_t steps = 0;
    Replays r{};
  };
  const auto rerun = [&](const QemuOptions& o) {
    Rerun out;
    QemuTarget qemu(o);
    out.traces = qt::run_all(qemu, cases, &out.steps);
    out.r = replays(qemu);
    return out;
  };

  // CPU 0 performing them (level 0) gives the same traces, and performs as many.
  QemuOptions level0 = two_cpus();
  level0.smp_level = 0;
  const Rerun r0 = rerun(level0);
  EXPECT_EQ(r0.traces, traces);
  EXPECT_EQ(r0.steps, steps);
  EXPECT_EQ(r0.r.cpu0, r.cpu1);
  EXPECT_EQ(r0.r.cpu1, 0u);

  // Under MTTCG (each CPU on its own host thread, CPU 1 spinning through its wfe loop) the
  // baton keeps the outcome QEMU's interleaving cannot change: the same traces, the same events.
  QemuOptions mttcg = two_cpus();
  mttcg.mttcg = true;
  const Rerun rm = rerun(mttcg);
  EXPECT_EQ(rm.traces, traces);
  EXPECT_EQ(rm.steps, steps);
  EXPECT_EQ(rm.r.cpu1, r.cpu1);
  EXPECT_EQ(rm.r.cpu0, 0u);
}

}  // namespace
}  // namespace hypdiff::qemu
