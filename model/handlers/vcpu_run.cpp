// The host asks KCore to run a VM vCPU (spec §3.5.3): save the host, pick the vCPU from the
// host-controlled oracle, initialize it on first run or refresh it on re-entry, enter the VM.
#include <tuple>

#include "model/concurrency.hpp"
#include "model/handlers.hpp"
#include "model/loops.hpp"
#include "model/primitives.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

namespace {

Dorc vm_dorc(const RData& d, Z v) { return Dorc{d.oracle.get(), v}; }

// First run of vCPU `vcpu` (dirty == INVALID64): PC/PSTATE from the oracle, the PC checked
// against the load table, registers reset.
Outcome first_run(const RData& d0, Z v, Z vcpu, Z id) {
  const MachineConfig& cfg = d0.cfg();
  RData d1 = query_oracle(d0);
  if (!locks(d1, {cfg.info_lock(v)})) return std::nullopt;
  log_event(d1, EventKind::OVM_GET, v);
  if (d1.shared.vminfos[v].VB.vm_inc_exe != 0) {  // state was loaded encrypted
    Ctxt c = d1.ctx(id);
    c.ctxt_states.dirty = 0;
    d1.set_ctx(id, std::move(c));
    return d1;
  }
  const Z n = d1.data_log[v];
  const Z pc = d1.doracle(v, n);
  d1.data_log.set(v, n + 1);
  RData d3 = query_oracle(d1);
  if (!locks(d3, {cfg.info_lock(v)})) return std::nullopt;
  log_event(d3, EventKind::OVM_GET, v);
  const BootInfo vb = d3.shared.vminfos[v].VB;
  if (search_load_info_loop_h(vb.vm_next_load_info, pc, vb) == 0) {
    d3.halt = true;  // the entry point lies in no loaded image
    return d3;
  }
  const Ctxt c3 = d3.ctx(id);
  const Z logn = d3.data_log[v];
  CtxtStates cs = c3.ctxt_states;
  cs.pstate = d3.doracle(v, logn);
  cs.pc = pc;
  const CtxtRegs cr = reset_fp_regs_specx(clear_shadow_gp_regs_specx(c3.ctxt_regs));
  const RegsResult rs = reset_sys_regs_specx(d3, vcpu, cr, cs, vm_dorc(d3, v), logn + 1);
  Ctxt c = c3;
  c.ctxt_regs = rs.cregs;
  c.ctxt_states = rs.cstates;
  c.ctxt_states.dirty = 0;
  // Literally the result is built on d0, dropping the shared effects of the two QOs (§7.2.8).
  RData r = d0.prof().first_run_base ? d3 : d0;
  r.slog = d3.slog;
  r.data_log = d3.data_log.with(v, rs.logn);
  r.shadow_ctxts = d3.shadow_ctxts;
  r.set_ctx(id, std::move(c));
  return r;
}

// Re-entry after an exit: refresh dirty GPRs, inject, advance the PC, then map the page the
// host says the VM faulted on.
Outcome re_entry(RData d0, Z v, Z id, Z dirty0) {
  Ctxt c = d0.ctx(id);
  CtxtRegs cr = c.ctxt_regs;
  CtxtStates cs = c.ctxt_states;
  Z n = d0.data_log[v];
  if (cr.ec == k::ARM_EXCEPTION_TRAP) {
    const RegsResult rs = sync_dirty_to_shadow_specx(d0, v, dirty0, cr, cs, n, vm_dorc(d0, v));
    cr = rs.cregs;
    cs = rs.cstates;
    n = rs.logn;
  }
  // Literally the update fires when no injection is pending (§7.2.6).
  const bool pending = (dirty0 & k::PENDING_EXCEPT_INJECT_FLAG) != 0;
  if (pending == d0.prof().inject_test) std::tie(cr, cs) = update_exception_gp_regs_specx(cr, cs);
  if ((dirty0 & k::DIRTY_PC_FLAG) != 0) cs.pc = advance_pc(d0.prof(), cs.pc);
  cs.dirty = 0;
  cr.far_el2 = 0;
  c.ctxt_regs = cr;
  c.ctxt_states = cs;

  const Z c1 = d0.core_data_log[v];
  const Z addr = d0.core_doracle(v, c1);
  d0.data_log.set(v, n);
  d0.set_ctx(id, std::move(c));
  if (k::PAGE_SIZE <= addr && addr < k::KVM_ADDR_SPACE) {
    const Z pte = d0.core_doracle(v, c1 + 1);
    const Z level = d0.core_doracle(v, c1 + 2);
    d0.core_data_log.set(v, c1 + 3);
    return prot_and_map_vm_s2pt_spec_h(v, addr, pte, level, d0);
  }
  d0.core_data_log.set(v, c1 + 1);
  return d0;
}

}  // namespace

