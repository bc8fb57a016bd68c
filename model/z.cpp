#include "model/z.hpp"

#include <algorithm>

namespace hypdiff::model {

namespace {
std::string unsigned_text(unsigned __int128 u, unsigned base) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.push_back(digits[static_cast<unsigned>(u % base)]);
    u /= base;
  } while (u != 0);
  std::reverse(s.begin(), s.end());
  return s;
}
unsigned __int128 magnitude(Z v) {
  return v < 0 ? static_cast<unsigned __int128>(0) - static_cast<unsigned __int128>(v)
               : static_cast<unsigned __int128>(v);
}
}  // namespace

std::string to_dec(Z v) { return (v < 0 ? "-" : "") + unsigned_text(magnitude(v), 10); }
std::string to_hex(Z v) { return (v < 0 ? "-0x" : "0x") + unsigned_text(magnitude(v), 16); }

}  // namespace hypdiff::model
