// The output of `hypdiff mutants --json FILE` (cli/mutants_cmd.cpp), read back for the report's
// mutant table. Keys the report does not show are ignored; a key it shows must have its type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hypdiff::report {

struct MutantRow {
  std::uint32_t id = 0;
  std::string name, area, description, endangers, expected_class;
  std::string verdict;                 // killed, survived or equivalent
  std::string reason;                  // why equivalent, or "unreached: ..."
  std::optional<double> seconds;       // to the first failure, or the budget (when run)
  std::optional<std::uint64_t> steps;  // up to the first failure (when run)
  std::optional<std::uint64_t> cases;  // up to the first failure (when run)
  std::string failure_class;           // when killed
  std::string signature, summary;      // when killed
  std::optional<std::uint64_t> shrunk_length, original_length;  // when killed
};

struct MutantScoreLine {
  std::uint64_t mutants = 0, equivalent = 0, killed = 0, survived = 0;
  double median_seconds = 0, median_shrunk_length = 0;
};

struct MutantsFile {
  std::string target, against;
  std::optional<std::uint64_t> seed;
  std::optional<double> budget_seconds;
  std::vector<MutantRow> rows;
  MutantScoreLine score;  // from the file, or counted from the rows when it has none
};

// Parses the JSON text; `where` names it in errors. Throws ReportError with one line.
MutantsFile parse_mutants(const std::string& text, const std::string& where);
MutantsFile read_mutants(const std::filesystem::path& file);

}  // namespace hypdiff::report
