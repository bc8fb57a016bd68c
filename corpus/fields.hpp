// The parser's line tokenizer and `field=value` reader (docs/case-format.md, "Lines" and
// "Fields"), plus the parser pieces kept in their own files. Errors are thrown as Failure and
// turned into a ParseError by parse_case, so each check is one line where it happens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/op.hpp"
#include "model/z.hpp"

namespace hypdiff::corpus::detail {

struct Failure {
  int line;
  int column;
  std::string message;
};

[[noreturn]] void fail(int line, int column, std::string message);

struct Token {
  std::string_view text;
  int column;  // 1-based
};

// One line without its comment, split at spaces and tabs.
struct Line {
  int number = 0;
  std::vector<Token> tokens;
  int end_column = 1;  // just past the last token: where a missing token would go
};

Line split_line(std::string_view text, int number);

// Words (expect's target/against/verdict) are runs of these characters, so that they never need
// quoting.
bool is_word(std::string_view s);
inline constexpr std::string_view kWordChars = "letters, digits, _ : . / + -";

class Fields {
 public:
  // Reads line.tokens[first..] as field=value pairs. `what` names the item in messages (e.g.
  // "op mem_load"); `names` are its fields in documented order.
  Fields(const Line& line, std::size_t first, std::string what,
         std::vector<std::string_view> names);

  bool has(std::string_view name) const { return find(name) != nullptr; }
  // Fails naming the first of `names` that is absent.
  void require(std::initializer_list<std::string_view> names) const;
  // The first given field among `names`, or nullptr.
  const Token* first_of(std::initializer_list<std::string_view> names) const;

  // Absent fields read as 0 (or empty); present ones must parse and fit the C++ type.
  model::Z z(std::string_view name) const;
  std::uint64_t u64(std::string_view name) const;
  std::uint32_t u32(std::string_view name) const;
  std::int64_t i64(std::string_view name) const;
  int i32(std::string_view name) const;
  std::vector<model::Z> z_list(std::string_view name) const;
  std::string word(std::string_view name) const;
  // The raw value with its column, for fields with their own syntax (event names, hvc names).
  const Token* value(std::string_view name) const;

  int line() const { return line_; }

 private:
  struct Entry {
    std::string_view name;
    Token field;  // the whole name=value token
    Token value;
  };
  const Entry* find(std::string_view name) const;
  model::Z ranged(std::string_view name, model::Z lo, model::Z hi) const;

  int line_;
  int keyword_column_;
  std::string what_;
  std::vector<Entry> entries_;
};

// Parses one number with the message conventions of the format; `field` names it in messages.
model::Z parse_number(const Token& t, std::string_view field, int line);

// Parses an `op` line (tokens[0] == "op") into its operation.
model::Op parse_op(const Line& l);

// The hypercall number for an hvc_name() (without the HVC_ prefix), or -1 when unknown; lets
// hand-written cases say `op hvc x0=REGISTER_KVM`.
model::Z hvc_number(std::string_view name);

}  // namespace hypdiff::corpus::detail
