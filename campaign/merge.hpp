// `hypdiff merge`: the journals of the shards of one campaign combined into one directory that
// `hypdiff report` reads like any campaign's (docs/campaign.md, "Merging shards").
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "campaign/journal.hpp"

namespace hypdiff::campaign {

// A one-line reason the shards cannot be merged.
class MergeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MergeResult {
  std::vector<std::uint64_t> shards;    // merged, ascending
  std::vector<std::uint64_t> missing;   // shard indices no directory held
  std::vector<std::string> unfinished;  // "DIR (stopped: time)" for shards not stopped "done"
  std::size_t case_files = 0;           // copied
  Journal journal;                      // as written to out/journal.jsonl
};

// The first config field in which `a` and `b` differ, ignoring the shard index ("" if none).
std::string config_difference(const Config& a, const Config& b);

// Reads DIR/journal.jsonl of every directory, checks they are shards of one campaign, and
// writes out/journal.jsonl and out/cases/. Refuses an `out` that already holds a journal.
// Throws MergeError (and JournalError from reading).
MergeResult merge_campaigns(const std::vector<std::filesystem::path>& dirs,
                            const std::filesystem::path& out);

}  // namespace hypdiff::campaign
