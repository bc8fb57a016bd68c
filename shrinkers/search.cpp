#include "shrinkers/search.hpp"

#include <stdexcept>
#include <utility>

#include "shrinkers/case_hash.hpp"

namespace hypdiff::shrinkers {

Search::Search(const generators::Case& failing, const Predicate& still_fails,
               const ShrinkOptions& opts)
    : pred_(still_fails), opts_(opts), start_(std::chrono::steady_clock::now()), best_(failing) {
  stats_.original_ops = failing.ops.size();
  // The check is made (and counted) whatever the budget: without it there is nothing to return.
  std::size_t step = 0;
  if (!ask(failing, &step))
    throw std::invalid_argument("shrink: the case to shrink does not fail the predicate");
  step_ = step;
  // Steps after the failing one cannot have caused it.
  if (step_ + 1 < best_.ops.size()) {
    generators::Case cut = best_;
    cut.ops.resize(step_ + 1);
    attempt(std::move(cut));
  }
}

bool Search::ask(const generators::Case& c, std::size_t* step) {
  ++stats_.candidates;
  const std::optional<std::size_t> r = pred_(c);
  if (!r) return false;
  *step = *r;
  return true;
}

bool Search::done() {
  if (stats_.budget_exhausted) return true;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (stats_.candidates >= opts_.max_candidates || elapsed >= opts_.max_seconds)
    stats_.budget_exhausted = true;
  return stats_.budget_exhausted;
}

bool Search::attempt(generators::Case candidate) {
  if (done()) return false;
  const std::uint64_t h = hash_case(candidate);
  if (rejected_.contains(h)) return false;
  std::size_t step = 0;
  if (!ask(candidate, &step)) {
    rejected_.insert(h);
    return false;
  }
  ++stats_.accepted;
  best_ = std::move(candidate);
  step_ = step;
  if (step_ + 1 < best_.ops.size()) {
    generators::Case cut = best_;
    cut.ops.resize(step_ + 1);
    attempt(std::move(cut));
  }
  return true;
}

ShrinkResult Search::finish() {
  stats_.final_ops = best_.ops.size();
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return ShrinkResult{std::move(best_), step_, stats_};
}

}  // namespace hypdiff::shrinkers
