#include "model/pmap.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/z.hpp"

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

// ---- The node representation: one block per node, plain reference counts ----------------------
// These tests reach into the nodes through PMapProbe (a friend of PMap, defined only here). Under
// HYPDIFF_SANITIZE (ci/test) a count that is too low shows up as a use-after-free or double free;
// one that is too high as a leak (LSan) and, in any build, as Tracked::live above zero.

// A value that counts its live copies, owns heap memory (so a double destroy is visible to ASan)
// and can be told to fail its N-th copy.
struct CopyFailed {};
struct Tracked {
  static inline long live = 0;
  static inline long copies_before_failure = -1;  // 0: the next copy throws; < 0: never
  int v = 0;
  std::string pad;

  explicit Tracked(int x) : v(x), pad(std::to_string(x) + std::string(24, '.')) { ++live; }
  Tracked(const Tracked& o) : v(o.v), pad(o.pad) {
    if (copies_before_failure == 0) throw CopyFailed{};
    if (copies_before_failure > 0) --copies_before_failure;
    ++live;
  }
  Tracked(Tracked&& o) noexcept : v(o.v), pad(std::move(o.pad)) { ++live; }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) noexcept = default;
  ~Tracked() { --live; }
  friend bool operator==(const Tracked& a, const Tracked& b) {
    return a.v == b.v && a.pad == b.pad;
  }
};

}  // namespace

template <class T>
struct PMapProbe {
  using M = PMap<T>;
  using Node = typename M::Node;

  // Checks every node reachable from the maps: slot maps disjoint, non-empty nodes, entries within
  // capacity and aligned, exactly one kid slot per kid, no one-entry leaf below the root, each
  // entry at the place its hash says, each map's size, and `refs` equal to the number of kid
  // slots and maps pointing at the node (exact: the maps given must be all that hold nodes).
  // Returns "" or what is wrong.
  static std::string audit(const std::vector<const M*>& maps) {
    std::map<const Node*, std::uint32_t> indegree;
    std::set<const Node*> seen;
    for (const M* m : maps) {
      if ((m->root_ == nullptr) != (m->size_ == 0)) return "root and size disagree";
      if (m->root_ != nullptr) ++indegree[m->root_];
      std::size_t entries = 0;
      std::string why = walk(m->root_, 0, 0, true, seen, indegree, entries);
      if (!why.empty()) return why;
      if (entries != m->size_)
        return "size " + std::to_string(m->size_) + " but " + std::to_string(entries) + " entries";
    }
    for (auto [n, d] : indegree) {
      if (n->refs != d) {
        return "refs " + std::to_string(n->refs) + " != in-degree " + std::to_string(d);
      }
    }
    return "";
  }

  // The nodes from the root down to the one holding key (empty when absent).
  static std::vector<const Node*> path(const M& m, std::uint64_t key) {
    std::vector<const Node*> out;
    const std::uint64_t h = M::hash(key);
    const Node* n = m.root_;
    for (unsigned shift = 0; n != nullptr; shift += M::kBits) {
      out.push_back(n);
      const std::uint32_t bit = M::bit_of(h, shift);
      if (n->datamap & bit) {
        if (M::data(n)[M::index(n->datamap, bit)].key == key) return out;
        return {};
      }
      if (!(n->nodemap & bit)) return {};
      n = M::kids(n)[M::index(n->nodemap, bit)];
    }
    return {};
  }
  static std::vector<const Node*> kids(const Node* n) {
    return std::vector<const Node*>(M::kids(n), M::kids(n) + M::count(n->nodemap));
  }
  static std::uint32_t refs(const Node* n) { return n->refs; }
  static unsigned data_cap(const Node* n) { return n->data_cap; }
  static std::uint64_t hash(std::uint64_t key) { return M::hash(key); }

