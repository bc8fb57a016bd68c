// A 64-bit fingerprint of a case's operations and oracle answers (the configuration never
// changes while shrinking). Used only to avoid asking the predicate twice about one candidate;
// a collision can only make the shrinker skip a candidate, never accept a wrong one.
#pragma once

#include <cstdint>

#include "generators/case.hpp"

namespace hypdiff::shrinkers {

std::uint64_t hash_case(const generators::Case& c);

}  // namespace hypdiff::shrinkers
