#include "harness/check.hpp"

#include <chrono>

#include "generators/case_gen.hpp"
#include "harness/seed.hpp"

namespace hypdiff::harness {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index) { return mix(seed, index); }

ShrunkCase shrink_case(Target& target, Target* reference, const RunOptions& run,
                       const generators::Case& c, const Failure& failure,
                       const shrinkers::ShrinkOptions& opts) {
  Runner runner(target, reference, run);
  const std::string sig = failure.signature();
  const auto still_fails = [&](const generators::Case& cand) -> std::optional<std::size_t> {
    const CaseResult r = runner.run(cand);
    if (r.failure && r.failure->signature() == sig) return r.failure->step;
    return std::nullopt;
  };
  shrinkers::ShrinkResult s = shrinkers::shrink(c, still_fails, opts);
  const CaseResult again = runner.run(s.c);
  if (!again.failure || again.failure->signature() != sig) {
    throw model::ModelBug("the shrunk case no longer fails with " + sig +
                          " (is the target deterministic?)");
  }
  return ShrunkCase{std::move(s.c), *again.failure, s.stats};
}

CheckReport run_check(Target& target, Target* reference, const CheckOptions& opts,
                      const CheckCallbacks& cb) {
  CheckReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  Runner runner(target, reference, opts.run);
  std::map<std::string, std::size_t> by_signature;
  for (std::uint64_t i = 0; i < opts.cases; ++i) {
    if (opts.seconds > 0 && since(t0) >= opts.seconds) break;
    const std::uint64_t cs = case_seed(opts.seed, i);
    const generators::Case c = generators::generate_case(opts.gen, cs);
    CaseResult r = runner.run(c);
    ++rep.cases;
    rep.steps += r.steps;
    rep.checks += r.checks;
    if (r.failure) {
      ++rep.failing_cases;
      const std::string sig = r.failure->signature();
      if (auto it = by_signature.find(sig); it != by_signature.end()) {
        ++rep.failures[it->second].duplicates;
      } else {
        FoundFailure found;
        found.original_failure = *r.failure;
        found.failure = *r.failure;
        found.case_index = i;
        found.case_seed = cs;
        found.original = c;
        found.shrunk = c;
        if (opts.shrink) {
          const auto s0 = std::chrono::steady_clock::now();
          ShrunkCase s = shrink_case(target, reference, opts.run, c, *r.failure, opts.shrink_opts);
          rep.shrink_seconds += since(s0);
          found.shrunk = std::move(s.c);
          found.failure = std::move(s.failure);
          found.shrink = s.stats;
        }
        by_signature.emplace(sig, rep.failures.size());
        rep.failures.push_back(std::move(found));
        if (cb.found) cb.found(rep.failures.back());
        if (opts.max_failures > 0 && rep.failures.size() >= opts.max_failures) {
          if (cb.progress) cb.progress({rep.cases, rep.steps, rep.failing_cases, since(t0)});
          break;
        }
      }
    }
    if (cb.progress) cb.progress({rep.cases, rep.steps, rep.failing_cases, since(t0)});
  }
  rep.coverage = runner.coverage();
  rep.seconds = since(t0);
  return rep;
}

}  // namespace hypdiff::harness
