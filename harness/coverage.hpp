// Per-handler and per-hypercall counts of how steps ended (ok / halted / undefined), so a run
// can show that every part of the target was exercised without halting.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "model/op.hpp"

namespace hypdiff::harness {

// Steps per outcome: index by model::StepKind.
using Counts = std::array<std::uint64_t, 3>;

// The hypercall numbers a report must cover, 13..29.
inline constexpr int kFirstHvc = 13;
inline constexpr int kLastHvc = 29;

struct Coverage {
  std::array<Counts, model::kHandlerCount> by_handler{};
  std::map<int, Counts> by_hvc;  // hypercall number 13..29; -1 = any other number

  // Counts a step taken from `before`; hypercalls count only when the host issues them.
  void count(const model::RData& before, const model::Op& op, model::StepKind kind);
  void merge(const Coverage& o);
  // " host_npt hvc21 ..." for every handler (but set_reg) and hypercall 13..29 that never ended
  // without halting; empty when all did.
  std::string gaps() const;
  // The table printed by the CLI.
  std::string table() const;
};

}  // namespace hypdiff::harness
