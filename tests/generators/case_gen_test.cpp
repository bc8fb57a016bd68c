#include "generators/case_gen.hpp"

#include <gtest/gtest.h>

#include <map>

#include "model/init.hpp"

namespace hypdiff::generators {
namespace {

model::RData replay(const Case& c, const model::Profile& p, int* ok_runs = nullptr,
                    bool* verified = nullptr) {
  model::RData d =
      model::initial_state(c.cfg, p, std::make_shared<const model::OracleInputs>(c.oracle));
  for (const model::Op& op : c.ops) {
    model::StepResult r = model::apply(d, op);
    if (!r.after) continue;
    if (ok_runs && std::holds_alternative<model::VcpuRun>(op) && r.kind == model::StepKind::ok)
      ++*ok_runs;
    d = std::move(*r.after);
    for (model::Z v = 1; verified && v <= c.cfg.max_vms; ++v)
      if (d.shared.vminfos.get(v).VS.vm_state == model::k::VERIFIED) *verified = true;
  }
  return d;
}

TEST(CaseGen, SameSeedSameCase) {
  GenOptions o;
  const Case a = generate_case(o, 42), b = generate_case(o, 42);
  ASSERT_EQ(a.ops.size(), b.ops.size());
  for (std::size_t i = 0; i < a.ops.size(); ++i) EXPECT_EQ(a.ops[i], b.ops[i]);
  EXPECT_EQ(a.oracle, b.oracle);
}

TEST(CaseGen, DrawsOnlyTheAllowedHandlersAndStillBootsVms) {
  using model::Handler;
  using model::handler_bit;
  GenOptions o;
  o.min_ops = 20;
  o.handlers = handler_bit(Handler::host_hvc) | handler_bit(Handler::host_npt) |
               handler_bit(Handler::mem_store) | handler_bit(Handler::set_reg);
  std::map<Handler, int> seen;
  std::size_t ops = 0;
  bool verified = false;
  for (std::uint64_t s = 0; s < 100; ++s) {
    const Case c = generate_case(o, s);
    ops += c.ops.size();
    for (const model::Op& op : c.ops) ++seen[model::handler_of(op)];
    replay(c, o.profile, nullptr, &verified);
  }
  EXPECT_EQ(seen.size(), 4u);  // each allowed handler, and no other
  for (const auto& [h, n] : seen) EXPECT_TRUE(o.handlers & handler_bit(h)) << handler_name(h);
  EXPECT_EQ(seen.count(Handler::mem_load), 0u);
  EXPECT_GT(seen[Handler::mem_store], 0);
  EXPECT_GT(ops, 100u * 10u);  // only halts end a host-only case early
  EXPECT_TRUE(verified);       // the boot protocol is all hypercalls

  // Only VM exits allowed: the host cannot act at all, so cases are empty.
  o.handlers = handler_bit(Handler::vm_exit);
  EXPECT_TRUE(generate_case(o, 1).ops.empty());
  EXPECT_EQ(model::handler_list(o.handlers), "vm_exit");
  EXPECT_EQ(model::handler_list(0), "none");
  EXPECT_EQ(model::handler_list(handler_bit(Handler::host_hvc) | handler_bit(Handler::set_reg)),
            "host_hvc, set_reg");
}

TEST(CaseGen, LengthStaysWithinTheOptions) {
  GenOptions o;
  o.min_ops = 3;
  o.max_ops = 7;
  for (std::uint64_t s = 0; s < 50; ++s) {
    const Case c = generate_case(o, s);
    EXPECT_LE(c.ops.size(), 7u);
    EXPECT_GE(c.ops.size(), 1u);  // a halt may end a case early
  }
}

// The oracle answers written during generation must not change what earlier steps consumed: a
// replay from the final oracle reaches the same state twice, and lifecycles do complete.
TEST(CaseGen, ReplaysDeterministicallyAndReachesBootedVms) {
  GenOptions o;
  int ok_runs = 0;
  bool verified = false;
  for (std::uint64_t s = 0; s < 150; ++s) {
    const Case c = generate_case(o, s);
    const model::RData a = replay(c, o.profile, &ok_runs, &verified);
    const model::RData b = replay(c, o.profile);
    EXPECT_EQ(a.shared.core_data, b.shared.core_data);
    EXPECT_EQ(a.shared.s2page, b.shared.s2page);
    EXPECT_EQ(a.halt, b.halt);
  }
  EXPECT_TRUE(verified);
  EXPECT_GT(ok_runs, 0);
}

}  // namespace
}  // namespace hypdiff::generators
