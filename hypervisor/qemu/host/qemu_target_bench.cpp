// docs/qemu.md, "Measured": checked host-hypercall steps per second with QemuTarget against the
// model (one instance), with the time inside resets and steps of the target, and the native
// target on the same cases for comparison.
//   ./qemu_target_bench [cases] [seed] [qmp]      (qmp: use the QMP reset, not the soft one)
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

void measure(const char* label, harness::Target& target,
             const std::vector<generators::Case>& cases) {
  std::string err;
  auto model = harness::make_target("model", &err);
  if (!model) throw std::runtime_error(err);
  Timed timed(target);
  harness::Runner runner(timed, model.get());
  size_t steps = 0, failures = 0;
  const auto t0 = Clock::now();
  for (const auto& c : cases) {
    const harness::CaseResult r = runner.run(c);
    steps += r.steps;
    failures += r.failure ? 1 : 0;
  }
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
  const bool qmp = argc > 3 && std::string(argv[3]) == "qmp";
  const auto cases = hvc_cases(n, seed);
  {
    qemu::QemuTarget q({}, !qmp);
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
  }
  // After the QEMU target is gone: both use the native platform's memory.
  std::string err;
  auto native = harness::make_target("native", &err);
  if (!native) return 1;
  measure("native", *native, cases);
  return 0;
}
