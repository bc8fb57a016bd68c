// The host hypercall handler (spec §3.5.1). Each hypercall is one function taking the state d'
// (host GPRs saved into the host's shadow context, icore set) and returning the dispatch result;
// host_hvc_handler copies the shadow GPRs back to the physical registers unless it halted.
#include "model/concurrency.hpp"
#include "model/handlers.hpp"
#include "model/loops.hpp"
#include "model/primitives.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

using k::is_addr;
using k::is_paddr;
using k::is_pfn;

// What every hypercall body sees: d' and the host context ctxt' it was built from.
struct Hvc {
  RData dp;   // d': shadow_ctxts[id] := ctxt', icore := true
  Ctxt ctxt;  // ctxt'
  Z id;       // ctxt_id(cur_vmid, cur_vcpuid)
  Z vmid;     // cur_vmid (the host)
  Z a1, a2, a3, a4, a5;
  const MachineConfig& cfg() const { return dp.cfg(); }
};

// BAD: an argument check failed.
RData bad(const Hvc& h) {
  RData d = h.dp;
  d.halt = true;
  return d;
}

// The common tail of most hypercalls: the primitive's shared state and halt flag.
RData with_prim(RData d, const PrimResult& r) {
  d.shared = r.s;
  d.halt = r.halt;
  return d;
}

Dorc host_dorc(const RData& d) { return Dorc{d.oracle.get(), k::HOSTVISOR}; }

Outcome clear_vm_s2_range(const Hvc& h) {
  if (!(h.cfg().is_vm(h.a1) && is_paddr(h.a2) && is_paddr(h.a3))) return bad(h);
  RData d1 = query_oracle(h.dp);
  // Asserts the NPT lock of a1 where the VM info lock is meant (§7.2.10, kept).
  if (!locks(d1, {h.cfg().npt_lock(h.a1)})) return std::nullopt;
  const Z state = d1.shared.vminfos[h.a1].VS.vm_state;
  log_event(d1, EventKind::OVM_GET, h.vmid);
  if (state == k::POWEROFF)
    return clear_vm_loop_h(h.a3 / k::PAGE_SIZE, h.a2 / k::PAGE_SIZE, h.a1, d1);
  return d1;
}

Outcome set_boot_info(const Hvc& h) {
  const bool ok =
      h.dp.prof().boot_info_args
          ? h.cfg().is_vm(h.a1) && is_paddr(h.a2) && is_paddr(h.a3) && is_paddr(h.a2 + h.a3)
          : h.cfg().is_vm(h.a1) && is_paddr(h.a2) && is_paddr(h.a1) && is_pfn(h.a2 + h.a3);
  if (!ok) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {h.cfg().info_lock(h.a1), k::CORE_ID})) return std::nullopt;
  log_event(d1, EventKind::OBOOT_INFO, h.a1, h.a2, h.a3);
  return with_prim(d1, local_set_boot_info(d1.shared, h.a1, h.a2, h.a3));
}

Outcome remap_vm_image(const Hvc& h) {
  const bool ok = h.dp.prof().remap_args
                      ? h.cfg().is_vm(h.a1) && is_pfn(h.a2) && h.cfg().is_load_idx(h.a3)
                      : h.cfg().is_vm(h.a1) && is_pfn(h.a3) && h.cfg().is_load_idx(h.a3);
  if (!ok) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {h.cfg().info_lock(h.a1), h.cfg().npt_lock(h.cfg().corevisor())}))
    return std::nullopt;
  log_event(d1, EventKind::OREMAP_IMAGE, h.a1, h.a2, h.a3);
  return with_prim(d1, local_remap_vm_image(d1.shared, h.a1, h.a2, h.a3));
}

Outcome verify_vm_image(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!cfg.is_vm(h.a1)) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {cfg.info_lock(h.a1)})) return std::nullopt;
  const VMInfo info = d1.shared.vminfos[h.a1];
  // Clears the host's INFO flag, not a1's (§7.2.9a); kept under every profile.
  d1.shared.hlock.set(cfg.info_lock(h.vmid), false);
  log_event(d1, EventKind::OVERIFY, h.a1);
  if (info.VS.vm_state != k::READY) {
    d1.halt = true;
    return d1;
  }
  Outcome d0 = verify_and_load_loop_h(info.VB.vm_next_load_info, h.a1, d1);
  if (!d0 || d0->halt) return d0;
  VMInfo verified = d0->prof().verify_snapshot ? d0->shared.vminfos[h.a1] : info;
  verified.VS.vm_state = k::VERIFIED;
  d0->shared.hlock.set(cfg.info_lock(h.a1), true);
  d0->shared.vminfos.set(h.a1, verified);
  log_event(*d0, EventKind::OVERIFY, h.a1);
  return d0;
}

