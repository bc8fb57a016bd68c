// Twin::diff: every piece of state the spec defines, KCore's read back from its memory and
// compared with the model's.
#include <algorithm>
#include <set>
#include <sstream>

#include "hypervisor/core/cpu.h"
#include "hypervisor/core/vm.h"
#include "oracles/reflect.hpp"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {

namespace {

// Collects difference lines up to a limit.
struct Diffs {
  std::ostringstream out;
  std::size_t n = 0, limit;
  explicit Diffs(std::size_t l) : limit(l) {}
  template <class A, class B>
  void check(const std::string& what, const A& want, const B& got) {
    if (want == got) return;
    if (n++ < limit) out << what << ": model " << print(want) << ", kcore " << print(got) << "\n";
  }
  // Maps: the first key where they differ.
  template <class V>
  void check(const std::string& what, const std::map<uint64_t, V>& want,
             const std::map<uint64_t, V>& got) {
    if (want == got) return;
    auto w = want.begin();
    auto g = got.begin();
    while (w != want.end() && g != got.end() && w->first == g->first && w->second == g->second) {
      ++w;
      ++g;
    }
    const uint64_t key = w == want.end()  ? g->first
                         : g == got.end() ? w->first
                                          : std::min(w->first, g->first);
    const auto wi = want.find(key);
    const auto gi = got.find(key);
    check(what + "[" + model::to_hex(Z(key)) + "] (of " + std::to_string(want.size()) + "/" +
              std::to_string(got.size()) + ")",
          wi == want.end() ? std::string("none") : print(wi->second),
          gi == got.end() ? std::string("none") : print(gi->second));
  }
  template <class T>
  static std::string print(const T& v) {
    if constexpr (std::is_integral_v<T> || std::is_same_v<T, Z>) {
      return model::to_hex(Z(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
      return v;
    } else {
      std::string out;
      oracles::print(out, v);
      return out;
    }
  }
};

std::string ctxt_name(const kcore& kc, uint64_t id) {
  const uint64_t n = kc.cfg.vcpus_per_vm;
  return "ctxt(" + std::to_string(id / n) + "," + std::to_string(id % n) + ")";
}

}  // namespace

std::string Twin::diff(std::size_t limit) const {
  Diffs df(limit);
  const kc_config& cfg = kc.cfg;
  const model::MachineConfig mc = to_model(cfg);

  // Per-CPU state and the physical registers.
  const kc_cpu* cpu = reinterpret_cast<const kc_cpu*>(plat_phys(kc.lay.cpus));
  df.check("halt", d.halt, cpu->halted != 0);
  df.check("ihost", d.ihost, cpu->ihost != 0);
  df.check("icore", d.icore, cpu->icore != 0);
  df.check("cur_vmid", d.cur_vmid, Z(cpu->cur_vmid));
  df.check("cur_vcpuid", d.cur_vcpuid, Z(cpu->cur_vcpuid));
  const kc_cpu_regs* phys = kn_cpu_regs(0);
  model::CtxtRegs pr = to_model(phys->regs);
  if (pr.vttbr_el2 != 0) pr.vttbr_el2 -= Z(cfg.el2_base);  // KCore's pools sit at el2_base
  df.check("phys regs", std::string(), regs_diff(d.regs.ctxt_regs, pr));
  df.check("phys trap regs", d.regs.trap_regs, to_model(phys->trap));

  // Shadow contexts.
  const uint64_t ctxts = (uint64_t(cfg.max_vms) + 1) * cfg.vcpus_per_vm;
  for (uint64_t id = 0; id < ctxts; ++id) {
    const kc_ctxt* c = kc_ctxt_of(&kc, id / cfg.vcpus_per_vm, id % cfg.vcpus_per_vm);
    const model::Ctxt& m = d.ctx(Z(id));
    df.check(ctxt_name(kc, id) + " regs", std::string(), regs_diff(m.ctxt_regs, to_model(c->regs)));
    df.check(ctxt_name(kc, id) + " trap", m.trap_regs, to_model(c->trap));
    df.check(ctxt_name(kc, id) + " states", m.ctxt_states, to_model(c->states));
  }

  // VM info, core data, SMMU owners, oracle cursors.
  for (uint32_t v = 0; v <= kc_corevisor(&cfg); ++v) {
    const model::VMInfo& m = d.shared.vminfos.get(v);
    const kc_vm_state* vs = kc_vm_state_of(&kc, v);
    const kc_vm_boot* vb = kc_vm_boot_of(&kc, v);
    const std::string p = "vminfo[" + std::to_string(v) + "].";
    df.check(p + "state", m.VS.vm_state, Z(vs->state));
    df.check(p + "power", m.VS.vm_power, Z(vs->power));
    df.check(p + "kvm", m.VS.vm_kvm, Z(vs->kvm));
    for (uint32_t c = 0; c < cfg.vcpus_per_vm; ++c) {
      df.check(p + "vcpu_state[" + std::to_string(c) + "]", m.VS.vm_vcpu_state.get(c),
               Z(vs->vcpu_state[c]));
      df.check(p + "vcpu[" + std::to_string(c) + "]", m.VS.vm_vcpu.get(c), Z(vs->vcpu[c]));
    }
    df.check(p + "next_load_info", m.VB.vm_next_load_info, Z(vb->next_load_info));
    df.check(p + "inc_exe", m.VB.vm_inc_exe, Z(vb->inc_exe));
    for (uint32_t i = 0; i < cfg.max_load_info; ++i) {
      const std::string q = "[" + std::to_string(i) + "]";
      df.check(p + "load_addr" + q, m.VB.vm_load_addr.get(i), Z(vb->load_addr[i]));
      df.check(p + "load_size" + q, m.VB.vm_load_size.get(i), Z(vb->load_size[i]));
      df.check(p + "remap_addr" + q, m.VB.vm_remap_addr.get(i), Z(vb->remap_addr[i]));
      df.check(p + "mapped_pages" + q, m.VB.vm_mapped_pages.get(i), Z(vb->mapped_pages[i]));
    }
    df.check("data_log[" + std::to_string(v) + "]", d.data_log.get(v), Z(kc_data_log(&kc, v)));
    df.check("core_data_log[" + std::to_string(v) + "]", d.core_data_log.get(v),
             Z(kc_core_data_log(&kc, v)));
  }
  const kc_globals* g = kc_globals_of(&kc);
  df.check("next_vmid", d.shared.core_data.next_vmid, Z(g->next_vmid));
  df.check("next_remap_ptr", d.shared.core_data.next_remap_ptr, Z(g->next_remap_ptr));
  for (uint32_t i = 0; i < cfg.smmu_num; ++i) {
    for (uint32_t cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const std::string p = "smmu[" + std::to_string(i) + "/" + std::to_string(cb) + "]";
      df.check(p + " owner", d.shared.smmu_vmid.get(mc.smmu_id(i, cb)),
               Z(kc_smmu_owner(&kc, i, cb)));
      std::map<uint64_t, model::SptEntry> want;
      d.shared.spts.spt_pt.get(mc.smmu_ttbr(i, cb))
          .for_each_explicit([&](std::uint64_t gfn, const model::SptEntry& e) { want[gfn] = e; });
      df.check(p + " table", want, spt_entries(kc, cb, i));
    }
  }
  df.check("spt_pgd_next", d.shared.spts.spt_pgd_next, Z(g->spt_pgd_next));
  df.check("spt_pmd_next", d.shared.spts.spt_pmd_next, Z(g->spt_pmd_next));

  // Ownership: the model stores only entries that differ from the boot value.
  std::set<uint64_t> explicit_pages;
  d.shared.s2page.for_each_explicit([&](std::uint64_t pfn, const model::S2Page& m) {
    explicit_pages.insert(pfn);
    kc_s2page p;
    kc_s2page_get(&kc, pfn, &p);
    df.check("s2page[" + model::to_hex(Z(pfn)) + "]", m, to_model(p));
  });
  for (uint64_t pfn = cfg.ram_base_pfn; pfn < cfg.ram_base_pfn + cfg.ram_pages; ++pfn) {
    kc_s2page p;
    kc_s2page_get(&kc, pfn, &p);
    const bool boot = p.owner == KC_HOSTVISOR && p.count == 0 && p.gfn == pfn + KC_SMMU_HOST_OFFSET;
    if (!boot && !explicit_pages.count(pfn))
      df.check("s2page[" + model::to_hex(Z(pfn)) + "]", d.shared.s2page.get(Z(pfn)), to_model(p));
  }

  // Page values: KCore never writes them, the platform realizes the spec's oracle values in the
  // frame's value word (plat_page_filled) and scrubs zero them.
  for (uint64_t pfn = cfg.ram_base_pfn; pfn < cfg.ram_base_pfn + cfg.ram_pages; ++pfn)
    df.check("flatmem[" + model::to_hex(Z(pfn)) + "]", d.shared.flatmem.get(Z(pfn)),
             Z(kn_page_value(pfn)));

  // Every principal's stage-2 table and pool.
  for (uint32_t v = 0; v < kc_principals(&cfg); ++v) {
    const model::NPT& m = d.shared.npts.get(v);
    const std::string p = "npt[" + std::to_string(v) + "]";
    df.check(p, npt_entries(m), npt_entries(kc, v));
    const kc_pool_ctr* c = kc_pool_of(&kc, v);
    df.check(p + ".pgd_next", m.pt_pgd_next, Z(c->pgd_next));
    df.check(p + ".pud_next", m.pt_pud_next, Z(c->pud_next));
    df.check(p + ".pmd_next", m.pt_pmd_next, Z(c->pmd_next));
  }
  if (df.n > limit) df.out << "... " << df.n - limit << " more\n";
  return df.out.str();
}

}  // namespace hypdiff::kcore_test
