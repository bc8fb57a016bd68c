#include "corpus/numbers.hpp"

namespace hypdiff::corpus::detail {

namespace {

int digit_value(char c, unsigned base) {
  int v = -1;
  if (c >= '0' && c <= '9') v = c - '0';
  if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
  if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
  return v >= 0 && static_cast<unsigned>(v) < base ? v : -1;
}

}  // namespace

NumberError parse_z(std::string_view text, model::Z* out) {
  using U = unsigned __int128;
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  unsigned base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return NumberError::syntax;
  // The magnitude may reach 2^127 for a negative number (kZMin) and 2^127 - 1 otherwise.
  const U limit = static_cast<U>(kZMax) + (negative ? 1 : 0);
  U value = 0;
  bool overflow = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_') {
      // Only between two digits: "1_000", never "_1", "1_", "1__0" or "0x_1".
      if (i == 0 || i + 1 == text.size() || text[i - 1] == '_') return NumberError::syntax;
      continue;
    }
    const int d = digit_value(c, base);
    if (d < 0) return NumberError::syntax;
    // Keep scanning after an overflow so that "99999...9z" is reported as a syntax error.
    if (!overflow && (value > (limit - static_cast<U>(d)) / base)) overflow = true;
    if (!overflow) value = value * base + static_cast<U>(d);
  }
  if (overflow) return NumberError::overflow;
  *out = negative ? static_cast<model::Z>(U{0} - value) : static_cast<model::Z>(value);
  return NumberError::none;
}

}  // namespace hypdiff::corpus::detail