Outcome smmu_free_pgd(const Hvc& h) {
  if (!(h.cfg().is_smmu_cfg(h.a1) && h.cfg().is_smmu(h.a2))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::SMMU_ID, h.cfg().info_lock(h.vmid)})) return std::nullopt;
  log_event(d1, EventKind::OSMMU_FREE, h.a1, h.a2);
  return with_prim(d1, local_free_smmu_pgd(d1.shared, h.a1, h.a2));
}

Outcome smmu_alloc_pgd(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  // The spec's `HOSTVISOR <= a2 < COREVISOR`.
  if (!(cfg.is_smmu_cfg(h.a1) && k::HOSTVISOR <= h.a2 && h.a2 < cfg.corevisor() &&
        cfg.is_smmu(h.a3)))
    return bad(h);
  RData d1 = query_oracle(h.dp);
  const Z num = d1.smmu_conf.smmu_dev_context_banks[h.a3];
  if (!locks(d1, {k::SMMU_ID, cfg.info_lock(h.vmid), k::SPT_ID})) return std::nullopt;
  log_event(d1, EventKind::OSMMU_ALLOC, h.a1, h.a2, h.a3, num);
  return with_prim(d1, local_alloc_smmu_pgd(d1.shared, h.a1, h.a2, h.a3, num));
}

Outcome smmu_lpae_map(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!(is_paddr(h.a1) && is_paddr(h.a2) && 0 <= h.a3 && h.a3 < pow2(63) - 1 &&
        k::phys_page(h.a3) == 0 && cfg.is_smmu_cfg(h.a4) && cfg.is_smmu(h.a5)))
    return bad(h);
  const Z pfn = h.a2 / k::PAGE_SIZE;
  const Z gfn = h.a1 / k::PAGE_SIZE;
  // The spec's PTE_AF_OR_SH_IS (65536) lies inside the address bits, so the frame mapped is
  // (a2 | 0x10000) / 4096; smmu_pte_attr uses the architectural attribute bits instead.
  const Z attr = h.dp.prof().smmu_pte_attr ? k::PTE_AF_OR_SH_IS_ARM : k::PTE_AF_OR_SH_IS;
  const Z pte = h.a2 | h.a3 | attr;
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::SMMU_ID, cfg.info_lock(h.vmid), k::S2PAGE_ID, k::NPT_ID})) return std::nullopt;
  // The event's gfn slot gets the pfn and vice versa, as at the spec's only call site.
  log_event(d1, EventKind::OASSIGN_SMMU, h.a4, h.a5, pfn, gfn);
  RData dd = with_prim(d1, local_smmu_assign_page(d1.shared, h.a4, h.a5, pfn, gfn));
  if (dd.halt) return dd;
  RData d2 = query_oracle(dd);
  // smmu_id(cbndx, index): arguments swapped (§7.2.10); only picks which INFO flag is asserted.
  const Z v = d2.shared.smmu_vmid[cfg.smmu_id(h.a4, h.a5)];
  if (!locks(d2, {k::SMMU_ID, cfg.info_lock(v), k::SPT_ID, k::SPT_ID})) return std::nullopt;
  log_event(d2, EventKind::OSMMU_MAP, h.a4, h.a5, h.a1, pte);
  return with_prim(d2, local_smmu_map_page(d2.shared, h.a4, h.a5, h.a1, pte));
}

Outcome smmu_iova_to_phys(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!(is_paddr(h.a1) && cfg.is_smmu_cfg(h.a2) && cfg.is_smmu(h.a3))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::SPT_ID})) return std::nullopt;
  // Literally the OSMMU_GET event is built and dropped (§7.2.12).
  if (d1.prof().iova_log) log_event(d1, EventKind::OSMMU_GET);
  const SptEntry e = d1.shared.spts.spt_pt[cfg.smmu_ttbr(h.a3, h.a2)][h.a1 / k::PAGE_SIZE];
  Ctxt c = h.ctxt;
  c.ctxt_regs.x[0] = k::phys_page(e.pte) + (h.a1 & 4095);
  d1.set_ctx(h.id, std::move(c));
  return d1;
}

