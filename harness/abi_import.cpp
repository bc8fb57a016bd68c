#include "harness/abi_import.hpp"

#include <limits>
#include <map>

#include "harness/ctxt_regs.hpp"
#include "harness/guard.hpp"

namespace hypdiff::harness {

using model::Z;

namespace {

constexpr std::uint64_t kPhysicalRegs = std::numeric_limits<std::uint64_t>::max();

// Writes the sink's items into `d`. Each callback is the library calling back into the harness
// (Guard::Callback: a timeout never interrupts it midway). Stage-2 and SMMU tables are gathered per
// table and written back once, so a block's 512 gfns do not copy the table record 512 times.
struct Importer {
  model::RData d;
  std::map<std::uint64_t, model::ZMap<model::PtEntry>> npt;
  std::map<std::uint64_t, model::ZMap<model::SptEntry>> spt;
  std::uint64_t log_length = 0;

  model::ZMap<model::PtEntry>& npt_of(std::uint64_t v) {
    auto it = npt.find(v);
    if (it == npt.end()) it = npt.emplace(v, d.shared.npts.get(static_cast<Z>(v)).pt).first;
    return it->second;
  }
  model::ZMap<model::SptEntry>& spt_of(Z ttbr) {
    const auto key = static_cast<std::uint64_t>(ttbr);
    auto it = spt.find(key);
    if (it == spt.end()) it = spt.emplace(key, d.shared.spts.spt_pt.get(ttbr)).first;
    return it->second;
  }

  void finish() {
    model::Shared& s = d.shared;
    for (auto& [v, pt] : npt) {
      model::NPT n = s.npts.get(static_cast<Z>(v));
      n.pt = std::move(pt);
      s.npts.set(static_cast<Z>(v), std::move(n));
    }
    for (auto& [ttbr, pt] : spt) s.spts.spt_pt.set(static_cast<Z>(ttbr), std::move(pt));
    // The log itself is ghost state; its length is what the oracles key other CPUs' events on.
    if (d.slog.length() != log_length) {
      d.slog = log_length > d.slog.length()
                   ? d.slog.push(model::SingleEvent{}, log_length - d.slog.length())
                   : model::Slog().push(model::SingleEvent{}, log_length);
    }
  }

  static Importer& of(void* ctx) { return *static_cast<Importer*>(ctx); }

