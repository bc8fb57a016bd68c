// Pass 3: delta debugging over the operation sequence.
#include <algorithm>

#include "shrinkers/passes.hpp"
#include "shrinkers/schedule.hpp"

namespace hypdiff::shrinkers {

bool for_chunks(Search& s, const std::function<std::size_t()>& count, const ChunkCandidates& make) {
  bool progress = false;
  for (std::size_t size = std::max<std::size_t>(count() / 2, 1); !s.done(); size /= 2) {
    // Later items are more often irrelevant, so chunks are tried from the end backwards.
    for (std::size_t end = count(); end > 0 && !s.done();) {
      const std::size_t begin = end >= size ? end - size : 0;
      bool kept = false;
      for (generators::Case& c : make(begin, end)) {
        if ((kept = s.attempt(std::move(c)))) break;
      }
      progress = progress || kept;
      end = kept ? std::min(begin, count()) : begin;
    }
    if (size == 1) break;
  }
  return progress;
}

bool remove_ops(Search& s) {
  LogLengths lengths;
  return for_chunks(
      s, [&] { return s.best().ops.size(); },
      [&](std::size_t b, std::size_t e) {
        const generators::Case& best = s.best();
        std::vector<bool> removed(best.ops.size(), false);
        std::fill(removed.begin() + static_cast<long>(b), removed.begin() + static_cast<long>(e),
                  true);
        return without_ops(best, removed, lengths);
      });
}

std::vector<generators::Case> without_ops(const generators::Case& c,
                                          const std::vector<bool>& removed, LogLengths& lengths) {
  std::vector<generators::Case> out;
  if (!c.oracle.soracle.empty()) {
    if (auto kept = without_ops_keeping_schedule(c, removed, lengths.of(c)))
      out.push_back(std::move(*kept));
  }
  generators::Case& plain = out.emplace_back();
  plain.cfg = c.cfg;
  plain.oracle = c.oracle;
  plain.ops.reserve(c.ops.size());
  for (std::size_t i = 0; i < c.ops.size(); ++i)
    if (!removed[i]) plain.ops.push_back(c.ops[i]);
  return out;
}

}  // namespace hypdiff::shrinkers
