#include "harness/lib_target.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <limits>
#include <utility>

#include "harness/abi_import.hpp"
#include "model/init.hpp"
#include "oracles/diff.hpp"
#include "oracles/projection.hpp"

namespace hypdiff::harness {

using model::Z;

namespace {

std::uint64_t u64(Z v, const char* what) {
  if (v < 0 || v >= model::pow2(64))
    throw TargetError(
        fmt::format("{} {} does not fit the target ABI's 64-bit values", what, model::to_hex(v)));
  return static_cast<std::uint64_t>(v);
}

LibTarget* self(void* ctx) { return static_cast<LibTarget*>(ctx); }

// The library's calls back into the harness. Each starts with a Guard::Callback, so that a
// timeout never interrupts the harness's own work.
std::uint64_t t_data(void* ctx, std::uint64_t v, std::uint64_t n) {
  const Guard::Callback in;
  return self(ctx)->data(v, n);
}
std::uint64_t t_core(void* ctx, std::uint64_t v, std::uint64_t n) {
  const Guard::Callback in;
  return self(ctx)->core(v, n);
}
std::size_t t_other_cpus(void* ctx, std::uint64_t len, hd_event* out, std::size_t cap) {
  const Guard::Callback in;
  return self(ctx)->other_cpus(len, out, cap);
}
std::uint64_t t_next_events(void* ctx, std::uint64_t from) {
  const Guard::Callback in;
  return self(ctx)->next_events(from);
}

const model::Params& params_of(void* ctx) { return self(ctx)->params(); }
std::uint64_t t_reg_desc(void* ctx, std::uint64_t i) {
  const Guard::Callback in;
  return i > 1024 ? 0 : static_cast<std::uint64_t>(params_of(ctx).reg_desc_at(static_cast<int>(i)));
}
std::uint64_t t_shared_kvm(void* ctx, std::uint64_t v) {
  const Guard::Callback in;
  return static_cast<std::uint64_t>(params_of(ctx).shared_kvm_at(static_cast<Z>(v)));
}
std::uint64_t t_shared_vcpu(void* ctx, std::uint64_t v, std::uint64_t c) {
  const Guard::Callback in;
  return static_cast<std::uint64_t>(
      params_of(ctx).shared_vcpu_at(static_cast<Z>(v), static_cast<Z>(c)));
}
std::uint64_t t_verify_img(void* ctx, std::uint64_t v) {
  const Guard::Callback in;
  return static_cast<std::uint64_t>(params_of(ctx).verify_img_at(static_cast<Z>(v)));
}

hd_op to_hd(const model::Op& op) {
  hd_op o{};
  o.kind = static_cast<std::uint32_t>(op.index());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, model::HostHvc>) {
          for (std::size_t i = 0; i < 6; ++i) o.arg[i] = u64(x.x[i], "hvc argument");
        } else if constexpr (std::is_same_v<T, model::HostFault>) {
          o.arg[0] = u64(x.hpfar, "hpfar");
          o.arg[1] = u64(x.esr, "esr");
          o.arg[2] = u64(x.far, "far");
        } else if constexpr (std::is_same_v<T, model::VcpuRun>) {
          o.arg[0] = u64(x.vmid, "vmid");
        } else if constexpr (std::is_same_v<T, model::VmExit>) {
          o.arg[0] = u64(x.ec, "ec");
          o.arg[1] = u64(x.esr, "esr");
          for (std::size_t i = 0; i < 4; ++i) o.arg[2 + i] = u64(x.x[i], "exit register");
          o.arg[6] = u64(x.hpfar, "hpfar");
          o.arg[7] = u64(x.far, "far");
        } else if constexpr (std::is_same_v<T, model::MemLoad> ||
                             std::is_same_v<T, model::MemStore>) {
          o.arg[0] = x.gfn;
          o.arg[1] = x.reg;
        } else if constexpr (std::is_same_v<T, model::DevLoad> ||
                             std::is_same_v<T, model::DevStore>) {
          o.arg[0] = x.gfn;
          o.arg[1] = x.reg;
          o.arg[2] = x.cbndx;
          o.arg[3] = x.index;
        } else {
          o.arg[0] = x.reg;
          o.arg[1] = u64(x.value, "register value");
        }
      },
      op);
  return o;
}

