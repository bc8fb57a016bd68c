// `hypdiff report DIR`: the campaign in DIR as one self-contained HTML page (docs/report.md).
#include <cstdio>
#include <memory>
#include <string>

#include "campaign/journal.hpp"
#include "cli/commands.hpp"
#include "report/report.hpp"

namespace hypdiff::cli {

namespace {

// Errors are printed on one line whatever the message holds.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

Action add_report(CLI::App& app) {
  auto opts = std::make_shared<report::Options>();
  auto out = std::make_shared<std::string>();
  auto mutants = std::make_shared<std::string>();
  CLI::App* sub =
      app.add_subcommand("report", "Write a self-contained HTML report of a campaign directory");
  sub->add_option("DIR", opts->dir, "campaign directory (written by `hypdiff campaign`)")
      ->required();
  sub->add_option("--out", *out, "HTML file to write (default DIR/report.html)");
  sub->add_option("--mutants", *mutants,
                  "output of `hypdiff mutants --json FILE` to include (default DIR/mutants.json "
                  "when it exists)");
  sub->add_option("--title", opts->title, "page title (default: target, reference and seed)");

  return [opts, out, mutants]() -> int {
    opts->out = *out;
    opts->mutants = *mutants;
    try {
      const auto written = report::write_report(*opts);
      std::printf("hypdiff report: wrote %s\n", written.c_str());
      return kExitPass;
    } catch (const campaign::JournalError& e) {
      std::fprintf(stderr, "hypdiff: report: %s\n", one_line(e.what()).c_str());
    } catch (const report::ReportError& e) {
      std::fprintf(stderr, "hypdiff: report: %s\n", one_line(e.what()).c_str());
    }
    return kExitUsage;
  };
}

}  // namespace hypdiff::cli
