#include "corpus/fields.hpp"

#include <fmt/format.h>

#include <limits>

#include "corpus/numbers.hpp"

namespace hypdiff::corpus::detail {

void fail(int line, int column, std::string message) {
  throw Failure{line, column, std::move(message)};
}

Line split_line(std::string_view text, int number) {
  Line out;
  out.number = number;
  if (const auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    out.tokens.push_back(Token{text.substr(start, i - start), static_cast<int>(start) + 1});
    out.end_column = static_cast<int>(i) + 2;
  }
  return out;
}

bool is_word(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':' || c == '.' || c == '/' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

model::Z parse_number(const Token& t, std::string_view field, int line) {
  model::Z v = 0;
  switch (parse_z(t.text, &v)) {
    case NumberError::none:
      return v;
    case NumberError::syntax:
      fail(line, t.column, fmt::format("invalid number '{}' for {}", t.text, field));
    case NumberError::overflow:
      fail(line, t.column,
           fmt::format("value {} out of range for {} (does not fit in 128 bits)", t.text, field));
  }
  fail(line, t.column, "unreachable");
}

Fields::Fields(const Line& line, std::size_t first, std::string what,
               std::vector<std::string_view> names)
    : line_(line.number),
      keyword_column_(line.tokens.empty() ? 1 : line.tokens.front().column),
      what_(std::move(what)) {
  std::string expected;
  for (const auto n : names) expected += (expected.empty() ? "" : ", ") + std::string(n);
  for (std::size_t i = first; i < line.tokens.size(); ++i) {
    const Token& t = line.tokens[i];
    const auto eq = t.text.find('=');
    if (eq == std::string_view::npos)
      fail(line_, t.column, fmt::format("expected field=value, got '{}'", t.text));
    const std::string_view name = t.text.substr(0, eq);
    if (name.empty()) fail(line_, t.column, "missing field name before '='");
    bool known = false;
    for (const auto n : names) known = known || n == name;
    if (!known)
      fail(line_, t.column,
           fmt::format("unknown field '{}' for {} (expected {})", name, what_, expected));
    if (const Entry* prev = find(name))
      fail(line_, t.column,
           fmt::format("duplicate field '{}' (first at column {})", name, prev->field.column));
    const Token value{t.text.substr(eq + 1), t.column + static_cast<int>(eq) + 1};
    if (value.text.empty()) fail(line_, value.column, fmt::format("empty value for {}", name));
    entries_.push_back(Entry{name, t, value});
  }
}

const Fields::Entry* Fields::find(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const Token* Fields::value(std::string_view name) const {
  const Entry* e = find(name);
  return e ? &e->value : nullptr;
}

void Fields::require(std::initializer_list<std::string_view> names) const {
  for (const auto n : names)
    if (!has(n)) fail(line_, keyword_column_, fmt::format("missing field '{}' for {}", n, what_));
}

const Token* Fields::first_of(std::initializer_list<std::string_view> names) const {
  const Token* best = nullptr;
  for (const auto n : names)
    if (const Entry* e = find(n); e && (!best || e->field.column < best->column)) best = &e->field;
  return best;
}

model::Z Fields::z(std::string_view name) const {
  const Entry* e = find(name);
  return e ? parse_number(e->value, name, line_) : 0;
}

model::Z Fields::ranged(std::string_view name, model::Z lo, model::Z hi) const {
  const Entry* e = find(name);
  if (!e) return 0;
  model::Z v = 0;
  const NumberError err = parse_z(e->value.text, &v);
  if (err == NumberError::syntax) parse_number(e->value, name, line_);  // reports it as such
  if (err == NumberError::overflow || v < lo || v > hi) {
    fail(line_, e->value.column,
         fmt::format("value {} out of range for {} ({}..{})", e->value.text, name,
                     model::to_dec(lo), model::to_dec(hi)));
  }
  return v;
}

std::uint64_t Fields::u64(std::string_view name) const {
  return static_cast<std::uint64_t>(ranged(name, 0, std::numeric_limits<std::uint64_t>::max()));
}
std::uint32_t Fields::u32(std::string_view name) const {
  return static_cast<std::uint32_t>(ranged(name, 0, std::numeric_limits<std::uint32_t>::max()));
}
std::int64_t Fields::i64(std::string_view name) const {
  return static_cast<std::int64_t>(ranged(name, std::numeric_limits<std::int64_t>::min(),
                                          std::numeric_limits<std::int64_t>::max()));
}
int Fields::i32(std::string_view name) const {
  return static_cast<int>(
      ranged(name, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

std::vector<model::Z> Fields::z_list(std::string_view name) const {
  std::vector<model::Z> out;
  const Entry* e = find(name);
  if (!e) return out;
  std::string_view rest = e->value.text;
  int column = e->value.column;
  while (true) {
    const auto comma = rest.find(',');
    const Token item{rest.substr(0, comma), column};
    if (item.text.empty()) fail(line_, column, fmt::format("empty item in the list for {}", name));
    out.push_back(parse_number(item, name, line_));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    column += static_cast<int>(comma) + 1;
  }
  return out;
}

std::string Fields::word(std::string_view name) const {
  const Entry* e = find(name);
  if (!e) return {};
  for (std::size_t i = 0; i < e->value.text.size(); ++i)
    if (!is_word(e->value.text.substr(i, 1)))
      fail(line_, e->value.column + static_cast<int>(i),
           fmt::format("invalid character '{}' in {} (allowed: {})", e->value.text[i], name,
                       kWordChars));
  return std::string(e->value.text);
}

}  // namespace hypdiff::corpus::detail
