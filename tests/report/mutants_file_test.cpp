#include "report/mutants_file.hpp"

#include <gtest/gtest.h>

#include "report/error.hpp"

namespace hypdiff::report {
namespace {

// The shape `hypdiff mutants --json` writes (cli/mutants_cmd.cpp).
const char* kSample = R"({
  "target": "native", "against": "model:intended", "seed": 1, "budget_seconds": 2.0,
  "mutants": [
    {"id": 1, "name": "assign-keeps-host-mapping", "area": "ownership",
     "description": "a frame given to a VM stays mapped", "endangers": "VMs",
     "expected_class": "invariant", "verdict": "killed", "seconds": 0.14, "cases": 12,
     "steps": 1036, "shrink_seconds": 0.5, "class": "invariant", "signature": "invariant/x",
     "summary": "s", "original_length": 40, "shrunk_length": 4},
    {"id": 4, "name": "decrypt-ignores-smmu-count", "area": "ownership", "description": "d",
     "endangers": "VMs", "expected_class": "outcome", "verdict": "equivalent",
     "reason": "no observation tells"},
    {"id": 7, "name": "s2pt-pool-check-off-by-one", "area": "page-tables", "description": "d",
     "endangers": "everyone", "expected_class": "outcome", "verdict": "survived",
     "seconds": 2.0, "cases": 900, "steps": 21168, "shrink_seconds": 0}
  ],
  "score": {"mutants": 3, "killed": 1, "survived": 1, "equivalent": 1,
            "median_seconds": 0.14, "median_shrunk_length": 4}
})";

std::string error_of(const std::string& text) {
  try {
    parse_mutants(text, "m.json");
  } catch (const ReportError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MutantsFile, ReadsWhatTheMutantsCommandWrites) {
  const MutantsFile f = parse_mutants(kSample, "m.json");
  EXPECT_EQ(f.target, "native");
  EXPECT_EQ(f.against, "model:intended");
  EXPECT_EQ(f.seed, 1u);
  EXPECT_EQ(f.budget_seconds, 2.0);
  ASSERT_EQ(f.rows.size(), 3u);
  EXPECT_EQ(f.rows[0].id, 1u);
  EXPECT_EQ(f.rows[0].verdict, "killed");
  EXPECT_EQ(f.rows[0].steps, 1036u);
  EXPECT_EQ(f.rows[0].shrunk_length, 4u);
  EXPECT_EQ(f.rows[0].failure_class, "invariant");
  EXPECT_EQ(f.rows[1].verdict, "equivalent");
  EXPECT_FALSE(f.rows[1].seconds.has_value());
  EXPECT_EQ(f.rows[1].reason, "no observation tells");
  EXPECT_EQ(f.rows[2].seconds, 2.0);
  EXPECT_FALSE(f.rows[2].shrunk_length.has_value());
  EXPECT_EQ(f.score.mutants, 3u);
  EXPECT_EQ(f.score.killed, 1u);
  EXPECT_EQ(f.score.survived, 1u);
  EXPECT_EQ(f.score.equivalent, 1u);
  EXPECT_DOUBLE_EQ(f.score.median_seconds, 0.14);
}

TEST(MutantsFile, CountsTheScoreWhenTheFileHasNone) {
  const MutantsFile f = parse_mutants(
      R"({"mutants": [{"id": 1, "verdict": "killed", "seconds": 1, "shrunk_length": 2},
                      {"id": 2, "verdict": "killed", "seconds": 3, "shrunk_length": 6},
                      {"id": 3, "verdict": "survived", "seconds": 30}]})",
      "m.json");
  EXPECT_EQ(f.score.mutants, 3u);
  EXPECT_EQ(f.score.killed, 2u);
  EXPECT_EQ(f.score.survived, 1u);
  EXPECT_DOUBLE_EQ(f.score.median_seconds, 2);
  EXPECT_DOUBLE_EQ(f.score.median_shrunk_length, 4);
}

TEST(MutantsFile, RejectsWhatIsNotAMutantsReport) {
  EXPECT_EQ(error_of("{").rfind("m.json: not JSON: ", 0), 0u) << error_of("{");
  EXPECT_EQ(error_of("[]"), "m.json: not a `hypdiff mutants --json` report (no \"mutants\" list)");
  EXPECT_EQ(error_of(R"({"mutants": {}})"),
            "m.json: not a `hypdiff mutants --json` report (no \"mutants\" list)");
  EXPECT_EQ(error_of(R"({"mutants": [3]})"), "m.json: mutant #0: not an object");
}

TEST(MutantsFile, NamesTheMutantAndKeyOfABadValue) {
  EXPECT_EQ(error_of(R"({"mutants": [{"verdict": "killed"}]})"),
            "m.json: mutant #0: 'id' must be present");
  EXPECT_EQ(error_of(R"({"mutants": [{"id": -1, "verdict": "killed"}]})"),
            "m.json: mutant #0: 'id' must be a non-negative integer");
  EXPECT_EQ(error_of(R"({"mutants": [{"id": 5, "verdict": "dead"}]})"),
            "m.json: mutant 5: 'verdict' must be killed, survived or equivalent");
  EXPECT_EQ(error_of(R"({"mutants": [{"id": 5, "verdict": "killed", "seconds": "fast"}]})"),
            "m.json: mutant 5: 'seconds' must be a number");
  EXPECT_EQ(error_of(R"({"mutants": [{"id": 5, "verdict": "killed", "name": 7}]})"),
            "m.json: mutant 5: 'name' must be a string");
  EXPECT_EQ(error_of(R"({"target": 1, "mutants": []})"), "m.json: 'target' must be a string");
}

TEST(MutantsFile, AScoreThatDisagreesWithTheRowsIsAnError) {
  EXPECT_EQ(error_of(R"({"mutants": [{"id": 1, "verdict": "survived"}],
                         "score": {"killed": 1}})"),
            "m.json: score says 1 killed but 0 mutants are marked killed");
  EXPECT_EQ(error_of(R"({"mutants": [], "score": 3})"), "m.json: 'score' must be an object");
}

TEST(MutantsFile, AMissingFileIsAnError) {
  try {
    read_mutants("/nonexistent/m.json");
    FAIL() << "no error";
  } catch (const ReportError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/m.json: no such mutants file");
  }
}

}  // namespace
}  // namespace hypdiff::report
