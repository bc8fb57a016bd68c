#include "campaign/plan.hpp"

#include <sys/wait.h>

#include <charconv>
#include <cstring>
#include <map>

#include "harness/guard.hpp"

namespace hypdiff::campaign {

namespace {
std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
}  // namespace

std::optional<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto i = number(text.substr(0, slash));
  const auto n = number(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *i >= *n) return std::nullopt;
  return Shard{*i, *n};
}

std::uint64_t shard_batch(const Config& c, std::uint64_t k) {
  return c.shard_index + k * c.shard_count;
}

std::uint64_t batches_for_cases(const Config& c, std::uint64_t cases) {
  return (cases + c.batch_cases - 1) / c.batch_cases;
}

std::set<std::uint64_t> skipped_batches(const Journal& j) {
  std::map<std::uint64_t, int> deaths;
  for (const auto& c : j.crashes) ++deaths[c.batch];
  const auto done = j.done_batches();
  std::set<std::uint64_t> out;
  for (const auto& [b, n] : deaths) {
    if (n >= kBatchAttempts && !done.contains(b)) out.insert(b);
  }
  return out;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return "killed by " + harness::signal_name(WTERMSIG(status));
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "stopped";
}

}  // namespace hypdiff::campaign
