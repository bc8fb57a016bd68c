#include "shrinkers/schedule.hpp"

#include <gtest/gtest.h>

#include "shrinkers/shrink.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::shrinkers {
namespace {

using generators::Case;
using testing::hvc;

model::SingleEvent map_host(model::Z addr) {
  return {1, {model::EventKind::OMAP_HOST, {addr, 0, 0, 0}}};
}

TEST(Schedule, LogLengthsFollowTheModel) {
  Case c;
  // REGISTER_KVM logs OGEN_VMID and OREG_KVM; TIMER_SET_CNTVOFF logs nothing; a vcpu_run of an
  // VM id outside the machine halts before logging; after the halt nothing logs.
  c.ops = {hvc(24), hvc(13), hvc(24), model::VcpuRun{99}, hvc(24)};
  EXPECT_EQ(log_lengths(c), (std::vector<std::uint64_t>{0, 2, 2, 4, 4, 4}));
  // Scheduled events are part of the log once a query injects them.
  c.oracle.soracle[2] = {map_host(0x300000), map_host(0x301000)};
  EXPECT_EQ(log_lengths(c), (std::vector<std::uint64_t>{0, 2, 2, 6, 6, 6}));
  c.cfg.max_vms = 0;  // refused by validate()
  EXPECT_TRUE(log_lengths(c).empty());
}

TEST(Schedule, EntriesMoveBackByWhatTheRemovedOperationsLogged) {
  Case c;
  c.ops = {hvc(24), hvc(13), hvc(24), hvc(17, 1)};
  const std::vector<std::uint64_t> lengths = log_lengths(c);
  ASSERT_EQ(lengths, (std::vector<std::uint64_t>{0, 2, 2, 4, 6}));  // VERIFY logs OVERIFY twice
  c.oracle.soracle = {{1, {map_host(0x1000)}}, {2, {map_host(0x2000)}}, {4, {map_host(0x4000)}}};
  const auto r = without_ops_keeping_schedule(c, {true, false, false, false}, lengths);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ops, (std::vector<model::Op>{hvc(13), hvc(24), hvc(17, 1)}));
  // 1 was consumed inside the removed REGISTER_KVM: it moves to where that began; 2 lands there
  // too and is dropped; 4 moves back by the two events removed.
  const std::map<std::uint64_t, std::vector<model::SingleEvent>> want{{0, {map_host(0x1000)}},
                                                                      {2, {map_host(0x4000)}}};
  EXPECT_EQ(r->oracle.soracle, want);
  // Removing an operation that logs nothing moves nothing.
  EXPECT_FALSE(without_ops_keeping_schedule(c, {false, true, false, false}, lengths).has_value());
  // Inconsistent inputs give nothing.
  EXPECT_FALSE(without_ops_keeping_schedule(c, {true}, lengths).has_value());
  EXPECT_FALSE(without_ops_keeping_schedule(c, {true, false, false, false}, {}).has_value());
}

TEST(Schedule, ShrinkKeepsAnEventAtTheStepThatNeedsIt) {
  // Fails at the VERIFY when another CPU's event is scheduled exactly at the log length the
  // VERIFY starts from: the REGISTER_KVMs before it can only go with the schedule moved along.
  Case c;
  c.ops = {hvc(24), hvc(24), hvc(24), hvc(17, 1)};
  c.oracle.soracle[6] = {map_host(0x3000)};
  const auto pred = [](const Case& x) -> std::optional<std::size_t> {
    const std::vector<std::uint64_t> lengths = log_lengths(x);
    for (std::size_t j = x.ops.size(); j-- > 0;) {
      const auto* h = std::get_if<model::HostHvc>(&x.ops[j]);
      if (h && h->x[0] == 17) {
        if (x.oracle.soracle.contains(lengths[j])) return j;
        return std::nullopt;
      }
    }
    return std::nullopt;
  };
  ASSERT_EQ(pred(c), 3u);
  const ShrinkResult r = shrink(c, pred);
  EXPECT_EQ(r.c.ops, (std::vector<model::Op>{hvc(17)}));
  const std::map<std::uint64_t, std::vector<model::SingleEvent>> want{{0, {map_host(0)}}};
  EXPECT_EQ(r.c.oracle.soracle, want);
}

}  // namespace
}  // namespace hypdiff::shrinkers
