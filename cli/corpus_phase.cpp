#include "cli/corpus_phase.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>

namespace hypdiff::cli {

namespace {

const char* kind_name(harness::CorpusKind k) {
  return k == harness::CorpusKind::regression ? "regression" : "found";
}

}  // namespace

CorpusPhase run_corpus_phase(const std::string& regressions, const std::string& found, Targets& t,
                             const harness::RunOptions& run, std::FILE* out) {
  CorpusPhase phase;
  const auto t0 = std::chrono::steady_clock::now();
  harness::TargetCache cache;
  cache.lend(*t.target);
  if (t.reference) cache.lend(*t.reference);
  // A process holds one KCore (the QEMU target mirrors into the native target's memory): cases
  // recorded on native run on the QEMU target, which must give native's verdicts anyway.
  if (t.target->name() == "qemu") cache.stand_in("native", *t.target);
  if (!regressions.empty())
    phase.results = harness::replay_regressions(regressions, cache.by_name(), run.step_timeout);
  std::size_t n_regression = phase.results.size();
  auto f = harness::replay_found(found, *t.target, t.reference.get(), run);
  std::size_t n_found = f.size();
  for (auto& r : f) phase.results.push_back(std::move(r));
  phase.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::size_t bad_regression = 0;
  std::size_t bad_found = 0;
  std::size_t skipped = 0;
  for (const auto& r : phase.results) {
    if (r.skipped) ++skipped;
    if (r.ok) continue;
    ++phase.failed;
    (r.kind == harness::CorpusKind::regression ? bad_regression : bad_found) += 1;
    fmt::print(out, "FAIL {} case {}: {}\n  replay: ./hypdiff replay {}{}\n", kind_name(r.kind),
               r.file.string(), r.problem, r.file.string(),
               r.kind == harness::CorpusKind::regression && !r.stand_in
                   ? " --expect"
                   : fmt::format(" --target {} --against {}", r.target, r.against));
  }
  if (n_regression + n_found > 0) {
    fmt::print(
        out,
        "corpus: {} of {} regression cases reproduce their recorded verdicts, {} of {} "
        "found cases pass{} ({:.2f} s)\n",
        n_regression - bad_regression, n_regression, n_found - bad_found, n_found,
        skipped == 0
            ? std::string()
            : fmt::format(", {} skipped (they use operations their targets do not run)", skipped),
        phase.seconds);
  }
  std::fflush(out);
  return phase;
}

std::vector<harness::JUnitCase> junit_cases(const CorpusPhase& phase) {
  std::vector<harness::JUnitCase> out;
  for (const auto& r : phase.results) {
    harness::JUnitCase c;
    c.classname = fmt::format("hypdiff.corpus.{}", kind_name(r.kind));
    c.name = r.file.filename().string();
    c.seconds = r.seconds;
    c.system_out = fmt::format("{} on {} against {}, {} steps", r.file.string(),
                               r.target.empty() ? "?" : r.target,
                               r.against.empty() ? "?" : r.against, r.steps);
    if (r.skipped) c.skipped = *r.skipped;
    if (!r.ok) {
      std::string text = r.problem;
      if (r.failure)
        for (const auto& d : r.failure->details) text += "\n" + d;
      c.failure = harness::JUnitCase::Failed{
          r.problem, r.failure ? harness::failure_class_name(r.failure->cls) : "corpus", text};
    }
    out.push_back(std::move(c));
  }
  return out;
}

nlohmann::json corpus_json(const CorpusPhase& phase) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& r : phase.results) {
    cases.push_back({{"file", r.file.string()},
                     {"kind", kind_name(r.kind)},
                     {"target", r.target},
                     {"against", r.against},
                     {"ok", r.ok},
                     {"problem", r.problem},
                     {"skipped", r.skipped ? nlohmann::json(*r.skipped) : nlohmann::json(nullptr)},
                     {"steps", r.steps},
                     {"seconds", r.seconds}});
  }
  return {{"cases", cases}, {"failed", phase.failed}, {"seconds", phase.seconds}};
}

}  // namespace hypdiff::cli
