#include "harness/lib_target.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <limits>
#include <map>

#include "harness/ctxt_regs.hpp"
#include "model/init.hpp"

namespace hypdiff::harness {

using model::Z;

namespace {

constexpr std::uint64_t kPhysicalRegs = std::numeric_limits<std::uint64_t>::max();

std::uint64_t u64(Z v, const char* what) {
  if (v < 0 || v >= model::pow2(64))
    throw TargetError(
        fmt::format("{} {} does not fit the target ABI's 64-bit values", what, model::to_hex(v)));
  return static_cast<std::uint64_t>(v);
}

LibTarget* self(void* ctx) { return static_cast<LibTarget*>(ctx); }

std::uint64_t t_data(void* ctx, std::uint64_t v, std::uint64_t n) { return self(ctx)->data(v, n); }
std::uint64_t t_core(void* ctx, std::uint64_t v, std::uint64_t n) { return self(ctx)->core(v, n); }
std::size_t t_other_cpus(void* ctx, std::uint64_t len, hd_event* out, std::size_t cap) {
  return self(ctx)->other_cpus(len, out, cap);
}
std::uint64_t t_next_events(void* ctx, std::uint64_t from) { return self(ctx)->next_events(from); }

const model::Params& params_of(void* ctx) { return self(ctx)->params(); }
std::uint64_t t_reg_desc(void* ctx, std::uint64_t i) {
  return i > 1024 ? 0 : static_cast<std::uint64_t>(params_of(ctx).reg_desc_at(static_cast<int>(i)));
}
std::uint64_t t_shared_kvm(void* ctx, std::uint64_t v) {
  return static_cast<std::uint64_t>(params_of(ctx).shared_kvm_at(static_cast<Z>(v)));
}
std::uint64_t t_shared_vcpu(void* ctx, std::uint64_t v, std::uint64_t c) {
  return static_cast<std::uint64_t>(
      params_of(ctx).shared_vcpu_at(static_cast<Z>(v), static_cast<Z>(c)));
}
std::uint64_t t_verify_img(void* ctx, std::uint64_t v) {
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

// Rebuilds the abstract state from what the library exports.
struct Importer {
  model::RData d;
  std::map<std::uint64_t, model::ZMap<model::PtEntry>> npt;
  std::map<std::uint64_t, model::ZMap<model::SptEntry>> spt;
  std::uint64_t log_length = 0;

  static Importer& of(void* ctx) { return *static_cast<Importer*>(ctx); }
  static void machine(void* ctx, const hd_machine* m) {
    model::RData& d = of(ctx).d;
    of(ctx).log_length = m->log_length;
    d.halt = m->halt != 0;
    d.icore = m->icore != 0;
    d.ihost = m->ihost != 0;
    d.cur_vmid = static_cast<Z>(m->cur_vmid);
    d.cur_vcpuid = static_cast<Z>(m->cur_vcpuid);
  }
  static void core_data(void* ctx, std::uint64_t next_vmid, std::uint64_t next_remap) {
    of(ctx).d.shared.core_data =
        model::CoreData{static_cast<Z>(next_vmid), static_cast<Z>(next_remap)};
  }
  static void page(void* ctx, std::uint64_t pfn, std::uint64_t owner, std::uint64_t count,
                   std::uint64_t gfn, std::uint64_t value) {
    model::Shared& s = of(ctx).d.shared;
    s.s2page.set(static_cast<Z>(pfn),
                 model::S2Page{static_cast<Z>(owner), static_cast<Z>(count), static_cast<Z>(gfn)});
    s.flatmem.set(static_cast<Z>(pfn), static_cast<Z>(value));
  }
  static void mapping(void* ctx, std::uint64_t v, std::uint64_t gfn, std::uint64_t pfn,
                      std::uint64_t level, std::uint64_t pte) {
    of(ctx).npt[v].set(
        static_cast<Z>(gfn),
        model::PtEntry{static_cast<Z>(pfn), static_cast<Z>(level), static_cast<Z>(pte)});
  }
  static void vm(void* ctx, const hd_vm* x) {
    Importer& im = of(ctx);
    const model::MachineConfig& cfg = im.d.cfg();
    model::VMInfo info = im.d.shared.vminfos.default_fn()(x->vmid);
    info.VS.vm_kvm = static_cast<Z>(x->kvm);
    info.VS.vm_state = static_cast<Z>(x->state);
    info.VS.vm_power = static_cast<Z>(x->power);
    for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
      const auto i = static_cast<std::size_t>(c);
      info.VS.vm_vcpu_state.set(c, static_cast<Z>(x->vcpu_state[i]));
      info.VS.vm_vcpu.set(c, static_cast<Z>(x->vcpu[i]));
    }
    info.VB.vm_next_load_info = static_cast<Z>(x->next_load_info);
    info.VB.vm_inc_exe = static_cast<Z>(x->inc_exe);
    for (Z l = 0; l < cfg.max_load_info; ++l) {
      const auto i = static_cast<std::size_t>(l);
      info.VB.vm_load_addr.set(l, static_cast<Z>(x->load_addr[i]));
      info.VB.vm_load_size.set(l, static_cast<Z>(x->load_size[i]));
      info.VB.vm_remap_addr.set(l, static_cast<Z>(x->remap_addr[i]));
      info.VB.vm_mapped_pages.set(l, static_cast<Z>(x->mapped_pages[i]));
    }
    im.d.shared.vminfos.set(static_cast<Z>(x->vmid), std::move(info));
  }
  static void smmu_owner(void* ctx, std::uint64_t index, std::uint64_t cbndx, std::uint64_t owner) {
    model::RData& d = of(ctx).d;
    d.shared.smmu_vmid.set(d.cfg().smmu_id(static_cast<Z>(index), static_cast<Z>(cbndx)),
                           static_cast<Z>(owner));
  }
  static void smmu_mapping(void* ctx, std::uint64_t index, std::uint64_t cbndx, std::uint64_t gfn,
                           std::uint64_t pfn, std::uint64_t pte) {
    Importer& im = of(ctx);
    const Z ttbr = im.d.cfg().smmu_ttbr(static_cast<Z>(index), static_cast<Z>(cbndx));
    im.spt[static_cast<std::uint64_t>(ttbr)].set(
        static_cast<Z>(gfn), model::SptEntry{static_cast<Z>(pfn), static_cast<Z>(pte)});
  }
  static void context(void* ctx, std::uint64_t id, const std::uint64_t regs[HD_CTXT_SIZE]) {
    model::RData& d = of(ctx).d;
    model::Ctxt c{};
    std::size_t i = 0;
    for_each_reg(c, [&](Z& r) { r = static_cast<Z>(regs[i++]); });
    if (id == kPhysicalRegs) {
      d.regs = std::move(c);
    } else {
      d.set_ctx(static_cast<Z>(id), std::move(c));
    }
  }
  static void cursors(void* ctx, std::uint64_t v, std::uint64_t data_log, std::uint64_t core_log) {
    model::RData& d = of(ctx).d;
    d.data_log.set(static_cast<Z>(v), static_cast<Z>(data_log));
    d.core_data_log.set(static_cast<Z>(v), static_cast<Z>(core_log));
  }
};

}  // namespace

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
  const hd_target_v1* ops = fn();
  if (!ops || ops->abi_version != HD_ABI_VERSION) {
    if (error)
      *error = fmt::format("{} implements target ABI version {}, this hypdiff speaks {}", path,
                           ops ? ops->abi_version : 0u, HD_ABI_VERSION);
    dlclose(h);
    return nullptr;
  }
  if (!ops->open || !ops->close || !ops->reset || !ops->step || !ops->export_state ||
      !ops->last_error) {
    if (error) *error = path + ": hypdiff_target_v1 leaves a required function empty";
    dlclose(h);
    return nullptr;
  }
  return std::unique_ptr<LibTarget>(new LibTarget(path, h, ops));
}

