// check's corpus phase (harness/corpus_replay.hpp) as the CLI runs it: which directories, the
// targets the regression cases need, the printed lines, and the JUnit test cases.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "harness/corpus_replay.hpp"
#include "harness/junit.hpp"

namespace hypdiff::cli {

struct CorpusPhase {
  std::vector<harness::CorpusCaseResult> results;
  std::size_t failed = 0;
  double seconds = 0;
};

// Replays the regression cases in `regressions` (skipped when empty) on their recorded pairings,
// then the found cases in `found` on `t`. Prints one line per case that is not ok and a summary
// line to `out`. Regression cases recorded on the pairing under test reuse its targets (a
// process can hold one native machine only).
CorpusPhase run_corpus_phase(const std::string& regressions, const std::string& found, Targets& t,
                             const harness::RunOptions& run, std::FILE* out);

std::vector<harness::JUnitCase> junit_cases(const CorpusPhase& phase);
nlohmann::json corpus_json(const CorpusPhase& phase);

}  // namespace hypdiff::cli
