// A third-party-style target: the spec model (intended profile) behind the C target ABI, built
// as a shared library and loaded with --target lib:PATH. It exercises the ABI end to end: the
// harness's callbacks feed the model's oracles, and the export is read back into an abstract
// state that must equal the model's own after every step.
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/ctxt_regs.hpp"
#include "hypdiff/target.h"
#include "model/init.hpp"
#include "model/op.hpp"

namespace {

using hypdiff::model::Z;
namespace m = hypdiff::model;

// Values are 64-bit on the ABI; the model's Z can exceed that only through sums of hostile
// values, which this plugin truncates (and the harness then reports as a divergence).
std::uint64_t w(Z v) { return static_cast<std::uint64_t>(static_cast<unsigned __int128>(v)); }

class Source final : public m::OracleSource {
 public:
  explicit Source(const hd_oracle& o) : o_(o) {}
  Z data(Z v, Z n) const override { return static_cast<Z>(o_.data(o_.ctx, w(v), w(n))); }
  Z core(Z v, Z n) const override { return static_cast<Z>(o_.core(o_.ctx, w(v), w(n))); }
  const std::vector<m::SingleEvent>& events_at(std::uint64_t len) const override {
    auto it = cache_.find(len);
    if (it != cache_.end()) return it->second;
    std::vector<hd_event> raw(16);
    std::size_t n = o_.other_cpus(o_.ctx, len, raw.data(), raw.size());
    if (n > raw.size()) {
      raw.resize(n);
      n = o_.other_cpus(o_.ctx, len, raw.data(), raw.size());
    }
    std::vector<m::SingleEvent> out;
    for (std::size_t i = 0; i < n; ++i) {
      m::SingleEvent e;
      e.cpu = static_cast<Z>(raw[i].cpu);
      e.event.kind = static_cast<m::EventKind>(raw[i].kind);
      for (std::size_t a = 0; a < 4; ++a) e.event.args[a] = static_cast<Z>(raw[i].arg[a]);
      out.push_back(e);
    }
    return cache_.emplace(len, std::move(out)).first->second;
  }
  std::uint64_t next_scheduled(std::uint64_t from) const override {
    return o_.next_events(o_.ctx, from);
  }

