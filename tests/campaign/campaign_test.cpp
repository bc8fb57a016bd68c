// `hypdiff campaign` and `hypdiff merge` driven through the built binary: the journal they
// write, resuming after a SIGKILL, worker crashes, shards and their merge.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "campaign/journal.hpp"

namespace hypdiff::campaign {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The literal profile against the intended one fails within a few cases (runner_test.cpp).
const std::vector<std::string> kFailing = {"--target",       "model:literal", "--against",
                                           "model:intended", "--shrink-time", "2s"};
const std::vector<std::string> kPassing = {"--target", "model:intended", "--against", "model"};

class CampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hypdiff_campaign_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // In a forked child: becomes hypdiff with `args`.
  [[noreturn]] static void exec(const std::vector<std::string>& args) {
    std::vector<char*> a = {const_cast<char*>(HYPDIFF_BIN)};
    for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }

  // Runs hypdiff with `args`, stdout and stderr captured; `env` is "NAME=value" or "".
  Outcome run(const std::vector<std::string>& args, const std::string& env = "") const {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!env.empty()) ::putenv(const_cast<char*>(env.c_str()));
      std::freopen(out.c_str(), "w", stdout);
      std::freopen(err.c_str(), "w", stderr);
      exec(args);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), slurp(out), slurp(err)};
  }

  std::vector<std::string> campaign(const std::string& out, std::vector<std::string> extra,
                                    const std::vector<std::string>& pairing = kFailing) const {
    std::vector<std::string> v = {"campaign", "--out", (dir_ / out).string(), "--no-corpus"};
    v.insert(v.end(), pairing.begin(), pairing.end());
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  }

  // Starts hypdiff with `args` in a process group of its own (so it can be signalled as a
  // scheduler would), output to `name`.out and `name`.err, and waits until its journal in
  // `out_dir` holds a record of `type`. Returns the pid, or -1 when none came within `timeout`.
  pid_t start_and_wait_for(const std::vector<std::string>& args, const std::string& name,
                           const std::string& out_dir, const std::string& type,
                           std::chrono::seconds timeout) const {
    const fs::path journal = dir_ / out_dir / "journal.jsonl";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      std::freopen((dir_ / (name + ".out")).c_str(), "w", stdout);
      std::freopen((dir_ / (name + ".err")).c_str(), "w", stderr);
      exec(args);
    }
    ::setpgid(pid, pid);
    const std::string needle = "\"type\":\"" + type + "\"";
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (slurp(journal).find(needle) != std::string::npos) return pid;
    }
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
  }

  fs::path dir_;
};

std::multiset<std::uint64_t> batch_numbers(const Journal& j) {
  std::multiset<std::uint64_t> out;
  for (const auto& b : j.batches) out.insert(b.batch);
  return out;
}

std::set<std::string> signatures(const Journal& j) {
  std::set<std::string> out;
  for (const auto& f : j.failures) out.insert(f.signature);
  return out;
}

std::set<std::uint64_t> range(std::uint64_t n) {
  std::set<std::uint64_t> out;
  for (std::uint64_t i = 0; i < n; ++i) out.insert(i);
  return out;
}

TEST_F(CampaignTest, BadShardsAndMissingBoundsAreUsageErrors) {
  for (const std::string s : {"3/2", "x/2", "1/0", "2/2", "1/", "/2", "-1/2", "1"}) {
    const Outcome r = run(campaign("c", {"--cases", "10", "--shard", s}));
    EXPECT_EQ(r.rc, 2) << s;
    EXPECT_EQ(r.err, "hypdiff: --shard: '" + s + "' is not i/n with 0 <= i < n (e.g. 0/4)\n");
  }
  Outcome r = run(campaign("c", {}));
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "hypdiff: give --time (e.g. 8h) or --cases N, or both\n");
  r = run(campaign("c", {"--time", "soon"}));
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "hypdiff: --time: 'soon' is not a duration (e.g. 90s, 5m, 8h)\n");
  r = run({"campaign", "--cases", "10", "--target", "model", "--against", "model"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "hypdiff: --out DIR is required\n");
  r = run(campaign("c", {"--cases", "10", "--target", "nosuch"}, {}));
  EXPECT_EQ(r.rc, 2);
  EXPECT_FALSE(fs::exists(dir_ / "c" / "journal.jsonl"));
}

