// The Runner's verdicts: agreement of a target with itself, each failure class on targets with
// a known, planted difference, and the literal-vs-intended pairing the tool is proven on.
#include "harness/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "generators/case_gen.hpp"
#include "harness/check.hpp"
#include "harness/model_target.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::harness {
namespace {

using model::Z;

generators::Case gen(std::uint64_t seed, int max_ops = 40) {
  generators::GenOptions o;
  o.max_ops = max_ops;
  return generators::generate_case(o, seed);
}

// A case of n REGISTER_KVMs: each step is ok on the model, so a planted difference is the first.
generators::Case register_kvms(std::size_t n) {
  generators::Case c;
  c.ops.assign(n, testing::hvc(model::k::HVC_REGISTER_KVM));
  return c;
}

// Wraps the model and plants a difference after a given step.
class PlantedTarget final : public Target {
 public:
  enum class Plant { flatmem, halt_early };
  PlantedTarget(Plant plant, std::size_t at) : inner_("model", {}), plant_(plant), at_(at) {}
  std::string name() const override { return "planted"; }
  std::string describe() const override { return "model with a planted bug"; }
  void reset(const model::MachineConfig& cfg, model::OraclePtr o) override {
    inner_.reset(cfg, std::move(o));
    d_ = inner_.state();
    n_ = 0;
  }
  model::StepKind step(const model::Op& op) override {
    model::StepKind k = inner_.step(op);
    d_ = inner_.state();
    if (n_++ == at_ && k == model::StepKind::ok) {
      if (plant_ == Plant::flatmem) {
        // A store the host never made: page 0x200 is host-owned RAM from the start.
        d_.shared.flatmem.set(0x200, d_.shared.flatmem.get(0x200) + 1);
      } else {
        k = model::StepKind::halted;
      }
    }
    return k;
  }
  const model::RData& state() const override { return d_; }
  // One note per step, naming it: a failure must carry its own step's only.
  std::vector<std::string> notes() const override {
    return {"planted note of step " + std::to_string(n_ - 1)};
  }

 private:
  ModelTarget inner_;
  Plant plant_;
  std::size_t at_;
  std::size_t n_ = 0;
  model::RData d_;
};

TEST(Runner, ModelAgreesWithItselfOnGeneratedCases) {
  ModelTarget t("model:intended", model::Profile::intended());
  ModelTarget r("model", model::Profile::intended());
  Runner runner(t, &r);
  std::size_t steps = 0;
  for (std::uint64_t s = 1; s <= 60; ++s) {
    const generators::Case c = gen(s);
    const CaseResult res = runner.run(c);
    ASSERT_FALSE(res.failure) << "seed " << s << ": " << res.failure->summary;
    steps += res.steps;
  }
  EXPECT_GT(steps, 600u);
  // Every step was counted once in the coverage.
  std::uint64_t counted = 0;
  for (const auto& c : runner.coverage().by_handler) counted += c[0] + c[1] + c[2];
  EXPECT_EQ(counted, steps);
}

TEST(Runner, PlantedStoreIsADivergenceTheHostSees) {
  PlantedTarget t(PlantedTarget::Plant::flatmem, 0);
  ModelTarget r("model", model::Profile::intended());
  Runner runner(t, &r);
  const generators::Case c = register_kvms(2);
  const CaseResult res = runner.run(c);
  ASSERT_TRUE(res.failure);
  EXPECT_EQ(res.failure->cls, FailureClass::divergence);
  EXPECT_EQ(res.failure->principal, Z{0});
  EXPECT_EQ(res.failure->step, 0u);
  EXPECT_EQ(res.failure->field, "flatmem");
  EXPECT_EQ(res.failure->signature(), "divergence/host/flatmem/host_hvc");
  EXPECT_EQ(res.steps, 1u);  // the case stops at its first failure
  bool mentions_page = false;
  for (const auto& line : res.failure->details)
    mentions_page |= line.find("0x200") != std::string::npos;
  EXPECT_TRUE(mentions_page);
}

TEST(Runner, PlantedHaltIsAnOutcomeDifference) {
  PlantedTarget t(PlantedTarget::Plant::halt_early, 1);
  ModelTarget r("model", model::Profile::intended());
  Runner runner(t, &r);
  const generators::Case c = register_kvms(3);
  const CaseResult res = runner.run(c);
  ASSERT_TRUE(res.failure);
  EXPECT_EQ(res.failure->cls, FailureClass::outcome);
  EXPECT_EQ(res.failure->step, 1u);
  EXPECT_EQ(res.failure->field, "ok-vs-halted");
  EXPECT_EQ(res.failure->signature(), "outcome/-/ok-vs-halted/host_hvc");
  EXPECT_FALSE(res.failure->principal);
}

TEST(Runner, AFailureCarriesTheTargetsNotesOfItsOwnStep) {
  PlantedTarget t(PlantedTarget::Plant::halt_early, 2);
  ModelTarget r("model", model::Profile::intended());
  Runner runner(t, &r);
  const generators::Case c = register_kvms(4);
  const CaseResult res = runner.run(c);
  ASSERT_TRUE(res.failure);
  EXPECT_EQ(res.failure->step, 2u);
  const auto& d = res.failure->details;
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d.front(), "planted note of step 2");  // first, before any diff lines
  EXPECT_EQ(std::count(d.begin(), d.end(), "planted note of step 2"), 1);
  for (const std::string& line : d) EXPECT_EQ(line.find("of step 1"), std::string::npos) << line;
  // A passing case carries nothing over into the next failure.
  PlantedTarget late(PlantedTarget::Plant::halt_early, 9);
  Runner r2(late, &r);
  EXPECT_FALSE(r2.run(c).failure);
}

