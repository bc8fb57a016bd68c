#include "model/pmap.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace hypdiff::model {
namespace {

using Ops = std::vector<std::pair<std::uint64_t, int>>;  // value < 0 means erase

// Keys drawn from a small range collide often; a few huge keys exercise deep tries.
rc::Gen<std::uint64_t> key_gen() {
  return rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(0, 64),
                        rc::gen::arbitrary<std::uint64_t>());
}

std::pair<PMap<int>, std::map<std::uint64_t, int>> build(const Ops& ops) {
  PMap<int> m;
  std::map<std::uint64_t, int> ref;
  for (auto [k, v] : ops) {
    if (v < 0) {
      m = m.erase(k);
      ref.erase(k);
    } else {
      m = m.set(k, v);
      ref[k] = v;
    }
  }
  return {m, ref};
}

Ops ops_gen_value() {
  return *rc::gen::container<Ops>(rc::gen::pair(key_gen(), rc::gen::inRange(-3, 5)));
}

RC_GTEST_PROP(PMap, BehavesLikeStdMap, ()) {
  const Ops ops = ops_gen_value();
  auto [m, ref] = build(ops);
  RC_ASSERT(m.size() == ref.size());
  for (auto [k, v] : ref) {
    const int* p = m.find(k);
    RC_ASSERT(p != nullptr);
    RC_ASSERT(*p == v);
  }
  std::map<std::uint64_t, int> seen;
  m.for_each([&](std::uint64_t k, int v) { seen[k] = v; });
  RC_ASSERT(seen == ref);
  for (auto [k, v] : ops) RC_ASSERT((m.find(k) != nullptr) == (ref.count(k) == 1));
}

RC_GTEST_PROP(PMap, EqualityIsSetEqualityWhateverTheOrder, ()) {
  const Ops ops = ops_gen_value();
  auto [a, ref] = build(ops);
  Ops rebuilt;
  for (auto it = ref.rbegin(); it != ref.rend(); ++it) rebuilt.emplace_back(it->first, it->second);
  auto [b, ref2] = build(rebuilt);
  RC_ASSERT(a == b);
  if (!ref.empty()) {
    const auto k = ref.begin()->first;
    RC_ASSERT(!(a == b.set(k, ref.begin()->second + 1)));
    RC_ASSERT(!(a == b.erase(k)));
  }
}

RC_GTEST_PROP(PMap, DiffReportsExactlyTheDifferingKeys, ()) {
  const Ops base = ops_gen_value();
  const Ops more = ops_gen_value();
  auto [a, ra] = build(base);
  Ops all = base;
  all.insert(all.end(), more.begin(), more.end());
  auto [b, rb] = build(all);  // b shares structure with a's history
  std::set<std::uint64_t> expect;
  for (auto [k, v] : ra)
    if (!rb.count(k) || rb[k] != v) expect.insert(k);
  for (auto [k, v] : rb)
    if (!ra.count(k)) expect.insert(k);
  std::set<std::uint64_t> got;
  PMap<int>::diff(a, b, [&](std::uint64_t k, const int* x, const int* y) {
    RC_ASSERT(got.insert(k).second);
    RC_ASSERT((x != nullptr) == (ra.count(k) == 1));
    RC_ASSERT((y != nullptr) == (rb.count(k) == 1));
    if (x) RC_ASSERT(*x == ra[k]);
    if (y) RC_ASSERT(*y == rb[k]);
  });
  RC_ASSERT(got == expect);
}

// In-place updates must never leak into snapshots taken earlier, and must keep the canonical
// shape (a map built in place equals the same map built functionally).
RC_GTEST_PROP(PMap, InPlaceUpdatesRespectSnapshots, ()) {
  const Ops ops = ops_gen_value();
  PMap<int> m;
  std::map<std::uint64_t, int> ref;
  std::vector<std::pair<PMap<int>, std::map<std::uint64_t, int>>> snapshots;
  for (auto [k, v] : ops) {
    if (*rc::gen::inRange(0, 4) == 0) snapshots.emplace_back(m, ref);
    if (v < 0) {
      m.remove(k);
      ref.erase(k);
    } else {
      m.assign(k, v);
      ref[k] = v;
    }
  }
  snapshots.emplace_back(m, ref);
  for (const auto& [snap, expect] : snapshots) {
    RC_ASSERT(snap.size() == expect.size());
    std::map<std::uint64_t, int> seen;
    snap.for_each([&](std::uint64_t k, int v) { seen[k] = v; });
    RC_ASSERT(seen == expect);
    Ops rebuilt(expect.begin(), expect.end());
    RC_ASSERT(build(rebuilt).first == snap);
  }
}

TEST(PMap, OldVersionsAreUntouched) {
  PMap<int> a = PMap<int>().set(1, 10).set(2, 20);
  PMap<int> b = a.set(1, 11).erase(2);
  EXPECT_EQ(*a.find(1), 10);
  EXPECT_EQ(*a.find(2), 20);
  EXPECT_EQ(*b.find(1), 11);
  EXPECT_EQ(b.find(2), nullptr);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(b.size(), 1u);
}

TEST(PMap, SettingTheSameValueSharesTheTree) {
  PMap<int> a = PMap<int>().set(7, 1);
  EXPECT_TRUE(a.set(7, 1).shares_root(a));
  EXPECT_FALSE(a.set(7, 2).shares_root(a));
}

}  // namespace
}  // namespace hypdiff::model
