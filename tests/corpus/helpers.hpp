// Shared by the corpus tests: a small hand-built case and comparisons.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "corpus/case_file.hpp"

namespace hypdiff::corpus::test {

inline bool same_file(const CaseFile& a, const CaseFile& b) {
  return a.c.cfg == b.c.cfg && a.c.oracle == b.c.oracle && a.c.ops == b.c.ops &&
         a.expect == b.expect && a.notes == b.notes;
}

// One line of each kind, with fields chosen to exercise the writer's choices (zeros omitted,
// hex vs decimal, the hvc name comment, an empty stream, a negative value).
inline CaseFile small_case() {
  CaseFile f;
  f.notes = {"found by: hypdiff run --seed 7", "divergence at step 1"};
  f.expect = Expectation{"model:literal", "model:intended", "divergence", 1, 1};
  f.c.cfg.smmus = {{0x100000, 0x10000, 8}};
  f.c.oracle.data[0] = {1, 2};
  f.c.oracle.core[1] = {};
  model::SingleEvent e;
  e.cpu = 1;
  e.event.kind = model::EventKind::OMAP_HOST;
  e.event.args = {0x1000, 0, 0, 0};
  f.c.oracle.soracle[3] = {e};
  f.c.oracle.params.reg_desc[3] = 5;
  f.c.oracle.params.shared_vcpu[{1, 0}] = 9;
  model::HostHvc hvc;
  hvc.x = {24, 1, 0, 0, 0, 0};
  f.c.ops.push_back(hvc);
  f.c.ops.push_back(model::HostHvc{{99, 0, 0, 0, 0, 0}});
  f.c.ops.push_back(model::HostFault{0x2000, 0x93, 0});
  f.c.ops.push_back(model::VcpuRun{1});
  f.c.ops.push_back(model::VmExit{2, 0x5a000000, {0x84000008, 0, 0, 0}, 0, 0});
  f.c.ops.push_back(model::MemLoad{0x100, 3});
  f.c.ops.push_back(model::MemStore{0, 0});
  f.c.ops.push_back(model::DevStore{0x1ff, 0, 1, 0});
  f.c.ops.push_back(model::SetReg{0, -1});
  return f;
}

inline constexpr std::string_view kSmallCaseText =
    "hypdiff-case 1\n"
    "# found by: hypdiff run --seed 7\n"
    "# divergence at step 1\n"
    "expect target=model:literal against=model:intended verdict=divergence principal=1 step=1\n"
    "config max_vms=15 vcpus_per_vm=8 total_cpus=8 curid=0 ram_base_pfn=0x200 ram_pages=0x1e00 "
    "smmu_ctxt_banks=8 max_share_count=100 max_load_info=5\n"
    "smmu base=0x100000 size=0x10000 banks=8\n"
    "oracle fallback_seed=0\n"
    "data principal=0 values=0x1,0x2\n"
    "core principal=1\n"
    "soracle at=3 cpu=1 event=OMAP_HOST args=0x1000,0x0,0x0,0x0\n"
    "param reg_desc index=3 value=0x5\n"
    "param shared_vcpu vmid=1 vcpu=0 value=0x9\n"
    "param decrypt_gp_count value=31\n"
    "param decrypt_sys_count value=24\n"
    "op hvc x0=24 x1=0x1  # REGISTER_KVM\n"
    "op hvc x0=99\n"
    "op host_fault hpfar=0x2000 esr=0x93\n"
    "op vcpu_run vmid=1\n"
    "op vm_exit ec=2 esr=0x5a000000 x0=0x84000008\n"
    "op mem_load gfn=0x100 reg=3\n"
    "op mem_store\n"
    "op dev_store gfn=0x1ff cbndx=1\n"
    "op set_reg value=-0x1\n";

// The text with `line` (1-based) of the minimal valid file replaced; for error tests.
inline constexpr std::string_view kMinimal =
    "hypdiff-case 1\n"
    "config max_vms=15 vcpus_per_vm=8 total_cpus=8 curid=0 ram_base_pfn=0x200 ram_pages=0x1e00 "
    "smmu_ctxt_banks=8 max_share_count=100 max_load_info=5\n";

inline ParseError parse_error(std::string_view text) {
  auto r = parse_case(text);
  if (const auto* e = std::get_if<ParseError>(&r)) return *e;
  ADD_FAILURE() << "parsed without error:\n" << text;
  return ParseError{};
}

inline CaseFile parsed(std::string_view text) {
  auto r = parse_case(text);
  if (const auto* e = std::get_if<ParseError>(&r)) {
    ADD_FAILURE() << e->line << ":" << e->column << ": " << e->message << "\n" << text;
    return CaseFile{};
  }
  return std::get<CaseFile>(std::move(r));
}

}  // namespace hypdiff::corpus::test
