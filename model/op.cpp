#include "model/op.hpp"

#include "model/handlers.hpp"

namespace hypdiff::model {

namespace {
template <class... Fs>
struct Overload : Fs... {
  using Fs::operator()...;
};

bool host_running(const RData& d) { return d.ihost && !d.icore; }
bool vm_running(const RData& d) { return !d.ihost && !d.icore; }

std::string field(const char* name, Z v) { return std::string(" ") + name + "=" + to_hex(v); }
}  // namespace

const char* handler_name(Handler h) {
  switch (h) {
    case Handler::host_hvc:
      return "host_hvc";
    case Handler::host_npt:
      return "host_npt";
    case Handler::host_vcpu_run:
      return "host_vcpu_run";
    case Handler::vm_exit:
      return "vm_exit";
    case Handler::mem_load:
      return "mem_load";
    case Handler::mem_store:
      return "mem_store";
    case Handler::dev_load:
      return "dev_load";
    case Handler::dev_store:
      return "dev_store";
    case Handler::set_reg:
      return "set_reg";
  }
  return "?";
}

Handler handler_of(const Op& op) { return static_cast<Handler>(op.index()); }

std::optional<HandlerMask> parse_handler_list(std::string_view text, std::string* error) {
  if (text == "all") return kAllHandlers;
  HandlerMask m = 0;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    int found = -1;
    for (int i = 0; i < kHandlerCount; ++i)
      if (name == handler_name(static_cast<Handler>(i))) found = i;
    if (found < 0) {
      if (error) {
        *error = "unknown operation kind '" + std::string(name) +
                 "' (known: " + handler_list(kAllHandlers) + ", or all)";
      }
      return std::nullopt;
    }
    m |= handler_bit(static_cast<Handler>(found));
  }
  if (m == 0) {
    if (error) *error = "no operation kinds given";
    return std::nullopt;
  }
  return m;
}

std::string handler_list(HandlerMask m) {
  std::string out;
  for (int i = 0; i < kHandlerCount; ++i) {
    const auto h = static_cast<Handler>(i);
    if (!(m & handler_bit(h))) continue;
    if (!out.empty()) out += ", ";
    out += handler_name(h);
  }
  return out.empty() ? "none" : out;
}

const char* step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::ok:
      return "ok";
    case StepKind::halted:
      return "halted";
    case StepKind::undefined:
      return "undefined";
  }
  return "?";
}

bool is_access(const Op& op) {
  const Handler h = handler_of(op);
  return h == Handler::mem_load || h == Handler::mem_store || h == Handler::dev_load ||
         h == Handler::dev_store;
}

StepResult apply(const RData& d, const Op& op) {
  Outcome out = std::visit(
      Overload{
          [&](const HostHvc& o) -> Outcome {
            RData s = d;
            if (host_running(s)) {
              for (std::size_t i = 0; i < o.x.size(); ++i) s.regs.ctxt_regs.x[i] = o.x[i];
            }
            return host_hvc_handler(std::move(s));
          },
          [&](const HostFault& o) -> Outcome {
            RData s = d;
            if (host_running(s)) {
              s.regs.ctxt_regs.hpfar_el2 = o.hpfar;
              s.regs.ctxt_regs.esr_el2 = o.esr;
              s.regs.ctxt_regs.far_el2 = o.far;
            }
            return host_npt_handler(std::move(s));
          },
          [&](const VcpuRun& o) -> Outcome {
            RData s = d;
            if (host_running(s)) s.regs.ctxt_regs.x[0] = o.vmid;
            return host_vcpu_run_handler(std::move(s));
          },
          [&](const VmExit& o) -> Outcome {
            RData s = d;
            if (vm_running(s)) {
              CtxtRegs& r = s.regs.ctxt_regs;
              r.ec = o.ec;
              r.esr_el2 = o.esr;
              for (std::size_t i = 0; i < o.x.size(); ++i) r.x[i] = o.x[i];
              r.hpfar_el2 = o.hpfar;
              r.far_el2 = o.far;
            }
            return vm_exit_handler(std::move(s));
          },
          [&](const MemLoad& o) -> Outcome { return mem_load(d, o.gfn, o.reg); },
          [&](const MemStore& o) -> Outcome { return mem_store(d, o.gfn, o.reg); },
          [&](const DevLoad& o) -> Outcome { return dev_load(d, o.gfn, o.reg, o.cbndx, o.index); },
          [&](const DevStore& o) -> Outcome {
            return dev_store(d, o.gfn, o.reg, o.cbndx, o.index);
          },
          [&](const SetReg& o) -> Outcome {
            // Only a running principal computes; a register outside x0..x30 names nothing.
            if (d.icore || o.reg > 30) return std::nullopt;
            RData s = d;
            s.regs.ctxt_regs.x[o.reg] = o.value;
            return s;
          },
      },
      op);
  StepKind kind = !out ? StepKind::undefined : out->halt ? StepKind::halted : StepKind::ok;
  return StepResult{std::move(out), kind};
}

std::string to_string(const Op& op) {
  return std::visit(
      Overload{
          [](const HostHvc& o) {
            std::string s = "hvc";
            for (std::size_t i = 0; i < o.x.size(); ++i)
              s += field(("x" + std::to_string(i)).c_str(), o.x[i]);
            return s;
          },
          [](const HostFault& o) {
            return "host_fault" + field("hpfar", o.hpfar) + field("esr", o.esr) +
                   field("far", o.far);
          },
          [](const VcpuRun& o) { return "vcpu_run" + field("vmid", o.vmid); },
          [](const VmExit& o) {
            std::string s = "vm_exit" + field("ec", o.ec) + field("esr", o.esr);
            for (std::size_t i = 0; i < o.x.size(); ++i)
              s += field(("x" + std::to_string(i)).c_str(), o.x[i]);
            return s + field("hpfar", o.hpfar) + field("far", o.far);
          },
          [](const MemLoad& o) { return "mem_load" + field("gfn", o.gfn) + field("reg", o.reg); },
          [](const MemStore& o) { return "mem_store" + field("gfn", o.gfn) + field("reg", o.reg); },
          [](const DevLoad& o) {
            return "dev_load" + field("gfn", o.gfn) + field("reg", o.reg) +
                   field("cbndx", o.cbndx) + field("index", o.index);
          },
          [](const DevStore& o) {
            return "dev_store" + field("gfn", o.gfn) + field("reg", o.reg) +
                   field("cbndx", o.cbndx) + field("index", o.index);
          },
          [](const SetReg& o) { return "set_reg" + field("reg", o.reg) + field("value", o.value); },
      },
      op);
}

}  // namespace hypdiff::model
