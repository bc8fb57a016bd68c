#include "tests/hypervisor/twin.hpp"

#include <algorithm>
#include <limits>

#include "hypervisor/core/cpu.h"
#include "hypervisor/core/vm.h"

namespace hypdiff::kcore_test {

namespace {

// The 35 named registers after x and fp_q, the same names in KCore and the model.
// clang-format off
#define KC_NAMED_REGS(X)                                                                     \
  X(fp_fpsr) X(fp_fpcr) X(csselr_el1) X(sctlr_el1) X(cpacr_el1) X(ttbr0_el1) X(ttbr1_el1)   \
  X(tcr_el1) X(afsr0_el1) X(afsr1_el1) X(far_el1) X(mair_el1) X(vbar_el1) X(contextidr_el1) \
  X(amair_el1) X(cntkctl_el1) X(par_el1) X(tpidr_el1) X(spsr_el1) X(mdscr_el1) X(sp_el0)    \
  X(tpidr_el0) X(tpidrro_el0) X(spsr_el2) X(vmpidr_el2) X(mpidr_el1) X(actlr_el1)           \
  X(sp_el1) X(elr_el1) X(elr_el2) X(vttbr_el2) X(hcr_el2) X(tpidr_el2) X(esr_el2) X(ec)     \
  X(far_el2) X(hpfar_el2)
// clang-format on

Twin* twin_of(void* ctx) { return static_cast<Twin*>(ctx); }

// The log length at the current query point: each query point of a step logs one event, and the
// other CPUs' events applied in the step were prepended too.
uint64_t log_now(const Twin* t) { return t->step_log0 + t->step_sections + t->step_injected; }

void on_acquire(void* ctx, uint32_t, int first) {
  Twin* t = twin_of(ctx);
  if (!first) return;
  const auto& events = t->oracle->events_at(log_now(t));
  for (auto it = events.rbegin(); it != events.rend(); ++it) {  // oldest first
    if (it->event.kind == model::EventKind::OMAP_HOST)
      kc_replay_map_host(&t->kc, static_cast<uint64_t>(it->event.args[0]));
  }
  t->step_injected += events.size();
  t->injected_total += events.size();
  ++t->step_sections;
}

uint64_t skip(void* ctx, uint64_t n, uint32_t per) {
  Twin* t = twin_of(ctx);
  const uint64_t now = log_now(t), next = t->oracle->next_scheduled(now);
  uint64_t allowed = n;
  if (next != std::numeric_limits<uint64_t>::max()) allowed = std::min(n, (next - now) / per);
  t->step_sections += allowed * per;
  return allowed;
}

uint64_t doracle(void* ctx, uint32_t v, uint64_t n) {
  return static_cast<uint64_t>(twin_of(ctx)->oracle->doracle(v, Z(n)));
}
uint64_t core_doracle(void* ctx, uint32_t v, uint64_t n) {
  return static_cast<uint64_t>(twin_of(ctx)->oracle->core_doracle(v, Z(n)));
}
uint64_t param(void* ctx, int which, uint64_t a, uint64_t b) {
  const model::Params& p = twin_of(ctx)->oracle->params;
  switch (which) {
    case KC_PARAM_SHARED_KVM:
      return static_cast<uint64_t>(p.shared_kvm_at(Z(a)));
    case KC_PARAM_SHARED_VCPU:
      return static_cast<uint64_t>(p.shared_vcpu_at(Z(a), Z(b)));
    case KC_PARAM_REG_DESC:
      return static_cast<uint64_t>(p.reg_desc_at(static_cast<int>(a)));
    case KC_PARAM_VERIFY_IMG:
      return static_cast<uint64_t>(p.verify_img_at(Z(a)));
    case KC_PARAM_DECRYPT_GP_COUNT:
      return static_cast<uint64_t>(p.decrypt_gp_count);
    default:
      return static_cast<uint64_t>(p.decrypt_sys_count);
  }
}

}  // namespace

model::CtxtRegs to_model(const kc_ctxt_regs& r) {
  model::CtxtRegs m{};
  for (std::size_t i = 0; i < 31; ++i) m.x[i] = Z(r.x[i]);
  for (std::size_t i = 0; i < 32; ++i) m.fp_q[i] = (Z(r.fp_q[i].hi) << 64) | Z(r.fp_q[i].lo);
#define KC_COPY(f) m.f = Z(r.f);
  KC_NAMED_REGS(KC_COPY)
#undef KC_COPY
  return m;
}

model::TrapRegs to_model(const kc_trap_regs& t) {
  return model::TrapRegs{Z(t.pmuselr_el0), Z(t.pmuserenr_el0), Z(t.mdcr_el2), Z(t.cptr_el2),
                         Z(t.cnthctl_el2)};
}

model::CtxtStates to_model(const kc_ctxt_states& s) {
  return model::CtxtStates{Z(s.pc), Z(s.pstate), Z(s.dirty), Z(s.flags), Z(s.esr_el1), Z(s.spsr_0)};
}

std::string regs_diff(const model::CtxtRegs& want, const model::CtxtRegs& got) {
  std::string out;
  for (std::size_t i = 0; i < 31; ++i)
    if (want.x[i] != got.x[i]) out += " x" + std::to_string(i);
  for (std::size_t i = 0; i < 32; ++i)
    if (want.fp_q[i] != got.fp_q[i]) out += " q" + std::to_string(i);
#define KC_CMP(f) \
  if (want.f != got.f) out += " " #f "=" + model::to_hex(want.f) + "/" + model::to_hex(got.f);
  KC_NAMED_REGS(KC_CMP)
#undef KC_CMP
  return out;
}

kc_config Twin::default_config() {
  kc_config c;
  kc_config_default(&c);
  return c;
}

void Twin::TearDown() {
  kn_set_hooks(nullptr);
  kn_mem_reset();
}

void Twin::reset(model::OracleInputs oi, kc_config cfg) {
  oracle_rw = std::make_shared<model::OracleInputs>(std::move(oi));
  oracle = oracle_rw;
  kn_mem_reset();
  kn_regs_reset();
  kn_reset_counters();
  kn_set_cpu(0);
  kn_hooks h{};
  h.ctx = this;
  h.on_acquire = on_acquire;
  h.skip = skip;
  h.doracle = doracle;
  h.core_doracle = core_doracle;
  h.param = param;
  kn_set_hooks(&h);
  ASSERT_EQ(kc_boot(&kc, &cfg), nullptr);
  d = model::initial_state(to_model(cfg), model::Profile::intended(), oracle);
  injected_total = 0;
}

kn_outcome Twin::kc_step_only(const model::Op& op, kc_step* st) {
  *st = KC_STEP_DONE;
  const auto u = [](Z v) { return static_cast<uint64_t>(v); };
  if (const auto* h = std::get_if<model::HostHvc>(&op)) {
    uint64_t x[6];
    for (std::size_t i = 0; i < 6; ++i) x[i] = u(h->x[i]);
    return run([&] { *st = kc_host_hvc(&kc, x); });
  }
  if (const auto* f = std::get_if<model::HostFault>(&op))
    return run([&] { *st = kc_host_fault(&kc, u(f->hpfar), u(f->esr), u(f->far)); });
  if (const auto* r = std::get_if<model::VcpuRun>(&op))
    return run([&] { *st = kc_vcpu_run(&kc, u(r->vmid)); });
  if (const auto* e = std::get_if<model::VmExit>(&op)) {
    uint64_t x[4];
    for (std::size_t i = 0; i < 4; ++i) x[i] = u(e->x[i]);
    return run([&] { *st = kc_vm_exit(&kc, u(e->ec), u(e->esr), x, u(e->hpfar), u(e->far)); });
  }
  if (const auto* r = std::get_if<model::SetReg>(&op)) {
    // The running principal computes: no KCore code runs.
    const kc_cpu* cpu = reinterpret_cast<const kc_cpu*>(plat_phys(kc.lay.cpus));
    if (cpu->icore || r->reg > 30) {
      *st = KC_STEP_UNDEFINED;
    } else {
      kn_cpu_regs(0)->regs.x[r->reg] = u(r->value);
    }
    return KN_RETURNED;
  }
  ADD_FAILURE() << "KCore does not run " << model::to_string(op) << " yet";
  *st = KC_STEP_UNDEFINED;
  return KN_RETURNED;
}

model::StepKind Twin::step(const model::Op& op) {
  step_sections = step_injected = 0;
  step_log0 = d.slog.length();
  kn_reset_counters();
  kc_step st;
  const kn_outcome out = kc_step_only(op, &st);
  const model::StepKind got = out == KN_PANICKED        ? model::StepKind::halted
                              : st == KC_STEP_UNDEFINED ? model::StepKind::undefined
                                                        : model::StepKind::ok;
  const model::StepResult r = model::apply(d, op);
  const std::string what = model::to_string(op);
  EXPECT_EQ(model::step_kind_name(got), std::string(model::step_kind_name(r.kind))) << what;
  EXPECT_EQ(kn_locks_held(), 0u) << what;
  if (r.after) {
    // One event per query point, plus the other CPUs' events, plus VERIFY's closing OVERIFY.
    const auto* h = std::get_if<model::HostHvc>(&op);
    const bool verified = h && h->x[0] == KC_HVC_VERIFY_VM_IMAGE && r.kind == model::StepKind::ok;
    const uint64_t logged = r.after->slog.length() - d.slog.length() - step_injected;
    EXPECT_EQ(kn_sections(), logged - (verified ? 1u : 0u)) << what;
    d = *r.after;
  }
  const std::string diffs = diff();
  EXPECT_EQ(diffs, "") << what;
  return r.kind;
}

model::StepKind Twin::hvc(const std::array<uint64_t, 6>& x) {
  model::HostHvc op;
  for (std::size_t i = 0; i < 6; ++i) op.x[i] = Z(x[i]);
  return step(op);
}

model::StepKind Twin::fault(uint64_t hpfar, uint64_t esr, uint64_t far) {
  return step(model::HostFault{Z(hpfar), Z(esr), Z(far)});
}

void Twin::set_core(uint64_t v, uint64_t n, uint64_t value) {
  std::vector<Z>& s = oracle_rw->core[Z(v)];
  // Positions before n keep the values they had (the fallback past the stream's end).
  while (s.size() <= n) s.push_back(oracle_rw->core_doracle(Z(v), Z(s.size())));
  s[n] = Z(value);
}

void Twin::set_data(uint64_t v, uint64_t n, uint64_t value) {
  std::vector<Z>& s = oracle_rw->data[Z(v)];
  while (s.size() <= n) s.push_back(oracle_rw->doracle(Z(v), Z(s.size())));
  s[n] = Z(value);
}

void Twin::set_vm_state(uint32_t vmid, uint32_t state) {
  kc_vm_state_of(&kc, vmid)->state = state;
  model::VMInfo info = d.shared.vminfos.get(vmid);
  info.VS.vm_state = state;
  d.shared.vminfos.set(vmid, info);
}

void Twin::set_page(uint64_t pfn, const model::S2Page& p) {
  const kc_s2page k{static_cast<uint32_t>(p.owner), static_cast<uint32_t>(p.count),
                    static_cast<uint64_t>(p.gfn)};
  kc_s2page_set(&kc, pfn, &k);
  d.shared.s2page.set(pfn, p);
}

void Twin::set_dirty(uint64_t vmid, uint64_t vcpu, uint64_t dirty) {
  kc_ctxt_of(&kc, vmid, vcpu)->states.dirty = dirty;
  const Z id = Z(vmid * kc.cfg.vcpus_per_vm + vcpu);
  model::Ctxt c = d.ctx(id);
  c.ctxt_states.dirty = Z(dirty);
  d.set_ctx(id, c);
}

}  // namespace hypdiff::kcore_test
