// One `op` line (docs/case-format.md, "op"): the operation kind, then its fields, all optional.
#include <fmt/format.h>

#include <cctype>

#include "corpus/fields.hpp"

namespace hypdiff::corpus::detail {

namespace {

constexpr std::string_view kOps =
    "hvc, host_fault, vcpu_run, vm_exit, mem_load, mem_store, dev_load, dev_store, set_reg";

}  // namespace

model::Op parse_op(const Line& l) {
  if (l.tokens.size() < 2)
    fail(l.number, l.end_column, fmt::format("missing operation after 'op' (expected {})", kOps));
  const Token& kind = l.tokens[1];
  const std::string_view k = kind.text;
  const std::string what = "op " + std::string(k);
  auto fields = [&](std::vector<std::string_view> names) {
    return Fields(l, 2, what, std::move(names));
  };
  model::Op op;
  if (k == "hvc") {
    const Fields fs = fields({"x0", "x1", "x2", "x3", "x4", "x5"});
    model::HostHvc o;
    // x0 may name the hypercall instead (names start with a letter, numbers never do).
    const Token* x0 = fs.value("x0");
    if (x0 && (std::isalpha(static_cast<unsigned char>(x0->text.front())) != 0)) {
      o.x[0] = hvc_number(x0->text);
      if (o.x[0] < 0)
        fail(l.number, x0->column, fmt::format("unknown hypercall name '{}' for x0", x0->text));
    } else {
      o.x[0] = fs.z("x0");
    }
    for (std::size_t i = 1; i < o.x.size(); ++i) o.x[i] = fs.z(fmt::format("x{}", i));
    op = o;
  } else if (k == "host_fault") {
    const Fields fs = fields({"hpfar", "esr", "far"});
    op = model::HostFault{fs.z("hpfar"), fs.z("esr"), fs.z("far")};
  } else if (k == "vcpu_run") {
    const Fields fs = fields({"vmid"});
    op = model::VcpuRun{fs.z("vmid")};
  } else if (k == "vm_exit") {
    const Fields fs = fields({"ec", "esr", "x0", "x1", "x2", "x3", "hpfar", "far"});
    op = model::VmExit{fs.z("ec"),
                       fs.z("esr"),
                       {fs.z("x0"), fs.z("x1"), fs.z("x2"), fs.z("x3")},
                       fs.z("hpfar"),
                       fs.z("far")};
  } else if (k == "mem_load" || k == "mem_store") {
    const Fields fs = fields({"gfn", "reg"});
    if (k == "mem_load")
      op = model::MemLoad{fs.u64("gfn"), fs.u32("reg")};
    else
      op = model::MemStore{fs.u64("gfn"), fs.u32("reg")};
  } else if (k == "dev_load" || k == "dev_store") {
    const Fields fs = fields({"gfn", "reg", "cbndx", "index"});
    if (k == "dev_load")
      op = model::DevLoad{fs.u64("gfn"), fs.u32("reg"), fs.u32("cbndx"), fs.u32("index")};
    else
      op = model::DevStore{fs.u64("gfn"), fs.u32("reg"), fs.u32("cbndx"), fs.u32("index")};
  } else if (k == "set_reg") {
    const Fields fs = fields({"reg", "value"});
    op = model::SetReg{fs.u32("reg"), fs.z("value")};
  } else {
    fail(l.number, kind.column, fmt::format("unknown operation '{}' (expected {})", k, kOps));
  }
  return op;
}

}  // namespace hypdiff::corpus::detail