hd_config to_hd(const model::MachineConfig& c) {
  hd_config h{};
  h.max_vms = u64(c.max_vms, "max_vms");
  h.vcpus_per_vm = u64(c.vcpus_per_vm, "vcpus_per_vm");
  h.total_cpus = u64(c.total_cpus, "total_cpus");
  h.curid = u64(c.curid, "curid");
  h.ram_base_pfn = u64(c.ram_base_pfn, "ram_base_pfn");
  h.ram_pages = u64(c.ram_pages, "ram_pages");
  if (c.smmus.size() > HD_MAX_SMMUS)
    throw TargetError(fmt::format("the target ABI takes at most {} SMMUs", HD_MAX_SMMUS));
  h.smmu_count = c.smmus.size();
  for (std::size_t i = 0; i < c.smmus.size(); ++i) {
    h.smmu[i] =
        hd_smmu_unit{u64(c.smmus[i].phys_base, "smmu base"), u64(c.smmus[i].size, "smmu size"),
                     u64(c.smmus[i].context_banks, "smmu banks")};
  }
  h.smmu_ctxt_banks = u64(c.smmu_ctxt_banks, "smmu_ctxt_banks");
  h.max_share_count = u64(c.max_share_count, "max_share_count");
  h.max_load_info = u64(c.max_load_info, "max_load_info");
  return h;
}

// Where two imports of one state differ, in one line; "" when they agree.
std::string export_mismatch(const model::RData& whole, const model::RData& changes) {
  if (whole.slog.length() != changes.slog.length())
    return fmt::format("log length {} in the full export, {} from the changes", whole.slog.length(),
                       changes.slog.length());
  if (oracles::same_observables(whole, changes)) return "";
  for (Z v = 0; v <= whole.cfg().corevisor(); ++v) {
    const oracles::ProjectionDiff d =
        oracles::diff(oracles::project(whole, v), oracles::project(changes, v), 1);
    if (d.empty()) continue;
    std::string line = oracles::describe(d, "the full export", "the changes");
    line = line.substr(0, line.find('\n'));
    return line;
  }
  return "a part of the state no principal observes differs";
}

// Abandoned instances are never freed (their code may be in any state), but they stay reachable
// so that leak checkers (ASan's) do not report them.
void abandon(void* inst) {
  static auto* const kept = new std::vector<void*>;
  kept->push_back(inst);
}

}  // namespace

std::string LibTarget::check_ops(const std::string& where, const hd_target_v1* ops) {
  if (!ops || ops->abi_version < HD_ABI_MIN_VERSION || ops->abi_version > HD_ABI_VERSION)
    return fmt::format("{} implements target ABI version {}, this hypdiff speaks {} to {}", where,
                       ops ? ops->abi_version : 0u, HD_ABI_MIN_VERSION, HD_ABI_VERSION);
  if (!ops->open || !ops->close || !ops->reset || !ops->step || !ops->export_state ||
      !ops->last_error)
    return where + ": hypdiff_target_v1 leaves a required function empty";
  return "";
}

std::unique_ptr<LibTarget> LibTarget::load(const std::string& path, std::string* error) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    if (error) *error = fmt::format("cannot load target library: {}", dlerror());
    return nullptr;
  }
  auto fn = reinterpret_cast<hd_target_v1_fn>(dlsym(h, "hypdiff_target_v1"));
  if (!fn) {
    if (error) *error = path + " is not a hypdiff target: it exports no hypdiff_target_v1";
    dlclose(h);
    return nullptr;
  }
  const hd_target_v1* ops = nullptr;
  std::string why;
  try {
    Guard guard("lib:" + path, 0);
    guard.run("hypdiff_target_v1", [&] { ops = fn(); });
    why = check_ops(path, ops);
  } catch (const TargetFault& e) {
    why = e.what();
  }
  if (!why.empty()) {
    if (error) *error = why;
    dlclose(h);
    return nullptr;
  }
  return std::unique_ptr<LibTarget>(new LibTarget("lib:" + path, h, ops));
}

std::unique_ptr<LibTarget> LibTarget::linked(const std::string& name, const hd_target_v1* ops,
                                             std::string* error) {
  if (std::string why = check_ops(name, ops); !why.empty()) {
    if (error) *error = std::move(why);
    return nullptr;
  }
  return std::unique_ptr<LibTarget>(new LibTarget(name, nullptr, ops));
}

bool LibTarget::incremental() const {
  return ops_->abi_version >= 2 && ops_->export_changes != nullptr;
}

LibTarget::~LibTarget() {
  try {
    close_instance();
  } catch (const TargetFault&) {
    // A library that crashes while closing at the end changes no verdict.
  }
  if (handle_) dlclose(handle_);
}

template <class F>
void LibTarget::call(const char* what, F&& f) {
  try {
    guard_.run(what, std::forward<F>(f));
  } catch (const TargetFault&) {
    // The instance's code was abandoned midway: never call it again (not even close); the next
    // reset opens a fresh one.
    if (inst_) abandon(inst_);
    inst_ = nullptr;
    cfg_.reset();
    throw;
  }
}

void LibTarget::close_instance() {
  void* inst = std::exchange(inst_, nullptr);
  if (inst) call("close", [&] { ops_->close(inst); });
}

std::string LibTarget::describe() const {
  return fmt::format("{} ({}), target ABI {}{}", ops_->name ? ops_->name : "?",
                     ops_->description ? ops_->description : "", ops_->abi_version,
                     incremental() ? ", incremental export" : "");
}