Outcome smmu_clear(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!(is_paddr(h.a1) && cfg.is_smmu_cfg(h.a2) && cfg.is_smmu(h.a3))) return bad(h);
  RData d1 = query_oracle(h.dp);
  // smmu_id(cbndx, index): arguments swapped (§7.2.10).
  const Z v = d1.shared.smmu_vmid[cfg.smmu_id(h.a2, h.a3)];
  if (!locks(d1, {k::SMMU_ID, cfg.info_lock(v), k::S2PAGE_ID, k::SPT_ID})) return std::nullopt;
  log_event(d1, EventKind::OSMMU_CLEAR, h.a1, h.a2, h.a3);
  return with_prim(d1, local_smmu_clear(d1.shared, h.a1, h.a2, h.a3));
}

Outcome phys_addr_ioremap(const Hvc& h) {
  const Z span = zdiv(h.a4 + 4095, k::PAGE_SIZE) * k::PAGE_SIZE;
  if (!(h.cfg().is_vm(h.a1) && is_addr(h.a2) && is_paddr(h.a3) && is_paddr(h.a4) &&
        is_addr(h.a2 + span) && is_paddr(h.a3 + span) && 0 <= h.a4))
    return bad(h);
  return kvm_phys_addr_ioremap_loop_h((h.a4 + 4095) / k::PAGE_SIZE, h.a1, h.a2, h.a3, h.dp);
}

Outcome register_kvm(const Hvc& h) {
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::CORE_ID})) return std::nullopt;
  log_event(d1, EventKind::OGEN_VMID);
  const Z v = d1.shared.core_data.next_vmid;
  RData dd = with_prim(d1, local_gen_vmid(d1.shared));
  if (dd.halt) return dd;
  RData d2 = query_oracle(dd);
  if (!locks(d2, {h.cfg().info_lock(v)})) return std::nullopt;
  log_event(d2, EventKind::OREG_KVM, v);
  RData r = with_prim(d2, local_register_kvm(d2.shared, v, d2.oracle->params));
  Ctxt c = h.ctxt;
  c.ctxt_regs.x[0] = v;  // the new vmid is returned to the host in x0
  r.set_ctx(h.id, std::move(c));
  return r;
}

Outcome register_vcpu(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!(cfg.is_vm(h.a1) && cfg.is_vcpu(h.a2))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {cfg.info_lock(h.a1)})) return std::nullopt;
  log_event(d1, EventKind::OREG_VCPU, h.a1, h.a2);
  RData r = with_prim(d1, local_register_vcpu(d1.shared, h.a1, h.a2, d1.oracle->params));
  // The lower layer's register_vcpu marks the vCPU never-run (§7.2.16).
  if (r.prof().register_vcpu_dirty && !r.halt &&
      r.shared.vminfos[h.a1].VS.vm_vcpu_state[h.a2] == k::READY) {
    const Z vid = cfg.ctxt_id(h.a1, h.a2);
    Ctxt c = r.ctx(vid);
    c.ctxt_states.dirty = k::INVALID64;
    r.set_ctx(vid, std::move(c));
  }
  return r;
}

Outcome encrypt_buf(const Hvc& h) {
  if (!(h.cfg().is_vm(h.a1) && is_paddr(h.a2) && is_paddr(h.a3))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::S2PAGE_ID})) return std::nullopt;
  const Z n = d1.data_log[k::HOSTVISOR];
  // Five constructor arguments in four slots: the stream is always the host's, so it is the one
  // left out.
  log_event(d1, EventKind::OSAVE_ENC_BUF, h.a1, h.a2, h.a3, n);
  const PrimResult p = local_save_encrypt_buf(d1.shared, h.a1, h.a2, h.a3, host_dorc(d1), n);
  RData r = with_prim(d1, p);
  r.data_log.set(k::HOSTVISOR, p.logn);
  return r;
}

Outcome decrypt_buf(const Hvc& h) {
  if (!(h.cfg().is_vm(h.a1) && is_paddr(h.a2))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {k::S2PAGE_ID, h.cfg().info_lock(h.a1), k::NPT_ID})) return std::nullopt;
  const Z n = d1.data_log[k::HOSTVISOR];
  log_event(d1, EventKind::OLOAD_ENC_BUF, h.a1, h.a2, k::HOSTVISOR, n);
  const PrimResult p = local_load_decrypt_buf(d1.shared, h.a1, h.a2, host_dorc(d1), n);
  RData r = with_prim(d1, p);
  r.data_log.set(k::HOSTVISOR, p.logn);
  return r;
}

Outcome save_crypt_vcpu(const Hvc& h) {
  if (!(h.cfg().is_vm(h.a1) && h.cfg().is_vcpu(h.a2))) return bad(h);
  return h.dp;
}