 private:
  static std::string walk(const Node* n, unsigned depth, std::uint64_t prefix, bool root,
                          std::set<const Node*>& seen, std::map<const Node*, std::uint32_t>& indeg,
                          std::size_t& entries) {
    if (n == nullptr) return "";
    const unsigned nd = M::count(n->datamap), nk = M::count(n->nodemap);
    entries += nd;
    if (depth > 12) return "deeper than 13 levels";
    if (n->datamap & n->nodemap) return "a bit in both maps";
    if (nd + nk == 0) return "empty node";
    if (!root && nd == 1 && nk == 0) return "one-entry leaf below the root";
    if (nd > n->data_cap || n->data_cap > 32) return "data over capacity";
    if (nk != n->kid_cap) return "kid slots != kids";
    if (reinterpret_cast<std::uintptr_t>(M::data(n)) % alignof(typename M::Entry) != 0) {
      return "misaligned entries";
    }
    if (reinterpret_cast<std::uintptr_t>(M::kids(n)) % alignof(Node*) != 0) {
      return "misaligned kids";
    }
    const unsigned shift = depth * M::kBits;
    const std::uint64_t mask = (std::uint64_t{1} << shift) - 1;
    unsigned i = 0;
    for (std::uint32_t rest = n->datamap; rest != 0; rest &= rest - 1, ++i) {
      const std::uint64_t h = M::hash(M::data(n)[i].key);
      if ((h & mask) != prefix || M::bit_of(h, shift) != (rest & (~rest + 1))) {
        return "entry out of place";
      }
    }
    i = 0;
    const bool first_visit = seen.insert(n).second;
    for (std::uint32_t rest = n->nodemap; rest != 0; rest &= rest - 1, ++i) {
      const Node* k = M::kids(n)[i];
      if (k == nullptr) return "null kid";
      if (first_visit) ++indeg[k];
      const auto frag = static_cast<std::uint64_t>(std::countr_zero(rest));
      std::string why = walk(k, depth + 1, prefix | (frag << shift), false, seen, indeg, entries);
      if (!why.empty()) return why;
    }
    return "";
  }
};

