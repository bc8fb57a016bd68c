#include "model/concurrency.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "model/init.hpp"
#include "tests/model/shared_test_util.hpp"

namespace hypdiff::model {
namespace {

using test::cleared;
using test::same_shared;
using test::set_page;

constexpr Z kS2Page = 2;
constexpr Z kHostNpt = 5;
constexpr Z kHostPoolEnd = 0x2010000;  // pool_end(0)

SingleEvent ev(Z cpu, EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0) {
  return SingleEvent{cpu, AtomicEvent{kind, {a, b, c, e}}};
}

RData state(const Profile& prof, OracleInputs o = {}) {
  return initial_state(MachineConfig{}, prof, std::make_shared<const OracleInputs>(std::move(o)));
}

// What local_map_host leaves in the host table for a host-owned RAM frame.
PtEntry host_ram_entry(Z pfn) { return PtEntry{pfn, 3, (pfn * 4096) | 0xFFF}; }

PtEntry host_pt(const Shared& s, Z gfn) { return s.npts.get(0).pt.get(gfn); }

TEST(LogEvent, PrependsAnEventOfThisCpu) {
  RData d = state(Profile::intended());
  d.curid = 3;
  log_event(d, EventKind::OMAP_IO, 1, 0x1000, 0x2000);
  log_event(d, EventKind::OGEN_VMID);
  ASSERT_EQ(d.slog.length(), 2u);
  const std::vector<SingleEvent> log = d.slog.newest(10);
  EXPECT_EQ(log[0], ev(3, EventKind::OGEN_VMID));
  EXPECT_EQ(log[1], ev(3, EventKind::OMAP_IO, 1, 0x1000, 0x2000));
}

TEST(QueryOracle, NothingScheduledLeavesTheStateAlone) {
  OracleInputs o;
  o.soracle[5] = {ev(1, EventKind::OMAP_HOST, 0x300000)};  // not at length 0
  const RData d = state(Profile::intended(), o);
  const RData q = query_oracle(d);
  EXPECT_EQ(q.slog.length(), 0u);
  EXPECT_TRUE(same_shared(q.shared, d.shared));
}

TEST(QueryOracle, PrependsTheScheduledEventsNewestFirst) {
  OracleInputs o;
  o.soracle[1] = {ev(2, EventKind::OVM_GET, 4), ev(1, EventKind::OGEN_VMID)};
  RData d = state(Profile::intended(), o);
  log_event(d, EventKind::OPT_GET, 7);
  const RData q = query_oracle(d);
  ASSERT_EQ(q.slog.length(), 3u);
  const std::vector<SingleEvent> log = q.slog.newest(10);
  EXPECT_EQ(log[0], ev(2, EventKind::OVM_GET, 4));
  EXPECT_EQ(log[1], ev(1, EventKind::OGEN_VMID));
  EXPECT_EQ(log[2], ev(0, EventKind::OPT_GET, 7));
  // No OMAP_HOST among them: the shared objects are untouched.
  EXPECT_TRUE(same_shared(q.shared, d.shared));
  EXPECT_EQ(q.halt, d.halt);
}

TEST(QueryOracle, ReplaysAnOtherCpusHostMapping) {
  OracleInputs o;
  o.soracle[0] = {ev(1, EventKind::OMAP_HOST, 0x300000)};
  const RData q = query_oracle(state(Profile::literal(), o));
  EXPECT_EQ(host_pt(q.shared, 0x300), host_ram_entry(0x300));
  EXPECT_EQ(q.slog.length(), 1u);
}

TEST(CalStateH, EmptyListIsTheIdentity) {
  const Shared s = state(Profile::literal()).shared;
  EXPECT_TRUE(same_shared(CalStateH({}, s), s));
  const Shared t = state(Profile::intended()).shared;
  EXPECT_TRUE(same_shared(CalStateH({}, t), t));
}

TEST(CalStateH, LiteralReplaysOnlyTheHead) {
  const Shared s = state(Profile::literal()).shared;
  const Shared r =
      CalStateH({ev(1, EventKind::OMAP_HOST, 0x300000), ev(2, EventKind::OMAP_HOST, 0x301000)}, s);
  EXPECT_EQ(host_pt(r, 0x300), host_ram_entry(0x300));
  EXPECT_EQ(host_pt(r, 0x301), PtEntry{});
}

TEST(CalStateH, LiteralIgnoresAHostMappingBehindAnotherEvent) {
  const Shared s = state(Profile::literal()).shared;
  const Shared r =
      CalStateH({ev(1, EventKind::OGEN_VMID), ev(2, EventKind::OMAP_HOST, 0x300000)}, s);
  EXPECT_TRUE(same_shared(r, s));
}

TEST(CalStateH, IntendedReplaysEveryHostMapping) {
  const Shared s = state(Profile::intended()).shared;
  const Shared r = CalStateH({ev(1, EventKind::OMAP_HOST, 0x300000), ev(2, EventKind::OGEN_VMID),
                              ev(2, EventKind::OMAP_HOST, 0x100000)},
                             s);
  EXPECT_EQ(host_pt(r, 0x300), host_ram_entry(0x300));
  // 0x100 lies outside RAM: a device mapping.
  EXPECT_EQ(host_pt(r, 0x100), (PtEntry{0x100, 3, 0x100000 | 0x40000000000747 | 0xC0}));
}

// With one PTE-table page left in the host pool, only the first of two mappings in different
// 2 MiB regions fits, so the replay order shows: oldest (the back of the list) first.
TEST(CalStateH, IntendedReplaysOldestFirstAndDropsTheHalt) {
  Shared s = state(Profile::intended()).shared;
  NPT host = s.npts.get(0);
  host.pt_pmd_next = kHostPoolEnd - 4096;
  s.npts.set(0, host);
  const Shared r = CalStateH({ev(1, EventKind::OMAP_HOST, 0x600000),   // newest
                              ev(1, EventKind::OMAP_HOST, 0x300000)},  // oldest
                             s);
  EXPECT_EQ(host_pt(r, 0x300), host_ram_entry(0x300));
  EXPECT_EQ(host_pt(r, 0x600), PtEntry{});
  EXPECT_EQ(r.npts.get(0).pt_pmd_next, kHostPoolEnd);
  // The failed replay cleared its locks; its halt is not this CPU's.
  EXPECT_EQ(cleared(r), (std::set<Z>{kS2Page, kHostNpt}));
}

TEST(CalStateH, LiteralKeepsTheLocksAReplayedPanicCleared) {
  Shared s = state(Profile::literal()).shared;
  set_page(s, 0x300, 1, 0, 0x40000);  // a VM's private page: map_host halts
  const Shared r = CalStateH({ev(1, EventKind::OMAP_HOST, 0x300000)}, s);
  EXPECT_EQ(cleared(r), (std::set<Z>{kS2Page}));
  EXPECT_EQ(host_pt(r, 0x300), PtEntry{});
}

TEST(Locks, LiteralChecksWithoutAcquiring) {
  RData d = state(Profile::literal());
  EXPECT_TRUE(locks(d, {kS2Page, kHostNpt}));
  d.shared.hlock.set(kHostNpt, false);
  const ZMap<bool> before = d.shared.hlock;
  EXPECT_FALSE(locks(d, {kS2Page, kHostNpt}));
  EXPECT_FALSE(locks(d, {kHostNpt}));
  EXPECT_TRUE(locks(d, {kS2Page}));
  EXPECT_TRUE(d.shared.hlock == before);
}

TEST(Locks, IntendedAcquires) {
  RData d = state(Profile::intended());
  d.shared.hlock.set(kHostNpt, false);
  d.shared.hlock.set(kS2Page, false);
  EXPECT_TRUE(locks(d, {kHostNpt}));
  EXPECT_EQ(cleared(d.shared), (std::set<Z>{kS2Page}));
  EXPECT_TRUE(locks(d, {kS2Page, kHostNpt}));
  EXPECT_TRUE(cleared(d.shared).empty());
}

TEST(Clr, ClearsInBothProfiles) {
  for (const Profile& p : {Profile::literal(), Profile::intended()}) {
    Shared s = state(p).shared;
    clr(s, {kS2Page, 22});
    EXPECT_EQ(cleared(s), (std::set<Z>{kS2Page, 22}));
    clr(s, {kS2Page});
    EXPECT_EQ(cleared(s), (std::set<Z>{kS2Page, 22}));
  }
}

}  // namespace
}  // namespace hypdiff::model