Outcome load_crypt_vcpu(const Hvc& h) {
  const MachineConfig& cfg = h.cfg();
  if (!(cfg.is_vm(h.a1) && cfg.is_vcpu(h.a2))) return bad(h);
  RData d1 = query_oracle(h.dp);
  if (!locks(d1, {cfg.info_lock(h.a1)})) return std::nullopt;
  const Z n = d1.data_log[k::HOSTVISOR];
  log_event(d1, EventKind::OLOAD_ENC_VCPU, h.a1, h.a2, k::HOSTVISOR, n);
  const LoadVcpuResult p =
      local_load_encryted_vcpu(d1.shared, h.a1, h.a2, h.ctxt.ctxt_regs, h.ctxt.ctxt_states,
                               host_dorc(d1), n, d1.oracle->params);
  RData r = d1;
  r.shared = p.s;
  r.halt = p.halt;
  r.data_log.set(k::HOSTVISOR, p.logn);
  if (r.prof().crypt_vcpu_target) {
    if (!p.halt) {
      const Z vid = cfg.ctxt_id(h.a1, h.a2);
      Ctxt c = r.ctx(vid);
      c.ctxt_regs = p.cregs;
      c.ctxt_states = p.cstates;
      r.set_ctx(vid, std::move(c));
    }
  } else {
    // Literally the decrypted registers land in the host's own context (§7.2.13).
    Ctxt c = h.ctxt;
    c.ctxt_regs = p.cregs;
    c.ctxt_states = p.cstates;
    r.set_ctx(h.id, std::move(c));
  }
  return r;
}

Outcome dispatch(const Hvc& h, Z arg) {
  if (arg < k::HVC_TIMER_SET_CNTVOFF || arg > k::HVC_LOAD_CRYPT_VCPU)
    return h.dp;  // unknown: no-op
  switch (static_cast<int>(arg)) {
    case k::HVC_TIMER_SET_CNTVOFF:
      return h.dp;
    case k::HVC_CLEAR_VM_S2_RANGE:
      return clear_vm_s2_range(h);
    case k::HVC_SET_BOOT_INFO:
      return set_boot_info(h);
    case k::HVC_REMAP_VM_IMAGE:
      return remap_vm_image(h);
    case k::HVC_VERIFY_VM_IMAGE:
      return verify_vm_image(h);
    case k::HVC_SMMU_FREE_PGD:
      return smmu_free_pgd(h);
    case k::HVC_SMMU_ALLOC_PGD:
      return smmu_alloc_pgd(h);
    case k::HVC_SMMU_LPAE_MAP:
      return smmu_lpae_map(h);
    case k::HVC_SMMU_LPAE_IOVA_TO_PHYS:
      return smmu_iova_to_phys(h);
    case k::HVC_SMMU_CLEAR:
      return smmu_clear(h);
    case k::HVC_PHYS_ADDR_IOREMAP:
      return phys_addr_ioremap(h);
    case k::HVC_REGISTER_KVM:
      return register_kvm(h);
    case k::HVC_REGISTER_VCPU:
      return register_vcpu(h);
    case k::HVC_ENCRYPT_BUF:
      return encrypt_buf(h);
    case k::HVC_DECRYPT_BUF:
      return decrypt_buf(h);
    case k::HVC_SAVE_CRYPT_VCPU:
      return save_crypt_vcpu(h);
    case k::HVC_LOAD_CRYPT_VCPU:
      return load_crypt_vcpu(h);
    default:
      return h.dp;
  }
}

}  // namespace

// Coq: TrapHandlerSpec.host_hvc_handler_spec
Outcome host_hvc_handler(RData d) {
  if (!(d.ihost && !d.icore)) return std::nullopt;
  if (d.halt) return d;
  const Z id = d.cfg().ctxt_id(d.cur_vmid, d.cur_vcpuid);
  Ctxt ctxt = d.ctx(id);
  ctxt.ctxt_regs = host_to_core_specx(ctxt.ctxt_regs, d.regs.ctxt_regs);
  const CtxtRegs& x = ctxt.ctxt_regs;
  Hvc h{d, ctxt, id, d.cur_vmid, x.x[1], x.x[2], x.x[3], x.x[4], x.x[5]};
  h.dp.set_ctx(id, ctxt);
  h.dp.icore = true;
  Outcome r = dispatch(h, x.x[0]);
  if (!r || r->halt) return r;
  r->regs.ctxt_regs = core_to_host_specx(r->ctx(id).ctxt_regs, r->regs.ctxt_regs);
  r->icore = false;
  return r;
}

}  // namespace hypdiff::model