TEST_F(CampaignTest, FindsFailuresSavesCasesThatReplayAndFillsTheCorpus) {
  const fs::path corpus = dir_ / "found";
  std::vector<std::string> args = {"campaign",
                                   "--out",
                                   (dir_ / "c").string(),
                                   "--corpus",
                                   corpus.string(),
                                   "--jobs",
                                   "2",
                                   "--cases",
                                   "40",
                                   "--batch-cases",
                                   "10",
                                   "--json",
                                   (dir_ / "s.json").string()};
  args.insert(args.end(), kFailing.begin(), kFailing.end());
  const Outcome r = run(args);
  ASSERT_EQ(r.rc, 1) << r.err;
  const Journal j = read_journal(dir_ / "c" / "journal.jsonl");
  EXPECT_EQ(j.config.target, "model:literal");
  EXPECT_EQ(j.config.against, "model:intended");
  EXPECT_EQ(j.config.batch_cases, 10u);
  EXPECT_EQ(j.stop_reason, "done");
  EXPECT_EQ(j.done_batches(), range(4));
  EXPECT_EQ(j.batches.size(), 4u);
  EXPECT_EQ(j.cases(), 40u);
  EXPECT_GT(j.steps(), 40u);
  std::set<int> workers;
  for (const auto& b : j.batches) {
    workers.insert(b.worker);
    EXPECT_GT(b.at, 0);
    EXPECT_LE(b.at, j.elapsed);
    EXPECT_GT(b.coverage.by_handler[0][0] + b.coverage.by_handler[0][1], 0u);
  }
  EXPECT_TRUE(workers.contains(0) && workers.contains(1) && workers.size() == 2);
  ASSERT_FALSE(j.failures.empty());
  for (const auto& f : j.failures) {
    EXPECT_TRUE(fs::exists(dir_ / "c" / f.case_file)) << f.case_file;
    EXPECT_LE(f.length, f.original_length);
    EXPECT_LT(f.batch, 4u);
    EXPECT_EQ(f.signature, f.cls + "/" +
                               (f.principal.empty()                  ? "-"
                                : f.principal.substr(0, 4) == "host" ? "host"
                                                                     : "vm") +
                               "/" + f.field + "/" + f.handler);
  }
  const auto smallest = j.smallest();
  EXPECT_EQ(smallest.size(), signatures(j).size());
  int replayed = 0;
  for (const auto& [sig, f] : smallest) {
    // The corpus got the smallest case of every signature, under the same content name.
    EXPECT_EQ(slurp(corpus / fs::path(f.case_file).filename()), slurp(dir_ / "c" / f.case_file))
        << sig;
    const std::string text = slurp(dir_ / "c" / f.case_file);
    EXPECT_NE(text.find("found by: hypdiff campaign --target model:literal"), std::string::npos);
    EXPECT_NE(text.find("reproduce: hypdiff replay THIS_FILE --expect"), std::string::npos);
    if (replayed++ < 3) {
      const Outcome rr =
          run({"replay", (dir_ / "c" / f.case_file).string(), "--expect", "--quiet"});
      EXPECT_EQ(rr.rc, 0) << sig << rr.out << rr.err;
    }
  }
  const std::string summary = slurp(dir_ / "s.json");
  EXPECT_NE(summary.find("\"stop\": \"done\""), std::string::npos);
  EXPECT_NE(summary.find("\"cases\": 40"), std::string::npos);
  EXPECT_NE(r.out.find(std::to_string(smallest.size()) + " distinct failures"), std::string::npos);
}

