#include "model/zmap.hpp"

#include <gtest/gtest.h>

#include "model/state.hpp"

namespace hypdiff::model {
namespace {

TEST(ZMap, ReadsDefaultWhereNothingWasWritten) {
  ZMap<Z> m = ZMap<Z>::init(7);
  EXPECT_EQ(m.get(123), 7);
  m.set(123, 9);
  EXPECT_EQ(m.get(123), 9);
  EXPECT_EQ(m.get(124), 7);
}

TEST(ZMap, WritingTheDefaultErasesSoEqualityIsSemantic) {
  ZMap<Z> a = ZMap<Z>::init(0);
  ZMap<Z> b = a.with(5, 1).with(5, 0);
  EXPECT_EQ(b.explicit_size(), 0u);
  EXPECT_TRUE(a == b);
}

TEST(ZMap, KeysOutsideTheU64RangeReadDefaultAndRefuseWrites) {
  ZMap<Z> m = ZMap<Z>::init(3);
  EXPECT_EQ(m.get(-1), 3);
  EXPECT_EQ(m.get(pow2(64)), 3);
  EXPECT_EQ(m.get(pow2(64) - 1), 3);
  m.set(pow2(64) - 1, 4);
  EXPECT_EQ(m.get(pow2(64) - 1), 4);
  EXPECT_THROW(m.set(-1, 1), ModelBug);
  EXPECT_THROW(m.set(pow2(64), 1), ModelBug);
}

TEST(ZMap, FunctionDefaultGivesHostRamToTheHost) {
  ZMap<S2Page, S2PageDefault> m{S2PageDefault{0x200, 0x10}};
  EXPECT_EQ(m.get(0x200), (S2Page{k::HOSTVISOR, 0, 0x200 + k::SMMU_HOST_OFFSET}));
  EXPECT_EQ(m.get(0x20f).owner, k::HOSTVISOR);
  EXPECT_EQ(m.get(0x210), (S2Page{k::INVALID, 0, k::INVALID64}));
  EXPECT_EQ(m.get(0), (S2Page{k::INVALID, 0, k::INVALID64}));
  // Writing the default page back erases the entry.
  m.set(0x201, S2Page{3, 0, 5});
  EXPECT_EQ(m.explicit_size(), 1u);
  m.set(0x201, S2Page{k::HOSTVISOR, 0, 0x201 + k::SMMU_HOST_OFFSET});
  EXPECT_EQ(m.explicit_size(), 0u);
}

TEST(Box, ComparesByValue) {
  Ctxt c{};
  c.ctxt_regs.x[3] = 9;
  EXPECT_TRUE(Box<Ctxt>(c) == Box<Ctxt>(c));
  Ctxt d = c;
  d.ctxt_states.pc = 1;
  EXPECT_FALSE(Box<Ctxt>(c) == Box<Ctxt>(d));
}

TEST(Z, FloorDivisionAndText) {
  EXPECT_EQ(zdiv(-7, 2), -4);
  EXPECT_EQ(zmod(-7, 2), 1);
  EXPECT_EQ(zdiv(7, 2), 3);
  EXPECT_EQ(to_hex(k::INVALID64), "0xffffffffffffffff");
  EXPECT_EQ(to_dec(-1), "-1");
  EXPECT_EQ(to_dec(pow2(64)), "18446744073709551616");
}

}  // namespace
}  // namespace hypdiff::model