LibTarget::~LibTarget() {
  close_instance();
  if (handle_) dlclose(handle_);
}

void LibTarget::close_instance() {
  if (inst_) ops_->close(inst_);
  inst_ = nullptr;
}

std::string LibTarget::describe() const {
  return fmt::format("{} ({}), target ABI {}", ops_->name ? ops_->name : "?",
                     ops_->description ? ops_->description : "", ops_->abi_version);
}

void LibTarget::fail(const std::string& what) const {
  const char* why = inst_ ? ops_->last_error(inst_) : "";
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
    inst_ = ops_->open(&hc, err, sizeof err);
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
  if (ops_->reset(inst_, &c_oracle_) != 0) fail("reset failed");
  base_ = model::initial_state(cfg, model::Profile::intended(), oracle_);
  import_state();
}

model::StepKind LibTarget::step(const model::Op& op) {
  if (!inst_) throw TargetError(name() + ": step before reset");
  const hd_op o = to_hd(op);
  const int r = ops_->step(inst_, &o);
  switch (r) {
    case HD_OK:
      import_state();
      return model::StepKind::ok;
    case HD_HALTED:
      import_state();
      return model::StepKind::halted;
    case HD_UNDEFINED:
      return model::StepKind::undefined;
    default:
      fail(fmt::format("step {} failed", model::to_string(op)));
  }
}

