// The campaign journal: DIR/journal.jsonl, one JSON object per line, only ever appended to.
// Everything a campaign knows is in it (configuration, finished batches, failures, worker
// crashes), so an interrupted campaign resumes from it and `hypdiff report` draws from it.
// A line cut short by a kill is ignored when read (torn_tail); any other bad line is an error.
// Format: docs/campaign.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/coverage.hpp"

namespace hypdiff::campaign {

inline constexpr int kJournalVersion = 1;

// Config, Batch, FailureEntry and WorkerCrash are journaled field by field under their member
// names (campaign/journal.cpp lists them for Boost.Hana): a new member goes there too.

// What a campaign was started with; a resume must not change it.
struct Config {
  std::string target = "native";
  std::string against = "model";
  std::uint64_t seed = 1;
  std::uint64_t shard_index = 0;  // this journal covers batches b with b % shard_count == index
  std::uint64_t shard_count = 1;
  std::uint64_t batch_cases = 0;  // cases per batch; batch b runs case indices [b*n, (b+1)*n)
  int max_ops = 60;
  int max_vms = 3;
  int hostile = 100;
  double step_timeout = 10;
  std::string hypdiff_version;
  friend bool operator==(const Config&, const Config&) = default;
};

// One finished batch of cases.
struct Batch {
  std::uint64_t batch = 0;
  int worker = 0;
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t checks = 0;
  std::uint64_t failing_cases = 0;
  double seconds = 0;  // the worker's time on the batch, shrinking included
  double at = 0;       // campaign time when it was journaled (seconds, summed over sessions)
  harness::Coverage coverage;
};

// One failure, as shrunk, with its case file.
struct FailureEntry {
  std::string signature;  // harness::Failure::signature()
  std::string cls;        // failure class name
  std::string principal;  // "host", "VM 2", or "" when none
  std::string field;      // first diverging field / clause / signal
  std::string handler;    // handler of the failing (last) operation
  std::string op;         // the failing operation, printed
  std::string summary;
  std::vector<std::string> details;  // per-principal diff lines
  std::string case_file;             // relative to the campaign directory
  std::size_t length = 0;            // operations in the shrunk case
  std::size_t original_length = 0;
  std::uint64_t batch = 0;
  std::uint64_t case_seed = 0;
  double at = 0;
};

struct WorkerCrash {
  int worker = 0;
  std::uint64_t batch = 0;
  std::string reason;  // "killed by SIGSEGV", "exit status 3", ...
  double at = 0;
};

struct Journal {
  Config config;
  std::vector<double> sessions;  // wall-clock start of each session (unix seconds)
  std::vector<Batch> batches;    // journal order
  std::vector<FailureEntry> failures;
  std::vector<WorkerCrash> crashes;
  std::string stop_reason;  // of the last session; "" when it did not stop cleanly
  double elapsed = 0;       // campaign time of the last record
  bool torn_tail = false;   // the last line was incomplete (a kill mid-write) and was ignored
  // A journal written by `hypdiff merge`: the shard indices it combines, of merged_shard_count
  // (0 when not merged). Its config is the shards' with shard_index 0 and shard_count 1.
  std::vector<std::uint64_t> merged_shards;
  std::uint64_t merged_shard_count = 0;

  std::set<std::uint64_t> done_batches() const;
  // Per signature, the failure with the fewest operations (the earliest among equals).
  std::map<std::string, FailureEntry> smallest() const;
  harness::Coverage coverage() const;  // summed over batches
  std::uint64_t cases() const;
  std::uint64_t steps() const;
};

class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // "path:line: message"
};

// Reads a journal; throws JournalError on a missing file, an unknown version or a bad line.
Journal read_journal(const std::filesystem::path& file);

// Appends records. Each record is one write(2) of one line; start, failure and stop records
// are also flushed to disk (fdatasync) before the call returns, so a journaled failure survives
// a kill of the whole machine.
class JournalWriter {
 public:
  explicit JournalWriter(const std::filesystem::path& file);  // creates or appends
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  void start(const Config& c);  // first record of a new journal
  void resume();                // first record of every later session
  void batch(const Batch& b);
  void failure(const FailureEntry& f);
  void crash(const WorkerCrash& c);
  void stop(const std::string& reason, double at);
  // Second record of a merged journal (after start): which shards it combines.
  void merged(const std::vector<std::uint64_t>& shards, std::uint64_t shard_count);

 private:
  int fd_ = -1;
  std::filesystem::path file_;
};

}  // namespace hypdiff::campaign
