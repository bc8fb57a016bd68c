// Minimization of a failing case. The shrinker knows the operation vocabulary and the oracle
// record, never the targets: it asks `still_fails` whether a candidate fails the same way (same
// failure signature, decided by the caller) and at which step. Every pass produces only
// well-formed cases; a candidate is kept only when the predicate accepts it.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "generators/case.hpp"

namespace hypdiff::shrinkers {

// The failing step's index when `c` still fails the same way, else nullopt.
using Predicate = std::function<std::optional<std::size_t>(const generators::Case& c)>;

struct ShrinkOptions {
  std::size_t max_candidates = 5000;  // predicate calls
  double max_seconds = 60;            // wall-clock budget
};

struct ShrinkStats {
  std::size_t original_ops = 0;
  std::size_t final_ops = 0;
  std::size_t candidates = 0;  // predicate calls
  std::size_t accepted = 0;    // candidates that still failed and were kept
  std::size_t unrunnable = 0;  // candidates the target could not run (counted as not failing)
  double seconds = 0;
  bool budget_exhausted = false;
};

// "shrunk from 41 to 5 operations in 0.33 s (120 candidates)", plus how many candidates the
// target could not run, if any: the note a saved case carries.
std::string describe(const ShrinkStats& s);

struct ShrinkResult {
  generators::Case c;
  std::size_t failing_step = 0;
  ShrinkStats stats;
};

// `failing` must satisfy `still_fails` (checked; throws std::invalid_argument otherwise).
ShrinkResult shrink(const generators::Case& failing, const Predicate& still_fails,
                    const ShrinkOptions& opts = {});

}  // namespace hypdiff::shrinkers
