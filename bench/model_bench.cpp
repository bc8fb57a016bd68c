// Throughput of the spec model and of the oracles, on states reached by random sequences
// (the same generator as `hypdiff selfcheck`, fixed seeds). Run with `./hypdiff bench`.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "generators/case_gen.hpp"
#include "harness/allocator.hpp"
#include "harness/model_target.hpp"
#include "harness/runner.hpp"
#include "harness/target.hpp"
#include "model/init.hpp"
#include "oracles/diff.hpp"
#include "oracles/projection.hpp"

namespace {

using namespace hypdiff;

const std::vector<generators::Case>& cases() {
  static const std::vector<generators::Case> all = [] {
    std::vector<generators::Case> out;
    generators::GenOptions o;
    for (std::uint64_t s = 0; s < 300; ++s) out.push_back(generators::generate_case(o, 1000 + s));
    return out;
  }();
  return all;
}

// Model steps per second: every operation of every case, applied in sequence.
void BM_ModelSteps(benchmark::State& state) {
  const auto& cs = cases();
  std::vector<model::RData> starts;
  for (const auto& c : cs)
    starts.push_back(model::initial_state(c.cfg, model::Profile::intended(),
                                          std::make_shared<const model::OracleInputs>(c.oracle)));
  std::int64_t steps = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < cs.size(); ++i) {
      model::RData d = starts[i];
      for (const model::Op& op : cs[i].ops) {
        model::StepResult r = model::apply(d, op);
        if (r.after) d = std::move(*r.after);
        ++steps;
      }
      benchmark::DoNotOptimize(d.halt);
    }
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ModelSteps)->Unit(benchmark::kMillisecond);

// Consecutive (before, after) states of the cases, for the oracle benchmarks.
struct Pair {
  model::RData a, b;
};
const std::vector<Pair>& pairs() {
  static const std::vector<Pair> all = [] {
    std::vector<Pair> out;
    for (const auto& c : cases()) {
      model::RData d = model::initial_state(c.cfg, model::Profile::intended(),
                                            std::make_shared<const model::OracleInputs>(c.oracle));
      for (const model::Op& op : c.ops) {
        model::StepResult r = model::apply(d, op);
        if (!r.after) continue;
        out.push_back(Pair{d, *r.after});
        d = std::move(*r.after);
      }
    }
    return out;
  }();
  return all;
}

// Full projection of both states for one principal, then the field-level diff.
void BM_ProjectionDiff(benchmark::State& state) {
  const auto& ps = pairs();
  std::size_t i = 0;
  std::int64_t n = 0, entries = 0;
  for (auto _ : state) {
    const Pair& p = ps[i++ % ps.size()];
    const model::Z v = static_cast<model::Z>(i % 3);  // host and the first VMs
    const oracles::Projection a = oracles::project(p.a, v);
    const oracles::Projection b = oracles::project(p.b, v);
    const oracles::ProjectionDiff d = oracles::diff(a, b);
    benchmark::DoNotOptimize(d.lines.size());
    ++n;
    entries += static_cast<std::int64_t>(p.b.shared.s2page.explicit_size() +
                                         p.b.shared.npts.get(0).pt.explicit_size());
  }
  state.counters["diffs/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  state.counters["map entries"] = benchmark::Counter(
      static_cast<double>(entries) / static_cast<double>(std::max<std::int64_t>(n, 1)));
}
BENCHMARK(BM_ProjectionDiff);

// obs_eq with its fast paths, as the integrity check uses it.
void BM_ObsEq(benchmark::State& state) {
  const auto& ps = pairs();
  std::size_t i = 0;
  std::int64_t n = 0;
  for (auto _ : state) {
    const Pair& p = ps[i++ % ps.size()];
    benchmark::DoNotOptimize(oracles::obs_eq(static_cast<model::Z>(i % 3), p.a, p.b));
    ++n;
  }
  state.counters["checks/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ObsEq);

// Checked steps per second of `hypdiff check` without generation: a target and a reference (both
// the intended model) in lockstep, with the comparison after every step and the invariant,
// integrity and confidentiality checks on the target's states. The baseline for the native
// target's goal (issue 4).
void BM_CheckedSteps(benchmark::State& state) {
  const auto& cs = cases();
  harness::ModelTarget target("model", model::Profile::intended());
  harness::ModelTarget reference("model", model::Profile::intended());
  harness::RunOptions opts;
  opts.invariants = opts.integrity = opts.confidentiality = state.range(0) != 0;
  harness::Runner runner(target, &reference, opts);
  std::int64_t steps = 0;
  for (auto _ : state) {
    for (const auto& c : cs) steps += static_cast<std::int64_t>(runner.run(c).steps);
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CheckedSteps)->Arg(0)->Arg(1)->ArgNames({"properties"})->Unit(benchmark::kMillisecond);

// The same for the native target (KCore behind the target ABI, incremental export) against the
// model: target step + export + import, model step, comparison, and the property checks on the
// target's states when properties=1. Issue 4's goal: 200,000/s.
void BM_NativeCheckedSteps(benchmark::State& state) {
  const auto& cs = cases();
  std::string err;
  auto target = harness::make_target("native", &err);
  if (!target) {
    state.SkipWithError(err.c_str());
    return;
  }
  harness::ModelTarget reference("model", model::Profile::intended());
  harness::RunOptions opts;
  opts.invariants = opts.integrity = opts.confidentiality = state.range(0) != 0;
  harness::Runner runner(*target, &reference, opts);
  std::int64_t steps = 0;
  for (auto _ : state) {
    for (const auto& c : cs) steps += static_cast<std::int64_t>(runner.run(c).steps);
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_NativeCheckedSteps)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"properties"})
    ->Unit(benchmark::kMillisecond);

// The native target alone: reset, step and change export + import, no reference, no checks.
void BM_NativeSteps(benchmark::State& state) {
  const auto& cs = cases();
  std::string err;
  auto target = harness::make_target("native", &err);
  if (!target) {
    state.SkipWithError(err.c_str());
    return;
  }
  std::int64_t steps = 0;
  for (auto _ : state) {
    for (const auto& c : cs) {
      target->reset(c.cfg, std::make_shared<const model::OracleInputs>(c.oracle));
      for (const model::Op& op : c.ops) {
        ++steps;
        if (target->step(op) == model::StepKind::halted) break;
      }
    }
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_NativeSteps)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  hypdiff::tune_allocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
