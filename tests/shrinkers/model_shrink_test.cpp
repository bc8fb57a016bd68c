// Shrinking real divergences: the literal and the intended profile of the model run the same
// generated case; the failure is the first step where their outcome kinds or what principals
// 0..3 observe differ. Set HYPDIFF_SHRINK_SAMPLES=n to shrink n such cases and print the
// distribution of shrunk lengths.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "generators/case_gen.hpp"
#include "model/init.hpp"
#include "oracles/projection.hpp"
#include "shrinkers/op_fields.hpp"
#include "shrinkers/shrink.hpp"

namespace hypdiff::shrinkers {
namespace {

using generators::Case;

struct Divergence {
  std::size_t step = 0;
  bool kinds = false;  // the step kinds differ (else an observation does)
  model::Handler handler = model::Handler::set_reg;
};

std::optional<Divergence> first_divergence(const Case& c) {
  const auto oracle = std::make_shared<const model::OracleInputs>(c.oracle);
  model::RData a = model::initial_state(c.cfg, model::Profile::literal(), oracle);
  model::RData b = model::initial_state(c.cfg, model::Profile::intended(), oracle);
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    model::StepResult ra = model::apply(a, c.ops[i]);
    model::StepResult rb = model::apply(b, c.ops[i]);
    const model::Handler h = model::handler_of(c.ops[i]);
    if (ra.kind != rb.kind) return Divergence{i, true, h};
    if (!ra.after) continue;  // undefined in both: the states stay
    for (model::Z p = 0; p <= 3; ++p)
      if (!oracles::obs_eq(p, *ra.after, *rb.after)) return Divergence{i, false, h};
    a = std::move(*ra.after);
    b = std::move(*rb.after);
  }
  return std::nullopt;
}

// The same failure: a divergence of the same sort, at a step running the same handler.
Predicate same_divergence(const Divergence& want) {
  return [want](const Case& c) -> std::optional<std::size_t> {
    const std::optional<Divergence> d = first_divergence(c);
    if (!d || d->kinds != want.kinds || d->handler != want.handler) return std::nullopt;
    return d->step;
  };
}

struct Sample {
  std::size_t original = 0;
  ShrinkResult r;
};

// Shrinks the first `n` diverging cases from seed 0 on.
std::vector<Sample> shrink_divergences(int n, const ShrinkOptions& opts) {
  std::vector<Sample> out;
  generators::GenOptions g;
  for (std::uint64_t seed = 0; static_cast<int>(out.size()) < n && seed < 1000; ++seed) {
    const Case c = generators::generate_case(g, seed);
    const std::optional<Divergence> d = first_divergence(c);
    if (!d) continue;
    out.push_back(Sample{c.ops.size(), shrink(c, same_divergence(*d), opts)});
  }
  return out;
}

TEST(ShrinkModel, DivergencesShrinkAndStillDiverge) {
  ShrinkOptions opts;
  opts.max_candidates = 1500;
  opts.max_seconds = 3;
  // The first 30 diverging seeds include whole VM lifecycles and scheduled events of other CPUs;
  // together they shrink in well under a second in a Release build.
  const std::vector<Sample> samples = shrink_divergences(30, opts);
  ASSERT_EQ(samples.size(), 30u);
  std::size_t before = 0, after = 0;
  for (const Sample& s : samples) {
    before += s.original;
    after += s.r.c.ops.size();
    const std::optional<Divergence> d = first_divergence(s.r.c);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->step, s.r.failing_step);
    EXPECT_EQ(s.r.failing_step + 1, s.r.c.ops.size());
    EXPECT_LE(s.r.c.ops.size(), s.original);
    EXPECT_EQ(s.r.stats.final_ops, s.r.c.ops.size());
    EXPECT_LE(s.r.stats.accepted, s.r.stats.candidates);
  }
  EXPECT_LT(after * 4, before);
}

TEST(ShrinkModel, LengthDistribution) {
  const char* env = std::getenv("HYPDIFF_SHRINK_SAMPLES");
  if (!env) GTEST_SKIP() << "set HYPDIFF_SHRINK_SAMPLES=n to measure";
  const std::vector<Sample> samples = shrink_divergences(std::atoi(env), ShrinkOptions{});
  ASSERT_FALSE(samples.empty());
  std::vector<std::size_t> len, orig, calls;
  double secs = 0;
  for (const Sample& s : samples) {
    len.push_back(s.r.c.ops.size());
    std::printf("case: %zu -> %zu ops, %zu calls (%zu kept), %.3f s%s\n", s.original,
                s.r.c.ops.size(), s.r.stats.candidates, s.r.stats.accepted, s.r.stats.seconds,
                s.r.stats.budget_exhausted ? ", budget spent" : "");
    orig.push_back(s.original);
    calls.push_back(s.r.stats.candidates);
    secs += s.r.stats.seconds;
    EXPECT_TRUE(first_divergence(s.r.c).has_value());
  }
  const auto median = [](std::vector<std::size_t> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "shrunk %zu cases: length median %zu max %zu (original median %zu max %zu); "
      "predicate calls median %zu max %zu; %.2f s in total\n",
      samples.size(), median(len), *std::max_element(len.begin(), len.end()), median(orig),
      *std::max_element(orig.begin(), orig.end()), median(calls),
      *std::max_element(calls.begin(), calls.end()), secs);
  const auto longest = std::max_element(
      samples.begin(), samples.end(),
      [](const auto& a, const auto& b) { return a.r.c.ops.size() < b.r.c.ops.size(); });
  std::printf("longest result:\n");
  for (const model::Op& op : longest->r.c.ops) std::printf("  %s\n", model::to_string(op).c_str());
  std::printf("lengths:");
  for (std::size_t l : len) std::printf(" %zu", l);
  std::printf("\n");
}

// A failure that needs one operation of a given type, and nothing else, shrinks to that one
// operation with every field 0 and no oracle answers, whatever case it starts from.
RC_GTEST_PROP(ShrinkProp, OneOperationOfTheTypeRemains, ()) {
  generators::GenOptions g;
  g.max_ops = 30;
  const Case c = *generators::case_gen(g);
  RC_PRE(!c.ops.empty());
  const std::size_t type = c.ops[*rc::gen::inRange<std::size_t>(0, c.ops.size())].index();
  const auto first_of_type = [type](const Case& x) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < x.ops.size(); ++i)
      if (x.ops[i].index() == type) return i;
    return std::nullopt;
  };
  const ShrinkResult r = shrink(c, first_of_type);
  RC_ASSERT(r.c.ops.size() == 1u);
  RC_ASSERT(r.c.ops[0].index() == type);
  for (int f = 0; f < field_count(r.c.ops[0]); ++f) RC_ASSERT(get_field(r.c.ops[0], f) == 0);
  RC_ASSERT(r.c.oracle == model::OracleInputs{});
  RC_ASSERT(r.failing_step == 0u);
}

}  // namespace
}  // namespace hypdiff::shrinkers
