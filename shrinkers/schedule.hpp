// Keeping the other CPUs' events in place when operations are removed. The soracle schedule is
// keyed by the length of the event log at a query, so removing an operation that logged events
// moves every later entry to another point of the sequence, and a failure that needs another
// CPU's action at a given step disappears. Where the log stands before each operation is
// estimated by replaying the case on the model under the intended profile: only a hint for
// building candidates, the predicate still decides.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "generators/case.hpp"

namespace hypdiff::shrinkers {

// The log length before each operation and after the last one (ops.size() + 1 entries); empty
// when the configuration is refused.
std::vector<std::uint64_t> log_lengths(const generators::Case& c);

// log_lengths of the case it was last asked about, recomputed only when the case changes.
class LogLengths {
 public:
  const std::vector<std::uint64_t>& of(const generators::Case& c);

 private:
  std::uint64_t hash_ = 0;
  bool valid_ = false;
  std::vector<std::uint64_t> lengths_;
};

// `c` without the operations marked in `removed`, with every schedule entry moved back by the
// events the removed operations before it logged; an entry consumed inside a removed operation
// moves to where that operation began (dropped if another entry lands there). nullopt when no
// entry moves, or no log lengths are known.
std::optional<generators::Case> without_ops_keeping_schedule(
    const generators::Case& c, const std::vector<bool>& removed,
    const std::vector<std::uint64_t>& lengths);

}  // namespace hypdiff::shrinkers
