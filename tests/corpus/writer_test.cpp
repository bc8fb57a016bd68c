#include <gtest/gtest.h>

#include <stdexcept>

#include "corpus/case_file.hpp"
#include "corpus/numbers.hpp"
#include "helpers.hpp"

namespace hypdiff::corpus {
namespace {

TEST(Writer, GoldenTextOfASmallCase) {
  EXPECT_EQ(write_case(test::small_case()), test::kSmallCaseText);
}

TEST(Writer, MinimalCaseWritesEveryConfigFieldAndOracleParameter) {
  CaseFile f;
  f.c.cfg.smmus.clear();
  EXPECT_EQ(write_case(f), std::string(test::kMinimal) +
                               "oracle fallback_seed=0\n"
                               "param decrypt_gp_count value=31\n"
                               "param decrypt_sys_count value=24\n");
}

TEST(Writer, HvcAlwaysWritesX0AndNamesKnownNumbers) {
  CaseFile f;
  f.c.cfg.smmus.clear();
  f.c.ops = {model::HostHvc{}, model::HostHvc{{11, 0, 0, 0, 0, -2}},
             model::HostHvc{{29, 0, 0, 0, 0, 0}}, model::HostHvc{{30, 0, 0, 0, 0, 0}}};
  const std::string text = write_case(f);
  EXPECT_NE(text.find("\nop hvc x0=0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nop hvc x0=11 x5=-0x2  # KVM_SET_DESC_PFN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nop hvc x0=29  # LOAD_CRYPT_VCPU\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nop hvc x0=30\n"), std::string::npos) << text;
}

TEST(Writer, EmptySoracleEntryAndEventOrderWithinAnEntry) {
  CaseFile f;
  f.c.cfg.smmus.clear();
  model::SingleEvent newer{2, {model::EventKind::OGRANT, {1, 2, 3, 4}}};
  model::SingleEvent older{0, {model::EventKind::OPT_GET, {}}};
  f.c.oracle.soracle[7] = {newer, older};
  f.c.oracle.soracle[1] = {};
  const std::string text = write_case(f);
  EXPECT_NE(text.find("oracle fallback_seed=0\n"
                      "soracle at=1\n"
                      "soracle at=7 cpu=2 event=OGRANT args=0x1,0x2,0x3,0x4\n"
                      "soracle at=7 cpu=0 event=OPT_GET args=0x0,0x0,0x0,0x0\n"),
            std::string::npos)
      << text;
}

TEST(Writer, NotesWithLineBreaksBecomeSeveralNotes) {
  CaseFile f;
  f.notes = {"first\r\nsecond", "", "  indented"};
  const std::string text = write_case(f);
  EXPECT_EQ(text.substr(0, text.find("config")),
            "hypdiff-case 1\n# first\n# second\n#\n#   indented\n");
  const CaseFile back = test::parsed(text);
  EXPECT_EQ(back.notes, (std::vector<std::string>{"first", "second", "", "  indented"}));
}

TEST(Writer, ExpectWordsMustNotNeedQuoting) {
  CaseFile f;
  f.expect = Expectation{"model literal", "", "pass", {}, {}};
  EXPECT_THROW(write_case(f), std::invalid_argument);
  f.expect = Expectation{"model:literal", "", "", {}, {}};
  EXPECT_THROW(write_case(f), std::invalid_argument);
  f.expect = Expectation{"model:literal", "a#b", "pass", {}, {}};
  EXPECT_THROW(write_case(f), std::invalid_argument);
  f.expect = Expectation{"model:literal", "", "pass", {}, {}};
  EXPECT_NE(write_case(f).find("\nexpect target=model:literal verdict=pass\n"), std::string::npos);
}

TEST(HvcName, SpecNamesWithoutPrefix) {
  EXPECT_EQ(hvc_name(11), "KVM_SET_DESC_PFN");
  EXPECT_EQ(hvc_name(14), "CLEAR_VM_S2_RANGE");
  EXPECT_EQ(hvc_name(21), "SMMU_LPAE_IOVA_TO_PHYS");
  EXPECT_EQ(hvc_name(24), "REGISTER_KVM");
  EXPECT_EQ(hvc_name(25), "REGISTER_VCPU");
  EXPECT_EQ(hvc_name(29), "LOAD_CRYPT_VCPU");
  EXPECT_EQ(hvc_name(10), "");
  EXPECT_EQ(hvc_name(30), "");
  EXPECT_EQ(hvc_name(-1), "");
  EXPECT_EQ(hvc_name(detail::kZMin), "");
  EXPECT_EQ(hvc_name(detail::kZMax), "");
  EXPECT_EQ(hvc_name(model::Z{24} + (model::Z{1} << 64)), "");
}

}  // namespace
}  // namespace hypdiff::corpus
