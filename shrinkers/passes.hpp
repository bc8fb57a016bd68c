// The shrink passes (see README.md for the order and the rules). Each builds candidates from
// search.best(), hands them to search.attempt(), and returns whether any was kept. Each stops
// as soon as search.done() says the budget is spent.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "shrinkers/op_fields.hpp"
#include "shrinkers/schedule.hpp"
#include "shrinkers/search.hpp"

namespace hypdiff::shrinkers {

bool remove_vm_lifecycles(Search& s);  // pass_vms.cpp
bool remove_ops(Search& s);            // pass_ops.cpp
bool simplify_args(Search& s);         // pass_args.cpp
bool simplify_oracle(Search& s);       // pass_oracle.cpp

// Delta debugging over `count()` items: for chunk sizes n/2, n/4, ..., 1, walks from the end
// backwards and offers the candidates make(begin, end) for each chunk [begin, end), in order,
// until one is kept; none when the chunk would change nothing. count() is read again after each
// kept candidate, so a candidate may remove the chunk (the items before it keep their indices)
// or rewrite it in place.
using ChunkCandidates = std::function<std::vector<generators::Case>(std::size_t, std::size_t)>;
bool for_chunks(Search& s, const std::function<std::size_t()>& count, const ChunkCandidates& make);

// Candidates for removing the operations marked in `removed`: when other CPUs' events are
// scheduled, first the one that moves the schedule along (schedule.hpp), then the plain one.
std::vector<generators::Case> without_ops(const generators::Case& c,
                                          const std::vector<bool>& removed, LogLengths& lengths);

// Moves one integer towards 0: tries 0, then smaller_values(kind, v), then bisects between 0
// and v (op_fields.hpp), repeating from each kept value. get() reads the value in search.best()
// (nullopt once it no longer exists, e.g. cut off with the steps after the failure); with(w)
// builds the candidate that holds w instead.
bool shrink_value(Search& s, FieldKind kind, const std::function<std::optional<model::Z>()>& get,
                  const std::function<generators::Case(model::Z)>& with);

}  // namespace hypdiff::shrinkers