void LibTarget::fail(const std::string& what) {
  const char* why = "";
  if (inst_) call("last_error", [&] { why = ops_->last_error(inst_); });
  throw TargetError(
      fmt::format("{}: {}{}{}", name(), what, why && *why ? ": " : "", why ? why : ""));
}

std::uint64_t LibTarget::data(std::uint64_t v, std::uint64_t n) const {
  return static_cast<std::uint64_t>(oracle_->doracle(static_cast<Z>(v), static_cast<Z>(n)));
}
std::uint64_t LibTarget::core(std::uint64_t v, std::uint64_t n) const {
  return static_cast<std::uint64_t>(oracle_->core_doracle(static_cast<Z>(v), static_cast<Z>(n)));
}
std::size_t LibTarget::other_cpus(std::uint64_t log_length, hd_event* out, std::size_t cap) const {
  const auto& events = oracle_->events_at(log_length);
  for (std::size_t i = 0; i < events.size() && i < cap; ++i) {
    out[i].cpu = static_cast<std::uint64_t>(events[i].cpu);
    out[i].kind = static_cast<std::uint32_t>(events[i].event.kind);
    for (std::size_t a = 0; a < 4; ++a)
      out[i].arg[a] = static_cast<std::uint64_t>(events[i].event.args[a]);
  }
  return events.size();
}
std::uint64_t LibTarget::next_events(std::uint64_t from) const {
  return oracle_->next_scheduled(from);
}

void LibTarget::reset(const model::MachineConfig& cfg, model::OraclePtr oracle) {
  if (auto why = cfg.validate()) throw TargetError(name() + ": " + *why);
  if (!cfg_ || !(*cfg_ == cfg)) {
    close_instance();
    const hd_config hc = to_hd(cfg);
    char err[512] = "";
    call("open", [&] { inst_ = ops_->open(&hc, err, sizeof err); });
    if (!inst_) throw TargetError(fmt::format("{}: refuses the configuration: {}", name(), err));
    cfg_ = cfg;
  }
  oracle_ = oracle ? std::move(oracle) : std::make_shared<const model::OracleInputs>();
  c_oracle_ = hd_oracle{};
  c_oracle_.ctx = this;
  c_oracle_.data = t_data;
  c_oracle_.core = t_core;
  c_oracle_.other_cpus = t_other_cpus;
  c_oracle_.next_events = t_next_events;
  c_oracle_.reg_desc = t_reg_desc;
  c_oracle_.shared_kvm = t_shared_kvm;
  c_oracle_.shared_vcpu = t_shared_vcpu;
  c_oracle_.verify_img = t_verify_img;
  c_oracle_.decrypt_gp_count = static_cast<std::uint64_t>(oracle_->params.decrypt_gp_count);
  c_oracle_.decrypt_sys_count = static_cast<std::uint64_t>(oracle_->params.decrypt_sys_count);
  int r = 0;
  call("reset", [&] { r = ops_->reset(inst_, &c_oracle_); });
  if (r != 0) fail("reset failed");
  base_ = model::initial_state(cfg, model::Profile::intended(), oracle_);
  import_state(true);
}

model::StepKind LibTarget::step(const model::Op& op) {
  if (!inst_) throw TargetError(name() + ": step before reset");
  const hd_op o = to_hd(op);
  int r = HD_ERROR;
  call("step", [&] { r = ops_->step(inst_, &o); });
  switch (r) {
    case HD_OK:
      import_state(!incremental());
      return model::StepKind::ok;
    case HD_HALTED:
      import_state(!incremental());
      return model::StepKind::halted;
    case HD_UNDEFINED:
      return model::StepKind::undefined;
    default:
      fail(fmt::format("step {} failed", model::to_string(op)));
  }
}

void LibTarget::import_state(bool full) {
  int r = 0;
  const auto export_fn = [&](const hd_sink* sink) {
    call(full ? "export_state" : "export_changes",
         [&] { r = full ? ops_->export_state(inst_, sink) : ops_->export_changes(inst_, sink); });
    return r;
  };
  if ((full ? import_full(base_, export_fn, &d_) : import_changes(d_, export_fn, &d_)) != 0)
    fail(full ? "export of the state failed" : "export of the changes failed");
  if (full || !verify_export_) return;
  // A check for target authors: the changes must add up to the whole state.
  model::RData whole;
  const auto full_fn = [&](const hd_sink* sink) {
    call("export_state", [&] { r = ops_->export_state(inst_, sink); });
    return r;
  };
  if (import_full(base_, full_fn, &whole) != 0) fail("export of the state failed");
  if (const std::string why = export_mismatch(whole, d_); !why.empty())
    throw TargetError(
        fmt::format("{}: export_changes disagrees with export_state: {}", name(), why));
}

}  // namespace hypdiff::harness
