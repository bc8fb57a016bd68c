#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "corpus/case_file.hpp"
#include "corpus/numbers.hpp"
#include "helpers.hpp"

namespace hypdiff::corpus {
namespace {

using model::Z;

std::string minimal(std::string_view extra) {
  return std::string(test::kMinimal) + std::string(extra);
}

TEST(Parser, ReadsTheGoldenText) {
  const CaseFile f = test::parsed(test::kSmallCaseText);
  EXPECT_TRUE(test::same_file(f, test::small_case()));
}

TEST(Parser, MinimalFileUsesDefaultsForTheOptionalItems) {
  const CaseFile f = test::parsed(test::kMinimal);
  EXPECT_EQ(f.c.cfg.max_vms, 15);
  EXPECT_TRUE(f.c.cfg.smmus.empty());  // the smmu lines are the whole list
  EXPECT_EQ(f.c.oracle, model::OracleInputs{});
  EXPECT_EQ(f.c.oracle.params.decrypt_gp_count, 31);
  EXPECT_EQ(f.c.oracle.params.decrypt_sys_count, 24);
  EXPECT_TRUE(f.c.ops.empty());
  EXPECT_FALSE(f.expect.has_value());
  EXPECT_TRUE(f.notes.empty());
}

TEST(Parser, AcceptsCrlfTrailingSpacesTabsAndIndentation) {
  std::string crlf;
  for (const char c : test::kSmallCaseText) {
    if (c == '\n') crlf += "  \t\r";
    crlf += c;
  }
  // Trailing blanks of comment lines belong to the notes; everything else must parse the same.
  const CaseFile f = test::parsed(crlf);
  CaseFile want = test::small_case();
  want.notes = {"found by: hypdiff run --seed 7  \t", "divergence at step 1  \t"};
  EXPECT_TRUE(test::same_file(f, want));

  const CaseFile g = test::parsed(minimal("\t op \t mem_load\tgfn=0x5   reg=2  \r\n"));
  ASSERT_EQ(g.c.ops.size(), 1u);
  EXPECT_EQ(g.c.ops[0], model::Op(model::MemLoad{5, 2}));
}

TEST(Parser, CommentsAnywhereNotesOnlyBeforeTheFirstItem) {
  const CaseFile f = test::parsed(
      "# before the header: dropped\n"
      "\n"
      "hypdiff-case 1   # the version\n"
      "#note one\n"
      "\n"
      "   #  note two\n"
      "config max_vms=15 vcpus_per_vm=8 total_cpus=8 curid=0 ram_base_pfn=0x200 "
      "ram_pages=0x1e00 smmu_ctxt_banks=8 max_share_count=100 max_load_info=5\n"
      "# after the first item: dropped\n"
      "op mem_load gfn=1#reg=7 is commented out\n"
      "op vcpu_run vmid=2 # trailing\n");
  EXPECT_EQ(f.notes, (std::vector<std::string>{"note one", " note two"}));
  ASSERT_EQ(f.c.ops.size(), 2u);
  EXPECT_EQ(f.c.ops[0], model::Op(model::MemLoad{1, 0}));
  EXPECT_EQ(f.c.ops[1], model::Op(model::VcpuRun{2}));
}

TEST(Parser, HvcAcceptsANameForX0) {
  const CaseFile f =
      test::parsed(minimal("op hvc x0=REGISTER_KVM\nop hvc x0=LOAD_CRYPT_VCPU x1=3\n"));
  ASSERT_EQ(f.c.ops.size(), 2u);
  EXPECT_EQ(f.c.ops[0], model::Op(model::HostHvc{{24, 0, 0, 0, 0, 0}}));
  EXPECT_EQ(f.c.ops[1], model::Op(model::HostHvc{{29, 3, 0, 0, 0, 0}}));
}

TEST(Parser, OpFieldsNotGivenAreZeroAndEveryKindParses) {
  const CaseFile f = test::parsed(
      minimal("op hvc\nop host_fault far=0x10\nop vcpu_run\nop vm_exit x3=-5 far=1\n"
              "op mem_store reg=30\nop dev_load gfn=0xffff_ffff_ffff_ffff index=4294967295\n"
              "op set_reg reg=1 value=-0x80000000000000000000000000000000\n"));
  const std::vector<model::Op> want{
      model::HostHvc{},
      model::HostFault{0, 0, 0x10},
      model::VcpuRun{},
      model::VmExit{0, 0, {0, 0, 0, -5}, 0, 1},
      model::MemStore{0, 30},
      model::DevLoad{~std::uint64_t{0}, 0, 0, 4294967295u},
      model::SetReg{1, detail::kZMin},
  };
  EXPECT_EQ(f.c.ops, want);
}

TEST(Parser, SoracleKeepsFileOrderAndEmptyEntries) {
  const CaseFile f =
      test::parsed(minimal("soracle at=9 cpu=3 event=OGRANT args=1,2\n"
                           "soracle at=4\n"
                           "soracle at=9 event=OREVOKE\n"));
  const auto& s = f.c.oracle.soracle;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.at(4).empty());
  ASSERT_EQ(s.at(9).size(), 2u);
  EXPECT_EQ(s.at(9)[0], (model::SingleEvent{3, {model::EventKind::OGRANT, {1, 2, 0, 0}}}));
  EXPECT_EQ(s.at(9)[1], (model::SingleEvent{0, {model::EventKind::OREVOKE, {0, 0, 0, 0}}}));
}

TEST(Parser, SectionsAndTablesInAnyOrderWithinTheirGroup) {
  const CaseFile f =
      test::parsed(minimal("smmu base=0x0 size=0x1000 banks=1\n"
                           "smmu base=0x1000 size=0x1000 banks=2\n"
                           "param verify_img vmid=2 value=0\n"
                           "core principal=2 values=7\n"
                           "param decrypt_sys_count value=-1\n"
                           "data principal=-1 values=0x1_0\n"
                           "param shared_kvm vmid=1 value=0x7\n"));
  EXPECT_EQ(f.c.cfg.smmus, (std::vector<model::SmmuUnit>{{0, 0x1000, 1}, {0x1000, 0x1000, 2}}));
  EXPECT_EQ(f.c.oracle.params.verify_img, (std::map<Z, Z>{{2, 0}}));
  EXPECT_EQ(f.c.oracle.params.shared_kvm, (std::map<Z, Z>{{1, 7}}));
  EXPECT_EQ(f.c.oracle.params.decrypt_sys_count, -1);
  EXPECT_EQ(f.c.oracle.core, (std::map<Z, std::vector<Z>>{{2, {7}}}));
  EXPECT_EQ(f.c.oracle.data, (std::map<Z, std::vector<Z>>{{-1, {16}}}));
}

// The annotated example of docs/case-format.md must stay a valid file.
TEST(Parser, TheDocumentedExampleParses) {
  std::ifstream in(std::string(HYPDIFF_SOURCE_DIR) + "/docs/case-format.md");
  ASSERT_TRUE(in) << "docs/case-format.md not found";
  std::stringstream s;
  s << in.rdbuf();
  const std::string doc = s.str();
  const auto begin = doc.find("```case\n");
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```\n", begin + 8);
  ASSERT_NE(end, std::string::npos);
  const CaseFile f = test::parsed(std::string_view(doc).substr(begin + 8, end - begin - 8));
  ASSERT_TRUE(f.expect.has_value());
  EXPECT_EQ(f.expect->verdict, "divergence");
  EXPECT_EQ(f.c.cfg.smmus.size(), 2u);
  EXPECT_GE(f.c.ops.size(), 5u);
  EXPECT_EQ(f.c.ops[0], model::Op(model::HostHvc{{24, 0, 0, 0, 0, 0}}));
}

}  // namespace
}  // namespace hypdiff::corpus