// Coq: TrapHandlerSpec.vcpu_run_swith_to_core
Outcome vcpu_run_swith_to_core(RData d) {
  const Z id = d.cfg().ctxt_id(k::HOSTVISOR, d.cur_vcpuid);
  const CtxtRegs& phys = d.regs.ctxt_regs;
  Ctxt c = d.ctx(id);
  c.ctxt_regs = fpsimd_save_state_specx(
      save_sysregs_specx(host_to_core_specx(c.ctxt_regs, phys), phys), phys);
  const Z v = c.ctxt_regs.x[0];  // the host passes the vmid in x0
  if (!d.cfg().is_vm(v)) {
    d.halt = true;
    return d;
  }
  d.set_ctx(id, std::move(c));
  d.icore = true;
  d.cur_vmid = v;
  d.cur_vcpuid = -1;
  return d;
}

// Coq: TrapHandlerSpec.vcpu_run_process
Outcome vcpu_run_process(RData d) {
  const Z v = d.cur_vmid;
  const Z c0 = d.core_data_log[v];
  const Z vcpu = d.core_doracle(v, c0);  // chosen by the host
  if (!d.cfg().is_vcpu(vcpu)) {
    d.halt = true;
    return d;
  }
  const Z id = d.cfg().ctxt_id(v, vcpu);
  d.cur_vcpuid = vcpu;
  d.core_data_log.set(v, c0 + 1);
  RData d0 = query_oracle(std::move(d));
  log_event(d0, EventKind::OVM_ACTIVE, v, vcpu);
  const PrimResult p = local_set_vcpu_active(d0.shared, v, vcpu);
  d0.shared = p.s;
  d0.halt = p.halt;
  if (p.halt) return d0;
  const Z dirty0 = d0.ctx(id).ctxt_states.dirty;
  if (dirty0 == k::INVALID64) return first_run(d0, v, vcpu, id);
  return re_entry(std::move(d0), v, id, dirty0);
}

// Coq: TrapHandlerSpec.vcpu_run_switch_to_vm
Outcome vcpu_run_switch_to_vm(RData d) {
  const Z v = d.cur_vmid;
  const Ctxt ct = d.ctx(d.cfg().ctxt_id(v, d.cur_vcpuid));
  CtxtRegs rc =
      vm_el2_restore_state_specx(d.regs.ctxt_regs, ct.ctxt_regs, MachineConfig::pt_vttbr(v));
  rc = restore_sysregs_specx(ct.ctxt_regs, ct.ctxt_states, std::move(rc));
  rc = fpsimd_restore_state_specx(ct.ctxt_regs, std::move(rc));
  rc = core_to_vm_specx(ct.ctxt_regs, std::move(rc));
  d.regs.trap_regs = activate_traps_specx(timer_enable_traps_specx(d.regs.trap_regs));
  d.regs.ctxt_regs = std::move(rc);
  d.icore = false;
  d.ihost = false;
  return d;
}

// Coq: TrapHandlerSpec.host_vcpu_run_handler_spec
Outcome host_vcpu_run_handler(RData d) {
  if (!(d.ihost && !d.icore)) return std::nullopt;
  if (d.halt) return d;
  Outcome d1 = vcpu_run_swith_to_core(std::move(d));
  if (!d1 || d1->halt) return d1;
  Outcome d2 = vcpu_run_process(std::move(*d1));
  if (!d2 || d2->halt) return d2;
  return vcpu_run_switch_to_vm(std::move(*d2));
}

}  // namespace hypdiff::model
