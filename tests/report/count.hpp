// Counting what a rendered chart or page holds, for assertions.
#pragma once

#include <string>
#include <string_view>

namespace hypdiff::report::testing {

inline std::size_t count_of(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string_view::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The value of the first `attr="..."` after `from`.
inline std::string attr_after(const std::string& text, const std::string& from,
                              const std::string& attr) {
  const auto at = text.find(from);
  if (at == std::string::npos) return "";
  const auto a = text.find(attr + "=\"", at);
  if (a == std::string::npos) return "";
  const auto start = a + attr.size() + 2;
  return text.substr(start, text.find('"', start) - start);
}

}  // namespace hypdiff::report::testing
