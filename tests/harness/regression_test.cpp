// Every case in corpus/regression/ is replayed on the pairing it records and must reproduce its
// recorded verdict: class, step and principal (harness/corpus_replay.hpp, as `check` does first).
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "harness/corpus_replay.hpp"

namespace hypdiff::harness {
namespace {

const std::filesystem::path kDir =
    std::filesystem::path(HYPDIFF_SOURCE_DIR) / "corpus" / "regression";

TEST(Regression, CorpusIsNotEmpty) { EXPECT_GE(case_files(kDir).size(), 5u); }

TEST(Regression, EveryCaseReproducesItsRecordedVerdict) {
  TargetCache targets;
  const auto results = replay_regressions(kDir, targets.by_name(), 10);
  ASSERT_EQ(results.size(), case_files(kDir).size());
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok) << r.file << ": " << r.problem;
    EXPECT_GT(r.steps, 0u) << r.file;
  }
}

}  // namespace
}  // namespace hypdiff::harness
