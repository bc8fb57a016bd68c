// Targets registered by the program (the QEMU target lives in a library that links the harness).
#include <gtest/gtest.h>

#include <string>

#include "harness/target.hpp"

namespace hypdiff::harness {
namespace {

std::string last_name;

std::unique_ptr<Target> make_fake(std::string_view name, std::string* error) {
  last_name = std::string(name);
  if (name == "fake:broken") {
    if (error) *error = "the fake target refuses 'broken'";
    return nullptr;
  }
  return make_target("model:intended", error);
}

TEST(TargetRegistry, RegisteredNamesAndTheirSuffixesReachTheFactory) {
  register_target("fake", make_fake, "fake[:X]");
  std::string err;
  EXPECT_NE(make_target("fake", &err), nullptr) << err;
  EXPECT_EQ(last_name, "fake");
  EXPECT_NE(make_target("fake:x", &err), nullptr) << err;
  EXPECT_EQ(last_name, "fake:x");
  EXPECT_EQ(make_target("fake:broken", &err), nullptr);
  EXPECT_EQ(err, "the fake target refuses 'broken'");
  last_name.clear();
  EXPECT_EQ(make_target("fakeish", &err), nullptr);  // a prefix is not the name
  EXPECT_TRUE(last_name.empty());
  EXPECT_NE(err.find("unknown target 'fakeish'"), std::string::npos) << err;
  EXPECT_NE(err.find("fake[:X]"), std::string::npos) << err;  // listed among the known ones
  EXPECT_NE(target_names_help().find("native, fake[:X], model"), std::string::npos)
      << target_names_help();
  // Registering a name again replaces its factory instead of listing it twice.
  register_target("fake", make_fake, "fake");
  EXPECT_EQ(target_names_help().find("fake[:X]"), std::string::npos);
}

TEST(TargetRegistry, SoftwareTargetsRunEveryHandler) {
  std::string err;
  auto m = make_target("model", &err);
  auto n = make_target("native", &err);
  ASSERT_TRUE(m && n) << err;
  EXPECT_EQ(m->realized(), model::kAllHandlers);
  EXPECT_EQ(n->realized(), model::kAllHandlers);
}

}  // namespace
}  // namespace hypdiff::harness