namespace {

using TMap = PMap<Tracked>;
using Ref = std::map<std::uint64_t, int>;
using Probe = PMapProbe<Tracked>;

// Exact contents: size, find for every key of ref, and for_each visiting exactly ref.
bool same(const TMap& m, const Ref& ref) {
  if (m.size() != ref.size()) return false;
  for (auto [k, v] : ref) {
    const Tracked* p = m.find(k);
    if (p == nullptr || !(*p == Tracked(v))) return false;
  }
  Ref seen;
  m.for_each([&](std::uint64_t k, const Tracked& t) { seen[k] = t.v; });
  return seen == ref;
}

std::set<std::uint64_t> differing(const Ref& a, const Ref& b) {
  std::set<std::uint64_t> out;
  for (auto [k, v] : a)
    if (!b.count(k) || b.at(k) != v) out.insert(k);
  for (auto [k, v] : b)
    if (!a.count(k)) out.insert(k);
  return out;
}

// Four handles and their std::map models under random in-place and functional updates, copies,
// moves and resets: after each operation every handle holds exactly its model and the audit
// passes; at the end no value is left alive (a leaked node holds at least one entry).
RC_GTEST_PROP(PMapNodes, PoolOfHandlesMatchesStdMap, ()) {
  const long live_before = Tracked::live;
  {
    std::vector<TMap> h(4);
    std::vector<Ref> ref(4);
    const int range = *rc::gen::element(40, 2000, 0);  // 0: any 64-bit key
    const int ops = *rc::gen::inRange(1, 300);
    for (int op = 0; op < ops; ++op) {
      const auto i = *rc::gen::inRange<std::size_t>(0, 4);
      const auto j = *rc::gen::inRange<std::size_t>(0, 4);
      const std::uint64_t k = range == 0 ? *rc::gen::arbitrary<std::uint64_t>()
                                         : *rc::gen::inRange<std::uint64_t>(0, range);
      const int v = *rc::gen::inRange(0, 5);
      switch (*rc::gen::inRange(0, 11)) {
        case 0:
        case 1:
          h[i].assign(k, Tracked(v));
          ref[i][k] = v;
          break;
        case 2:
          h[i].remove(k);
          ref[i].erase(k);
          break;
        case 3:
          if (!ref[i].empty()) {  // a present key: exercises collapse on the way back up
            auto it = ref[i].begin();
            std::advance(it, *rc::gen::inRange<std::size_t>(0, ref[i].size()));
            const std::uint64_t key = it->first;
            h[i].remove(key);
            ref[i].erase(key);
          }
          break;
        case 4:
          h[j] = h[i].set(k, Tracked(v));
          ref[j] = ref[i];
          ref[j][k] = v;
          break;
        case 5:
          h[j] = h[i].erase(k);
          ref[j] = ref[i];
          ref[j].erase(k);
          break;
        case 6:
          h[j] = h[i];
          ref[j] = ref[i];
          break;
        case 7:
          if (i != j) {
            h[j] = std::move(h[i]);
            ref[j] = std::move(ref[i]);
            ref[i].clear();
            RC_ASSERT(h[i].empty());  // a moved-from map is empty
          }
          break;
        case 8: {
          const TMap& self = h[i];
          h[i] = self;
          break;
        }
        case 9:
          h[i] = TMap();
          ref[i].clear();
          break;
        case 10: {
          std::set<std::uint64_t> got;
          TMap::diff(h[i], h[j], [&](std::uint64_t key, const Tracked* x, const Tracked* y) {
            RC_ASSERT(got.insert(key).second);
            RC_ASSERT((x != nullptr) == (ref[i].count(key) == 1));
            RC_ASSERT((y != nullptr) == (ref[j].count(key) == 1));
            if (x != nullptr) RC_ASSERT(x->v == ref[i].at(key));
            if (y != nullptr) RC_ASSERT(y->v == ref[j].at(key));
          });
          RC_ASSERT(got == differing(ref[i], ref[j]));
          RC_ASSERT((h[i] == h[j]) == (ref[i] == ref[j]));
          break;
        }
      }
      RC_ASSERT(Probe::audit({&h[0], &h[1], &h[2], &h[3]}) == std::string());
      for (std::size_t x = 0; x < 4; ++x) RC_ASSERT(same(h[x], ref[x]));
    }
  }
  RC_ASSERT(Tracked::live == live_before);
}

TEST(PMapNodes, AuditCountsEveryHolder) {
  PMap<int> a;
  for (std::uint64_t k = 0; k < 100; ++k) a.assign(k, static_cast<int>(k));
  const PMap<int> b = a;
  const PMap<int> c = a.set(5, -5);
  EXPECT_EQ(PMapProbe<int>::audit({&a, &b, &c}), "");
  // The root is held by a and b; leaving b out of the audit makes its count one too high.
  EXPECT_EQ(PMapProbe<int>::audit({&a, &c}), "refs 2 != in-degree 1");
  EXPECT_EQ(PMapProbe<int>::refs(PMapProbe<int>::path(a, 5)[0]), 2u);
  EXPECT_EQ(PMapProbe<int>::refs(PMapProbe<int>::path(c, 5)[0]), 1u);
}

// Number of nodes on the path to key in a canonical trie of `keys`: one more than the longest run
// of 5-bit hash fragments key shares with another key.
std::size_t expected_depth(std::uint64_t key, const std::vector<std::uint64_t>& keys) {
  const std::uint64_t h = PMapProbe<int>::hash(key);
  unsigned longest = 0;
  for (std::uint64_t other : keys) {
    if (other == key) continue;
    const std::uint64_t x = h ^ PMapProbe<int>::hash(other);
    longest = std::max(longest, static_cast<unsigned>(std::countr_zero(x)) / 5 + 1);
  }
  return longest + (keys.size() > 1 ? 0 : 1);
}

// A write into a map that shares its root copies exactly the nodes on the key's path, sharing
// every other kid; a second write to the now unshared path changes it in place.
TEST(PMapNodes, TransientWritesCopyThePathOnceThenWriteInPlace) {
  using P = PMapProbe<int>;
  PMap<int> m;
  std::vector<std::uint64_t> keys;
  for (std::uint64_t k = 0; k < 1000; ++k) {
    m.assign(k, static_cast<int>(k));
    keys.push_back(k);
  }
  for (std::uint64_t k :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{500}, std::uint64_t{999}}) {
    const PMap<int> s = m;
    const auto before = P::path(m, k);
    ASSERT_EQ(before.size(), expected_depth(k, keys)) << k;
    ASSERT_GE(before.size(), 2u);
    m.assign(k, -1);
    const auto after = P::path(m, k);
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t d = 0; d < after.size(); ++d) {
      EXPECT_NE(after[d], before[d]) << "level " << d;
      EXPECT_EQ(P::refs(after[d]), 1u);
      const auto ka = P::kids(after[d]), kb = P::kids(before[d]);
      ASSERT_EQ(ka.size(), kb.size());
      for (std::size_t i = 0; i < ka.size(); ++i) {
        if (d + 1 < after.size() && ka[i] == after[d + 1]) {
          EXPECT_EQ(kb[i], before[d + 1]);
        } else {
          EXPECT_EQ(ka[i], kb[i]);
          EXPECT_EQ(P::refs(ka[i]), 2u);  // held by the old and the new parent
        }
      }
    }
    EXPECT_EQ(*s.find(k), static_cast<int>(k));
    EXPECT_EQ(*m.find(k), -1);
    m.assign(k, -2);
    EXPECT_EQ(P::path(m, k), after);
    EXPECT_EQ(*m.find(k), -2);
    EXPECT_EQ(*s.find(k), static_cast<int>(k));
    EXPECT_EQ(P::audit({&m, &s}), "");
    m.assign(k, static_cast<int>(k));
  }
  EXPECT_EQ(m.size(), 1000u);
}

