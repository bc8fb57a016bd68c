#include "campaign/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace hypdiff::campaign {

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw MergeError(fmt::format("cannot read {}", p.string()));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Copies a case file, unless the same content is already there (files are content-addressed).
bool copy_case(const fs::path& from, const fs::path& to) {
  const std::string text = read_all(from);
  if (fs::exists(to)) {
    if (read_all(to) != text)
      throw MergeError(
          fmt::format("{} differs from {} already merged", from.string(), to.string()));
    return false;
  }
  fs::create_directories(to.parent_path());
  const fs::path tmp = to.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out) throw MergeError(fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, to);
  return true;
}

}  // namespace

std::string config_difference(const Config& a, const Config& b) {
  if (a.target != b.target) return "target";
  if (a.against != b.against) return "against";
  if (a.seed != b.seed) return "seed";
  if (a.shard_count != b.shard_count) return "shard count";
  if (a.batch_cases != b.batch_cases) return "batch_cases";
  if (a.max_ops != b.max_ops) return "max_ops";
  if (a.max_vms != b.max_vms) return "max_vms";
  if (a.hostile != b.hostile) return "hostile";
  if (a.step_timeout != b.step_timeout) return "step_timeout";
  if (a.hypdiff_version != b.hypdiff_version) return "hypdiff_version";
  return "";
}

MergeResult merge_campaigns(const std::vector<fs::path>& dirs, const fs::path& out) {
  if (dirs.empty()) throw MergeError("no shard directories given");
  std::vector<Journal> journals;
  std::map<std::uint64_t, fs::path> by_shard;
  for (const auto& d : dirs) {
    Journal j = read_journal(d / "journal.jsonl");
    if (j.merged_shard_count > 0)
      throw MergeError(fmt::format("{} is itself a merge; give the shard directories", d.string()));
    if (!journals.empty()) {
      const Config& first = journals.front().config;
      const std::string diff = config_difference(first, j.config);
      if (!diff.empty()) {
        throw MergeError(fmt::format("{} and {} are not shards of one campaign: their {} differs",
                                     dirs.front().string(), d.string(), diff));
      }
    }
    const auto [it, fresh] = by_shard.emplace(j.config.shard_index, d);
    if (!fresh) {
      throw MergeError(fmt::format("{} and {} are both shard {}/{}", it->second.string(),
                                   d.string(), j.config.shard_index, j.config.shard_count));
    }
    journals.push_back(std::move(j));
  }
  const fs::path journal_file = out / "journal.jsonl";
  if (fs::exists(journal_file))
    throw MergeError(fmt::format("{} exists; merge into a new directory", journal_file.string()));
  for (const auto& d : dirs) {
    if (fs::exists(out) && fs::equivalent(d, out))
      throw MergeError(fmt::format("--out {} is one of the shards", out.string()));
  }

  MergeResult res;
  Config cfg = journals.front().config;
  const std::uint64_t count = cfg.shard_count;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (by_shard.contains(i))
      res.shards.push_back(i);
    else
      res.missing.push_back(i);
  }
  for (std::size_t k = 0; k < journals.size(); ++k) {
    if (journals[k].stop_reason != "done") {
      res.unfinished.push_back(
          fmt::format("{} (shard {}: {})", dirs[k].string(), journals[k].config.shard_index,
                      journals[k].stop_reason.empty() ? "did not stop cleanly"
                                                      : "stopped: " + journals[k].stop_reason));
    }
  }

  // Case files first, so the journal never names a file that is not there.
  fs::create_directories(out / "cases");
  for (std::size_t k = 0; k < journals.size(); ++k) {
    for (const auto& f : journals[k].failures) {
      if (copy_case(dirs[k] / f.case_file, out / f.case_file)) ++res.case_files;
    }
  }

  Journal& m = res.journal;
  cfg.shard_index = 0;
  cfg.shard_count = 1;
  m.config = cfg;
  m.merged_shards = res.shards;
  m.merged_shard_count = count;
  for (const auto& j : journals) {
    m.batches.insert(m.batches.end(), j.batches.begin(), j.batches.end());
    m.failures.insert(m.failures.end(), j.failures.begin(), j.failures.end());
    m.crashes.insert(m.crashes.end(), j.crashes.begin(), j.crashes.end());
    m.elapsed = std::max(m.elapsed, j.elapsed);
  }
  // Shards ran side by side, each with its own clock: one timeline ordered by campaign time.
  const auto by_at = [](const auto& a, const auto& b) { return a.at < b.at; };
  std::stable_sort(m.batches.begin(), m.batches.end(), by_at);
  std::stable_sort(m.failures.begin(), m.failures.end(), by_at);
  std::stable_sort(m.crashes.begin(), m.crashes.end(), by_at);
  m.stop_reason = "merged";

  {
    JournalWriter w(journal_file);
    w.start(m.config);
    w.merged(m.merged_shards, m.merged_shard_count);
    for (const auto& b : m.batches) w.batch(b);
    for (const auto& f : m.failures) w.failure(f);
    for (const auto& c : m.crashes) w.crash(c);
    w.stop("merged", m.elapsed);
  }
  m.sessions = read_journal(journal_file).sessions;
  return res;
}

}  // namespace hypdiff::campaign
