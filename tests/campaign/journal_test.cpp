#include "campaign/journal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "campaign/coverage_json.hpp"
#include "campaign/records.hpp"

namespace hypdiff::campaign {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hypdiff_journal_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = dir_ / "journal.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string contents() const {
    std::ifstream in(file_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void write_raw(const std::string& text, bool append = true) const {
    std::ofstream out(file_, append ? std::ios::app | std::ios::binary : std::ios::binary);
    out << text;
  }
  std::string error_of() const {
    try {
      read_journal(file_);
    } catch (const JournalError& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
  fs::path file_;
};

Config sample_config() {
  Config c;
  c.target = "model:literal";
  c.against = "model:intended";
  c.seed = 0xfedcba9876543210ULL;  // above 2^53: must survive as an integer
  c.shard_index = 2;
  c.shard_count = 4;
  c.batch_cases = 50;
  c.max_ops = 30;
  c.max_vms = 2;
  c.hostile = 25;
  c.step_timeout = 2.5;
  c.hypdiff_version = "hypdiff 0.1";
  return c;
}

Batch sample_batch(std::uint64_t n, double at) {
  Batch b;
  b.batch = n;
  b.worker = 1;
  b.cases = 50;
  b.steps = 1234;
  b.checks = 5678;
  b.failing_cases = 3;
  b.seconds = 0.75;
  b.at = at;
  b.coverage.by_handler[0] = {10, 2, 1};
  b.coverage.by_handler[static_cast<std::size_t>(model::Handler::vm_exit)] = {5, 0, 0};
  b.coverage.by_hvc[13] = {4, 1, 0};
  b.coverage.by_hvc[-1] = {0, 0, 7};
  return b;
}

FailureEntry sample_failure(const std::string& sig, std::size_t length, double at) {
  FailureEntry f;
  f.signature = sig;
  f.cls = "divergence";
  f.principal = "VM 2";
  f.field = "npt";
  f.handler = "host_hvc";
  f.op = "host_hvc(x0=13)";
  f.summary = "VM 2 sees npt differently";
  f.details = {"npt[3]: 1 vs 2", "npt[4]: \"quoted\""};
  f.case_file = "cases/" + sig + "-" + std::to_string(length) + ".json";
  f.length = length;
  f.original_length = length + 10;
  f.batch = 6;
  f.case_seed = 0xffffffffffffffffULL;
  f.at = at;
  return f;
}

TEST_F(JournalTest, EveryRecordRoundTrips) {
  {
    JournalWriter w(file_);
    w.start(sample_config());
    w.batch(sample_batch(6, 1.5));
    w.failure(sample_failure("divergence/VM/npt/host_hvc", 4, 1.25));
    w.crash({2, 10, "killed by SIGSEGV", 2.0});
    w.stop("time", 3.0);
  }
  {
    JournalWriter w(file_);
    w.resume();
    w.batch(sample_batch(10, 4.5));
  }
  const Journal j = read_journal(file_);
  EXPECT_EQ(j.config, sample_config());
  ASSERT_EQ(j.sessions.size(), 2u);
  EXPECT_GT(j.sessions[0], 1.7e9);
  EXPECT_LE(j.sessions[0], j.sessions[1]);
  ASSERT_EQ(j.batches.size(), 2u);
  const Batch& b = j.batches[0];
  EXPECT_EQ(b.batch, 6u);
  EXPECT_EQ(b.worker, 1);
  EXPECT_EQ(b.cases, 50u);
  EXPECT_EQ(b.steps, 1234u);
  EXPECT_EQ(b.checks, 5678u);
  EXPECT_EQ(b.failing_cases, 3u);
  EXPECT_DOUBLE_EQ(b.seconds, 0.75);
  EXPECT_DOUBLE_EQ(b.at, 1.5);
  EXPECT_EQ(b.coverage.by_handler, sample_batch(6, 0).coverage.by_handler);
  EXPECT_EQ(b.coverage.by_hvc, sample_batch(6, 0).coverage.by_hvc);
  EXPECT_EQ(j.batches[1].batch, 10u);
  ASSERT_EQ(j.failures.size(), 1u);
  const FailureEntry& f = j.failures[0];
  const FailureEntry e = sample_failure("divergence/VM/npt/host_hvc", 4, 1.25);
  EXPECT_EQ(f.signature, e.signature);
  EXPECT_EQ(f.cls, e.cls);
  EXPECT_EQ(f.principal, e.principal);
  EXPECT_EQ(f.field, e.field);
  EXPECT_EQ(f.handler, e.handler);
  EXPECT_EQ(f.op, e.op);
  EXPECT_EQ(f.summary, e.summary);
  EXPECT_EQ(f.details, e.details);
  EXPECT_EQ(f.case_file, e.case_file);
  EXPECT_EQ(f.length, 4u);
  EXPECT_EQ(f.original_length, 14u);
  EXPECT_EQ(f.batch, 6u);
  EXPECT_EQ(f.case_seed, 0xffffffffffffffffULL);
  EXPECT_DOUBLE_EQ(f.at, 1.25);
  ASSERT_EQ(j.crashes.size(), 1u);
  EXPECT_EQ(j.crashes[0].worker, 2);
  EXPECT_EQ(j.crashes[0].batch, 10u);
  EXPECT_EQ(j.crashes[0].reason, "killed by SIGSEGV");
  EXPECT_DOUBLE_EQ(j.crashes[0].at, 2.0);
  EXPECT_EQ(j.stop_reason, "");  // the second session did not stop cleanly
  EXPECT_DOUBLE_EQ(j.elapsed, 4.5);
  EXPECT_FALSE(j.torn_tail);
  EXPECT_TRUE(j.merged_shards.empty());
  EXPECT_EQ(j.merged_shard_count, 0u);
}

// The exact bytes of each record, as the journal was first written (before its field lists were
// generated): journals of earlier versions must read the same and new ones must look the same.
TEST_F(JournalTest, RecordsKeepTheirBytes) {
  FailureEntry f = sample_failure("divergence/VM/npt/host_hvc", 4, 1.25);
  f.summary = "VM 2 sees \xff npt";  // not UTF-8: replaced, not an exception
  Batch b = sample_batch(6, 1.5);
  b.coverage = {};
  b.coverage.by_handler[0] = {10, 2, 1};
  b.coverage.by_hvc[13] = {4, 1, 0};
  {
    JournalWriter w(file_);
    w.start(sample_config());
    w.batch(b);
    w.failure(f);
    w.crash({2, 10, "killed by SIGSEGV", 2.0});
    w.stop("time", 3.0);
  }
  std::string text = contents();
  const auto time = text.find("\"time\":");
  ASSERT_NE(time, std::string::npos);
  text.replace(time + 7, text.find(',', time) - time - 7, "T");
  const std::string expected =
      R"j({"config":{"against":"model:intended","batch_cases":50,"hostile":25,"hypdiff_version":"hypdiff 0.1","max_ops":30,"max_vms":2,"seed":18364758544493064720,"shard_count":4,"shard_index":2,"step_timeout":2.5,"target":"model:literal"},"time":T,"type":"start","version":1}
{"at":1.5,"batch":6,"cases":50,"checks":5678,"coverage":{"handlers":{"host_hvc":[10,2,1]},"hvc":{"13":[4,1,0]}},"failing_cases":3,"seconds":0.75,"steps":1234,"type":"batch","worker":1}
{"at":1.25,"batch":6,"case_file":"cases/divergence/VM/npt/host_hvc-4.json","case_seed":18446744073709551615,"class":"divergence","details":["npt[3]: 1 vs 2","npt[4]: \"quoted\""],"field":"npt","handler":"host_hvc","length":4,"op":"host_hvc(x0=13)","original_length":14,"principal":"VM 2","signature":"divergence/VM/npt/host_hvc","summary":"VM 2 sees )j"
      "\xef\xbf\xbd"
      R"j( npt","type":"failure"}
{"at":2.0,"batch":10,"reason":"killed by SIGSEGV","type":"crash","worker":2}
{"at":3.0,"reason":"time","type":"stop"}
)j";
  EXPECT_EQ(text, expected);
  // The worker protocol sends the same objects (dump() without the journal's replacement).
  EXPECT_EQ(
      config_to_json(sample_config()).dump(),
      R"j({"against":"model:intended","batch_cases":50,"hostile":25,"hypdiff_version":"hypdiff 0.1","max_ops":30,"max_vms":2,"seed":18364758544493064720,"shard_count":4,"shard_index":2,"step_timeout":2.5,"target":"model:literal"})j");
  const WorkerCrash crash{2, 10, "x", 2.5};
  EXPECT_EQ(crash_to_json(crash).dump(),
            R"({"at":2.5,"batch":10,"reason":"x","type":"crash","worker":2})");
}

// Records are read field by field in a fixed order, and every field must have its type.
TEST_F(JournalTest, RecordFieldsAreCheckedInOrder) {
  EXPECT_THROW(batch_from_json(nlohmann::json::object()), BadRecord);
  try {
    failure_from_json(nlohmann::json::parse(R"({"signature":"s","class":3})"));
    ADD_FAILURE() << "no error";
  } catch (const BadRecord& e) {
    EXPECT_STREQ(e.what(), "field 'class' must be a string");
  }
  try {
    failure_from_json(nlohmann::json::parse(R"({"signature":"s"})"));
    ADD_FAILURE() << "no error";
  } catch (const BadRecord& e) {
    EXPECT_STREQ(e.what(), "missing field 'class'");
  }
  try {
    crash_from_json(nlohmann::json::parse(R"({"worker":1e10,"batch":1,"reason":"r","at":1})"));
    ADD_FAILURE() << "no error";
  } catch (const BadRecord& e) {
    EXPECT_STREQ(e.what(), "field 'worker' must be an integer");
  }
  try {
    crash_from_json(nlohmann::json::parse(R"({"worker":4294967296,"batch":1,"reason":"r"})"));
    ADD_FAILURE() << "no error";
  } catch (const BadRecord& e) {
    EXPECT_STREQ(e.what(), "field 'worker' is out of range");
  }
  try {
    config_from_json(nlohmann::json::parse(R"({"target":"t","against":"a","seed":1.5})"));
    ADD_FAILURE() << "no error";
  } catch (const BadRecord& e) {
    EXPECT_STREQ(e.what(), "field 'seed' must be an unsigned integer");
  }
  const WorkerCrash c = crash_from_json(
      nlohmann::json::parse(R"({"type":"crash","worker":-1,"batch":7,"reason":"r","at":4})"));
  EXPECT_EQ(c.worker, -1);
  EXPECT_EQ(c.batch, 7u);
  EXPECT_EQ(c.reason, "r");
  EXPECT_DOUBLE_EQ(c.at, 4.0);
}

TEST_F(JournalTest, StopReasonAndMergedRecord) {
  {
    JournalWriter w(file_);
    w.start(sample_config());
    w.merged({0, 2}, 3);
    w.stop("merged", 7.0);
  }
  const Journal j = read_journal(file_);
  EXPECT_EQ(j.stop_reason, "merged");
  EXPECT_EQ(j.merged_shards, (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(j.merged_shard_count, 3u);
  EXPECT_DOUBLE_EQ(j.elapsed, 7.0);
}

TEST_F(JournalTest, TornTailIsIgnoredAndRepairedOnAppend) {
  {
    JournalWriter w(file_);
    w.start(sample_config());
    w.batch(sample_batch(2, 1.0));
  }
  write_raw("{\"type\":\"batch\",\"batch\":6,\"wor");  // a kill mid-write
  Journal j = read_journal(file_);
  EXPECT_TRUE(j.torn_tail);
  ASSERT_EQ(j.batches.size(), 1u);
  EXPECT_EQ(j.batches[0].batch, 2u);
  {
    JournalWriter w(file_);  // cuts the torn line
    w.resume();
    w.batch(sample_batch(6, 2.0));
  }
  j = read_journal(file_);
  EXPECT_FALSE(j.torn_tail);
  EXPECT_EQ(j.done_batches(), (std::set<std::uint64_t>{2, 6}));
  EXPECT_EQ(contents().find("\"wor\""), std::string::npos);
  EXPECT_EQ(contents().find("\"wor{"), std::string::npos);
}

TEST_F(JournalTest, BadLinesNameFileAndLine) {
  {
    JournalWriter w(file_);
    w.start(sample_config());
    w.batch(sample_batch(2, 1.0));
  }
  const std::string good = contents();
  const std::string path = file_.string();
  write_raw("not json\n");
  EXPECT_EQ(error_of(), path + ":3: not a JSON object");
  write_raw(good + "{\"type\":\"party\"}\n", false);
  EXPECT_EQ(error_of(), path + ":3: unknown record type 'party'");
  write_raw(good + "{\"type\":\"batch\",\"batch\":-1}\n", false);
  EXPECT_EQ(error_of(), path + ":3: field 'batch' must be an unsigned integer");
  write_raw(good + "{\"type\":\"crash\",\"worker\":1,\"batch\":2,\"at\":1}\n", false);
  EXPECT_EQ(error_of(), path + ":3: missing field 'reason'");
  write_raw(good + "[1,2]\n", false);
  EXPECT_EQ(error_of(), path + ":3: a record must be a JSON object");
  // A bad line before good ones is an error too, not a torn tail.
  write_raw(good + "{\"type\":\n" + "{\"type\":\"resume\",\"time\":1}\n", false);
  EXPECT_EQ(error_of(), path + ":3: not a JSON object");
  write_raw("{\"type\":\"resume\",\"time\":1}\n", false);
  EXPECT_EQ(error_of(), path + ":1: the first record must be 'start', not 'resume'");
  write_raw(good + good, false);
  EXPECT_EQ(error_of(), path + ":3: a second 'start' record");
  write_raw("{\"type\":\"start\",\"version\":99,\"time\":1,\"config\":{}}\n", false);
  EXPECT_EQ(error_of(), path + ":1: journal version 99; this hypdiff reads version 1");
  write_raw("", false);
  EXPECT_EQ(error_of(), path + ":1: empty journal (no start record)");
  fs::remove(file_);
  EXPECT_EQ(error_of(), path + ": cannot open: No such file or directory");
}

TEST_F(JournalTest, BadCoverageAndCaseFileAreErrors) {
  {
    JournalWriter w(file_);
    w.start(sample_config());
  }
  const std::string good = contents();
  const std::string path = file_.string();
  write_raw(good +
                "{\"type\":\"batch\",\"batch\":1,\"worker\":0,\"cases\":1,\"steps\":1,"
                "\"checks\":1,\"failing_cases\":0,\"seconds\":1,\"at\":1,"
                "\"coverage\":{\"handlers\":{\"nope\":[1,2,3]},\"hvc\":{}}}\n",
            false);
  EXPECT_EQ(error_of(), path + ":2: coverage: unknown handler 'nope'");
  FailureEntry f = sample_failure("s", 3, 1.0);
  f.case_file = "../outside.json";
  {
    std::ofstream(file_, std::ios::binary) << good;
    JournalWriter w(file_);
    w.failure(f);
  }
  EXPECT_EQ(error_of(),
            path + ":2: field 'case_file' must be a path inside the campaign directory");
}

TEST_F(JournalTest, SmallestPicksFewestOpsEarliestAmongEquals) {
  Journal j;
  j.failures.push_back(sample_failure("a", 9, 1));
  j.failures.push_back(sample_failure("b", 5, 2));
  FailureEntry a2 = sample_failure("a", 4, 3);
  a2.batch = 100;
  j.failures.push_back(a2);
  FailureEntry a3 = sample_failure("a", 4, 4);
  a3.batch = 200;
  j.failures.push_back(a3);
  j.failures.push_back(sample_failure("b", 7, 5));
  const auto s = j.smallest();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at("a").length, 4u);
  EXPECT_EQ(s.at("a").batch, 100u);  // earliest of the two of length 4
  EXPECT_EQ(s.at("b").length, 5u);
}

TEST_F(JournalTest, TotalsAndCoverageSum) {
  Journal j;
  j.batches.push_back(sample_batch(3, 1));
  j.batches.push_back(sample_batch(1, 2));
  j.batches.back().steps = 66;
  j.batches.back().cases = 7;
  EXPECT_EQ(j.done_batches(), (std::set<std::uint64_t>{1, 3}));
  EXPECT_EQ(j.cases(), 57u);
  EXPECT_EQ(j.steps(), 1300u);
  const harness::Coverage c = j.coverage();
  EXPECT_EQ(c.by_handler[0], (harness::Counts{20, 4, 2}));
  EXPECT_EQ(c.by_hvc.at(13), (harness::Counts{8, 2, 0}));
  EXPECT_EQ(c.by_hvc.at(-1), (harness::Counts{0, 0, 14}));
  EXPECT_EQ(c.by_handler[static_cast<std::size_t>(model::Handler::host_npt)],
            (harness::Counts{0, 0, 0}));
}

TEST(CoverageJson, RoundTripsAndRejectsBadInput) {
  harness::Coverage c = sample_batch(0, 0).coverage;
  const auto j = coverage_to_json(c);
  EXPECT_EQ(
      j.dump(),
      R"({"handlers":{"host_hvc":[10,2,1],"vm_exit":[5,0,0]},"hvc":{"13":[4,1,0],"other":[0,0,7]}})");
  const harness::Coverage back = coverage_from_json(j);
  EXPECT_EQ(back.by_handler, c.by_handler);
  EXPECT_EQ(back.by_hvc, c.by_hvc);
  EXPECT_THROW(coverage_from_json(nlohmann::json::parse(R"({"handlers":{},"hvc":{"12":[1,1,1]}})")),
               std::invalid_argument);
  EXPECT_THROW(
      coverage_from_json(nlohmann::json::parse(R"({"handlers":{"host_hvc":[1,2]},"hvc":{}})")),
      std::invalid_argument);
  EXPECT_THROW(coverage_from_json(nlohmann::json::parse(R"([])")), std::invalid_argument);
}

}  // namespace
}  // namespace hypdiff::campaign
