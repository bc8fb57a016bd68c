// Measures the QEMU target's foundation (docs/qemu.md, "Measured"): boot (spawn to the agent's
// ready flag, snapshot included), one host hypercall through the ring, reset, shutdown.
// Usage: [HYPDIFF_QEMU_CPU=max] [HYPDIFF_QEMU_SMP=2] qemu_bench [hypercalls=10000] [resets=200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "qemu/host/qemu_machine.hpp"

extern "C" {
#include "core/constants.h"
}

using Clock = std::chrono::steady_clock;

static double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int resets = argc > 2 ? std::atoi(argv[2]) : 200;
  hypdiff::qemu::QemuOptions options;
  if (const char* cpu = std::getenv("HYPDIFF_QEMU_CPU")) options.cpu = cpu;
  if (const char* smp = std::getenv("HYPDIFF_QEMU_SMP"))
    options.smp = static_cast<uint32_t>(std::atoi(smp));
  try {
    std::vector<double> boot, down;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      auto* m = new hypdiff::qemu::QemuMachine(options);
      const auto t1 = Clock::now();
      delete m;
      boot.push_back(us(t1 - t0));
      down.push_back(us(Clock::now() - t1));
    }
    std::printf("boot (spawn to ready, snapshot included): median %.0f us of 5\n", median(boot));
    std::printf("shutdown (QMP quit, process reaped):       median %.0f us of 5\n", median(down));

    hypdiff::qemu::QemuMachine m(options);
    std::printf("cpu %s, smp %u\n", options.cpu.c_str(), options.smp);
    std::vector<double> pings;
    for (int i = 0; i < calls; ++i) {
      const auto t0 = Clock::now();
      m.ping();
      pings.push_back(us(Clock::now() - t0));
    }
    std::printf("ring round trip without a trap (NOP): median %.2f us of %d\n", median(pings),
                calls);
    std::vector<double> rt;
    hypdiff::qemu::Regs x{};
    x[0] = KC_HVC_TIMER_SET_CNTVOFF;  // a hypercall that changes nothing: the channel's cost
    for (int i = 0; i < calls; ++i) {
      const auto t0 = Clock::now();
      const auto r = m.hvc(x);
      rt.push_back(us(Clock::now() - t0));
      if (r.status != hypdiff::qemu::HvcResult::Status::ok) return 1;
    }
    double sum = 0;
    for (double v : rt) sum += v;
    auto sorted = rt;
    std::sort(sorted.begin(), sorted.end());
    std::printf(
        "hypercall round trip (TIMER_SET_CNTVOFF): median %.2f us, mean %.2f us, "
        "p99 %.2f us of %d\n",
        median(rt), sum / static_cast<double>(rt.size()), sorted[sorted.size() * 99 / 100], calls);
    const std::vector<hypdiff::qemu::Regs> batch(calls, x);
    const auto b0 = Clock::now();
    m.hvc_batch(batch);
    std::printf("batched hypercalls: %.0f per second (%d in batches of %u)\n",
                calls / (us(Clock::now() - b0) / 1e6), calls, HQ_RING_SLOTS);
    x[0] = KC_HVC_REGISTER_KVM;
    std::vector<double> rs;
    for (int i = 0; i < resets; ++i) {
      m.hvc(x);  // something for the reset to undo
      const auto t0 = Clock::now();
      m.reset();
      rs.push_back(us(Clock::now() - t0));
    }
    std::printf("reset (stop, restore, system_reset, cont, ready): median %.0f us of %d\n",
                median(rs), resets);
    std::vector<double> ss;
    for (int i = 0; i < resets; ++i) {
      m.hvc(x);
      const auto t0 = Clock::now();
      m.soft_reset();
      ss.push_back(us(Clock::now() - t0));
    }
    std::printf("soft reset (park, restore, go, ready): median %.0f us of %d\n", median(ss),
                resets);
    if (options.smp > 1) {
      const auto& c0 = m.cpu_info(0);
      const double hz = static_cast<double>(c0.timer_hz);
      std::printf(
          "the last soft reset's CPU 1 off (mailbox, CPU_OFF, AFFINITY_INFO): %.0f us, "
          "on (CPU_ON to running): %.0f us (guest time)\n",
          static_cast<double>(c0.stop_ticks) / hz * 1e6,
          static_cast<double>(c0.start_ticks) / hz * 1e6);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qemu_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
