// Confidentiality (spec §6.2): two states a principal cannot tell apart stay so after the same
// step with the same inputs. Checked where the Coq proves it: for the local_* primitives (the
// *_conf and *_conf_res lemmas, on Shared) and for mem_*/dev_* at handler level. The second
// state varies only what the principal cannot see (oracles::vary_unobservable).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "model/primitives.hpp"
#include "oracles/invariants.hpp"
#include "oracles/noninterference.hpp"
#include "oracles/projection.hpp"
#include "oracles/variation.hpp"
#include "tests/properties/common.hpp"

namespace hypdiff::testing {
namespace {

using model::PrimResult;
using model::Shared;
using model::Z;
namespace k = model::k;

RC_GTEST_PROP(SelfCheck, AccessesKeepIndistinguishableStatesIndistinguishable, ()) {
  for_each_step(model::Profile::intended(), [](const model::RData& before, const model::Op& op,
                                               const model::StepResult& r, int step) {
    if (!model::is_access(op) || !r.after || r.after->halt) return;
    const Z v = before.cur_vmid;
    if (!oracles::valid_role(v, before) || !oracles::active(v, before)) return;
    const model::RData twin =
        oracles::vary_unobservable(before, v, static_cast<std::uint64_t>(step) * 7919 + 1);
    const model::StepResult r2 = model::apply(twin, op);
    RC_ASSERT(r2.after.has_value());
    if (r2.after->halt) return;
    if (auto bad = oracles::check_confidentiality(v, before, twin, *r.after, *r2.after))
      RC_FAIL("step " + std::to_string(step) + " (" + model::to_string(op) + "): " + bad->summary);
  });
}

// Arguments drawn from a reachable state: mostly things that exist.
struct Args {
  Z vmid, vcpu, pfn, gfn, addr, cbndx, index, level;
};

Z in(std::int64_t lo, std::int64_t hi) { return *rc::gen::inRange<std::int64_t>(lo, hi); }

Args draw(const model::RData& d) {
  const auto& cfg = d.cfg();
  std::vector<std::int64_t> vms;
  for (Z v = 1; v <= cfg.max_vms; ++v)
    if (d.shared.vminfos.get(v).VS.vm_state != k::UNUSED)
      vms.push_back(static_cast<std::int64_t>(v));
  const auto ram = static_cast<std::int64_t>(cfg.ram_base_pfn);
  Args a{};
  a.vmid = vms.empty() ? 1 : *rc::gen::elementOf(vms);
  a.vcpu = in(0, 2);
  a.pfn = *rc::gen::inRange<int>(0, 4) == 0 ? in(0x100, 0x120) : in(ram, ram + 0x800);
  a.gfn = *rc::gen::inRange<int>(0, 2) == 0 ? in(0x8000, 0x8010) : in(0x50000, 0x50010);
  a.addr = in(1, 0x1000) * k::PAGE_SIZE;
  a.cbndx = in(0, 3);
  a.index = in(0, static_cast<std::int64_t>(cfg.smmu_num()));
  a.level = in(2, 4);
  return a;
}

struct Lemma {
  const char* name;
  bool host_observer;  // *_conf (host) vs *_conf_res / VM lemmas (observer = vmid)
  std::function<PrimResult(const Shared&, const Args&, const model::RData&)> run;
};

model::Dorc dorc(const model::RData& d, Z v) { return model::Dorc{d.oracle.get(), v}; }

const std::vector<Lemma>& lemmas() {
  using namespace model;
  static const std::vector<Lemma> all = {
      {"map_host_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_map_host(s, a.pfn * k::PAGE_SIZE);
       }},
      {"assign_pfn_to_vm_conf", true,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_assign_pfn_to_vm(s, a.vmid, a.gfn, a.pfn, dorc(d, a.vmid),
                                       d.data_log.get(a.vmid));
       }},
      {"assign_pfn_to_vm_conf_res", false,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_assign_pfn_to_vm(s, a.vmid, a.gfn, a.pfn, dorc(d, a.vmid),
                                       d.data_log.get(a.vmid));
       }},
      {"map_pfn_vm_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_map_pfn_vm(s, a.vmid, a.gfn * k::PAGE_SIZE, a.pfn * k::PAGE_SIZE, a.level);
       }},
      {"map_io_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_map_io(s, a.vmid, a.gfn * k::PAGE_SIZE, a.pfn * k::PAGE_SIZE);
       }},
      {"grant_vm_page_conf", false,
       [](const Shared& s, const Args& a, const RData&) {
         return local_grant_vm_page(s, a.vmid, a.pfn);
       }},
      {"revoke_vm_page_conf", false,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_revoke_vm_page(s, a.vmid, a.pfn, dorc(d, a.vmid), d.data_log.get(a.vmid));
       }},
      {"set_vcpu_active_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_vcpu_active(s, a.vmid, a.vcpu);
       }},
      {"set_vcpu_active_conf_res", false,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_vcpu_active(s, a.vmid, a.vcpu);
       }},
      {"set_vcpu_inactive_conf", false,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_vcpu_inactive(s, a.vmid, a.vcpu);
       }},
      {"set_vcpu_inactive_conf_res", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_vcpu_inactive(s, a.vmid, a.vcpu);
       }},
      {"set_vm_poweroff_conf", false,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_vm_poweroff(s, a.vmid);
       }},
      {"register_vcpu_conf", true,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_register_vcpu(s, a.vmid, a.vcpu, d.oracle->params);
       }},
      {"gen_vmid_conf", true,
       [](const Shared& s, const Args&, const RData&) { return local_gen_vmid(s); }},
      {"register_kvm_conf", true,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_register_kvm(s, a.vmid, d.oracle->params);
       }},
      {"set_boot_info_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_set_boot_info(s, a.vmid, a.gfn * k::PAGE_SIZE, a.addr);
       }},
      {"remap_vm_image_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_remap_vm_image(s, a.vmid, a.pfn, 0);
       }},
      {"verify_vm_conf", false,
       [](const Shared& s, const Args& a, const RData&) { return local_verify_vm(s, a.vmid); }},
      {"smmu_assign_page_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_smmu_assign_page(s, a.cbndx, a.index, a.pfn, a.gfn);
       }},
      {"smmu_map_page_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_smmu_map_page(s, a.cbndx, a.index, a.gfn * k::PAGE_SIZE,
                                    a.pfn * k::PAGE_SIZE);
       }},
      {"smmu_clear_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_smmu_clear(s, a.gfn * k::PAGE_SIZE, a.cbndx, a.index);
       }},
      {"free_smmu_pgd_conf", true,
       [](const Shared& s, const Args& a, const RData&) {
         return local_free_smmu_pgd(s, a.cbndx, a.index);
       }},
      {"alloc_smmu_pgd_conf", true,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_alloc_smmu_pgd(s, a.cbndx, a.vmid, a.index,
                                     d.smmu_conf.smmu_dev_context_banks.get(a.index));
       }},
      {"load_save_encrypt_buf_conf", true,
       [](const Shared& s, const Args& a, const RData& d) {
         return local_save_encrypt_buf(s, a.vmid, a.pfn * k::PAGE_SIZE, a.addr, dorc(d, 0),
                                       d.data_log.get(0));
       }},
  };
  return all;
}

