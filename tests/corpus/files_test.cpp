#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "corpus/case_file.hpp"
#include "helpers.hpp"

namespace hypdiff::corpus {
namespace {

namespace fs = std::filesystem;

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("hypdiff-corpus-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> listing(const fs::path& d) const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void write(const fs::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const CorpusError& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

TEST_F(Files, LoadMissingFileNamesThePathAndTheReason) {
  const fs::path p = dir_ / "absent.case";
  EXPECT_EQ(error_of([&] { load_case(p); }),
            p.string() + ": cannot read: No such file or directory");
}

TEST_F(Files, LoadReportsParseErrorsWithPathLineAndColumn) {
  const fs::path p = dir_ / "bad.case";
  write(p, std::string(test::kMinimal) + "op mem_load gfm=1\n");
  EXPECT_EQ(error_of([&] { load_case(p); }),
            p.string() + ":3:13: unknown field 'gfm' for op mem_load (expected gfn, reg)");
}

TEST_F(Files, SaveThenLoadGivesTheSameCaseAndLeavesNoTemporary) {
  const fs::path p = dir_ / "small.case";
  save_case(p, test::small_case());
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"small.case"});
  EXPECT_EQ(read(p), test::kSmallCaseText);
  EXPECT_TRUE(test::same_file(load_case(p), test::small_case()));
}

TEST_F(Files, SaveReplacesAnExistingFileWhole) {
  const fs::path p = dir_ / "x.case";
  write(p, std::string(100000, 'x'));
  save_case(p, test::small_case());
  EXPECT_EQ(read(p), test::kSmallCaseText);
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"x.case"});
}

TEST_F(Files, SaveIntoAMissingDirectoryFailsCleanly) {
  const fs::path p = dir_ / "no" / "such" / "x.case";
  EXPECT_EQ(error_of([&] { save_case(p, test::small_case()); }),
            p.string() + ": cannot write: No such file or directory");
  EXPECT_TRUE(listing(dir_).empty());
}

TEST_F(Files, SaveToCorpusNamesByContentAndReusesIdenticalFiles) {
  const fs::path corpus = dir_ / "nested" / "corpus";
  const fs::path first = save_to_corpus(corpus, "divergence", test::small_case());
  // FNV-1a of the golden text, folded to 32 bits: the name is stable across runs and builds.
  EXPECT_EQ(first, corpus / "divergence-ab2ca994.case");
  EXPECT_EQ(read(first), test::kSmallCaseText);
  EXPECT_EQ(save_to_corpus(corpus, "divergence", test::small_case()), first);
  EXPECT_EQ(listing(corpus).size(), 1u);

  CaseFile other = test::small_case();
  other.c.ops.pop_back();
  const fs::path second = save_to_corpus(corpus, "divergence", other);
  EXPECT_NE(second, first);
  const std::string name = second.filename().string();
  ASSERT_EQ(name.size(), std::string("divergence-01234567.case").size()) << name;
  EXPECT_EQ(name.substr(0, 11), "divergence-");
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef", 11), 19u) << name;
  EXPECT_EQ(name.substr(19), ".case");
  EXPECT_EQ(listing(corpus).size(), 2u);
}

TEST_F(Files, SaveToCorpusNeverOverwritesADifferentFileUnderItsName) {
  const fs::path taken = dir_ / "divergence-ab2ca994.case";
  write(taken, "someone else's case\n");
  const fs::path p = save_to_corpus(dir_, "divergence", test::small_case());
  EXPECT_EQ(p, dir_ / "divergence-ab2ca994-2.case");
  EXPECT_EQ(read(taken), "someone else's case\n");
  EXPECT_EQ(read(p), test::kSmallCaseText);
  EXPECT_EQ(save_to_corpus(dir_, "divergence", test::small_case()), p);
}

TEST_F(Files, SaveToCorpusRefusesStemsThatAreNotFileNames) {
  EXPECT_EQ(error_of([&] { save_to_corpus(dir_, "a/b", test::small_case()); }),
            dir_.string() + ": invalid case name 'a/b'");
  EXPECT_EQ(error_of([&] { save_to_corpus(dir_, "", test::small_case()); }),
            dir_.string() + ": invalid case name ''");
}

// The regression corpus: every stored case must load and say what it expects. (Replaying them
// against their verdicts is the harness's test.)
TEST(RegressionCorpus, EveryCaseLoadsAndHasAnExpectation) {
  const fs::path dir = fs::path(HYPDIFF_SOURCE_DIR) / "corpus" / "regression";
  ASSERT_TRUE(fs::is_directory(dir));
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".case") continue;
    SCOPED_TRACE(e.path().string());
    const CaseFile f = load_case(e.path());
    EXPECT_TRUE(f.expect.has_value());
  }
}

}  // namespace
}  // namespace hypdiff::corpus