TEST(Runner, WithoutReferenceOnlyPropertiesRun) {
  PlantedTarget t(PlantedTarget::Plant::halt_early, 1);
  Runner runner(t, nullptr);
  const generators::Case c = register_kvms(3);
  const CaseResult res = runner.run(c);
  EXPECT_FALSE(res.failure);
  EXPECT_EQ(res.steps, 2u);  // a halt ends the case
}

TEST(Runner, LiteralDiffersFromIntendedAndTheVerdictIsDeterministic) {
  ModelTarget lit("model:literal", model::Profile::literal());
  ModelTarget ref("model:intended", model::Profile::intended());
  Runner runner(lit, &ref);
  int failing = 0;
  for (std::uint64_t s = 1; s <= 200; ++s) {
    const generators::Case c = gen(s);
    const CaseResult a = runner.run(c);
    if (!a.failure) continue;
    ++failing;
    const CaseResult b = runner.run(c);
    ASSERT_TRUE(b.failure);
    EXPECT_EQ(a.failure->signature(), b.failure->signature());
    EXPECT_EQ(a.failure->step, b.failure->step);
    EXPECT_EQ(a.failure->details, b.failure->details);
  }
  EXPECT_GT(failing, 0);
}

// Logs the Runner's calls: start/finish of the target under test (which may plant a difference
// at a step, like PlantedTarget), the reference's steps and resets.
class Logged final : public Target {
 public:
  Logged(std::vector<std::string>* log, const char* who, bool pipelined,
         std::optional<std::size_t> plant_at = std::nullopt)
      : inner_("model", {}), log_(log), who_(who), pipelined_(pipelined), plant_at_(plant_at) {}
  std::string name() const override { return who_; }
  std::string describe() const override { return "the model, logging the Runner's calls"; }
  void reset(const model::MachineConfig& cfg, model::OraclePtr o) override {
    log_->push_back(who_ + " reset");
    inner_.reset(cfg, std::move(o));
    d_ = inner_.state();
    n_ = 0;
    started_.reset();
  }
  model::StepKind step(const model::Op& op) override {
    log_->push_back(fmt::format("{} step {}", who_, n_));
    return run(op);
  }
  void start(const model::Op& op) override {
    if (!pipelined_) return Target::start(op);
    log_->push_back(fmt::format("{} start {}", who_, n_));
    ASSERT_FALSE(started_) << "two steps started";
    started_ = op;
  }
  model::StepKind finish() override {
    if (!pipelined_) return Target::finish();
    log_->push_back(fmt::format("{} finish {}", who_, n_));
    const model::Op op = *started_;
    started_.reset();
    return run(op);
  }
  const model::RData& state() const override { return d_; }