// map_pfn_vm_conf_res needs every pfn covered by the mapping to be owned by the VM; the other VM
// lemmas hold for any valid VM.
RC_GTEST_PROP(SelfCheck, PrimitivesKeepIndistinguishableSharedStatesIndistinguishable, ()) {
  int checked = 0;
  for_each_step(model::Profile::intended(), [&](const model::RData&, const model::Op&,
                                                const model::StepResult& r, int step) {
    if (!r.after || r.after->halt) return;
    const model::RData& d = *r.after;
    const Args a = draw(d);
    const Lemma& l = *rc::gen::elementOf(lemmas());
    const Z observer = l.host_observer ? k::HOSTVISOR : a.vmid;
    const Shared s2 = oracles::vary_unobservable_shared(d.shared, observer,
                                                        static_cast<std::uint64_t>(step) + 11);
    if (!oracles::check_shared_inv(d.shared, 1).empty() ||
        !oracles::check_shared_inv(s2, 1).empty())
      return;
    const PrimResult r1 = l.run(d.shared, a, d), r2 = l.run(s2, a, d);
    if (r1.halt || r2.halt) return;  // the lemmas assume the primitive does not halt
    ++checked;
    RC_ASSERT(r1.logn == r2.logn);
    if (auto bad = oracles::check_confidentiality_shared(observer, d.shared, s2, r1.s, r2.s))
      RC_FAIL(std::string(l.name) + " at step " + std::to_string(step) + ": " + bad->summary);
  });
  RC_TAG(checked > 0 ? "checked" : "nothing applicable");
}

}  // namespace
}  // namespace hypdiff::testing
