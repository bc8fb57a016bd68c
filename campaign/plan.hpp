// Which batches a campaign runs: the seed space split into batches, and batches into shards.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "campaign/journal.hpp"

namespace hypdiff::campaign {

struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
};
// "i/n" with 0 <= i < n; nullopt otherwise.
std::optional<Shard> parse_shard(std::string_view text);

// The k-th batch of the shard (k = 0, 1, ...): index + k * count.
std::uint64_t shard_batch(const Config& c, std::uint64_t k);
// How many batches of the shard `cases` cases take (whole batches, rounded up).
std::uint64_t batches_for_cases(const Config& c, std::uint64_t cases);

// A batch whose worker died twice is skipped for good (docs/campaign.md): those batches.
inline constexpr int kBatchAttempts = 2;
std::set<std::uint64_t> skipped_batches(const Journal& j);

// "killed by SIGSEGV", "exit status 3" for a waitpid status.
std::string describe_exit(int status);

}  // namespace hypdiff::campaign
