#include "harness/check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "generators/case_gen.hpp"
#include "harness/clock.hpp"
#include "harness/seed.hpp"

namespace hypdiff::harness {

std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index) { return mix(seed, index); }

ShrunkCase shrink_case(Target& target, Target* reference, const RunOptions& run,
                       const generators::Case& c, const Failure& failure,
                       const shrinkers::ShrinkOptions& opts) {
  Runner runner(target, reference, run);
  const std::string sig = failure.signature();
  std::size_t unrunnable = 0;
  const auto still_fails = [&](const generators::Case& cand) -> std::optional<std::size_t> {
    CaseResult r;
    try {
      r = runner.run(cand);
    } catch (const TargetError&) {
      // A candidate the target cannot run (a limit of a partial target, or the target gave
      // up) proves nothing about the failure: keep shrinking without it. The next candidate's
      // reset starts the target afresh.
      ++unrunnable;
      return std::nullopt;
    }
    if (r.failure && r.failure->signature() == sig) return r.failure->step;
    return std::nullopt;
  };
  shrinkers::ShrinkResult s = shrinkers::shrink(c, still_fails, opts);
  s.stats.unrunnable = unrunnable;
  const CaseResult again = runner.run(s.c);
  if (!again.failure || again.failure->signature() != sig) {
    throw model::ModelBug("the shrunk case no longer fails with " + sig +
                          " (is the target deterministic?)");
  }
  return ShrunkCase{std::move(s.c), *again.failure, s.stats};
}

generators::GenOptions effective_gen(const generators::GenOptions& gen, const Target& target,
                                     const Target* reference) {
  // Only cases both targets can run (Target::realized); every handler for software targets.
  generators::GenOptions g = gen;
  g.handlers &= target.realized() & (reference ? reference->realized() : model::kAllHandlers);
  return g;
}

CheckReport run_check(Target& target, Target* reference, const CheckOptions& opts,
                      const CheckCallbacks& cb) {
  CheckReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  Runner runner(target, reference, opts.run);
  const generators::GenOptions gen = effective_gen(opts.gen, target, reference);
  std::map<std::string, std::size_t> by_signature;
  for (std::uint64_t i = opts.offset; i < opts.cases;
       i += std::max<std::uint64_t>(opts.stride, 1)) {
    if (opts.seconds > 0 && seconds_since(t0) >= opts.seconds) break;
    const std::uint64_t cs = case_seed(opts.seed, i);
    const generators::Case c = generators::generate_case(gen, cs);
    CaseResult r;
    try {
      r = runner.run(c);
    } catch (const TargetError& e) {
      // Which case: `check --seed S --cases i+1` reaches it again.
      throw TargetError(
          fmt::format("{} (in case {} of seed {}, case seed {:#x})", e.what(), i, opts.seed, cs));
    }
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
          rep.shrink_seconds += seconds_since(s0);
          found.shrunk = std::move(s.c);
          found.failure = std::move(s.failure);
          found.shrink = s.stats;
        }
        by_signature.emplace(sig, rep.failures.size());
        rep.failures.push_back(std::move(found));
        if (cb.found) cb.found(rep.failures.back());
        if (opts.max_failures > 0 && rep.failures.size() >= opts.max_failures) {
          if (cb.progress)
            cb.progress({rep.cases, rep.steps, rep.failing_cases, seconds_since(t0)});
          break;
        }
      }
    }
    if (cb.progress) cb.progress({rep.cases, rep.steps, rep.failing_cases, seconds_since(t0)});
  }
  rep.coverage = runner.coverage();
  rep.seconds = seconds_since(t0);
  return rep;
}

}  // namespace hypdiff::harness