void LibTarget::import_state() {
  Importer im;
  im.d = base_;
  model::Shared& s = im.d.shared;
  s.flatmem = model::ZMap<Z>(s.flatmem.default_fn());
  s.s2page = model::ZMap<model::S2Page, model::S2PageDefault>(s.s2page.default_fn());
  s.vminfos = model::ZMap<model::VMInfo>(s.vminfos.default_fn());
  s.smmu_vmid = model::ZMap<Z>(s.smmu_vmid.default_fn());
  s.spts.spt_pt = model::ZMap<model::ZMap<model::SptEntry>>(s.spts.spt_pt.default_fn());
  im.d.shadow_ctxts = model::ZMap<model::Box<model::Ctxt>>(im.d.shadow_ctxts.default_fn());
  im.d.data_log = model::ZMap<Z>(im.d.data_log.default_fn());
  im.d.core_data_log = model::ZMap<Z>(im.d.core_data_log.default_fn());
  hd_sink sink{};
  sink.ctx = &im;
  sink.machine = Importer::machine;
  sink.core_data = Importer::core_data;
  sink.page = Importer::page;
  sink.mapping = Importer::mapping;
  sink.vm = Importer::vm;
  sink.smmu_owner = Importer::smmu_owner;
  sink.smmu_mapping = Importer::smmu_mapping;
  sink.context = Importer::context;
  sink.cursors = Importer::cursors;
  if (ops_->export_state(inst_, &sink) != 0) fail("export of the state failed");
  // Table flags and pool counters are not exported (nothing observes them): they stay the
  // initial state's, and only the translations are replaced.
  for (Z v = 0; v <= im.d.cfg().corevisor(); ++v) {
    model::NPT n = s.npts.get(v);
    const auto it = im.npt.find(static_cast<std::uint64_t>(v));
    n.pt = it == im.npt.end() ? model::ZMap<model::PtEntry>() : std::move(it->second);
    s.npts.set(v, std::move(n));
  }
  for (auto& [ttbr, pt] : im.spt) s.spts.spt_pt.set(static_cast<Z>(ttbr), std::move(pt));
  // The log itself is ghost state; its length is what the oracles key other CPUs' events on.
  if (im.log_length > 0) im.d.slog = model::Slog().push(model::SingleEvent{}, im.log_length);
  d_ = std::move(im.d);
}

}  // namespace hypdiff::harness
