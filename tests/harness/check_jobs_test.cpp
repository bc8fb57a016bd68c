// check --jobs: the same cases over several processes give the single process's report.
#include "harness/check_jobs.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "harness/target.hpp"

namespace hypdiff::harness {
namespace {

TargetPair make(const std::string& target, const std::string& reference) {
  std::string err;
  TargetPair p{make_target(target, &err), make_target(reference, &err)};
  if (!p.target || !p.reference) throw TargetError(err);
  return p;
}

CheckOptions options() {
  CheckOptions o;
  o.seed = 5;
  o.cases = 240;
  o.max_failures = 0;
  // Bounded by candidates, not time: a time budget ends shrinking at load-dependent points, and
  // the test compares shrunk cases.
  o.shrink_opts.max_seconds = 1e6;
  o.shrink_opts.max_candidates = 300;
  return o;
}

TEST(CheckJobs, ThreeProcessesGiveTheSingleProcessReport) {
  // A quirk profile against the intended one: several distinct failure signatures.
  const std::string buggy = "model:intended-assign-normalize-verify-index";
  TargetPair single = make(buggy, "model:intended");
  const CheckOptions o = options();
  const CheckReport one = run_check(*single.target, single.reference.get(), o);
  ASSERT_GE(one.failures.size(), 2u);

  TargetPair mine;
  int found_calls = 0;
  const CheckReport three = run_check_jobs(
      3, [&] { return make(buggy, "model:intended"); },
      [&] {
        mine = make(buggy, "model:intended");
        return std::make_pair(mine.target.get(), mine.reference.get());
      },
      o, {{}, [&](const FoundFailure&) { ++found_calls; }});
  EXPECT_EQ(three.cases, one.cases);
  EXPECT_EQ(three.steps, one.steps);
  EXPECT_EQ(three.checks, one.checks);
  EXPECT_EQ(three.failing_cases, one.failing_cases);
  EXPECT_EQ(three.coverage.by_handler, one.coverage.by_handler);
  EXPECT_EQ(three.coverage.by_hvc, one.coverage.by_hvc);
  ASSERT_EQ(three.failures.size(), one.failures.size());
  EXPECT_EQ(found_calls, static_cast<int>(one.failures.size()));
  for (std::size_t i = 0; i < one.failures.size(); ++i) {
    const FoundFailure& a = one.failures[i];
    const FoundFailure& b = three.failures[i];
    EXPECT_EQ(b.case_index, a.case_index);
    EXPECT_EQ(b.case_seed, a.case_seed);
    EXPECT_EQ(b.duplicates, a.duplicates);
    EXPECT_EQ(b.failure.signature(), a.failure.signature());
    EXPECT_EQ(b.shrunk.ops, a.shrunk.ops);  // the shrinker is deterministic
  }
}

TEST(CheckJobs, MaxFailuresKeepsTheFirstSignaturesByCaseIndex) {
  const std::string buggy = "model:intended-assign-normalize-verify-index";
  TargetPair single = make(buggy, "model:intended");
  CheckOptions o = options();
  o.shrink = false;
  const CheckReport all = run_check(*single.target, single.reference.get(), o);
  ASSERT_GE(all.failures.size(), 2u);
  o.max_failures = 1;
  TargetPair mine;
  const CheckReport two = run_check_jobs(
      2, [&] { return make(buggy, "model:intended"); },
      [&] {
        mine = make(buggy, "model:intended");
        return std::make_pair(mine.target.get(), mine.reference.get());
      },
      o);
  ASSERT_EQ(two.failures.size(), 1u);
  EXPECT_EQ(two.failures[0].case_index, all.failures[0].case_index);
  EXPECT_EQ(two.failures[0].failure.signature(), all.failures[0].failure.signature());
}

TEST(CheckJobs, AFailingWorkerIsOneLine) {
  const auto parent = []() -> std::pair<Target*, Target*> {
    throw std::logic_error("the parent's targets are not needed when a worker fails");
  };
  try {
    run_check_jobs(
        2, []() -> TargetPair { throw TargetError("qemu target: no QEMU here"); }, parent,
        options());
    FAIL() << "no error";
  } catch (const TargetError& e) {
    EXPECT_EQ(std::string(e.what()), "check --jobs: worker 1 of 2: qemu target: no QEMU here");
  }
  try {
    run_check_jobs(
        2,
        []() -> TargetPair {
          ::raise(SIGKILL);
          return {};
        },
        parent, options());
    FAIL() << "no error";
  } catch (const TargetError& e) {
    EXPECT_EQ(std::string(e.what()),
              "check --jobs: worker 1 of 2 was killed by signal 9 before reporting");
  }
}

}  // namespace
}  // namespace hypdiff::harness
