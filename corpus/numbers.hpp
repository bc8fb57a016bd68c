// Integer text of the case format (docs/case-format.md, "Numbers"): decimal or 0x-hex, an
// optional leading '-', '_' allowed between digits. Parsing detects overflow instead of wrapping,
// because a silently wrapped address would make a stored case mean something else.
#pragma once

#include <string_view>

#include "model/z.hpp"

namespace hypdiff::corpus::detail {

enum class NumberError {
  none,
  syntax,    // not a number at all
  overflow,  // a number, but outside the signed 128-bit range of Z
};

NumberError parse_z(std::string_view text, model::Z* out);

// The smallest and largest Z, for range checks and tests.
inline constexpr model::Z kZMax = static_cast<model::Z>(~static_cast<unsigned __int128>(0) >> 1);
inline constexpr model::Z kZMin = -kZMax - 1;

}  // namespace hypdiff::corpus::detail