 private:
  hd_oracle o_;
  mutable std::map<std::uint64_t, std::vector<m::SingleEvent>> cache_;
};

struct Instance {
  m::MachineConfig cfg;
  std::optional<m::RData> d;
  std::string error;
};

void* open_target(const hd_config* c, char* err, std::size_t errlen) {
  m::MachineConfig cfg;
  cfg.max_vms = static_cast<Z>(c->max_vms);
  cfg.vcpus_per_vm = static_cast<Z>(c->vcpus_per_vm);
  cfg.total_cpus = static_cast<Z>(c->total_cpus);
  cfg.curid = static_cast<Z>(c->curid);
  cfg.ram_base_pfn = static_cast<Z>(c->ram_base_pfn);
  cfg.ram_pages = static_cast<Z>(c->ram_pages);
  cfg.smmus.clear();
  for (std::uint64_t i = 0; i < c->smmu_count && i < HD_MAX_SMMUS; ++i) {
    cfg.smmus.push_back(m::SmmuUnit{static_cast<Z>(c->smmu[i].phys_base),
                                    static_cast<Z>(c->smmu[i].size),
                                    static_cast<Z>(c->smmu[i].context_banks)});
  }
  cfg.smmu_ctxt_banks = static_cast<Z>(c->smmu_ctxt_banks);
  cfg.max_share_count = static_cast<Z>(c->max_share_count);
  cfg.max_load_info = static_cast<Z>(c->max_load_info);
  if (auto why = cfg.validate()) {
    std::snprintf(err, errlen, "%s", why->c_str());
    return nullptr;
  }
  return new Instance{cfg, std::nullopt, ""};
}

void close_target(void* t) { delete static_cast<Instance*>(t); }

int reset_target(void* t, const hd_oracle* o) {
  auto* in = static_cast<Instance*>(t);
  auto oracle = std::make_shared<m::OracleInputs>();
  oracle->source = std::make_shared<Source>(*o);
  // The Parameters have finite domains: ask for every key once.
  for (int i = 0; i < 128; ++i) {
    const std::uint64_t v = o->reg_desc(o->ctx, static_cast<std::uint64_t>(i));
    if (v != 0) oracle->params.reg_desc[i] = static_cast<Z>(v);
  }
  for (Z v = 0; v <= in->cfg.corevisor(); ++v) {
    if (const auto k = o->shared_kvm(o->ctx, w(v)))
      oracle->params.shared_kvm[v] = static_cast<Z>(k);
    if (const auto ok = o->verify_img(o->ctx, w(v)); ok != 1)
      oracle->params.verify_img[v] = static_cast<Z>(ok);
    for (Z c = 0; c < in->cfg.vcpus_per_vm; ++c) {
      if (const auto x = o->shared_vcpu(o->ctx, w(v), w(c)))
        oracle->params.shared_vcpu[{v, c}] = static_cast<Z>(x);
    }
  }
  oracle->params.decrypt_gp_count = static_cast<int>(o->decrypt_gp_count);
  oracle->params.decrypt_sys_count = static_cast<int>(o->decrypt_sys_count);
  in->d = m::initial_state(in->cfg, m::Profile::intended(), oracle);
  return 0;
}

m::Op from_hd(const hd_op& o) {
  const auto z = [&](std::size_t i) { return static_cast<Z>(o.arg[i]); };
  const auto u32 = [&](std::size_t i) { return static_cast<std::uint32_t>(o.arg[i]); };
  switch (o.kind) {
    case HD_OP_HOST_HVC:
      return m::HostHvc{{z(0), z(1), z(2), z(3), z(4), z(5)}};
    case HD_OP_HOST_FAULT:
      return m::HostFault{z(0), z(1), z(2)};
    case HD_OP_VCPU_RUN:
      return m::VcpuRun{z(0)};
    case HD_OP_VM_EXIT:
      return m::VmExit{z(0), z(1), {z(2), z(3), z(4), z(5)}, z(6), z(7)};
    case HD_OP_MEM_LOAD:
      return m::MemLoad{o.arg[0], u32(1)};
    case HD_OP_MEM_STORE:
      return m::MemStore{o.arg[0], u32(1)};
    case HD_OP_DEV_LOAD:
      return m::DevLoad{o.arg[0], u32(1), u32(2), u32(3)};
    case HD_OP_DEV_STORE:
      return m::DevStore{o.arg[0], u32(1), u32(2), u32(3)};
    default:
      return m::SetReg{u32(0), z(1)};
  }
}

int step_target(void* t, const hd_op* o) {
  auto* in = static_cast<Instance*>(t);
  if (!in->d || o->kind > HD_OP_SET_REG) {
    in->error = !in->d ? "step before reset" : "unknown operation kind";
    return HD_ERROR;
  }
  m::StepResult r = m::apply(*in->d, from_hd(*o));
  if (!r.after) return HD_UNDEFINED;
  in->d = std::move(*r.after);
  return in->d->halt ? HD_HALTED : HD_OK;
}

void export_context(const hd_sink* s, std::uint64_t id, const m::Ctxt& ctxt) {
  m::Ctxt c = ctxt;
  std::uint64_t regs[HD_CTXT_SIZE] = {};
  std::size_t i = 0;
  hypdiff::harness::for_each_reg(c, [&](Z& r) { regs[i++] = w(r); });
  s->context(s->ctx, id, regs);
}

int export_target(void* t, const hd_sink* s) {
  const auto* in = static_cast<Instance*>(t);
  if (!in->d) return 1;
  const m::RData& d = *in->d;
  const m::MachineConfig& cfg = in->cfg;
  const hd_machine mach{d.slog.length(),   d.halt ? 1u : 0u, d.icore ? 1u : 0u,
                        d.ihost ? 1u : 0u, w(d.cur_vmid),    w(d.cur_vcpuid)};
  s->machine(s->ctx, &mach);
  s->core_data(s->ctx, w(d.shared.core_data.next_vmid), w(d.shared.core_data.next_remap_ptr));
  std::map<std::uint64_t, bool> pfns;
  d.shared.s2page.for_each_explicit([&](std::uint64_t p, const m::S2Page&) { pfns[p] = true; });
  d.shared.flatmem.for_each_explicit([&](std::uint64_t p, const Z&) { pfns[p] = true; });
  for (const auto& [p, unused] : pfns) {
    const m::S2Page pg = d.shared.s2page.get(static_cast<Z>(p));
    s->page(s->ctx, p, w(pg.owner), w(pg.count), w(pg.gfn),
            w(d.shared.flatmem.get(static_cast<Z>(p))));
  }
  d.shared.npts.for_each_explicit([&](std::uint64_t v, const m::NPT& npt) {
    npt.pt.for_each_explicit([&](std::uint64_t gfn, const m::PtEntry& e) {
      s->mapping(s->ctx, v, gfn, w(e.pfn), w(e.level), w(e.pte));
    });
  });
  const auto vcpus = static_cast<std::size_t>(cfg.vcpus_per_vm);
  const auto loads = static_cast<std::size_t>(cfg.max_load_info);
  d.shared.vminfos.for_each_explicit([&](std::uint64_t v, const m::VMInfo& info) {
    std::vector<std::uint64_t> vs(vcpus), vc(vcpus), la(loads), ls(loads), ra(loads), mp(loads);
    for (std::size_t c = 0; c < vcpus; ++c) {
      vs[c] = w(info.VS.vm_vcpu_state.get(static_cast<Z>(c)));
      vc[c] = w(info.VS.vm_vcpu.get(static_cast<Z>(c)));
    }
    for (std::size_t l = 0; l < loads; ++l) {
      la[l] = w(info.VB.vm_load_addr.get(static_cast<Z>(l)));
      ls[l] = w(info.VB.vm_load_size.get(static_cast<Z>(l)));
      ra[l] = w(info.VB.vm_remap_addr.get(static_cast<Z>(l)));
      mp[l] = w(info.VB.vm_mapped_pages.get(static_cast<Z>(l)));
    }
    const hd_vm x{v,
                  w(info.VS.vm_state),
                  w(info.VS.vm_kvm),
                  w(info.VS.vm_power),
                  w(info.VB.vm_inc_exe),
                  w(info.VB.vm_next_load_info),
                  vs.data(),
                  vc.data(),
                  la.data(),
                  ls.data(),
                  ra.data(),
                  mp.data()};
    s->vm(s->ctx, &x);
  });
  const auto banks = static_cast<std::uint64_t>(cfg.smmu_ctxt_banks);
  d.shared.smmu_vmid.for_each_explicit([&](std::uint64_t id, const Z& owner) {
    s->smmu_owner(s->ctx, id / banks, id % banks, w(owner));
  });
  d.shared.spts.spt_pt.for_each_explicit([&](std::uint64_t ttbr, const m::ZMap<m::SptEntry>& pt) {
    const std::uint64_t id = (ttbr - 65536) / 8192;
    pt.for_each_explicit([&](std::uint64_t gfn, const m::SptEntry& e) {
      s->smmu_mapping(s->ctx, id / banks, id % banks, gfn, w(e.pfn), w(e.pte));
    });
  });
  d.shadow_ctxts.for_each_explicit(
      [&](std::uint64_t id, const m::Box<m::Ctxt>& c) { export_context(s, id, *c); });
  export_context(s, UINT64_MAX, d.regs);
  std::map<std::uint64_t, bool> principals;
  d.data_log.for_each_explicit([&](std::uint64_t v, const Z&) { principals[v] = true; });
  d.core_data_log.for_each_explicit([&](std::uint64_t v, const Z&) { principals[v] = true; });
  for (const auto& [v, unused] : principals) {
    s->cursors(s->ctx, v, w(d.data_log.get(static_cast<Z>(v))),
               w(d.core_data_log.get(static_cast<Z>(v))));
  }
  return 0;
}

const char* last_error(void* t) { return static_cast<Instance*>(t)->error.c_str(); }

// Declares ABI version 1 (no export_changes) on purpose: the tests load it, so the harness's
// support for version-1 libraries stays covered. The native target covers version 2.
const hd_target_v1 kTarget = {
    1u,          "model-plugin", "the spec model (intended) behind the target ABI",
    open_target, close_target,   reset_target,
    step_target, export_target,  last_error,
    nullptr};

}  // namespace

extern "C" __attribute__((visibility("default"))) const hd_target_v1* hypdiff_target_v1(void) {
  return &kTarget;
}
