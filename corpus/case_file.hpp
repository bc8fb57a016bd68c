// The case file: a stable, versioned, human-readable text form of a Case (docs/case-format.md).
// One item per line, named fields, `#` comments anywhere. The writer emits every configuration
// field explicitly (so a file means the same thing if defaults change) and omits zero-valued
// operation fields; the parser accepts exactly what the documentation describes and rejects
// anything else with the line and column of the first problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "generators/case.hpp"

namespace hypdiff::corpus {

inline constexpr int kFormatVersion = 1;

// The verdict a regression case expects when replayed: `target` checked against `against`.
struct Expectation {
  std::string target;   // e.g. "model:literal"
  std::string against;  // e.g. "model:intended"; empty = no reference (property checks only)
  std::string verdict;  // "pass", or a failure class ("outcome", "divergence", "invariant",
                        // "integrity", "confidentiality", "crash", "hang")
  std::optional<std::int64_t> principal;  // the principal the failure concerns, when any
  std::optional<std::int64_t> step;       // 0-based index of the failing operation, when any
  friend bool operator==(const Expectation&, const Expectation&) = default;
};

struct CaseFile {
  generators::Case c;
  std::optional<Expectation> expect;
  // Free text kept as `#` comment lines at the top of the file (provenance, the verdict text).
  // Comments elsewhere are discarded by the parser.
  std::vector<std::string> notes;
};

struct ParseError {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, of the offending token
  std::string message;
};

std::string write_case(const CaseFile& f);
std::variant<CaseFile, ParseError> parse_case(std::string_view text);

// File errors and parse errors as one line: "path:line:col: message" or "path: message".
class CorpusError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CaseFile load_case(const std::filesystem::path& path);
// Writes atomically (temporary file + rename) so an interrupted run never leaves half a file.
void save_case(const std::filesystem::path& path, const CaseFile& f);
// Saves into `dir` (created if needed) under "<stem>-<8 hex digits of the content hash>.case";
// an identical existing file is reused, never overwritten with different content. Returns the path.
std::filesystem::path save_to_corpus(const std::filesystem::path& dir, std::string_view stem,
                                     const CaseFile& f);

// One operation as its case-file line without the leading "op " (e.g. "hvc x0=24  # REGISTER_KVM").
std::string op_line(const model::Op& op);

// Human-readable hypercall name for x0 (e.g. "REGISTER_KVM"), or "" for unknown numbers.
std::string_view hvc_name(model::Z number);

}  // namespace hypdiff::corpus