// The acceptance test of the issue: SIGKILL the whole campaign and restart it.
TEST_F(CampaignTest, KilledCampaignResumesWithoutLosingAFailure) {
  // A subreaper, so the workers orphaned by the kill are ours to reap and count.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const auto args = campaign("c", {"--jobs", "2", "--cases", "300", "--batch-cases", "10"});
  const fs::path journal = dir_ / "c" / "journal.jsonl";
  const pid_t pid = start_and_wait_for(args, "first", "c", "failure", std::chrono::seconds(60));
  ASSERT_GT(pid, 0) << slurp(dir_ / "first.err");
  ASSERT_EQ(::kill(-pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  // No worker survives: the group empties once the orphans are reaped.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    gone = ::kill(-pid, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone);

  const Journal before = read_journal(journal);  // a torn last line is allowed here
  EXPECT_EQ(before.stop_reason, "");
  ASSERT_LT(before.batches.size(), 30u) << "the campaign finished before it was killed";
  const std::set<std::string> sigs_before = signatures(before);
  ASSERT_FALSE(sigs_before.empty());

  const Outcome r = run(args);
  EXPECT_EQ(r.rc, 1) << r.err;
  const Journal after = read_journal(journal);
  EXPECT_FALSE(after.torn_tail);
  EXPECT_EQ(after.stop_reason, "done");
  EXPECT_EQ(after.sessions.size(), 2u);
  for (const auto& s : sigs_before) EXPECT_TRUE(after.smallest().contains(s)) << s;
  // No finished batch ran again, and together the sessions ran every batch.
  const auto numbers = batch_numbers(after);
  for (const auto b : numbers) EXPECT_EQ(numbers.count(b), 1u) << "batch " << b;
  EXPECT_EQ(after.done_batches(), range(30));
  for (std::size_t i = 0; i < before.batches.size(); ++i)
    EXPECT_EQ(after.batches[i].batch, before.batches[i].batch);
  // Campaign time continues across sessions.
  EXPECT_GE(after.elapsed, before.elapsed);
  EXPECT_GE(after.batches.back().at, before.elapsed);
  EXPECT_NE(r.out.find("this session: " + std::to_string(30 - before.batches.size()) + " batches"),
            std::string::npos)
      << r.out;
}

TEST_F(CampaignTest, SigtermStopsWorkersAndJournalsTheStop) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const auto args = campaign("c", {"--jobs", "2", "--time", "60s", "--batch-cases", "5"}, kPassing);
  const fs::path journal = dir_ / "c" / "journal.jsonl";
  const pid_t pid = start_and_wait_for(args, "run", "c", "batch", std::chrono::seconds(30));
  ASSERT_GT(pid, 0) << slurp(dir_ / "run.err");
  ASSERT_EQ(::kill(-pid, SIGTERM), 0);  // the whole group, as a scheduler does
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 143);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_NE(::kill(-pid, 0), 0);  // the parent reaped its workers before exiting
  const Journal j = read_journal(journal);
  EXPECT_EQ(j.stop_reason, "terminated");
  EXPECT_TRUE(j.crashes.empty());  // workers ignore SIGTERM: none died on its own
  EXPECT_FALSE(j.torn_tail);
  EXPECT_NE(slurp(dir_ / "run.out").find(": terminated"), std::string::npos);
}

