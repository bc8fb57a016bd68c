// The host stage-2 fault handler (spec §3.5.2): a fault on RAM or a device page maps it lazily
// into the host NPT; a fault inside an SMMU MMIO window is emulated.
#include "model/concurrency.hpp"
#include "model/handlers.hpp"
#include "model/loops.hpp"
#include "model/primitives.hpp"
#include "model/regs.hpp"

namespace hypdiff::model {

// Coq: TrapHandlerSpec.host_npt_handler_spec
Outcome host_npt_handler(RData d) {
  if (!(d.ihost && !d.icore)) return std::nullopt;
  if (d.halt) return d;
  const Z id = d.cfg().ctxt_id(d.cur_vmid, d.cur_vcpuid);
  Ctxt ctxt = d.ctx(id);
  ctxt.ctxt_regs = host_to_core_specx(ctxt.ctxt_regs, d.regs.ctxt_regs);
  RData dp = d;
  dp.set_ctx(id, ctxt);
  dp.icore = true;

  const CtxtRegs& phys = dp.regs.ctxt_regs;
  const Z addr = (phys.hpfar_el2 & k::HPFAR_MASK) * 256;
  if (!k::is_addr(addr)) {
    dp.halt = true;
    return dp;
  }
  const Z esr = phys.esr_el2;
  const Z fault_ipa = addr | (phys.far_el2 & 4095);
  const Z len = Z{1} << static_cast<int>((esr & 0xC00000) >> 22);  // host_dabt_get_as'
  const Z is_write = esr & k::ESR_ELx_WNR;                         // host_dabt_is_write'
  const Z rt = (esr >> 16) & 31;                                   // host_dabt_get_rd'

  RData d0 = query_oracle(dp);
  const Slog log1 = d0.slog.push(SingleEvent{d.curid, AtomicEvent{EventKind::OSMMU_GET, {}}});
  if (!locks(d0, {k::SMMU_ID})) return std::nullopt;
  const Z res = is_smmu_range_loop_h(dp.smmu_conf.smmu_num, addr, dp.smmu_conf);

  RData r;
  if (res == k::INVALID) {
    d0.slog = log1;
    RData d1 = query_oracle(d0);
    log_event(d1, EventKind::OMAP_HOST, addr);
    if (!locks(d1, {k::S2PAGE_ID, k::NPT_ID})) return std::nullopt;
    const PrimResult p = local_map_host(d1.shared, addr);
    r = d1;
    r.shared = p.s;
    r.halt = p.halt;
  } else {
    const MmioResult m = handle_host_mmio_spec_h(
        d0.prof(), d0.cfg(), res, fault_ipa, len, is_write, rt, ctxt.ctxt_regs, ctxt.ctxt_states,
        d0.regs.ctxt_regs, Dorc{d0.oracle.get(), k::HOSTVISOR}, d0.data_log[k::HOSTVISOR],
        d0.shared.smmu_vmid);
    r = d0;
    r.halt = m.halt;
    r.slog = log1;
    r.regs.ctxt_regs = m.rcregs;
    r.data_log.set(k::HOSTVISOR, m.logn);
    Ctxt c = ctxt;
    c.ctxt_regs = m.cregs;
    c.ctxt_states = m.cstates;
    r.set_ctx(id, std::move(c));
  }
  if (r.halt) return r;
  r.regs.ctxt_regs = core_to_host_specx(r.ctx(id).ctxt_regs, r.regs.ctxt_regs);
  r.icore = false;
  return r;
}

}  // namespace hypdiff::model
