#include "generated_runs.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "harness/runner.hpp"

namespace hypdiff::qemu::qt {

void PrintTo(const Trace& t, std::ostream* os) {
  *os << "{verdict \"" << t.verdict << "\", outcomes";
  for (const auto& o : t.outcomes) *os << ' ' << o;
  *os << '}';
}

std::vector<generators::Case> generate(model::HandlerMask handlers, size_t n, uint64_t seed,
                                       const std::function<bool(const generators::Case&)>& keep) {
  generators::GenOptions opts;
  opts.max_ops = 40;
  opts.handlers = handlers;
  std::vector<generators::Case> out;
  for (uint64_t s = seed; out.size() < n; ++s) {
    generators::Case c = generators::generate_case(opts, s);
    if (keep(c)) out.push_back(std::move(c));
  }
  return out;
}

size_t ops_of(const generators::Case& c, model::Handler h) {
  size_t n = 0;
  for (const auto& op : c.ops) n += model::handler_of(op) == h ? 1 : 0;
  return n;
}

Kills kills(const std::vector<Trace>& traces) {
  Kills k;
  for (const Trace& t : traces) {
    if (t.verdict.empty()) continue;
    if (k.first.empty()) k.first = t.verdict;
    ++k.killed;
  }
  return k;
}

std::vector<Trace> run_all(harness::Target& target, const std::vector<generators::Case>& cases,
                           size_t* steps) {
  std::string err;
  auto model = harness::make_target("model", &err);
  EXPECT_NE(model, nullptr) << err;
  harness::Runner runner(target, model.get());
  std::vector<Trace> out;
  *steps = 0;
  for (const auto& c : cases) {
    Trace t;
    const auto hook = [&](size_t, const model::Op&, model::StepKind kt,
                          std::optional<model::StepKind> kr) {
      t.outcomes.push_back(std::string(model::step_kind_name(kt)) + "/" +
                           (kr ? model::step_kind_name(*kr) : "-"));
    };
    try {
      const harness::CaseResult r = runner.run(c, hook);
      *steps += r.steps;
      if (r.failure) {
        t.verdict = r.failure->signature() + ": " + r.failure->summary;
        if (std::getenv("HYPDIFF_TEST_VERBOSE")) {
          for (size_t j = 0; j <= r.failure->step && j < c.ops.size(); ++j)
            std::printf("  op %zu: %s\n", j, model::to_string(c.ops[j]).c_str());
          for (const auto& d : r.failure->details) std::printf("  %s\n", d.c_str());
        }
      }
    } catch (const harness::TargetError& e) {
      t.verdict =
          std::string("error after step ") + std::to_string(t.outcomes.size()) + ": " + e.what();
    }
    out.push_back(std::move(t));
  }
  return out;
}

size_t count(const std::vector<generators::Case>& cases, const std::vector<Trace>& traces,
             model::Handler h, const std::string& outcome) {
  size_t n = 0;
  for (size_t i = 0; i < cases.size(); ++i)
    for (size_t j = 0; j < cases[i].ops.size() && j < traces[i].outcomes.size(); ++j)
      n += model::handler_of(cases[i].ops[j]) == h && traces[i].outcomes[j] == outcome ? 1 : 0;
  return n;
}

std::vector<Trace> qemu_matches_native(const std::vector<generators::Case>& cases,
                                       QemuTarget::Stats* st, size_t* steps,
                                       const QemuOptions& options,
                                       const std::function<void(QemuTarget&)>& inspect) {
  std::vector<Trace> on_qemu;
  {
    QemuTarget qemu(options);
    on_qemu = run_all(qemu, cases, steps);
    *st = qemu.stats();
    if (inspect) inspect(qemu);
  }
  for (size_t i = 0; i < on_qemu.size(); ++i) EXPECT_EQ(on_qemu[i].verdict, "") << "case " << i;
  std::string err;
  auto native = harness::make_target("native", &err);
  EXPECT_NE(native, nullptr) << err;
  if (!native) return on_qemu;
  size_t native_steps = 0;
  const std::vector<Trace> on_native = run_all(*native, cases, &native_steps);
  EXPECT_EQ(native_steps, *steps);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(on_qemu[i], on_native[i]) << "case " << i;
  return on_qemu;
}

}  // namespace hypdiff::qemu::qt