  static void machine(void* ctx, const hd_machine* m) {
    const Guard::Callback in;
    model::RData& d = of(ctx).d;
    of(ctx).log_length = m->log_length;
    d.halt = m->halt != 0;
    d.icore = m->icore != 0;
    d.ihost = m->ihost != 0;
    d.cur_vmid = static_cast<Z>(m->cur_vmid);
    d.cur_vcpuid = static_cast<Z>(m->cur_vcpuid);
  }
  static void core_data(void* ctx, std::uint64_t next_vmid, std::uint64_t next_remap) {
    const Guard::Callback in;
    of(ctx).d.shared.core_data =
        model::CoreData{static_cast<Z>(next_vmid), static_cast<Z>(next_remap)};
  }
  static void page(void* ctx, std::uint64_t pfn, std::uint64_t owner, std::uint64_t count,
                   std::uint64_t gfn, std::uint64_t value) {
    const Guard::Callback in;
    model::Shared& s = of(ctx).d.shared;
    s.s2page.set(static_cast<Z>(pfn),
                 model::S2Page{static_cast<Z>(owner), static_cast<Z>(count), static_cast<Z>(gfn)});
    s.flatmem.set(static_cast<Z>(pfn), static_cast<Z>(value));
  }
  static void mapping(void* ctx, std::uint64_t v, std::uint64_t gfn, std::uint64_t pfn,
                      std::uint64_t level, std::uint64_t pte) {
    const Guard::Callback in;
    of(ctx).npt_of(v).set(
        static_cast<Z>(gfn),
        model::PtEntry{static_cast<Z>(pfn), static_cast<Z>(level), static_cast<Z>(pte)});
  }
  static void vm(void* ctx, const hd_vm* x) {
    const Guard::Callback in;
    model::RData& d = of(ctx).d;
    const model::MachineConfig& cfg = d.cfg();
    model::VMInfo info = d.shared.vminfos.default_fn()(x->vmid);
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
    d.shared.vminfos.set(static_cast<Z>(x->vmid), std::move(info));
  }
  static void smmu_owner(void* ctx, std::uint64_t index, std::uint64_t cbndx, std::uint64_t owner) {
    const Guard::Callback in;
    model::RData& d = of(ctx).d;
    d.shared.smmu_vmid.set(d.cfg().smmu_id(static_cast<Z>(index), static_cast<Z>(cbndx)),
                           static_cast<Z>(owner));
  }
  static void smmu_mapping(void* ctx, std::uint64_t index, std::uint64_t cbndx, std::uint64_t gfn,
                           std::uint64_t pfn, std::uint64_t pte) {
    const Guard::Callback in;
    Importer& im = of(ctx);
    const Z ttbr = im.d.cfg().smmu_ttbr(static_cast<Z>(index), static_cast<Z>(cbndx));
    im.spt_of(ttbr).set(static_cast<Z>(gfn),
                        model::SptEntry{static_cast<Z>(pfn), static_cast<Z>(pte)});
  }
  static void context(void* ctx, std::uint64_t id, const std::uint64_t regs[HD_CTXT_SIZE]) {
    const Guard::Callback in;
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
    const Guard::Callback in;
    model::RData& d = of(ctx).d;
    d.data_log.set(static_cast<Z>(v), static_cast<Z>(data_log));
    d.core_data_log.set(static_cast<Z>(v), static_cast<Z>(core_log));
  }

  int run(const ExportFn& export_fn) {
    hd_sink sink{};
    sink.ctx = this;
    sink.machine = machine;
    sink.core_data = core_data;
    sink.page = page;
    sink.mapping = mapping;
    sink.vm = vm;
    sink.smmu_owner = smmu_owner;
    sink.smmu_mapping = smmu_mapping;
    sink.context = context;
    sink.cursors = cursors;
    const int rc = export_fn(&sink);
    if (rc == 0) finish();
    return rc;
  }
};

}  // namespace

int import_full(const model::RData& base, const ExportFn& export_fn, model::RData* out) {
  Importer im;
  im.d = base;
  im.log_length = base.slog.length();
  model::RData& d = im.d;
  model::Shared& s = d.shared;
  // Everything exported starts empty (its default); what is not exported stays the base's.
  s.flatmem = model::ZMap<Z>(s.flatmem.default_fn());
  s.s2page = model::ZMap<model::S2Page, model::S2PageDefault>(s.s2page.default_fn());
  s.vminfos = model::ZMap<model::VMInfo>(s.vminfos.default_fn());
  s.smmu_vmid = model::ZMap<Z>(s.smmu_vmid.default_fn());
  s.spts.spt_pt = model::ZMap<model::ZMap<model::SptEntry>>(s.spts.spt_pt.default_fn());
  d.shadow_ctxts = model::ZMap<model::Box<model::Ctxt>>(d.shadow_ctxts.default_fn());
  d.data_log = model::ZMap<Z>(d.data_log.default_fn());
  d.core_data_log = model::ZMap<Z>(d.core_data_log.default_fn());
  for (Z v = 0; v <= d.cfg().corevisor(); ++v) im.npt[static_cast<std::uint64_t>(v)] = {};
  const int rc = im.run(export_fn);
  if (rc == 0) *out = std::move(im.d);
  return rc;
}

int import_changes(const model::RData& current, const ExportFn& export_fn, model::RData* out) {
  Importer im;
  im.d = current;
  im.log_length = current.slog.length();
  const int rc = im.run(export_fn);
  if (rc == 0) *out = std::move(im.d);
  return rc;
}

}  // namespace hypdiff::harness
