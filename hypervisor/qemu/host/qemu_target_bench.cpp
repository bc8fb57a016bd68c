// docs/qemu.md, "Measured": checked host-hypercall steps per second with QemuTarget against the
// model (one instance), with the time inside resets and steps of the target, and the native
// target on the same cases for comparison.
//   ./qemu_target_bench [cases] [seed] [qmp] [host|vm|runs]
// qmp: use the QMP reset, not the soft one; host: keep every operation the QEMU target realizes
// while only the host runs (hypercalls, host stage-2 faults, loads, stores, SET_REG), not only
// the hypercalls; vm: cases generated with every handler QemuTarget::realized() lists (vCPU
// runs, VM exits and the VM's loads and stores too), nothing filtered out; runs: the same, only
// the cases with at least one VCPU_RUN.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "generators/case_gen.hpp"
#include "harness/runner.hpp"
#include "qemu/host/qemu_target.hpp"

namespace {

using namespace hypdiff;
using Clock = std::chrono::steady_clock;

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Forwards to a target and adds up the time of its resets and steps.
class Timed final : public harness::Target {
 public:
  explicit Timed(harness::Target& t) : t_(t) {}
  std::string name() const override { return t_.name(); }
  std::string describe() const override { return t_.describe(); }
  void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) override {
    const auto t0 = Clock::now();
    t_.reset(cfg, std::move(oracle));
    const auto d = Clock::now() - t0;
    reset_time += d;
    resets.push_back(secs(d));
  }
  model::StepKind step(const model::Op& op) override {
    const auto t0 = Clock::now();
    const model::StepKind k = t_.step(op);
    step_time += Clock::now() - t0;
    return k;
  }
  const model::RData& state() const override { return t_.state(); }

  Clock::duration reset_time{}, step_time{};
  std::vector<double> resets;

 private:
  harness::Target& t_;
};

std::vector<generators::Case> host_cases(size_t n, uint64_t seed, bool all_host_kinds,
                                         model::HandlerMask vm_mask = 0, bool runs = false) {
  generators::GenOptions opts;
  opts.max_ops = 40;
  if (vm_mask) {
    opts.handlers = vm_mask;
    std::vector<generators::Case> out;
    for (uint64_t s = seed; out.size() < n; ++s) {
      generators::Case c = generators::generate_case(opts, s);
      const bool has_run = std::any_of(c.ops.begin(), c.ops.end(), [](const model::Op& op) {
        return std::holds_alternative<model::VcpuRun>(op);
      });
      if (!runs || has_run) out.push_back(std::move(c));
    }
    return out;
  }
  std::vector<generators::Case> out;
  for (uint64_t s = seed; out.size() < n; ++s) {
    generators::Case c = generators::generate_case(opts, s);
    std::vector<model::Op> ops;
    for (const auto& op : c.ops) {
      const model::Handler h = model::handler_of(op);
      const bool keep =
          h == model::Handler::host_hvc ||
          (all_host_kinds && (h == model::Handler::host_npt || h == model::Handler::mem_load ||
                              h == model::Handler::mem_store || h == model::Handler::set_reg));
      if (keep) ops.push_back(op);
    }
    if (ops.empty()) continue;
    c.ops = std::move(ops);
    out.push_back(std::move(c));
  }
  return out;
}

void measure(const char* label, harness::Target& target,
             const std::vector<generators::Case>& cases) {
  std::string err;
  auto model = harness::make_target("model", &err);
  if (!model) throw std::runtime_error(err);
  Timed timed(target);
  harness::Runner runner(timed, model.get());
  size_t steps = 0, failures = 0, errors = 0;
  const auto t0 = Clock::now();
  for (const auto& c : cases) {
    try {
      const harness::CaseResult r = runner.run(c);
      steps += r.steps;
      failures += r.failure ? 1 : 0;
    } catch (const harness::TargetError& e) {
      if (errors++ == 0) fmt::print("  first target error: {}\n", e.what());
    }
  }
  if (errors) fmt::print("  {} cases ended in a target error\n", errors);
  const double total = secs(Clock::now() - t0);
  std::sort(timed.resets.begin(), timed.resets.end());
  const double median = timed.resets.empty() ? 0 : timed.resets[timed.resets.size() / 2];
  fmt::print(
      "{}: {} cases, {} checked steps, {} failures in {:.2f} s: {:.0f} checked steps/s; "
      "target resets {:.2f} s (median {:.3f} ms), target steps {:.2f} s ({:.1f} us/step), "
      "the rest (model, oracles) {:.2f} s\n",
      label, cases.size(), steps, failures, total, static_cast<double>(steps) / total,
      secs(timed.reset_time), median * 1e3, secs(timed.step_time),
      steps ? secs(timed.step_time) / static_cast<double>(steps) * 1e6 : 0.0,
      total - secs(timed.reset_time) - secs(timed.step_time));
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 300;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  bool qmp = false, host = false, vm = false, runs = false;
  for (int i = 3; i < argc; ++i) {
    qmp = qmp || std::string(argv[i]) == "qmp";
    host = host || std::string(argv[i]) == "host";
    vm = vm || std::string(argv[i]) == "vm";
    runs = runs || std::string(argv[i]) == "runs";
  }
  std::vector<generators::Case> cases;
  {
    qemu::QemuTarget q({}, !qmp);
    cases = host_cases(n, seed, host, vm || runs ? q.realized() : 0, runs);
    measure(qmp ? "qemu (QMP reset)" : "qemu (soft reset)", q, cases);
    auto st = q.stats();
    auto& h = st.hypercall_us;
    std::sort(h.begin(), h.end());
    if (!h.empty())
      fmt::print("  hypercalls: median {:.1f} us, p90 {:.1f} us, p99 {:.1f} us, max {:.1f} us\n",
                 h[h.size() / 2], h[h.size() * 9 / 10], h[h.size() * 99 / 100], h.back());
    fmt::print(
        "  inside the QEMU target: machine resets {:.2f} s, hypercalls {:.2f} s ({} asks of "
        "EL2), mirror and export {:.2f} s ({} pages copied)\n",
        st.machine_reset, st.hypercalls, st.asks, st.exports, st.pages_copied);
    if (host || vm || runs)
      fmt::print("  host accesses {}, real stage-2 faults {}, injected faults {}\n", st.accesses,
                 st.real_faults, st.injected_faults);
    if (vm || runs)
      fmt::print(
          "  vCPU runs {}, exits by their real instruction {}, injected exits {}, VM accesses {}\n",
          st.vcpu_runs, st.real_exits, st.injected_exits, st.vm_accesses);
  }
  // After the QEMU target is gone: both use the native platform's memory.
  std::string err;
  auto native = harness::make_target("native", &err);
  if (!native) return 1;
  measure("native", *native, cases);
  return 0;
}
