// The one seed mixer of the harness: case i of a run seeded s is generated from mix(s, i), and
// the indistinguishable twin of a step is varied from a mix of where the step is.
#pragma once

#include <cstdint>

namespace hypdiff::harness {

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  return x ^ (x >> 29);
}

}  // namespace hypdiff::harness
