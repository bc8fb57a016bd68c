// The parent side of a campaign: one session of it, from opening the journal to the stop
// record. It starts the workers (campaign/worker.hpp, by re-executing hypdiff), hands them
// batches, journals what they send back, replaces workers that die and skips batches that keep
// killing them, and stops on --cases, --time, SIGINT or SIGTERM (docs/campaign.md).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "campaign/journal.hpp"

namespace hypdiff::campaign {

// A one-line reason a session cannot start (the CLI prints it and exits 2).
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What may change from one session to the next.
struct SessionOptions {
  std::filesystem::path dir;
  std::uint64_t cases = 0;  // cases of the shard in all; 0: no bound
  double seconds = 0;       // this session's time; 0: no bound
  unsigned jobs = 1;
  // Where the smallest case of each new signature is also saved; nullopt: nowhere.
  std::optional<std::filesystem::path> corpus;
  bool quiet = false;        // print only the summary
  bool tty = false;          // stderr takes progress lines (cli::interactive)
  std::FILE* text = stdout;  // the banner, failures and the summary; worker trouble to stderr
  // The command line of the worker in slot `slot`: the CLI's own, as the CLI parses it.
  std::function<std::vector<std::string>(std::size_t slot, const Config& c)> worker_argv;
};

// This session's work, for the summary.
struct SessionTotals {
  std::uint64_t batches = 0;
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t crashes = 0;
};

struct SessionResult {
  std::string reason;  // the stop record's: done, time, interrupted, terminated, error
  SessionTotals session;
  Journal journal;  // everything, earlier sessions included
  std::set<std::uint64_t> skipped;
  std::map<std::string, FailureEntry> smallest;     // per signature
  std::map<std::string, std::string> corpus_files;  // signature -> saved in the corpus
  double seconds = 0;                               // this session's
  double at = 0;                                    // campaign time at the stop
};

// The journal `file` holds to resume, or nullopt for a new campaign (no file, or no whole
// line in it: a campaign killed before its start record was complete). Throws JournalError
// (unreadable, malformed) and SetupError (a merged journal, which is not resumed).
std::optional<Journal> journal_to_resume(const std::filesystem::path& file);

// Runs one session in o.dir: appends `start` with `cfg` (no `resumed`) or `resume`, prints the
// banner, runs the workers and appends `stop`. SIGINT and SIGTERM stop it (their handlers are
// installed here). Throws SetupError when the directory or the journal cannot be opened;
// anything thrown later (a journal that cannot be written, poll failing) is an internal error.
SessionResult run_session(const SessionOptions& o, const Config& cfg,
                          std::optional<Journal> resumed);

// The summary printed at the end, and its JSON form (--json).
void print_summary(std::FILE* out, const SessionOptions& o, const SessionResult& r);
nlohmann::json summary_json(const SessionOptions& o, const SessionResult& r);

}  // namespace hypdiff::campaign
