// State-aware random cases (RapidCheck). The generator runs the model as it goes and draws
// arguments mostly from what exists (VMs in each lifecycle state, their vCPUs, image pages,
// mapped gfns, SMMU contexts), with a tunable share of hostile values, and writes the oracle
// answers each operation consumes at the cursor positions the model will read them from.
//
// Every choice is a RapidCheck draw that shrinks towards 0, and choice 0 is always the plainest
// alternative, so RapidCheck's integrated shrinking yields simple cases.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <vector>

#include "generators/case.hpp"
#include "generators/options.hpp"
#include "model/state.hpp"

namespace hypdiff::generators {

rc::Gen<Case> case_gen(const GenOptions& opts);

// Generates one case from a seed outside any property (CLI, benchmarks). Same seed, same case.
Case generate_case(const GenOptions& opts, std::uint64_t seed);
// The same case, and the generator's own model state after each of its operations (an undefined
// step leaves the state as it was). A fresh model run of the case gives the same states.
Case generate_case(const GenOptions& opts, std::uint64_t seed, std::vector<model::RData>* states);

}  // namespace hypdiff::generators