// A node filled in place grows its entry slots by doubling; a copy of it is exact-fit.
TEST(PMapNodes, InPlaceGrowthLeavesSlackOnlyInUnsharedNodes) {
  using P = PMapProbe<int>;
  PMap<int> m;
  std::vector<std::uint64_t> root_keys;  // keys whose first fragments all differ: all in the root
  std::uint32_t used = 0;
  for (std::uint64_t k = 0; root_keys.size() < 5; ++k) {
    const std::uint32_t bit = std::uint32_t{1} << (P::hash(k) & 31U);
    if (used & bit) continue;
    used |= bit;
    root_keys.push_back(k);
  }
  for (std::size_t i = 0; i < root_keys.size(); ++i) {
    m.assign(root_keys[i], static_cast<int>(i));
  }
  const auto* root = P::path(m, root_keys[0])[0];
  EXPECT_EQ(P::path(m, root_keys[4]).size(), 1u);
  EXPECT_EQ(P::data_cap(root), 8u);  // 1, 2, 4, 8: doubled when full
  const PMap<int> s = m;
  const PMap<int> copy = s.set(root_keys[0], 100);
  EXPECT_EQ(P::data_cap(P::path(copy, root_keys[0])[0]), 5u);
  EXPECT_EQ(P::audit({&m, &s, &copy}), "");
  EXPECT_TRUE(copy == m.set(root_keys[0], 100));
}

// The inverse of PMap's hash (the splitmix64 finalizer), to make keys with chosen hashes.
std::uint64_t unhash(std::uint64_t x) {
  const auto inverse = [](std::uint64_t c) {
    std::uint64_t y = c;  // Newton's iteration doubles the correct low bits each step
    for (int i = 0; i < 6; ++i) y *= 2 - c * y;
    return y;
  };
  x ^= (x >> 31) ^ (x >> 62);
  x *= inverse(0x94d049bb133111ebULL);
  x ^= (x >> 27) ^ (x >> 54);
  x *= inverse(0xbf58476d1ce4e5b9ULL);
  x ^= (x >> 30) ^ (x >> 60);
  return x;
}

// Sixteen keys whose hashes share their low 60 bits sit at the bottom of a 13-level path;
// erasing them one by one in any order keeps the canonical shape (equal to a fresh build).
TEST(PMapNodes, DeepestPathsSurviveErasureInAnyOrder) {
  using P = PMapProbe<int>;
  std::vector<std::uint64_t> keys;
  for (std::uint64_t top = 0; top < 16; ++top) {
    const std::uint64_t h = (top << 60) | 0x0123456789abcdeULL;
    keys.push_back(unhash(h));
    ASSERT_EQ(P::hash(keys.back()), h);
  }
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    PMap<int> m;
    for (std::uint64_t k : keys) m.assign(k, static_cast<int>(k & 0xffff));
    for (std::uint64_t k : keys) ASSERT_EQ(P::path(m, k).size(), 13u);
    const PMap<int> full = m;
    std::vector<std::uint64_t> order = keys;
    std::shuffle(order.begin(), order.end(), rng);
    std::set<std::uint64_t> left(keys.begin(), keys.end());
    for (std::uint64_t k : order) {
      if (round % 2 == 0) {
        m.remove(k);
      } else {
        m = m.erase(k);
      }
      left.erase(k);
      PMap<int> fresh;  // built functionally, in the opposite key order
      for (auto it = left.rbegin(); it != left.rend(); ++it) {
        fresh = fresh.set(*it, static_cast<int>(*it & 0xffff));
      }
      ASSERT_TRUE(m == fresh);
      ASSERT_EQ(m.size(), left.size());
      ASSERT_EQ(m.find(k), nullptr);
      for (std::uint64_t x : left) ASSERT_EQ(P::path(m, x).size(), left.size() == 1 ? 1u : 13u);
      ASSERT_EQ(P::audit({&m, &full, &fresh}), "");
    }
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(full.size(), 16u);
  }
}

