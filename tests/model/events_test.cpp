#include "model/events.hpp"

#include <gtest/gtest.h>

#include "model/oracle_inputs.hpp"
using namespace hypdiff::model;
TEST(Events, Names) {
  EXPECT_STREQ(event_name(EventKind::OMAP_HOST), "OMAP_HOST");
  EXPECT_STREQ(event_name(EventKind::OLOAD_ENC_BUF), "OLOAD_ENC_BUF");
  EventKind k{};
  for (int i = 0; i <= static_cast<int>(EventKind::OLOAD_ENC_BUF); ++i) {
    ASSERT_TRUE(event_from_name(event_name(static_cast<EventKind>(i)), &k));
    EXPECT_EQ(static_cast<int>(k), i);
  }
  EXPECT_FALSE(event_from_name("NOPE", &k));
  SingleEvent e{1, AtomicEvent{EventKind::OMAP_HOST, {0x200000, 0, 0, 0}}};
  EXPECT_EQ(to_string(e), "cpu 1: OMAP_HOST(0x200000)");
  SingleEvent g{0, AtomicEvent{EventKind::OGEN_VMID, {}}};
  EXPECT_EQ(to_string(g), "cpu 0: OGEN_VMID()");
  SingleEvent a{2, AtomicEvent{EventKind::OASSIGN_VM, {1, 0, 5, 0}}};
  EXPECT_EQ(to_string(a), "cpu 2: OASSIGN_VM(1, 0, 5)");
}
TEST(Events, SlogRepeatStep) {
  Slog l;
  l = l.push(SingleEvent{0, AtomicEvent{EventKind::OGRANT, {1, 100, 0, 0}}}, 3, {0, 1, 0, 0});
  l = l.push(SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {7, 0, 0, 0}}});
  EXPECT_EQ(l.length(), 4u);
  auto v = l.newest(10);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].event.kind, EventKind::OMAP_HOST);
  EXPECT_EQ(v[1].event.args[1], 102);
  EXPECT_EQ(v[2].event.args[1], 101);
  EXPECT_EQ(v[3].event.args[1], 100);
  EXPECT_EQ(l.newest(2).size(), 2u);
  EXPECT_EQ(l.newest(2)[1].event.args[1], 102);
  Slog big = Slog{}.push(SingleEvent{0, AtomicEvent{EventKind::OGRANT, {1, 0, 0, 0}}}, ~0ULL >> 1,
                         {0, 1, 0, 0});
  auto b = big.newest(2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].event.args[1], static_cast<Z>((~0ULL >> 1) - 1));
  EXPECT_TRUE(Slog{}.newest(5).empty());
  EXPECT_TRUE(l.prepend({}).newest(1) == l.newest(1));
}
TEST(Oracle, Streams) {
  OracleInputs o;
  o.data[1] = {10, 20};
  o.core[1] = {7};
  EXPECT_EQ(o.doracle(1, 0), 10);
  EXPECT_EQ(o.doracle(1, 1), 20);
  EXPECT_EQ(o.doracle(1, 2), 0);
  EXPECT_EQ(o.doracle(1, -1), 0);
  EXPECT_EQ(o.doracle(2, 0), 0);
  EXPECT_EQ(o.core_doracle(1, 0), 7);
  EXPECT_EQ(o.core_doracle(1, 1), 0);
  o.fallback_seed = 42;
  EXPECT_EQ(o.doracle(1, 0), 10);
  Z a = o.doracle(1, 2), b = o.core_doracle(1, 2), c = o.doracle(2, 2), d = o.doracle(1, 3);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_GE(a, 0);
  EXPECT_LT(a, pow2(64));
  EXPECT_EQ(a, o.doracle(1, 2));
  OracleInputs o2;
  o2.fallback_seed = 43;
  EXPECT_NE(o2.doracle(1, 2), a);
}
TEST(Oracle, Schedule) {
  OracleInputs o;
  EXPECT_TRUE(o.events_at(0).empty());
  EXPECT_EQ(o.next_scheduled(0), UINT64_MAX);
  o.soracle[5] = {SingleEvent{1, AtomicEvent{EventKind::OMAP_HOST, {4096, 0, 0, 0}}}};
  EXPECT_EQ(o.events_at(5).size(), 1u);
  EXPECT_TRUE(o.events_at(4).empty());
  EXPECT_EQ(o.next_scheduled(0), 5u);
  EXPECT_EQ(o.next_scheduled(5), 5u);
  EXPECT_EQ(o.next_scheduled(6), UINT64_MAX);
}
TEST(Params, Defaults) {
  Params p;
  EXPECT_EQ(p.reg_desc_at(48), 0);
  EXPECT_EQ(p.shared_kvm_at(1), 0);
  EXPECT_EQ(p.shared_vcpu_at(1, 2), 0);
  EXPECT_EQ(p.verify_img_at(1), 1);
  p.reg_desc[48] = 5;
  p.shared_kvm[1] = 6;
  p.shared_vcpu[{1, 2}] = 7;
  p.verify_img[1] = 0;
  EXPECT_EQ(p.reg_desc_at(48), 5);
  EXPECT_EQ(p.shared_kvm_at(1), 6);
  EXPECT_EQ(p.shared_vcpu_at(1, 2), 7);
  EXPECT_EQ(p.shared_vcpu_at(2, 1), 0);
  EXPECT_EQ(p.verify_img_at(1), 0);
}

// A log of millions of nodes (one real page-table change per node) must be freed without one
// recursive call per node.
TEST(Events, LongLogsAreFreedWithoutDeepRecursion) {
  Slog l;
  for (int i = 0; i < 2'000'000; ++i)
    l = l.push(SingleEvent{0, AtomicEvent{EventKind::OPT_GET, {i, 0, 0, 0}}});
  EXPECT_EQ(l.length(), 2'000'000u);
  Slog shared_tail = l;
  l = Slog{};
  EXPECT_EQ(shared_tail.length(), 2'000'000u);
}