 private:
  model::StepKind run(const model::Op& op) {
    model::StepKind k = inner_.step(op);
    d_ = inner_.state();
    if (plant_at_ == n_++ && k == model::StepKind::ok)
      d_.shared.flatmem.set(0x200, d_.shared.flatmem.get(0x200) + 1);
    return k;
  }
  ModelTarget inner_;
  std::vector<std::string>* log_;
  std::string who_;
  bool pipelined_;
  std::optional<std::size_t> plant_at_;
  std::optional<model::Op> started_;
  std::size_t n_ = 0;
  model::RData d_;
};

// A case of `n` or more steps none of which halts.
generators::Case long_case(std::size_t n) {
  for (std::uint64_t s = 1;; ++s) {
    generators::Case c = gen(s, 30);
    if (c.ops.size() < n) continue;
    std::vector<std::string> log;
    Logged t(&log, "t", false);
    if (Runner(t, nullptr).run(c).steps == c.ops.size()) return c;
  }
}

TEST(Runner, StartsTheNextStepBeforeTheReferenceStepAndTheChecks) {
  const generators::Case c = long_case(5);
  std::vector<std::string> log;
  Logged t(&log, "t", true);
  Logged r(&log, "r", false);
  Runner runner(t, &r);
  const CaseResult res = runner.run(c);
  ASSERT_FALSE(res.failure) << res.failure->summary;
  ASSERT_EQ(res.steps, c.ops.size());
  std::vector<std::string> want = {"t reset", "r reset", "t start 0", "t finish 0"};
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    if (i + 1 < c.ops.size()) want.push_back(fmt::format("t start {}", i + 1));
    want.push_back(fmt::format("r step {}", i));
    if (i + 1 < c.ops.size()) want.push_back(fmt::format("t finish {}", i + 1));
  }
  EXPECT_EQ(log, want);
}

TEST(Runner, AFailureLeavesTheNextStepStartedAndTheNextCaseStartsOver) {
  const generators::Case c = long_case(5);
  std::vector<std::string> log;
  Logged t(&log, "t", true, 2);  // a store the host never made, after step 2
  Logged r(&log, "r", false);
  Runner runner(t, &r);
  const CaseResult res = runner.run(c);
  ASSERT_TRUE(res.failure);
  EXPECT_EQ(res.failure->step, 2u);
  EXPECT_EQ(res.failure->cls, FailureClass::divergence);
  ASSERT_GE(log.size(), 3u);
  const std::vector<std::string> tail(log.end() - 3, log.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"t finish 2", "t start 3", "r step 2"}))
      << fmt::format("{}", fmt::join(log, ", "));
  // The next case: the reset drops step 3, and the case starts at its first step.
  log.clear();
  EXPECT_TRUE(runner.run(c).failure);
  ASSERT_GE(log.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 4),
            (std::vector<std::string>{"t reset", "r reset", "t start 0", "t finish 0"}));
}

TEST(Runner, NothingIsStartedAfterAHalt) {
  // A case the model halts in before its last operation.
  generators::Case c;
  std::size_t halt_at = 0;
  for (std::uint64_t s = 1; halt_at == 0; ++s) {
    c = gen(s, 30);
    std::vector<std::string> ignored;
    Logged probe(&ignored, "t", false);
    const CaseResult res = Runner(probe, nullptr).run(c);
    if (!res.failure && res.steps >= 2 && res.steps < c.ops.size()) halt_at = res.steps - 1;
  }
  std::vector<std::string> log;
  Logged t(&log, "t", true);
  Logged r(&log, "r", false);
  const CaseResult res = Runner(t, &r).run(c);
  ASSERT_FALSE(res.failure) << res.failure->summary;
  EXPECT_EQ(res.steps, halt_at + 1);
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[log.size() - 2], fmt::format("t finish {}", halt_at));
  EXPECT_EQ(log.back(), fmt::format("r step {}", halt_at));
}

