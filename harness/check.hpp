// The main loop of `hypdiff check`: generate cases, run each on a target (against a reference),
// and for every new failure signature shrink the case to a minimal one with the same signature.
// Saving and printing are the caller's job; this returns plain data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "generators/options.hpp"
#include "harness/runner.hpp"
#include "shrinkers/shrink.hpp"

namespace hypdiff::harness {

struct CheckOptions {
  generators::GenOptions gen;
  std::uint64_t seed = 1;
  std::uint64_t cases = 1000;  // upper bound on cases (indices 0 .. cases-1)
  // Runs only the indices i with i % stride == offset (one of `check --jobs N`'s processes).
  std::uint64_t stride = 1;
  std::uint64_t offset = 0;
  double seconds = 0;             // > 0: also stop when this much time has passed
  std::size_t max_failures = 10;  // distinct signatures before stopping; 0 = no limit
  bool shrink = true;
  shrinkers::ShrinkOptions shrink_opts;
  RunOptions run;
};

struct FoundFailure {
  Failure failure;           // as the shrunk case fails (the original's when not shrunk)
  Failure original_failure;  // as the generated case failed
  std::uint64_t case_index = 0;
  std::uint64_t case_seed = 0;
  generators::Case original;
  generators::Case shrunk;
  std::optional<shrinkers::ShrinkStats> shrink;
  std::uint64_t duplicates = 0;  // later cases with the same signature
};

struct CheckReport {
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t checks = 0;
  std::uint64_t failing_cases = 0;
  double seconds = 0;  // exploring and shrinking
  double shrink_seconds = 0;
  Coverage coverage;
  std::vector<FoundFailure> failures;  // one per signature, in discovery order
};

struct CheckProgress {
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t failing_cases = 0;
  double seconds = 0;
};

struct CheckCallbacks {
  std::function<void(const CheckProgress&)> progress;  // after every case
  std::function<void(const FoundFailure&)> found;      // after each new signature is shrunk
};

// The seed of case `index` of a run seeded with `seed`.
std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index);
// The generator options run_check uses: opts.gen limited to what both targets run.
generators::GenOptions effective_gen(const generators::GenOptions& gen, const Target& target,
                                     const Target* reference);

CheckReport run_check(Target& target, Target* reference, const CheckOptions& opts,
                      const CheckCallbacks& cb = {});

// Shrinks `c`, which fails with `failure`, keeping its signature. Runs its own Runner.
struct ShrunkCase {
  generators::Case c;
  Failure failure;
  shrinkers::ShrinkStats stats;
};
ShrunkCase shrink_case(Target& target, Target* reference, const RunOptions& run,
                       const generators::Case& c, const Failure& failure,
                       const shrinkers::ShrinkOptions& opts);

}  // namespace hypdiff::harness
