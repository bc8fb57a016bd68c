#include "harness/corpus_replay.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <system_error>

#include "harness/clock.hpp"

namespace hypdiff::harness {

namespace {

namespace fs = std::filesystem;

std::optional<corpus::CaseFile> load(const fs::path& p, CorpusCaseResult& res) {
  try {
    return corpus::load_case(p);
  } catch (const corpus::CorpusError& e) {
    res.problem = e.what();
    return std::nullopt;
  }
}

// Why `c` cannot run on the pairing, if it cannot.
std::optional<std::string> unrunnable(const generators::Case& c, const Target* t, const Target* r) {
  for (const Target* x : {t, r}) {
    if (!x) continue;
    if (const auto i = first_unrealized(c.ops, *x)) {
      return fmt::format("step {} is {}, which {} does not run", *i,
                         model::handler_name(model::handler_of(c.ops[*i])), x->name());
    }
  }
  return std::nullopt;
}

}  // namespace

std::string expectation_mismatch(const corpus::Expectation& e, const CaseResult& r) {
  const std::string got = r.failure ? failure_class_name(r.failure->cls) : "pass";
  if (got != e.verdict) return "recorded " + e.verdict + ", got " + got;
  if (!r.failure) return "";
  if (e.step && static_cast<std::size_t>(*e.step) != r.failure->step)
    return fmt::format("recorded step {}, got step {}", *e.step, r.failure->step);
  const std::optional<std::int64_t> p =
      r.failure->principal
          ? std::optional<std::int64_t>(static_cast<std::int64_t>(*r.failure->principal))
          : std::nullopt;
  if (e.principal != p) return "the failure concerns a different principal";
  return "";
}

Target* TargetCache::get(const std::string& name, std::string* error) {
  if (const auto it = lent_.find(name); it != lent_.end()) return it->second;
  auto& slot = made_[name];
  if (!slot) slot = make_target(name, error);
  return slot.get();
}

std::vector<fs::path> case_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".case") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<CorpusCaseResult> replay_regressions(const fs::path& dir, const TargetByName& targets,
                                                 double step_timeout) {
  std::vector<CorpusCaseResult> out;
  for (const fs::path& p : case_files(dir)) {
    CorpusCaseResult res;
    res.file = p;
    res.kind = CorpusKind::regression;
    const auto t0 = std::chrono::steady_clock::now();
    const auto file = load(p, res);
    if (file && !file->expect) res.problem = "records no expected verdict (no expect line)";
    if (file && file->expect) {
      res.target = file->expect->target;
      res.against = file->expect->against.empty() ? "none" : file->expect->against;
      std::string err;
      Target* t = targets(res.target, &err);
      Target* r = res.against == "none" || !t ? nullptr : targets(res.against, &err);
      if (!t || (res.against != "none" && !r)) {
        res.problem = "cannot make its target: " + err;
      } else if (auto why = unrunnable(file->c, t, r)) {
        res.target = t->name();
        res.stand_in = res.target != file->expect->target;
        res.ok = true;
        res.skipped = std::move(why);
      } else {
        res.target = t->name();
        res.stand_in = res.target != file->expect->target;
        RunOptions opts;
        opts.step_timeout = step_timeout;
        Runner runner(*t, r, opts);
        const CaseResult cr = runner.run(file->c);
        res.steps = cr.steps;
        res.failure = cr.failure;
        res.problem = expectation_mismatch(*file->expect, cr);
        res.ok = res.problem.empty();
        if (!res.ok && cr.failure) res.problem += ": " + cr.failure->summary;
      }
    }
    res.seconds = seconds_since(t0);
    out.push_back(std::move(res));
  }
  return out;
}

std::vector<CorpusCaseResult> replay_found(const fs::path& dir, Target& target, Target* reference,
                                           const RunOptions& opts) {
  std::vector<CorpusCaseResult> out;
  for (const fs::path& p : case_files(dir)) {
    CorpusCaseResult res;
    res.file = p;
    res.kind = CorpusKind::found;
    res.target = target.name();
    res.against = reference ? reference->name() : "none";
    const auto t0 = std::chrono::steady_clock::now();
    const auto file = load(p, res);
    if (file) res.skipped = unrunnable(file->c, &target, reference);
    if (file && res.skipped) {
      res.ok = true;
    } else if (file) {
      Runner runner(target, reference, opts);
      const CaseResult cr = runner.run(file->c);
      res.steps = cr.steps;
      res.failure = cr.failure;
      res.ok = !cr.failure;
      if (cr.failure) res.problem = "still fails: " + cr.failure->summary;
    }
    res.seconds = seconds_since(t0);
    out.push_back(std::move(res));
  }
  return out;
}

}  // namespace hypdiff::harness
