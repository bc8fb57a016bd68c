// Every case in corpus/regression/ is replayed on the pairing it records and must reproduce its
// recorded verdict: class, step and principal.
#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/case_file.hpp"
#include "harness/runner.hpp"

namespace hypdiff::harness {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> regression_cases() {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(HYPDIFF_SOURCE_DIR) / "corpus" / "regression";
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".case") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Regression, CorpusIsNotEmpty) { EXPECT_GE(regression_cases().size(), 5u); }

TEST(Regression, EveryCaseReproducesItsRecordedVerdict) {
  for (const fs::path& p : regression_cases()) {
    SCOPED_TRACE(p.filename().string());
    const corpus::CaseFile f = corpus::load_case(p);
    ASSERT_TRUE(f.expect) << "regression cases must record an expected verdict";
    std::string err;
    auto target = make_target(f.expect->target, &err);
    ASSERT_TRUE(target) << err;
    std::unique_ptr<Target> ref;
    if (!f.expect->against.empty()) {
      ref = make_target(f.expect->against, &err);
      ASSERT_TRUE(ref) << err;
    }
    Runner runner(*target, ref.get());
    const CaseResult r = runner.run(f.c);
    const std::string got = r.failure ? failure_class_name(r.failure->cls) : "pass";
    EXPECT_EQ(got, f.expect->verdict) << (r.failure ? r.failure->summary : "");
    if (r.failure && got == f.expect->verdict) {
      if (f.expect->step) {
        EXPECT_EQ(static_cast<std::int64_t>(r.failure->step), *f.expect->step);
      }
      if (f.expect->principal) {
        ASSERT_TRUE(r.failure->principal);
        EXPECT_EQ(static_cast<std::int64_t>(*r.failure->principal), *f.expect->principal);
      }
    }
  }
}

}  // namespace
}  // namespace hypdiff::harness
