// Every class of parse error, with the exact line, column and message the user sees.
#include <gtest/gtest.h>

#include "corpus/case_file.hpp"
#include "helpers.hpp"

namespace hypdiff::corpus {
namespace {

std::string minimal(std::string_view extra) {
  return std::string(test::kMinimal) + std::string(extra);
}

const std::string kConfig =
    "config max_vms=15 vcpus_per_vm=8 total_cpus=8 curid=0 ram_base_pfn=0x200 ram_pages=0x1e00 "
    "smmu_ctxt_banks=8 max_share_count=100 max_load_info=5\n";

void expect_error(std::string_view text, int line, int column, std::string_view message) {
  const ParseError e = test::parse_error(text);
  EXPECT_EQ(e.message, message) << text;
  EXPECT_EQ(e.line, line) << e.message;
  EXPECT_EQ(e.column, column) << e.message;
}

constexpr std::string_view kOrder =
    "(items go: expect, config, smmu, oracle, then data/core/soracle/param in any order, then op)";
constexpr std::string_view kOps =
    "(expected hvc, host_fault, vcpu_run, vm_exit, mem_load, mem_store, dev_load, dev_store, "
    "set_reg)";
constexpr std::string_view kParams =
    "(expected reg_desc, shared_kvm, shared_vcpu, verify_img, decrypt_gp_count, "
    "decrypt_sys_count)";

TEST(ParseErrors, Header) {
  expect_error("", 1, 1, "expected 'hypdiff-case 1' first");
  expect_error("# only a comment\n", 2, 1, "expected 'hypdiff-case 1' first");
  expect_error(kConfig, 1, 1, "expected 'hypdiff-case 1' first");
  expect_error("hypdiff-case\n", 1, 14, "expected 'hypdiff-case 1' first");
  expect_error("  hypdiff-case 2\n", 1, 16,
               "unsupported format version 2 (this build reads version 1)");
  expect_error("hypdiff-case one\n", 1, 14,
               "invalid format version 'one' (this build reads version 1)");
  expect_error("hypdiff-case 99999999999\n", 1, 14,
               "invalid format version '99999999999' (this build reads version 1)");
  expect_error("hypdiff-case 1 extra\n", 1, 16, "unexpected 'extra' after the version");
}

TEST(ParseErrors, TruncatedFiles) {
  expect_error("hypdiff-case 1\n", 2, 1, "missing config line");
  expect_error("hypdiff-case 1", 1, 15, "missing config line");
  expect_error("hypdiff-case 1\nconfig max_vms=15 vcpus_per", 2, 19,
               "expected field=value, got 'vcpus_per'");
  expect_error(minimal("op mem_lo"), 3, 4,
               std::string("unknown operation 'mem_lo' ") + std::string(kOps));
  expect_error(minimal("op"), 3, 4,
               std::string("missing operation after 'op' ") + std::string(kOps));
  expect_error(minimal("op hvc x0="), 3, 11, "empty value for x0");
}

TEST(ParseErrors, Fields) {
  expect_error(minimal("op mem_load gfm=0x100 reg=3\n"), 3, 13,
               "unknown field 'gfm' for op mem_load (expected gfn, reg)");
  expect_error(minimal("op mem_load gfn=1 gfn=2\n"), 3, 19,
               "duplicate field 'gfn' (first at column 13)");
  expect_error(minimal("op mem_load gfn\n"), 3, 13, "expected field=value, got 'gfn'");
  expect_error(minimal("op mem_load gfn= reg=1\n"), 3, 17, "empty value for gfn");
  expect_error(minimal("op mem_load =5\n"), 3, 13, "missing field name before '='");
  expect_error(minimal("  op set_reg  vaule=1\n"), 3, 15,
               "unknown field 'vaule' for op set_reg (expected reg, value)");
}

TEST(ParseErrors, MissingRequiredFields) {
  std::string config = kConfig;
  config.erase(config.find(" max_load_info=5"), 16);
  expect_error("hypdiff-case 1\n" + config, 2, 1, "missing field 'max_load_info' for config");
  expect_error(minimal("smmu base=0 banks=1\n"), 3, 1, "missing field 'size' for smmu");
  expect_error(minimal("oracle\n"), 3, 1, "missing field 'fallback_seed' for oracle");
  expect_error(minimal("data values=1\n"), 3, 1, "missing field 'principal' for data");
  expect_error(minimal("soracle event=OPT_GET\n"), 3, 1, "missing field 'at' for soracle");
  expect_error(minimal("param shared_vcpu vmid=1 value=2\n"), 3, 1,
               "missing field 'vcpu' for param shared_vcpu");
  expect_error("hypdiff-case 1\nexpect target=model:literal\n" + kConfig, 2, 1,
               "missing field 'verdict' for expect");
}

TEST(ParseErrors, Numbers) {
  expect_error(minimal("op mem_load reg=0x1_0000_0000\n"), 3, 17,
               "value 0x1_0000_0000 out of range for reg (0..4294967295)");
  expect_error(minimal("op dev_load gfn=-1\n"), 3, 17,
               "value -1 out of range for gfn (0..18446744073709551615)");
  expect_error(minimal("op dev_store cbndx=0x100000000000000000000000000000000\n"), 3, 20,
               "value 0x100000000000000000000000000000000 out of range for cbndx (0..4294967295)");
  expect_error(minimal("op hvc x1=0x80000000000000000000000000000000\n"), 3, 11,
               "value 0x80000000000000000000000000000000 out of range for x1 (does not fit in "
               "128 bits)");
  expect_error(minimal("op vcpu_run vmid=one\n"), 3, 18, "invalid number 'one' for vmid");
  expect_error(minimal("op mem_load reg=1_\n"), 3, 17, "invalid number '1_' for reg");
  expect_error(minimal("oracle fallback_seed=-1\n"), 3, 22,
               "value -1 out of range for fallback_seed (0..18446744073709551615)");
  expect_error(minimal("param reg_desc index=0x80000000 value=0\n"), 3, 22,
               "value 0x80000000 out of range for index (-2147483648..2147483647)");
  expect_error(minimal("data principal=0 values=1,,2\n"), 3, 27,
               "empty item in the list for values");
  expect_error(minimal("data principal=0 values=1,2,\n"), 3, 29,
               "empty item in the list for values");
  expect_error(minimal("core principal=0 values=1,x\n"), 3, 27, "invalid number 'x' for values");
  expect_error("hypdiff-case 1\nexpect target=a verdict=pass step=0x8000000000000000\n" + kConfig,
               2, 35,
               "value 0x8000000000000000 out of range for step "
               "(-9223372036854775808..9223372036854775807)");
}

TEST(ParseErrors, NamedValues) {
  expect_error(minimal("op hvc x0=REGISTER_VM\n"), 3, 11,
               "unknown hypercall name 'REGISTER_VM' for x0");
  expect_error(minimal("soracle at=1 event=OMAP\n"), 3, 20, "unknown event 'OMAP'");
  expect_error(minimal("soracle at=1 event=OPT_GET args=1,2,3,4,5\n"), 3, 33,
               "too many args (4 at most, got 5)");
  expect_error(minimal("soracle at=1 cpu=2\n"), 3, 14,
               "soracle line without event cannot have cpu or args");
  expect_error("hypdiff-case 1\nexpect target=model:literal verdict=pa$s\n" + kConfig, 2, 39,
               "invalid character '$' in verdict (allowed: letters, digits, _ : . / + -)");
  expect_error(minimal("param reg_des index=1\n"), 3, 7,
               std::string("unknown parameter 'reg_des' ") + std::string(kParams));
  expect_error(minimal("param\n"), 3, 7,
               std::string("missing parameter name after 'param' ") + std::string(kParams));
  expect_error(minimal("opp hvc\n"), 3, 1,
               "unknown item 'opp' (expected expect, config, smmu, oracle, data, core, soracle, "
               "param, op)");
}

TEST(ParseErrors, DuplicateLines) {
  expect_error(minimal(kConfig), 3, 1, "duplicate config line (first at line 2)");
  expect_error(
      "hypdiff-case 1\nexpect target=a verdict=pass\nexpect target=b verdict=pass\n" + kConfig, 3,
      1, "duplicate expect line (first at line 2)");
  expect_error(minimal("oracle fallback_seed=1\noracle fallback_seed=1\n"), 4, 1,
               "duplicate oracle line (first at line 3)");
  expect_error(minimal("data principal=0\ncore principal=0\ndata principal=0x0\n"), 5, 1,
               "duplicate data line for principal 0 (first at line 3)");
  expect_error(minimal("param reg_desc index=3 value=1\nparam reg_desc index=0x3 value=2\n"), 4, 1,
               "duplicate param reg_desc index=3 (first at line 3)");
  expect_error(minimal("param shared_vcpu vmid=1 vcpu=2 value=0\n"
                       "param shared_vcpu vmid=1 vcpu=2 value=0\n"),
               4, 1, "duplicate param shared_vcpu vmid=1 vcpu=2 (first at line 3)");
  expect_error(minimal("param verify_img vmid=1 value=0\nparam verify_img vmid=1 value=0\n"), 4, 1,
               "duplicate param verify_img vmid=1 (first at line 3)");
  expect_error(minimal("param decrypt_gp_count value=1\nparam decrypt_gp_count value=1\n"), 4, 1,
               "duplicate param decrypt_gp_count (first at line 3)");
}

TEST(ParseErrors, SectionOrder) {
  expect_error(minimal("op vcpu_run\nsmmu base=0 size=1 banks=0\n"), 4, 1,
               std::string("'smmu' line out of order ") + std::string(kOrder));
  expect_error(minimal("param decrypt_gp_count value=1\noracle fallback_seed=0\n"), 4, 1,
               std::string("'oracle' line out of order ") + std::string(kOrder));
  expect_error(minimal("expect target=a verdict=pass\n"), 3, 1,
               std::string("'expect' line out of order ") + std::string(kOrder));
  expect_error("hypdiff-case 1\nsmmu base=0 size=1 banks=0\n" + kConfig, 2, 1,
               "'smmu' line before the config line");
  expect_error("hypdiff-case 1\nop hvc\n", 2, 1, "'op' line before the config line");
}

TEST(ParseErrors, ConfigRefusedByValidateIsReportedAtTheConfigLine) {
  std::string config = kConfig;
  config.replace(config.find("max_vms=15"), 10, "max_vms=300");
  expect_error("hypdiff-case 1\n" + config, 2, 1,
               "invalid config: max_vms must be in 1..254, got 300");
  // Found once the smmu lines are over (here: at the op line), still reported at the config.
  expect_error(minimal("smmu base=0x200000 size=0x1000 banks=1\nop hvc\n"), 2, 1,
               "invalid config: smmu 0: MMIO window overlaps host RAM");
  expect_error(minimal("smmu base=0 size=0x2000 banks=1\nsmmu base=0x1000 size=0x1000 banks=1\n"),
               2, 1, "invalid config: smmu 1: MMIO window overlaps smmu 0");
}

}  // namespace
}  // namespace hypdiff::corpus
