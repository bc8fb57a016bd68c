// `hypdiff report DIR`: one self-contained HTML page about a campaign directory (docs/report.md).
// Entry point: write_report. The page is built from the journal (campaign/journal.hpp), the
// case files the journal names and, when given, a `hypdiff mutants --json` file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "campaign/journal.hpp"
#include "report/error.hpp"
#include "report/mutants_file.hpp"

namespace hypdiff::report {

struct Input {
  std::filesystem::path dir;  // the campaign directory; case files are relative to it
  campaign::Journal journal;
  std::optional<MutantsFile> mutants;
  std::string mutants_source;  // the file the scores came from, shown on the page
  std::string title;           // "" = made from the configuration
};

// The whole page.
std::string render_page(const Input& in);

struct Options {
  std::filesystem::path dir;
  std::filesystem::path out;      // "" = DIR/report.html
  std::filesystem::path mutants;  // "" = DIR/mutants.json when it exists
  std::string title;
};

// Reads everything, renders and writes the page; returns the path written. Throws ReportError
// (or campaign::JournalError for the journal) with a one-line message.
std::filesystem::path write_report(const Options& opts);

// Writes `text` to a temporary file next to `file` and renames it over `file`, so a reader
// never sees half a page. Throws ReportError.
void write_atomically(const std::filesystem::path& file, const std::string& text);

}  // namespace hypdiff::report
