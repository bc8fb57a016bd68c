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

#include "generators/case.hpp"
#include "generators/options.hpp"

namespace hypdiff::generators {

rc::Gen<Case> case_gen(const GenOptions& opts);

// Generates one case from a seed outside any property (CLI, benchmarks). Same seed, same case.
Case generate_case(const GenOptions& opts, std::uint64_t seed);

}  // namespace hypdiff::generators