TEST(Runner, FailureClassNamesRoundTrip) {
  for (auto c : {FailureClass::outcome, FailureClass::divergence, FailureClass::invariant,
                 FailureClass::integrity, FailureClass::confidentiality, FailureClass::crash,
                 FailureClass::hang}) {
    EXPECT_EQ(failure_class_from_name(failure_class_name(c)), c);
  }
  EXPECT_STREQ(failure_class_name(FailureClass::hang), "hang");
  EXPECT_FALSE(failure_class_from_name("segfault"));
}

TEST(Check, ShrinksEachNewSignatureAndKeepsIt) {
  ModelTarget lit("model:literal", model::Profile::literal());
  ModelTarget ref("model:intended", model::Profile::intended());
  CheckOptions o;
  o.cases = 300;
  o.seed = 7;
  o.max_failures = 2;
  o.shrink_opts.max_seconds = 20;
  const CheckReport rep = run_check(lit, &ref, o);
  ASSERT_FALSE(rep.failures.empty());
  EXPECT_LE(rep.failures.size(), 2u);
  Runner runner(lit, &ref);
  for (const FoundFailure& f : rep.failures) {
    ASSERT_TRUE(f.shrink);
    EXPECT_LE(f.shrunk.ops.size(), f.original.ops.size());
    EXPECT_EQ(f.failure.signature(), f.original_failure.signature());
    const CaseResult again = runner.run(f.shrunk);
    ASSERT_TRUE(again.failure);
    EXPECT_EQ(again.failure->signature(), f.failure.signature());
    EXPECT_EQ(again.failure->step + 1, f.shrunk.ops.size());  // nothing after the failure
  }
}

// The literal profile, except that it cannot run a host hypercall with x0 = 0: the kind of
// limit a partial target has. The shrinker tries x0 = 0 for every hypercall it keeps.
class NoHvcZero final : public Target {
 public:
  std::string name() const override { return "no-hvc-zero"; }
  std::string describe() const override { return name(); }
  void reset(const model::MachineConfig& cfg, model::OraclePtr o) override {
    inner_.reset(cfg, std::move(o));
  }
  model::StepKind step(const model::Op& op) override {
    if (const auto* h = std::get_if<model::HostHvc>(&op); h && h->x[0] == 0) {
      ++refused;
      throw TargetError("no-hvc-zero: cannot run hvc 0");
    }
    return inner_.step(op);
  }
  const model::RData& state() const override { return inner_.state(); }
  int refused = 0;

 private:
  ModelTarget inner_{"model:literal", model::Profile::literal()};
};

TEST(Check, CandidatesTheTargetCannotRunAreSkippedWhileShrinking) {
  NoHvcZero lit;
  ModelTarget ref("model:intended", model::Profile::intended());
  CheckOptions o;
  o.cases = 300;
  o.seed = 7;
  o.max_failures = 1;
  o.shrink_opts.max_seconds = 20;
  const CheckReport rep = run_check(lit, &ref, o);
  ASSERT_EQ(rep.failures.size(), 1u);
  const FoundFailure& f = rep.failures[0];
  ASSERT_TRUE(f.shrink);
  EXPECT_GT(f.shrink->unrunnable, 0u);
  EXPECT_EQ(static_cast<int>(f.shrink->unrunnable), lit.refused);
  EXPECT_LT(f.shrunk.ops.size(), f.original.ops.size());
  for (const model::Op& op : f.shrunk.ops) {
    if (const auto* h = std::get_if<model::HostHvc>(&op)) {
      EXPECT_NE(h->x[0], 0);
    }
  }
  const std::string note = shrinkers::describe(*f.shrink);
  EXPECT_NE(note.find(fmt::format(", {} of them the target could not run)", lit.refused)),
            std::string::npos)
      << note;
}

TEST(Targets, NamesAreParsedOrRefusedWithOneLine) {
  std::string err;
  EXPECT_TRUE(make_target("model", &err));
  EXPECT_TRUE(make_target("model:literal+hlock", &err));
  EXPECT_FALSE(make_target("qemu-ish", &err));
  EXPECT_NE(err.find("unknown target 'qemu-ish'"), std::string::npos);
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_FALSE(make_target("model:faithful", &err));
  EXPECT_NE(err.find("faithful"), std::string::npos);
}

}  // namespace
}  // namespace hypdiff::harness
