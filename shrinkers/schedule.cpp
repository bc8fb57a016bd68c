#include "shrinkers/schedule.hpp"

#include <memory>
#include <stdexcept>

#include "model/init.hpp"
#include "shrinkers/case_hash.hpp"

namespace hypdiff::shrinkers {

std::vector<std::uint64_t> log_lengths(const generators::Case& c) {
  std::vector<std::uint64_t> out;
  model::RData d;
  try {
    d = model::initial_state(c.cfg, model::Profile::intended(),
                             std::make_shared<const model::OracleInputs>(c.oracle));
  } catch (const std::invalid_argument&) {
    return out;
  }
  out.reserve(c.ops.size() + 1);
  out.push_back(d.slog.length());
  for (const model::Op& op : c.ops) {
    model::StepResult r = model::apply(d, op);
    if (r.after) d = std::move(*r.after);  // an undefined step leaves the state as it was
    out.push_back(d.slog.length());
  }
  return out;
}

const std::vector<std::uint64_t>& LogLengths::of(const generators::Case& c) {
  const std::uint64_t h = hash_case(c);
  if (!valid_ || h != hash_) {
    lengths_ = log_lengths(c);
    hash_ = h;
    valid_ = true;
  }
  return lengths_;
}

std::optional<generators::Case> without_ops_keeping_schedule(
    const generators::Case& c, const std::vector<bool>& removed,
    const std::vector<std::uint64_t>& lengths) {
  const std::size_t n = c.ops.size();
  if (lengths.size() != n + 1 || removed.size() != n) return std::nullopt;
  // The log only grows, so the removed operations before `len` are those that end at or
  // before it; one that starts before it and ends after it consumed the entry.
  const auto moved_to = [&](std::uint64_t len) {
    std::uint64_t shift = 0;
    for (std::size_t i = 0; i < n && lengths[i] < len; ++i) {
      if (!removed[i]) continue;
      if (lengths[i + 1] > len) return lengths[i] - shift;
      shift += lengths[i + 1] - lengths[i];
    }
    return len - shift;
  };
  bool moved = false;
  std::map<std::uint64_t, std::vector<model::SingleEvent>> schedule;
  for (const auto& [len, events] : c.oracle.soracle) {
    const std::uint64_t at = moved_to(len);
    moved = moved || at != len;
    schedule.emplace(at, events);  // keeps the first entry when two land on one length
  }
  if (!moved) return std::nullopt;
  generators::Case out;
  out.cfg = c.cfg;
  out.oracle = c.oracle;
  out.oracle.soracle = std::move(schedule);
  out.ops.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    if (!removed[i]) out.ops.push_back(c.ops[i]);
  return out;
}

}  // namespace hypdiff::shrinkers
