// The spec's unbounded integer `Z`. Values reach 2^64-1 (INVALID64) and sums such as pc+4 or
// pfn+SMMU_HOST_OFFSET must not wrap, and a few values are negative (cur_vcpuid = -1), so a
// signed 128-bit integer covers every value the top-level spec computes from 64-bit inputs.
#pragma once

#include <cstdint>
#include <string>

namespace hypdiff::model {

using Z = __int128;

constexpr Z pow2(int n) { return Z{1} << n; }

// Coq's Z.div / Z.modulo round towards minus infinity; C++ truncates. Every divisor in the spec is
// a positive constant, so only the dividend's sign matters.
constexpr Z zdiv(Z a, Z b) {
  Z q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
constexpr Z zmod(Z a, Z b) { return a - zdiv(a, b) * b; }

// Z.land/lor/shiftl/shiftr on the non-negative values the spec manipulates.
constexpr Z zshr(Z a, int n) { return a >> n; }
constexpr Z zshl(Z a, int n) { return a << n; }

// Decimal text for any Z (std::to_string has no __int128 overload).
std::string to_dec(Z v);
// 0x-prefixed hexadecimal text; negative values print as -0x...
std::string to_hex(Z v);

}  // namespace hypdiff::model
