// The corpus phase of a check: before exploring, re-run the cases already on disk.
//   regression cases (corpus/regression/): each on the pairing its `expect` line records, which
//     it must reproduce (class, step, principal) — the same contract the test suite enforces;
//   found cases (the --corpus directory, where check and campaign save counterexamples): each on
//     the pairing under test, where it must pass — a counterexample that still fails means the
//     bug it shows is still there (or is back).
// Results are plain data; the check command prints them and turns them into JUnit test cases.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corpus/case_file.hpp"
#include "harness/runner.hpp"

namespace hypdiff::harness {

enum class CorpusKind : std::uint8_t { regression, found };

struct CorpusCaseResult {
  std::filesystem::path file;
  CorpusKind kind = CorpusKind::regression;
  std::string target;   // the pairing it ran on
  std::string against;  // "none" without a reference
  bool ok = false;
  std::string problem;  // why not ok: a mismatch, a failure summary, a load error
  // Not run (ok stays true): a step the pairing's targets do not run (Target::realized).
  std::optional<std::string> skipped;
  // A regression case ran on another target than the one it records (TargetByName handed
  // out a stand-in, e.g. qemu for native: it must give the same verdict).
  bool stand_in = false;
  std::optional<Failure> failure;
  std::size_t steps = 0;
  double seconds = 0;
};

// "" when `r` reproduces `e` (verdict, and step and principal when recorded), else what differs.
std::string expectation_mismatch(const corpus::Expectation& e, const CaseResult& r);

// The *.case files directly in `dir`, sorted by name; none when `dir` does not exist.
std::vector<std::filesystem::path> case_files(const std::filesystem::path& dir);

// A target by name for the regression cases: the caller hands out the targets it already has
// (a process holds one native machine at most) and makes the others, or a stand-in (a QEMU
// target for native: the hardware must give the software's verdicts). Null after setting
// *error.
using TargetByName = std::function<Target*(const std::string& name, std::string* error)>;

// The usual TargetByName: targets the caller lends (by their names, or standing in for another
// name), and every other target made once, on first use, with make_target.
class TargetCache {
 public:
  void lend(Target& t) { lent_[t.name()] = &t; }
  void stand_in(const std::string& name, Target& t) { lent_[name] = &t; }
  Target* get(const std::string& name, std::string* error);
  TargetByName by_name() {
    return [this](const std::string& name, std::string* error) { return get(name, error); };
  }

 private:
  std::map<std::string, Target*> lent_;
  std::map<std::string, std::unique_ptr<Target>> made_;
};

// Replays every regression case in `dir` on its recorded pairing with default RunOptions (the
// expectations were recorded with every check on), but `step_timeout`. A file without an
// `expect` line, or one that does not load, is a result with ok = false; a case with a step
// the targets do not run is skipped.
std::vector<CorpusCaseResult> replay_regressions(const std::filesystem::path& dir,
                                                 const TargetByName& targets, double step_timeout);

// Replays every case in `dir` on `target` against `reference` with `opts`; each must pass
// (or is skipped, as above).
std::vector<CorpusCaseResult> replay_found(const std::filesystem::path& dir, Target& target,
                                           Target* reference, const RunOptions& opts);

}  // namespace hypdiff::harness