// Entry slots sit at the alignment of the value type, whatever it is.
struct S2PageLike {  // the size of the model's S2Page (48 bytes)
  std::uint64_t f[6];
  friend bool operator==(const S2PageLike&, const S2PageLike&) = default;
};
struct alignas(32) Wide {
  std::uint64_t a;
  friend bool operator==(const Wide&, const Wide&) = default;
};

template <class T, class Make>
void check_layout(Make make) {
  PMap<T> m;
  for (std::uint64_t k = 0; k < 3000; ++k) m.assign(k * 7, make(k));
  const PMap<T> s = m;
  for (std::uint64_t k = 0; k < 3000; k += 3) m.remove(k * 7);  // in place, then shared copies
  m = m.set(7, make(999999));
  for (std::uint64_t k = 0; k < 3000; ++k) {
    const T* p = m.find(k * 7);
    if (k == 1) {
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(*p == make(999999));
    } else if (k % 3 == 0) {
      EXPECT_EQ(p, nullptr);
    } else {
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(*p == make(k)) << k;
    }
    const T* q = s.find(k * 7);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(*q == make(k)) << k;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % alignof(T), 0u);
    if (p != nullptr) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(T), 0u);
    }
  }
  EXPECT_EQ(m.size(), 2000u);
  EXPECT_EQ(PMapProbe<T>::audit({&m, &s}), "");
}

TEST(PMapNodes, ValuesOfEveryAlignmentRoundTrip) {
  static_assert(alignof(Z) == 16 && alignof(Wide) == 32 && sizeof(S2PageLike) == 48);
  check_layout<Z>([](std::uint64_t k) { return static_cast<Z>(k) << 70; });
  check_layout<S2PageLike>([](std::uint64_t k) {
    return S2PageLike{{k, k + 1, k + 2, k + 3, k + 4, ~k}};
  });
  check_layout<Wide>([](std::uint64_t k) { return Wide{k * 3}; });
  check_layout<std::string>(
      [](std::uint64_t k) { return std::string(40, 'a') + std::to_string(k); });
}

// A copy that throws during an update leaves both the updated map and its sharers as they were.
TEST(PMapNodes, ThrowingCopiesLeaveEveryMapUnchanged) {
  const long live_before = Tracked::live;
  {
    TMap a;
    Ref ref;
    for (int k = 0; k < 300; ++k) {
      a.assign(static_cast<std::uint64_t>(k), Tracked(k));
      ref[static_cast<std::uint64_t>(k)] = k;
    }
    const TMap keep = a;
    int throws = 0, successes = 0;
    // Value update, new key (a new inline entry or an entry pushed into a new subtree), erase.
    for (const int what : {0, 1, 2}) {
      for (long n = 0; n < 64; ++n) {
        const std::uint64_t key = what == 1 ? 1000 + static_cast<std::uint64_t>(n) : 17;
        Tracked v(-7);
        TMap out;
        Tracked::copies_before_failure = n;
        try {
          out = what == 2 ? a.erase(key) : a.set(key, v);
          Tracked::copies_before_failure = -1;
          ++successes;
          Ref expect = ref;
          if (what == 2) {
            expect.erase(key);
          } else {
            expect[key] = -7;
          }
          ASSERT_TRUE(same(out, expect));
        } catch (const CopyFailed&) {
          Tracked::copies_before_failure = -1;
          ++throws;
          EXPECT_TRUE(out.empty());
        }
        ASSERT_TRUE(same(a, ref));
        ASSERT_TRUE(a == keep);
        ASSERT_TRUE(a.shares_root(keep));
        ASSERT_EQ(Probe::audit({&a, &keep, &out}), "");
      }
    }
    EXPECT_GT(throws, 10);
    EXPECT_GT(successes, 10);
  }
  EXPECT_EQ(Tracked::live, live_before);
}

}  // namespace
}  // namespace hypdiff::model
