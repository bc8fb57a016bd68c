// The state every pass shares: the smallest failing case so far, the predicate, the budget and
// the statistics. Passes build candidates from `best()` and hand them to attempt(), which is the
// only place the predicate is called.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_set>

#include "shrinkers/shrink.hpp"

namespace hypdiff::shrinkers {

class Search {
 public:
  // Checks `failing` with one predicate call; throws std::invalid_argument when it passes.
  Search(const generators::Case& failing, const Predicate& still_fails, const ShrinkOptions& opts);

  const generators::Case& best() const { return best_; }
  std::size_t failing_step() const { return step_; }

  // Keeps `candidate` when it still fails, then cuts it after the failing step (steps after the
  // failure cannot matter to it; the cut case is checked like any other candidate). A candidate
  // already rejected is not asked about again, and nothing is asked once the budget is spent.
  bool attempt(generators::Case candidate);

  // True once the budget is spent: passes stop as soon as they see it.
  bool done();

  ShrinkResult finish();

 private:
  bool ask(const generators::Case& c, std::size_t* step);

  const Predicate& pred_;
  ShrinkOptions opts_;
  std::chrono::steady_clock::time_point start_;
  generators::Case best_;
  std::size_t step_ = 0;
  ShrinkStats stats_;
  // Hashes of candidates that passed. The final round of the fixpoint re-proposes most of the
  // candidates of the round before, so this saves about one round of predicate calls.
  std::unordered_set<std::uint64_t> rejected_;
};

}  // namespace hypdiff::shrinkers
