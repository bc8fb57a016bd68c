#include "oracles/reflect.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

#include "model/constants.hpp"
#include "model/records.hpp"

namespace hypdiff::oracles {
namespace {

namespace k = model::k;
using model::Box;
using model::Ctxt;
using model::S2Page;
using model::ZMap;

struct Key {
  BOOST_HANA_DEFINE_STRUCT(Key, (std::uint64_t, v));
  friend auto operator<=>(const Key&, const Key&) = default;
  void print_label(std::string& out) const {
    out += "pfn ";
    print_hex(out, static_cast<Z>(v));
  }
};

TEST(Reflect, SmallNumbersPrintInDecimalAndOthersInHex) {
  EXPECT_EQ(to_text(Z{0}), "0");
  EXPECT_EQ(to_text(Z{255}), "255");
  EXPECT_EQ(to_text(Z{256}), "0x100");
  EXPECT_EQ(to_text(Z{0x812}), "0x812");
  EXPECT_EQ(to_text(Z{-1}), "-1");
  EXPECT_EQ(to_text(k::INVALID), "0xffffffff");
  EXPECT_EQ(to_text(k::INVALID64), "0xffffffffffffffff");
  EXPECT_EQ(to_text(Z{-5000}), "-0x1388");
  EXPECT_EQ(to_text(true), "true");
  EXPECT_EQ(to_text(std::uint32_t{7}), "7");
}

TEST(Reflect, HanaStructsPrintFieldByField) {
  EXPECT_EQ(to_text(S2Page{2, 1, 0x40}), "{owner: 2, count: 1, gfn: 64}");
  EXPECT_EQ(to_text(std::optional<S2Page>{}), "None");
  EXPECT_EQ(to_text(std::make_pair(Z{1}, Z{0x5000})), "(1, 0x5000)");
}

TEST(Reflect, ZMapsPrintStoredEntriesInKeyOrderAndTheirDefault) {
  ZMap<Z> m = ZMap<Z>::init(k::INVALID);
  m.set(9, 1);
  m.set(3, 2);
  EXPECT_EQ(to_text(m), "{3: 2, 9: 1, else 0xffffffff}");
}

TEST(Reflect, EqualAndHashIgnoreHowAZMapWasBuilt) {
  ZMap<Z> a, b;
  for (Z i = 0; i < 100; ++i) a.set(i * 7, i + 1);
  for (Z i = 99; i >= 0; --i) b.set(i * 7, i + 1);
  b.set(5000, 3);
  b.set(5000, 0);  // writing the default erases
  EXPECT_TRUE(equal(a, b));
  EXPECT_EQ(hash_value(a), hash_value(b));
  b.set(14, 0);
  EXPECT_FALSE(equal(a, b));
}

TEST(Reflect, EqualComparesBoxesByValue) {
  Ctxt c{};
  c.ctxt_regs.x[2] = 5;
  EXPECT_TRUE(equal(Box<Ctxt>(c), Box<Ctxt>(c)));
  EXPECT_EQ(hash_value(Box<Ctxt>(c)), hash_value(Box<Ctxt>(c)));
  Ctxt d = c;
  d.ctxt_states.dirty = 1;
  EXPECT_FALSE(equal(Box<Ctxt>(c), Box<Ctxt>(d)));
}

TEST(Reflect, DiffNamesTheDifferingLeafByFieldAndIndex) {
  Ctxt a{}, b{};
  b.ctxt_regs.x[2] = 0x812;
  b.trap_regs.mdcr_el2 = 3;
  const std::vector<DiffLine> lines = diff_lines(a, b);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], (DiffLine{"ctxt_regs.x[2]", "0", "0x812"}));
  EXPECT_EQ(lines[1], (DiffLine{"trap_regs.mdcr_el2", "0", "3"}));
}

TEST(Reflect, DiffWalksVectorsOfBoxes) {
  std::vector<Box<Ctxt>> a(4), b(4);
  Ctxt c{};
  c.ctxt_regs.x[2] = 1;
  b[3] = Box<Ctxt>(c);
  const std::vector<DiffLine> lines = diff_lines(a, b);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].path, "[3].ctxt_regs.x[2]");
}

