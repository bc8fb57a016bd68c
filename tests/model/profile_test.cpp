#include "model/profile.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace hypdiff::model {
namespace {

TEST(Profile, IntendedAndLiteralDifferInEverySwitch) {
  const Profile i = Profile::intended(), l = Profile::literal();
  for (const Deviation& d : deviations()) {
    EXPECT_TRUE(i.*d.field) << d.id;
    EXPECT_FALSE(l.*d.field) << d.id;
  }
}

TEST(Profile, ParsesBaseAndSwitches) {
  std::string err;
  auto p = Profile::parse("literal+hlock+verify-index", &err);
  ASSERT_TRUE(p) << err;
  EXPECT_TRUE(p->hlock_acquire);
  EXPECT_TRUE(p->verify_index);
  EXPECT_FALSE(p->map_halt_check);
  auto q = Profile::parse("intended-grant-halt-check", &err);
  ASSERT_TRUE(q) << err;
  EXPECT_FALSE(q->grant_halt_check);
  EXPECT_TRUE(q->grant_block_pfn);
}

TEST(Profile, NameRoundTrips) {
  std::string err;
  for (const char* text :
       {"intended", "literal", "literal+hlock", "intended-pc-advance-iova-log"}) {
    auto p = Profile::parse(text, &err);
    ASSERT_TRUE(p) << text << ": " << err;
    auto back = Profile::parse(p->name(), &err);
    ASSERT_TRUE(back) << p->name();
    EXPECT_EQ(*back, *p) << text;
  }
  EXPECT_EQ(Profile::intended().name(), "intended");
  EXPECT_EQ(Profile::literal().name(), "literal");
}

TEST(Profile, RejectsUnknownNamesWithAMessage) {
  std::string err;
  EXPECT_FALSE(Profile::parse("faithful", &err));
  EXPECT_NE(err.find("faithful"), std::string::npos);
  EXPECT_FALSE(Profile::parse("literal+no-such-switch", &err));
  EXPECT_NE(err.find("no-such-switch"), std::string::npos);
}

// docs/spec-deviations.md must describe every switch the code has.
TEST(Profile, EveryDeviationIsDocumented) {
  std::ifstream f(std::string(HYPDIFF_SOURCE_DIR) + "/docs/spec-deviations.md");
  ASSERT_TRUE(f) << "docs/spec-deviations.md missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  for (const Deviation& d : deviations()) {
    EXPECT_NE(doc.find("`" + std::string(d.id) + "`"), std::string::npos)
        << "deviation " << d.id << " is not documented";
  }
}

}  // namespace
}  // namespace hypdiff::model
