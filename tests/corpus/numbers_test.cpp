#include "corpus/numbers.hpp"

#include <gtest/gtest.h>

namespace hypdiff::corpus::detail {
namespace {

using model::Z;

Z parsed(std::string_view text) {
  Z v = 12345;
  EXPECT_EQ(parse_z(text, &v), NumberError::none) << text;
  return v;
}

TEST(Numbers, DecimalHexAndSign) {
  EXPECT_EQ(parsed("0"), 0);
  EXPECT_EQ(parsed("42"), 42);
  EXPECT_EQ(parsed("007"), 7);
  EXPECT_EQ(parsed("-42"), -42);
  EXPECT_EQ(parsed("-0"), 0);
  EXPECT_EQ(parsed("0x1f"), 31);
  EXPECT_EQ(parsed("0X1F"), 31);
  EXPECT_EQ(parsed("-0x10"), -16);
  EXPECT_EQ(parsed("0xffffffffffffffff"), (Z{1} << 64) - 1);
}

TEST(Numbers, UnderscoresBetweenDigits) {
  EXPECT_EQ(parsed("0x1_0000_0000"), Z{1} << 32);
  EXPECT_EQ(parsed("1_000_000"), 1000000);
}

TEST(Numbers, FullRangeOfZ) {
  EXPECT_EQ(parsed("0x7fffffffffffffffffffffffffffffff"), kZMax);
  EXPECT_EQ(parsed("-0x80000000000000000000000000000000"), kZMin);
  EXPECT_EQ(parsed("170141183460469231731687303715884105727"), kZMax);
  EXPECT_EQ(parsed("-170141183460469231731687303715884105728"), kZMin);
}

TEST(Numbers, OverflowIsAnErrorNotAWrap) {
  Z v = 7;
  EXPECT_EQ(parse_z("0x80000000000000000000000000000000", &v), NumberError::overflow);
  EXPECT_EQ(parse_z("-0x80000000000000000000000000000001", &v), NumberError::overflow);
  EXPECT_EQ(parse_z("170141183460469231731687303715884105728", &v), NumberError::overflow);
  EXPECT_EQ(parse_z("0x1000000000000000000000000000000000000", &v), NumberError::overflow);
  EXPECT_EQ(v, 7);  // untouched on failure
}

TEST(Numbers, Malformed) {
  for (const char* bad : {"", "-", "0x", "-0x", "+1", "1_", "_1", "1__0", "0x_1", "12a", "0xg",
                          "1.5", "--1", "0b1", " 1"}) {
    Z v = 0;
    EXPECT_EQ(parse_z(bad, &v), NumberError::syntax) << "'" << bad << "'";
  }
  // A syntax error after an overflowing prefix is still reported as malformed.
  Z v = 0;
  EXPECT_EQ(parse_z("999999999999999999999999999999999999999999z", &v), NumberError::syntax);
}

}  // namespace
}  // namespace hypdiff::corpus::detail