TEST(Reflect, DiffOfZMapsListsKeysInOrderAndDefaults) {
  ZMap<Z> a = ZMap<Z>::init(0), b = ZMap<Z>::init(0);
  a.set(0x9000, 1);
  b.set(0x9000, 2);
  b.set(3, 4);
  std::vector<DiffLine> lines = diff_lines(a, b);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], (DiffLine{"[3]", "0", "4"}));
  EXPECT_EQ(lines[1], (DiffLine{"[0x9000]", "1", "2"}));

  lines = diff_lines(ZMap<Z>::init(1), ZMap<Z>::init(2));
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], (DiffLine{"[else]", "1", "2"}));
}

TEST(Reflect, DiffOfOptionalsComparesInsideOrReportsNone) {
  std::optional<S2Page> none, one = S2Page{1, 0, 0}, two = S2Page{2, 0, 0};
  EXPECT_EQ(diff_lines(one, two), (std::vector<DiffLine>{{"owner", "1", "2"}}));
  EXPECT_EQ(diff_lines(none, one),
            (std::vector<DiffLine>{{"", "None", "{owner: 1, count: 0, gfn: 0}"}}));
}

TEST(Reflect, DiffOfStdMapsReportsAbsentKeys) {
  std::map<Z, Z> a{{1, 1}, {2, 2}}, b{{2, 3}, {4, 4}};
  EXPECT_EQ(diff_lines(a, b),
            (std::vector<DiffLine>{
                {"[1]", "1", "<absent>"}, {"[2]", "2", "3"}, {"[4]", "<absent>", "4"}}));
}

TEST(Reflect, SparseMapsCompareAsTotalMapsAndLabelTheirKeys) {
  using M = Sparse<Key, Z, ConstBase<Z>>;
  const M a(ConstBase<Z>{0}, M::Entries{{Key{0x812}, 2}, {Key{0x900}, 5}});
  const M b(ConstBase<Z>{0}, M::Entries{{Key{0x900}, 5}, {Key{0xa00}, 1}});
  EXPECT_EQ(a.at(Key{0x812}), 2);
  EXPECT_EQ(a.at(Key{0x813}), 0);
  EXPECT_FALSE(equal(a, b));
  EXPECT_TRUE(equal(a, M(ConstBase<Z>{0}, a.entries())));
  EXPECT_EQ(hash_value(a), hash_value(M(ConstBase<Z>{0}, a.entries())));
  // A key absent on one side has the base value there.
  EXPECT_EQ(diff_lines(a, b),
            (std::vector<DiffLine>{{"[pfn 0x812]", "2", "0"}, {"[pfn 0xa00]", "0", "1"}}));
  EXPECT_EQ(to_text(b), "{pfn 0x900: 5, pfn 0xa00: 1, else 0}");
  EXPECT_TRUE(equal(M{}, M(ConstBase<Z>{0}, M::Entries{})));
}

TEST(Reflect, DiffStopsAtTheCap) {
  ZMap<Z> a, b;
  for (Z i = 0; i < 100; ++i) b.set(i, 1);
  Path path;
  std::vector<DiffLine> out;
  diff(a, b, path, out, 10);
  EXPECT_EQ(out.size(), 10U);
  EXPECT_EQ(out.front().path, "[0]");
  EXPECT_EQ(out.back().path, "[9]");
}

TEST(Reflect, LongLeafTextsAreCut) {
  std::optional<model::CtxtRegs> none, some = model::CtxtRegs{};
  const std::vector<DiffLine> lines = diff_lines(none, some);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].a, "None");
  EXPECT_EQ(lines[0].b.size(), kLeafTextLimit + 3);
  EXPECT_TRUE(lines[0].b.starts_with("{x: [0, 0,"));
  EXPECT_TRUE(lines[0].b.ends_with("..."));
}

}  // namespace
}  // namespace hypdiff::oracles
