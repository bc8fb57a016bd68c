// A VM traps to KCore (spec §3.5.4): save the guest, handle SYS64 and guest hypercalls in place,
// and on an exit to the host save the vCPU, mark it inactive and restore the host.
#include "model/concurrency.hpp"
#include "model/handlers.hpp"
#include "model/loops.hpp"
#include "model/primitives.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

// Coq: TrapHandlerSpec.prep_exit_vm
Outcome prep_exit_vm(RData d) {
  const Z v = d.cur_vmid;
  const Z c = d.cur_vcpuid;
  const Z id = d.cfg().ctxt_id(v, c);
  const Ctxt ct = d.ctx(id);
  const CtxtRegs& phys = d.regs.ctxt_regs;
  const CtxtRegs cr = fpsimd_save_state_specx(save_sysregs_specx(ct.ctxt_regs, phys), phys);
  const TrapRegs rt = timer_enable_traps_specx(deactivate_traps_specx(d.regs.trap_regs));

  // d with the trap registers and the saved vCPU context (cs = the new ctxt_states).
  auto saved = [&](const CtxtStates& cs) {
    RData out = d;
    out.regs.trap_regs = rt;
    Ctxt n = ct;
    n.ctxt_regs = cr;
    n.ctxt_states = cs;
    out.set_ctx(id, std::move(n));
    return out;
  };

  Outcome d1;
  if (cr.ec == k::ARM_EXCEPTION_TRAP) {
    const Z hsr_ec = (cr.esr_el2 & k::ESR_ELx_EC_MASK) >> k::ESR_ELx_EC_SHIFT;
    if (hsr_ec == k::ESR_ELx_EC_WFx) {
      d1 = saved(prep_wfx_specx(ct.ctxt_states));
    } else if (hsr_ec == k::ESR_ELx_EC_HVC64) {
      d1 = prep_hvc_spec_h(v, c, saved(ct.ctxt_states));
    } else if (hsr_ec == k::ESR_ELx_EC_IABT_LOW || hsr_ec == k::ESR_ELx_EC_DABT_LOW) {
      const auto [cs, logn] =
          prep_abort_specx(cr, ct.ctxt_states, d.data_log[v], Dorc{d.oracle.get(), v});
      d1 = saved(cs);
      d1->data_log.set(v, logn);
    } else if (hsr_ec == k::ESR_ELx_EC_HVC32 && d.prof().hvc32_exit) {
      // The lower layer's save_shadow_kvm_regs accepts HVC32 (§7.2.17).
      d1 = saved(ct.ctxt_states);
    } else {
      d.halt = true;
      return d;
    }
  } else {
    d1 = saved(ct.ctxt_states);
  }
  if (!d1 || d1->halt) return d1;
  RData d2 = query_oracle(std::move(*d1));
  log_event(d2, EventKind::OVM_INACTIVE, v, c);
  const PrimResult p = local_set_vcpu_inactive(d2.shared, v, c);
  d2.shared = p.s;
  d2.halt = p.halt;
  return d2;
}

// Coq: TrapHandlerSpec.vm_exit_pre_process
std::optional<DispatchResult> vm_exit_pre_process(RData d) {
  const Z v = d.cur_vmid;
  const Z c = d.cur_vcpuid;
  const Z id = d.cfg().ctxt_id(v, c);
  Ctxt ct = d.ctx(id);
  ct.ctxt_regs =
      exit_populate_fault_specx(vm_to_core_specx(ct.ctxt_regs, d.regs.ctxt_regs), d.regs.ctxt_regs);
  const Z ec = ct.ctxt_regs.ec;
  d.set_ctx(id, std::move(ct));
  d.icore = true;
  if (ec == k::ARM_EXCEPTION_TRAP) {
    std::optional<DispatchResult> disp = vm_exit_dispatcher_spec_h(v, c, std::move(d));
    if (!disp) return std::nullopt;
    RData dd = std::move(disp->d);
    if (disp->ret == 0) {  // resume the VM (also taken when the dispatcher halted)
      dd.regs.ctxt_regs = core_to_vm_specx(dd.ctx(id).ctxt_regs, dd.regs.ctxt_regs);
      dd.icore = false;
      return DispatchResult{std::move(dd), 0};
    }
    Outcome d3 = prep_exit_vm(std::move(dd));
    if (!d3) return std::nullopt;
    return DispatchResult{std::move(*d3), 1};
  }
  if (ec == k::ARM_EXCEPTION_INTERRUPT) {
    Outcome d3 = prep_exit_vm(std::move(d));
    if (!d3) return std::nullopt;
    return DispatchResult{std::move(*d3), 1};
  }
  d.halt = true;
  return DispatchResult{std::move(d), 1};
}

// Coq: TrapHandlerSpec.switch_to_host
Outcome switch_to_host(RData d) {
  const Z c = d.curid;  // the host's vCPU on this CPU
  const Ctxt ct = d.ctx(d.cfg().ctxt_id(k::HOSTVISOR, c));
  CtxtRegs rc =
      host_el2_restore_state_specx(d.regs.ctxt_regs, MachineConfig::pt_vttbr(k::HOSTVISOR));
  rc = restore_sysregs_specx(ct.ctxt_regs, ct.ctxt_states, std::move(rc));
  rc = fpsimd_restore_state_specx(ct.ctxt_regs, std::move(rc));
  d.regs.ctxt_regs = core_to_host_specx(ct.ctxt_regs, std::move(rc));
  d.cur_vmid = k::HOSTVISOR;
  d.cur_vcpuid = c;
  d.ihost = true;
  d.icore = false;
  return d;
}

// Coq: TrapHandlerSpec.vm_exit_handler_spec
Outcome vm_exit_handler(RData d) {
  if (d.ihost || d.icore) return std::nullopt;
  if (d.halt) return d;
  std::optional<DispatchResult> r = vm_exit_pre_process(std::move(d));
  if (!r) return std::nullopt;
  if (r->d.halt || r->ret == 0) return std::move(r->d);
  return switch_to_host(std::move(r->d));
}

}  // namespace hypdiff::model
