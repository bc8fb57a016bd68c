// splitmix64's finalizer: families of cases decided from an already-drawn value (pool_fill.hpp,
// curid.hpp) must not follow that value's low bits, nor each other.
#pragma once

#include <cstdint>

namespace hypdiff::generators {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace hypdiff::generators