TEST_F(CampaignTest, ResumeRefusesConflictingOptionsAndBadJournals) {
  const auto args = campaign("c", {"--cases", "20", "--batch-cases", "10"}, kPassing);
  Outcome r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  const fs::path journal = dir_ / "c" / "journal.jsonl";
  const std::string text = slurp(journal);

  r = run(campaign("c", {"--cases", "20", "--seed", "2"}, kPassing));
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "hypdiff: --seed 2 conflicts with " + journal.string() +
                       ", which records 1; drop the option to resume or use a new --out\n");
  r = run(campaign("c", {"--cases", "20", "--shard", "1/2"}, kPassing));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--shard 1/2 conflicts"), std::string::npos);
  r = run(campaign("c", {"--cases", "20"}, {"--target", "model:literal"}));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--target model:literal conflicts"), std::string::npos);
  EXPECT_EQ(slurp(journal), text);

  // Options that agree, or are left out, resume; a finished campaign has nothing left to run.
  r = run({"campaign", "--out", (dir_ / "c").string(), "--cases", "20", "--seed", "1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("this session: 0 batches"), std::string::npos) << r.out;
  Journal j = read_journal(journal);
  EXPECT_EQ(j.sessions.size(), 2u);
  EXPECT_EQ(j.batches.size(), 2u);
  // A larger --cases extends it.
  r = run({"campaign", "--out", (dir_ / "c").string(), "--cases", "30"});
  EXPECT_EQ(r.rc, 0) << r.err;
  j = read_journal(journal);
  EXPECT_EQ(batch_numbers(j), (std::multiset<std::uint64_t>{0, 1, 2}));

  const std::string good = slurp(journal);
  std::ofstream(journal, std::ios::app)
      << "{\"type\":\"batch\"}\n{\"type\":\"resume\",\"time\":1}\n";
  const std::string bad = slurp(journal);
  r = run({"campaign", "--out", (dir_ / "c").string(), "--cases", "30"});
  EXPECT_EQ(r.rc, 2);
  const auto lines = std::count(good.begin(), good.end(), '\n');
  EXPECT_EQ(r.err, "hypdiff: " + journal.string() + ":" + std::to_string(lines + 1) +
                       ": missing field 'batch'\n");
  EXPECT_EQ(slurp(journal), bad);
}

TEST_F(CampaignTest, WorkerCrashIsJournaledRetriedOnceThenSkipped) {
  const auto args =
      campaign("c", {"--jobs", "1", "--cases", "30", "--batch-cases", "10"}, kPassing);
  Outcome r = run(args, "HYPDIFF_CAMPAIGN_CRASH_BATCH=1");
  EXPECT_EQ(r.rc, 3) << r.err;
  const fs::path journal = dir_ / "c" / "journal.jsonl";
  Journal j = read_journal(journal);
  ASSERT_EQ(j.crashes.size(), 2u);
  for (const auto& c : j.crashes) {
    EXPECT_EQ(c.batch, 1u);
    EXPECT_EQ(c.worker, 0);
    EXPECT_EQ(c.reason, "killed by SIGABRT");
  }
  EXPECT_EQ(batch_numbers(j), (std::multiset<std::uint64_t>{0, 2}));
  EXPECT_EQ(j.stop_reason, "done");
  EXPECT_NE(r.out.find("2 worker crashes, 1 batches skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("worker 0 killed by SIGABRT on batch 1; retrying it"), std::string::npos);
  EXPECT_NE(r.err.find("batch 1 skipped"), std::string::npos);
  // A skipped batch stays skipped when the campaign resumes.
  r = run(args);
  EXPECT_EQ(r.rc, 3);
  j = read_journal(journal);
  EXPECT_EQ(j.crashes.size(), 2u);
  EXPECT_EQ(batch_numbers(j), (std::multiset<std::uint64_t>{0, 2}));

  // One crash only: the retry finishes the batch.
  r = run(campaign("d", {"--jobs", "1", "--cases", "30", "--batch-cases", "10"}, kPassing),
          "HYPDIFF_CAMPAIGN_CRASH_BATCH=1:" + (dir_ / "marker").string());
  EXPECT_EQ(r.rc, 0) << r.err;
  j = read_journal(dir_ / "d" / "journal.jsonl");
  ASSERT_EQ(j.crashes.size(), 1u);
  EXPECT_EQ(batch_numbers(j), (std::multiset<std::uint64_t>{0, 1, 2}));
  EXPECT_TRUE(fs::exists(dir_ / "marker"));
}

TEST_F(CampaignTest, MergedShardsMatchOneUnshardedCampaign) {
  const std::vector<std::string> common = {"--jobs", "1", "--cases", "20", "--batch-cases", "10"};
  auto shard = [&](const std::string& name, const std::string& s) {
    auto v = campaign(name, common);
    v.insert(v.end(), {"--shard", s});
    return run(v);
  };
  ASSERT_EQ(shard("s0", "0/2").rc, 1);
  ASSERT_EQ(shard("s1", "1/2").rc, 1);
  ASSERT_EQ(run(campaign("all", {"--jobs", "2", "--cases", "40", "--batch-cases", "10"})).rc, 1);
  const Journal s0 = read_journal(dir_ / "s0" / "journal.jsonl");
  const Journal s1 = read_journal(dir_ / "s1" / "journal.jsonl");
  EXPECT_EQ(s0.done_batches(), (std::set<std::uint64_t>{0, 2}));
  EXPECT_EQ(s1.done_batches(), (std::set<std::uint64_t>{1, 3}));

  Outcome r = run(
      {"merge", "--out", (dir_ / "m").string(), (dir_ / "s1").string(), (dir_ / "s0").string()});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("merged shards 0, 1 of 2"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("missing"), std::string::npos);
  const Journal m = read_journal(dir_ / "m" / "journal.jsonl");
  const Journal all = read_journal(dir_ / "all" / "journal.jsonl");
  EXPECT_EQ(m.merged_shards, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(m.merged_shard_count, 2u);
  EXPECT_EQ(m.config.shard_count, 1u);
  EXPECT_EQ(m.config.seed, all.config.seed);
  EXPECT_EQ(m.stop_reason, "merged");
  EXPECT_EQ(batch_numbers(m), batch_numbers(all));
  EXPECT_EQ(m.cases(), all.cases());
  EXPECT_EQ(m.steps(), all.steps());  // batches are deterministic
  EXPECT_EQ(signatures(m), signatures(all));
  for (const auto& f : m.failures) EXPECT_TRUE(fs::exists(dir_ / "m" / f.case_file));

  // One shard alone: merged, with the other reported missing.
  r = run({"merge", "--out", (dir_ / "m0").string(), (dir_ / "s0").string()});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("missing shards: 1"), std::string::npos) << r.out;

  // Refusals.
  r = run({"merge", "--out", (dir_ / "m").string(), (dir_ / "s0").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "hypdiff: merge: " + (dir_ / "m" / "journal.jsonl").string() +
                       " exists; merge into a new directory\n");
  r = run(
      {"merge", "--out", (dir_ / "x").string(), (dir_ / "s0").string(), (dir_ / "s0").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("are both shard 0/2"), std::string::npos) << r.err;
  r = run(
      {"merge", "--out", (dir_ / "x").string(), (dir_ / "s0").string(), (dir_ / "all").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("are not shards of one campaign: their shard count differs"),
            std::string::npos)
      << r.err;
  auto other = campaign("s1b", common);
  other.insert(other.end(), {"--shard", "1/2", "--seed", "9"});
  ASSERT_EQ(run(other).rc, 1);
  r = run(
      {"merge", "--out", (dir_ / "x").string(), (dir_ / "s0").string(), (dir_ / "s1b").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("their seed differs"), std::string::npos) << r.err;
  r = run({"merge", "--out", (dir_ / "x").string(), (dir_ / "m").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("is itself a merge"), std::string::npos) << r.err;
  r = run({"merge", "--out", (dir_ / "x").string(), (dir_ / "nope").string()});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "x" / "journal.jsonl"));

  // A merged journal is not resumed.
  r = run({"campaign", "--out", (dir_ / "m").string(), "--cases", "40"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("is a merge of shards"), std::string::npos);
}

}  // namespace
}  // namespace hypdiff::campaign
