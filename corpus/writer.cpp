// write_case: the canonical text of a CaseFile (docs/case-format.md). Every configuration field
// and oracle parameter is written, zero-valued operation fields are not; ids and counts are
// decimal, addresses, registers and oracle values hexadecimal.
#include <fmt/format.h>

#include <stdexcept>

#include "corpus/case_file.hpp"
#include "corpus/fields.hpp"

namespace hypdiff::corpus {

namespace {

using model::to_dec;
using model::to_hex;
using model::Z;

template <class... Fs>
struct Overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overload(Fs...) -> Overload<Fs...>;

void put(std::string& s, std::string_view name, const std::string& value) {
  s += ' ';
  s += name;
  s += '=';
  s += value;
}
void put_dec(std::string& s, std::string_view name, Z v) { put(s, name, to_dec(v)); }
void put_hex(std::string& s, std::string_view name, Z v) { put(s, name, to_hex(v)); }
// Operation fields: a missing field reads as 0, so zeros are left out.
void opt_dec(std::string& s, std::string_view name, Z v) {
  if (v != 0) put_dec(s, name, v);
}
void opt_hex(std::string& s, std::string_view name, Z v) {
  if (v != 0) put_hex(s, name, v);
}
void put_list(std::string& s, std::string_view name, const std::vector<Z>& values) {
  std::string text;
  for (const Z v : values) text += (text.empty() ? "" : ",") + to_hex(v);
  put(s, name, text);
}

std::string op_text(const model::Op& op) {
  std::string s = "op ";
  std::visit(Overload{
                 [&](const model::HostHvc& o) {
                   s += "hvc";
                   put_dec(s, "x0", o.x[0]);
                   for (std::size_t i = 1; i < o.x.size(); ++i)
                     opt_hex(s, fmt::format("x{}", i), o.x[i]);
                   if (const auto name = hvc_name(o.x[0]); !name.empty())
                     s += fmt::format("  # {}", name);
                 },
                 [&](const model::HostFault& o) {
                   s += "host_fault";
                   opt_hex(s, "hpfar", o.hpfar);
                   opt_hex(s, "esr", o.esr);
                   opt_hex(s, "far", o.far);
                 },
                 [&](const model::VcpuRun& o) {
                   s += "vcpu_run";
                   opt_dec(s, "vmid", o.vmid);
                 },
                 [&](const model::VmExit& o) {
                   s += "vm_exit";
                   opt_dec(s, "ec", o.ec);
                   opt_hex(s, "esr", o.esr);
                   for (std::size_t i = 0; i < o.x.size(); ++i)
                     opt_hex(s, fmt::format("x{}", i), o.x[i]);
                   opt_hex(s, "hpfar", o.hpfar);
                   opt_hex(s, "far", o.far);
                 },
                 [&](const model::MemLoad& o) {
                   s += "mem_load";
                   opt_hex(s, "gfn", o.gfn);
                   opt_dec(s, "reg", o.reg);
                 },
                 [&](const model::MemStore& o) {
                   s += "mem_store";
                   opt_hex(s, "gfn", o.gfn);
                   opt_dec(s, "reg", o.reg);
                 },
                 [&](const model::DevLoad& o) {
                   s += "dev_load";
                   opt_hex(s, "gfn", o.gfn);
                   opt_dec(s, "reg", o.reg);
                   opt_dec(s, "cbndx", o.cbndx);
                   opt_dec(s, "index", o.index);
                 },
                 [&](const model::DevStore& o) {
                   s += "dev_store";
                   opt_hex(s, "gfn", o.gfn);
                   opt_dec(s, "reg", o.reg);
                   opt_dec(s, "cbndx", o.cbndx);
                   opt_dec(s, "index", o.index);
                 },
                 [&](const model::SetReg& o) {
                   s += "set_reg";
                   opt_dec(s, "reg", o.reg);
                   opt_hex(s, "value", o.value);
                 },
             },
             op);
  return s;
}

void check_word(std::string_view field, const std::string& value) {
  if (!detail::is_word(value))
    throw std::invalid_argument(fmt::format("write_case: expect {} '{}' is not a word ({})", field,
                                            value, detail::kWordChars));
}

std::string expect_text(const Expectation& e) {
  check_word("target", e.target);
  check_word("verdict", e.verdict);
  std::string s = "expect";
  put(s, "target", e.target);
  if (!e.against.empty()) {
    check_word("against", e.against);
    put(s, "against", e.against);
  }
  put(s, "verdict", e.verdict);
  if (e.principal) put_dec(s, "principal", *e.principal);
  if (e.step) put_dec(s, "step", *e.step);
  return s;
}

std::string config_text(const model::MachineConfig& c) {
  std::string s = "config";
  put_dec(s, "max_vms", c.max_vms);
  put_dec(s, "vcpus_per_vm", c.vcpus_per_vm);
  put_dec(s, "total_cpus", c.total_cpus);
  put_dec(s, "curid", c.curid);
  put_hex(s, "ram_base_pfn", c.ram_base_pfn);
  put_hex(s, "ram_pages", c.ram_pages);
  put_dec(s, "smmu_ctxt_banks", c.smmu_ctxt_banks);
  put_dec(s, "max_share_count", c.max_share_count);
  put_dec(s, "max_load_info", c.max_load_info);
  return s;
}

void oracle_lines(std::string& out, const model::OracleInputs& o) {
  out += fmt::format("oracle fallback_seed={}\n", o.fallback_seed);
  for (const auto& [kind, streams] : {std::pair{"data", &o.data}, std::pair{"core", &o.core}}) {
    for (const auto& [principal, values] : *streams) {
      std::string s = kind;
      put_dec(s, "principal", principal);
      if (!values.empty()) put_list(s, "values", values);
      out += s + '\n';
    }
  }
  for (const auto& [at, events] : o.soracle) {
    // An empty schedule entry still exists in the map, so it gets a line of its own.
    if (events.empty()) out += fmt::format("soracle at={}\n", at);
    for (const model::SingleEvent& e : events) {
      std::string s = fmt::format("soracle at={}", at);
      put_dec(s, "cpu", e.cpu);
      put(s, "event", model::event_name(e.event.kind));
      put_list(s, "args", {e.event.args.begin(), e.event.args.end()});
      out += s + '\n';
    }
  }
  const model::Params& p = o.params;
  for (const auto& [index, value] : p.reg_desc)
    out += fmt::format("param reg_desc index={} value={}\n", index, to_hex(value));
  for (const auto& [vmid, value] : p.shared_kvm)
    out += fmt::format("param shared_kvm vmid={} value={}\n", to_dec(vmid), to_hex(value));
  for (const auto& [key, value] : p.shared_vcpu)
    out += fmt::format("param shared_vcpu vmid={} vcpu={} value={}\n", to_dec(key.first),
                       to_dec(key.second), to_hex(value));
  for (const auto& [vmid, value] : p.verify_img)
    out += fmt::format("param verify_img vmid={} value={}\n", to_dec(vmid), to_hex(value));
  out += fmt::format("param decrypt_gp_count value={}\n", p.decrypt_gp_count);
  out += fmt::format("param decrypt_sys_count value={}\n", p.decrypt_sys_count);
}

}  // namespace

std::string op_line(const model::Op& op) { return op_text(op).substr(3); }

std::string write_case(const CaseFile& f) {
  std::string out = fmt::format("hypdiff-case {}\n", kFormatVersion);
  // A note with line breaks becomes several notes: a comment ends at the end of its line.
  for (const std::string& note : f.notes) {
    std::string_view rest = note;
    while (true) {
      const auto nl = rest.find('\n');
      std::string piece(rest.substr(0, nl));
      std::erase(piece, '\r');
      out += piece.empty() ? "#\n" : "# " + piece + "\n";
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  if (f.expect) out += expect_text(*f.expect) + '\n';
  out += config_text(f.c.cfg) + '\n';
  for (const model::SmmuUnit& u : f.c.cfg.smmus)
    out += fmt::format("smmu base={} size={} banks={}\n", to_hex(u.phys_base), to_hex(u.size),
                       to_dec(u.context_banks));
  oracle_lines(out, f.c.oracle);
  for (const model::Op& op : f.c.ops) out += op_text(op) + '\n';
  return out;
}

}  // namespace hypdiff::corpus
