#include "qemu/host/qemu_target.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "harness/abi_import.hpp"
#include "model/init.hpp"
#include "oracles/projection.hpp"

extern "C" {
#include "core/constants.h"
#include "core/cpu.h"
#include "core/ctxt.h"
#include "core/s2pt.h"
#include "core/vm.h"
#include "native/export.h"
#include "native/native.h"
}

namespace hypdiff::qemu {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRamPages = HQ_RAM_SIZE / kPage;
// Stream values EL2 gets per ask: a 2 MiB block changing hands consumes 512.
constexpr uint64_t kStreamWindow = 128;
static_assert(kStreamWindow <= HQ_ORACLE_N);

uint64_t u64(model::Z v) { return static_cast<uint64_t>(v); }

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The spec address a page of guest RAM stands for (layout.h): the spec window is offset by
// HQ_RAM_BASE, KCore's memory is identity mapped.
uint64_t spec_pa(uint64_t index) {
  const uint64_t off = index * kPage;
  return off < HQ_SPEC_WINDOW ? off : HQ_RAM_BASE + off;
}

// The native target's configuration rules (hypervisor/native/target.c), with KCore's memory
// where QEMU has RAM.
kc_config to_kc(const model::MachineConfig& c) {
  kc_config k;
  std::memset(&k, 0, sizeof k);
  kc_config_default(&k);
  if (c.max_vms > 254 || c.vcpus_per_vm > KC_MAX_VCPUS || c.smmus.size() > KC_MAX_SMMUS ||
      c.curid >= c.total_cpus || c.max_load_info > 64)
    throw harness::TargetError("qemu target: the configuration exceeds KCore's limits");
  k.max_vms = static_cast<uint32_t>(c.max_vms);
  k.vcpus_per_vm = static_cast<uint32_t>(c.vcpus_per_vm);
  k.total_cpus = static_cast<uint32_t>(c.total_cpus);
  k.ram_base_pfn = u64(c.ram_base_pfn);
  k.ram_pages = u64(c.ram_pages);
  k.smmu_num = static_cast<uint32_t>(c.smmus.size());
  for (uint32_t i = 0; i < k.smmu_num; ++i) {
    k.smmus[i].phys_base = u64(c.smmus[i].phys_base);
    k.smmus[i].size = u64(c.smmus[i].size);
    k.smmus[i].context_banks = u64(c.smmus[i].context_banks);
  }
  k.smmu_ctxt_banks = static_cast<uint32_t>(c.smmu_ctxt_banks);
  k.max_share_count = u64(c.max_share_count);
  k.max_load_info = static_cast<uint32_t>(c.max_load_info);
  k.el2_base = HQ_EL2_BASE;
  if (const char* why = kc_config_check(&k))
    throw harness::TargetError(fmt::format("qemu target: refuses the configuration: {}", why));
  return k;
}

// The mirror is the native platform's memory: one QemuTarget per process at a time.
bool instance_alive = false;

struct ExportCall {
  kn_export* x;
  const kn_export_env* env;
  const hd_sink* sink;
  bool full;
  int result;
};

void run_export(void* arg) {
  auto* c = static_cast<ExportCall*>(arg);
  c->result =
      c->full ? kn_export_full(c->x, c->env, c->sink) : kn_export_changes(c->x, c->env, c->sink);
}

}  // namespace

QemuTarget::QemuTarget(QemuOptions options, bool soft_reset)
    : options_(std::move(options)), soft_reset_(soft_reset), synced_mark_(kRamPages, 0) {
  if (instance_alive)
    throw harness::TargetError(
        "qemu target: one per process (its mirror is the native platform's memory)");
  exp_ = kn_export_new();
  if (!exp_) throw harness::TargetError("qemu target: out of memory");
  instance_alive = true;
  // The mirror holds QEMU's leaf descriptors: the core reads them back as the spec's.
  kn_set_leaf_window(HQ_SPEC_WINDOW, HQ_RAM_BASE);
}

QemuTarget::~QemuTarget() {
  kn_set_leaf_window(0, 0);
  kn_export_free(exp_);
  instance_alive = false;
}

std::string QemuTarget::describe() const {
  return "KCore at EL2 in qemu-system-aarch64 (every operation, DMA by an emulated device; the "
         "native target's export)";
}

void QemuTarget::set_mutant(uint32_t id) {
  if (id == options_.mutant) return;
  options_.mutant = id;
  drain();
  machine_.reset();  // the next reset boots the other image
  cfg_.reset();
  need_full_sync_ = true;
}

void QemuTarget::machine_failed(const std::exception& e) {
  throw harness::TargetError(std::string("qemu target: ") + e.what());
}

// One page of guest RAM into the mirror, at its spec address.
void QemuTarget::copy_page(uint64_t index) {
  const uint64_t pa = spec_pa(index);
  auto* dst = static_cast<uint8_t*>(plat_phys(pa));
  std::memcpy(dst, machine_->page_data(index), kPage);
  ++stats_.pages_copied;
  if (page_hook_) page_hook_(pa, dst);
  if (!synced_mark_[index]) {
    synced_mark_[index] = 1;
    synced_.push_back(index);
  }
}

// The mirror from scratch: every resident page of the spec window and of KCore's memory.
void QemuTarget::full_sync() {
  kn_mem_reset();
  for (const uint64_t i : synced_) synced_mark_[i] = 0;
  synced_.clear();
  const std::vector<uint64_t> pages = machine_->resident_pages();
  for (const uint64_t i : pages) copy_page(i);
  // Those are the boot state: only later copies need undoing at the next reset.
  for (const uint64_t i : synced_) synced_mark_[i] = 0;
  synced_.clear();
  last_reset_pages_ = pages.size();
  need_full_sync_ = false;
}

// KCore's register file (the host CPU's, in EL2's memory) into the mirror's; true when it
// differed.
bool QemuTarget::copy_regs() {
  const void* file = machine_->guest(HQ_REGS_PA, sizeof(kc_cpu_regs));
  if (std::memcmp(kn_cpu_regs(curid_), file, sizeof(kc_cpu_regs)) == 0) return false;
  std::memcpy(kn_cpu_regs(curid_), file, sizeof(kc_cpu_regs));
  return true;
}

// The pages EL2 reached since the last export, and the register file.
void QemuTarget::sync_step() {
  bool overflow = false;
  const std::vector<uint64_t> pages = machine_->take_step_log(&overflow);
  if (overflow) {
    full_sync();
  } else {
    for (const uint64_t i : pages) copy_page(i);
  }
  copy_regs();
}

// The Parameters, into the table the reset restored to its defaults.
void QemuTarget::write_params() {
  hq_oracle& o = machine_->oracle();
  const model::Params& p = oracle_->params;
  const auto refuse = [](const char* what) {
    throw harness::TargetError(
        fmt::format("qemu target: the oracle table has no room for {} (docs/qemu.md)", what));
  };
  for (const auto& [i, v] : p.reg_desc) {
    if (i < 0 || i >= 128) refuse("this reg_desc index");
    o.reg_desc[i] = u64(v);
  }
  for (const auto& [vm, v] : p.shared_kvm) {
    if (vm < 0 || vm >= 256) refuse("this shared_kvm vmid");
    o.shared_kvm[u64(vm)] = u64(v);
  }
  for (const auto& [key, v] : p.shared_vcpu) {
    if (key.first < 0 || key.first >= HQ_ORACLE_V || key.second < 0 ||
        key.second >= HQ_ORACLE_VCPUS)
      refuse("this shared_vcpu entry");
    o.shared_vcpu[u64(key.first)][u64(key.second)] = u64(v);
  }
  for (const auto& [vm, v] : p.verify_img) {
    if (vm < 0 || vm >= 256) refuse("this verify_img vmid");
    o.verify_img[u64(vm)] = u64(v);
  }
  o.decrypt_gp_count = static_cast<uint64_t>(p.decrypt_gp_count);
  o.decrypt_sys_count = static_cast<uint64_t>(p.decrypt_sys_count);
}

// EL2's questions while a step runs (layout.h, enum hq_ask), answered from the case's oracle
// as the native target's hooks answer them.
uint64_t QemuTarget::answer(hq_plat& p) {
  const model::OracleInputs& o = *oracle_;
  ++stats_.asks;
  switch (p.ask_kind) {
    case HQ_ASK_DATA:
    case HQ_ASK_CORE: {
      // A window of the stream from n into the table: later values need no round trip.
      const uint32_t st = p.ask_kind == HQ_ASK_DATA ? 0 : 1;
      const auto value = [&](uint64_t n) {
        const auto v = static_cast<model::Z>(p.ask_a);
        return u64(st == 0 ? o.doracle(v, static_cast<model::Z>(n))
                           : o.core_doracle(v, static_cast<model::Z>(n)));
      };
      if (p.ask_a >= HQ_ORACLE_V || p.ask_b > UINT64_MAX - kStreamWindow) return value(p.ask_b);
      uint64_t* row = st == 0 ? machine_->oracle().data[p.ask_a] : machine_->oracle().core[p.ask_a];
      for (uint64_t i = 0; i < kStreamWindow; ++i) row[i] = value(p.ask_b + i);
      p.win_base[st][p.ask_a] = p.ask_b;
      p.win_count[st][p.ask_a] = kStreamWindow;
      return row[0];
    }
    case HQ_ASK_NEXT:
      return o.next_scheduled(p.ask_a);
    case HQ_ASK_EVENTS: {
      const auto& events = o.events_at(p.ask_a);  // newest first
      if (events.size() > HQ_MAX_EVENTS)
        throw harness::TargetError("qemu target: more other-CPU events at one query point than " +
                                   std::to_string(HQ_MAX_EVENTS));
      for (size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[events.size() - 1 - i].event;
        if (e.kind != model::EventKind::OMAP_HOST)
          throw harness::TargetError("qemu target: an other-CPU event other than OMAP_HOST");
        p.event_addr[i] = u64(e.args[0]);
        p.event_cpu[i] = u64(events[events.size() - 1 - i].cpu);  // CPU 1 performs it as that CPU
      }
      p.next_event = o.next_scheduled(p.ask_a + 1);
      stats_.events += events.size();
      return events.size();
    }
    default:
      throw harness::TargetError("qemu target: EL2 asked something unknown: " +
                                 std::to_string(p.ask_kind));
  }
}

// A step the Runner started and did not finish (it stopped at a failure): QEMU completes it
// under the old case's answers, and its result is dropped. A machine that fails doing so is
// dead, and the reset starts a fresh QEMU.
void QemuTarget::drain() {
  started_ = deferred_ = import_pending_ = false;
  early_.reset();
  start_error_ = nullptr;
  if (!posted_) return;
  posted_.reset();
  if (!machine_) return;
  try {
    machine_->finish();
  } catch (...) {
    need_full_sync_ = true;
  }
}

void QemuTarget::reset(const model::MachineConfig& cfg, model::OraclePtr oracle) {
  if (auto why = cfg.validate()) throw harness::TargetError("qemu target: " + *why);
  drain();
  oracle_ = oracle ? std::move(oracle) : std::make_shared<const model::OracleInputs>();
  const auto t0 = Clock::now();
  try {
    // The CPU a case runs on is written into the EL2 page at every reset (below): a case on
    // another CPU needs no other machine.
    model::MachineConfig same_machine = cfg;
    if (cfg_) same_machine.curid = cfg_->curid;
    if (!machine_ || !cfg_ || !(*cfg_ == same_machine)) {
      cfg_.reset();
      machine_.reset();
      kcfg_ = to_kc(cfg);
      QemuOptions o = options_;
      o.config = kcfg_;
      machine_ = std::make_unique<QemuMachine>(o);
      need_full_sync_ = true;
    } else if (soft_reset_) {
      machine_->soft_reset_start();  // EL2 restarts while the mirror and the export below run
    } else {
      machine_->reset();
    }
  } catch (const QemuError& e) {
    need_full_sync_ = true;
    machine_failed(e);
  }
  stats_.machine_reset += since(t0);
  cfg_ = cfg;
  curid_ = static_cast<uint32_t>(cfg.curid);
  log_length_ = 0;
  // The mirror: pages copied during the last case get the machine's restored contents back.
  if (need_full_sync_) {
    full_sync();
  } else {
    last_reset_pages_ = synced_.size();
    for (const uint64_t i : synced_) {
      std::memcpy(plat_phys(spec_pa(i)), machine_->page_data(i), kPage);
      synced_mark_[i] = 0;
    }
    synced_.clear();
  }
  kc_layout_compute(&kcfg_, &lay_);
  kn_regs_reset();
  base_ = model::initial_state(cfg, model::Profile::intended(), oracle_);
  // The full export runs while EL2 restarts (a soft reset): the mirror and the register file
  // are the snapshot's, which EL2's restart only reads. Should it have changed one of them, the
  // mirror takes the change and the export runs again.
  copy_regs();
  import(true);
  const auto t1 = Clock::now();
  std::vector<uint64_t> reached;
  bool overflow = false;
  try {
    reached = machine_->take_step_log(&overflow);  // waits for the restart
  } catch (const QemuError& e) {
    need_full_sync_ = true;
    machine_failed(e);
  }
  stats_.machine_reset += since(t1);
  machine_->set_answer([this](hq_plat& p) { return answer(p); });
  write_params();
  machine_->plat_page().curid = curid_;  // the CPU KCore's handlers run as (plat_cpu_id)
  bool changed = copy_regs();
  if (overflow) {
    full_sync();
    changed = true;
  }
  for (const uint64_t i : reached) {
    if (std::memcmp(plat_phys(spec_pa(i)), machine_->page_data(i), kPage) == 0) continue;
    copy_page(i);
    changed = true;
  }
  if (changed) {
    ++stats_.restart_changes;
    import(true);
  }
}

model::StepKind QemuTarget::step(const model::Op& op) {
  start(op);
  return finish();
}

// The Runner works while QEMU runs the step (harness/target.hpp, "Pipelining"): the step's
// checks and preparation happen here, its command is posted, and finish() waits for it.
void QemuTarget::start(const model::Op& op) {
  if (!machine_ || !cfg_) throw harness::TargetError("qemu target: step before reset");
  if (machine_->started()) throw harness::TargetError("qemu target: a step is started already");
  started_ = true;
  started_op_ = op;
  early_.reset();
  start_error_ = nullptr;
  // Steps that change the state without KCore (SET_REG, a stopped CPU), and every step while
  // the export is checked, run whole in finish(): until then state() is the last step's.
  deferred_ = verify_export_ || std::holds_alternative<model::SetReg>(op) || machine_->panicked();
  if (deferred_) return;
  starting_ = true;
  try {
    early_ = run(op);
  } catch (...) {
    start_error_ = std::current_exception();  // the step's error, reported by finish()
  }
  starting_ = false;
}

model::StepKind QemuTarget::finish() {
  if (!started_) throw harness::TargetError("qemu target: finish() without start()");
  started_ = false;
  notes_.clear();
  if (start_error_) std::rethrow_exception(std::exchange(start_error_, nullptr));
  if (deferred_) {
    import_changes();  // the last step's state, before this one changes the mirror
    return run(started_op_);
  }
  if (posted_) return complete();
  return *early_;
}

model::StepKind QemuTarget::run(const model::Op& op) {
  if (const auto* hvc = std::get_if<model::HostHvc>(&op)) return step_hvc(*hvc);
  if (const auto* f = std::get_if<model::HostFault>(&op)) return step_fault(*f);
  if (const auto* l = std::get_if<model::MemLoad>(&op))
    return step_access(HQ_CMD_MEM_LOAD, l->gfn, l->reg);
  if (const auto* st = std::get_if<model::MemStore>(&op))
    return step_access(HQ_CMD_MEM_STORE, st->gfn, st->reg);
  if (const auto* r = std::get_if<model::SetReg>(&op)) return step_set_reg(*r);
  if (const auto* run = std::get_if<model::VcpuRun>(&op)) return step_vcpu_run(*run);
  if (const auto* e = std::get_if<model::VmExit>(&op)) return step_vm_exit(*e);
  if (const auto* d = std::get_if<model::DevLoad>(&op))
    return step_dma(HQ_CMD_DEV_LOAD, d->gfn, d->reg, d->cbndx, d->index);
  if (const auto* d = std::get_if<model::DevStore>(&op))
    return step_dma(HQ_CMD_DEV_STORE, d->gfn, d->reg, d->cbndx, d->index);
  throw harness::TargetError(fmt::format("qemu target: {} is not realized yet",
                                         model::handler_name(model::handler_of(op))));
}

namespace {
uint64_t fit64(model::Z v, const char* what) {
  if (v < 0 || v >= model::pow2(64))
    throw harness::TargetError(fmt::format("qemu target: {} does not fit 64 bits", what));
  return u64(v);
}
}  // namespace

Regs QemuTarget::host_regs() const {
  Regs x{};
  const auto* file = static_cast<const kc_cpu_regs*>(machine_->guest(HQ_REGS_PA));
  std::copy(file->regs.x, file->regs.x + 31, x.begin());
  return x;
}

const kc_cpu& QemuTarget::cpu_state() const {
  return *static_cast<const kc_cpu*>(
      machine_->guest(lay_.cpus + curid_ * sizeof(kc_cpu), sizeof(kc_cpu)));
}

void QemuTarget::begin_step() {
  hq_plat& p = machine_->plat_page();
  p.log_base = log_length_;
  p.step_sections = 0;
  p.step_injected = 0;
  p.next_event = oracle_->next_scheduled(log_length_);
  p.ask_streams = 1;
  std::atomic_thread_fence(std::memory_order_release);
}

// Runs `what` on the machine; a failure of QEMU or of an answer ends the machine.
template <class F>
auto QemuTarget::on_machine(F&& what) -> decltype(what()) {
  try {
    return what();
  } catch (const QemuError& e) {
    need_full_sync_ = true;
    machine_failed(e);
  } catch (...) {
    need_full_sync_ = true;  // an answer failed: the next reset starts a fresh QEMU
    throw;
  }
}

// Posts the step's command (an access, or the host hypercall with registers *x); in start()
// that is all, otherwise the step completes here. `counter` counts the steps of its kind.
model::StepKind QemuTarget::command(const MemAccess* a, const Regs* x, uint64_t* counter) {
  begin_step();
  const auto t0 = Clock::now();
  on_machine([&] { a ? machine_->start_access(*a) : machine_->start_hvc(*x); });
  posted_ = Posted{x && (*x)[0] == KC_HVC_VERIFY_VM_IMAGE, counter, t0};
  if (starting_) return model::StepKind::ok;  // a placeholder: finish() completes the step
  return complete();
}

model::StepKind QemuTarget::complete() {
  const Posted p = *posted_;
  posted_.reset();
  const HvcResult r = on_machine([&] { return machine_->finish(); });
  stats_.hypercalls += since(p.t0);
  stats_.hypercall_us.push_back(static_cast<float>(since(p.t0) * 1e6));
  if (p.counter) ++*p.counter;
  if (r.stale) {
    ++stats_.stale_translations;
    notes_.push_back(
        "qemu: the hardware completed this step's access through a translation KCore's stage-2 "
        "table no longer holds: a stale TLB entry, so a missing TLB invalidation (docs/qemu.md, "
        "\"Stale translations\")");
  }
  import_changes();  // the last step's state, before this step's pages reach the mirror
  return end_step(r, p.verified && r.status == HvcResult::Status::ok);
}

model::StepKind QemuTarget::end_step(const HvcResult& r, bool verified) {
  if (r.status == HvcResult::Status::undefined) return model::StepKind::undefined;
  const hq_plat& p = machine_->plat_page();
  log_length_ += p.step_sections + p.step_injected + (verified ? 1u : 0u);
  export_state(false);
  return r.status == HvcResult::Status::ok ? model::StepKind::ok : model::StepKind::halted;
}

model::StepKind QemuTarget::step_hvc(const model::HostHvc& hvc) {
  Regs x = host_regs();
  for (size_t i = 0; i < 6; ++i) x[i] = fit64(hvc.x[i], "a hypercall argument");
  return command(nullptr, &x, nullptr);
}

// The pages a step may have changed before this one and were not exported (an undefined step
// exports nothing): the mirror must be current when the harness reads KCore's state from it.
void QemuTarget::catch_up() {
  const auto t0 = Clock::now();
  sync_step();
  stats_.exports += since(t0);
}

struct MirrorRead {
  const kcore* kc;
  uint32_t curid;
  uint64_t gfn, reg, vcpu;
  uint64_t pte = 0, pfn = 0, value = 0;
};

// The host's leaf for a gfn and a shadow register, read from the mirror.
static void read_mirror(void* arg) {
  auto* m = static_cast<MirrorRead*>(arg);
  kc_walk w;
  kc_s2pt_walk(m->kc, KC_HOSTVISOR, m->gfn, &w);
  m->pte = w.pte;
  m->pfn = w.pfn;
  m->value = kc_ctxt_get(kc_ctxt_of(m->kc, KC_HOSTVISOR, m->vcpu), m->reg);
}

// A host stage-2 fault with the operation's registers. A page the host has no valid descriptor
// for is faulted on for real (the agent accesses it; EL2 hands the operation's registers to
// KCore's handler at the abort; the access retries through the mapping KCore made); a page
// with one (a second fault, or hostile registers naming a mapped page) is injected: hvc #3
// makes EL2 run the same handler without an access (docs/qemu.md).
model::StepKind QemuTarget::step_fault(const model::HostFault& f) {
  MemAccess a;
  a.fault = {fit64(f.hpfar, "hpfar"), fit64(f.esr, "esr"), fit64(f.far, "far")};
  a.x = host_regs();
  if (machine_->panicked()) {
    // kc_host_fault on the stopped CPU: undefined unless the host runs, which first records
    // the trap registers in the file and then halts again.
    const kc_cpu& cpu = cpu_state();
    if (!(cpu.ihost && !cpu.icore)) return model::StepKind::undefined;
    auto* file = static_cast<kc_cpu_regs*>(machine_->guest(HQ_REGS_PA));
    file->regs.hpfar_el2 = a.fault[0];
    file->regs.esr_el2 = a.fault[1];
    file->regs.far_el2 = a.fault[2];
    export_state(false);
    return model::StepKind::halted;
  }
  const kc_cpu& cpu = cpu_state();
  const uint64_t gfn = (a.fault[0] & 0xFFFFu) >> 4;  // the spec's address, below 16 MiB
  bool real = false;
  if (cpu.ihost && !cpu.icore) {
    catch_up();
    kcore k{kcfg_, lay_};
    MirrorRead m{&k, curid_, gfn, 0, static_cast<uint64_t>(cpu.cur_vcpuid)};
    if (kn_call(read_mirror, &m) == KN_PANICKED)
      throw harness::TargetError(
          fmt::format("qemu target: KCore's memory is inconsistent: {}", kn_panic_reason()));
    real = (m.pte & KC_DESC_VALID) == 0;
  }
  a.cmd = real ? HQ_CMD_HOST_FAULT : HQ_CMD_HOST_FAULT_INJECT;
  a.ipa = gfn << KC_PAGE_SHIFT;
  return command(&a, nullptr, real ? &stats_.real_faults : &stats_.injected_faults);
}

// The host's load or store (the spec's mem_load/mem_store): the agent accesses IPA gfn * 4096
// for real; EL2 finishes it as the spec says (docs/qemu.md, "Host loads and stores").
model::StepKind QemuTarget::step_access(uint64_t cmd, uint64_t gfn, uint64_t reg) {
  const bool load = cmd == HQ_CMD_MEM_LOAD;
  const kc_cpu& cpu = cpu_state();
  if (cpu.icore) return model::StepKind::undefined;  // also every halt inside KCore
  if (machine_->panicked())
    throw harness::TargetError("qemu target: an access after a halt outside KCore");
  if (cpu.cur_vmid != KC_HOSTVISOR) return step_vm_access(cmd, gfn, reg);
  if (load && reg >= 30) return model::StepKind::undefined;  // the spec excludes x30 and up
  if (gfn == 0 || gfn >= (HQ_SPEC_WINDOW >> KC_PAGE_SHIFT)) {
    // Only frames of the spec window are accessed for real: host gfn X maps frame X, and a
    // frame beyond the window is QEMU's flash (0), the infrastructure or KCore's own memory
    // for the MMU, past the 44-bit IPA space, or the agent's block. The host maps none of them
    // in generated cases (faults reach 16 MiB) except gfn 0, which a host fault with hpfar 0
    // maps to frame 0: the spec's access to frame 0 is undefined whether mapped or not
    // (mem_load_spec/mem_store_spec: pfn 0 is None), and the native target answers it before
    // its query point, so the harness does too (real, it would read or write QEMU's flash).
    // The access is undefined unless an event due maps the page. Anything else is not
    // realized.
    if (gfn < (HQ_AGENT_IPA >> KC_PAGE_SHIFT)) {
      catch_up();
      kcore k{kcfg_, lay_};
      MirrorRead m{&k, curid_, gfn, 0, 0};
      if (kn_call(read_mirror, &m) == KN_PANICKED)
        throw harness::TargetError(
            fmt::format("qemu target: KCore's memory is inconsistent: {}", kn_panic_reason()));
      if ((m.pte & KC_DESC_VALID) && m.pfn != 0)
        throw harness::TargetError(
            "qemu target: a host access through a mapping outside the spec window");
    }
    for (const auto& e : oracle_->events_at(log_length_))
      if (e.event.kind == model::EventKind::OMAP_HOST &&
          u64(e.event.args[0]) >> KC_PAGE_SHIFT == gfn)
        throw harness::TargetError("qemu target: an event maps a gfn the agent does not access");
    return model::StepKind::undefined;
  }
  MemAccess a;
  a.cmd = cmd;
  a.x = host_regs();
  a.ipa = gfn << KC_PAGE_SHIFT;
  a.reg = reg;
  if (!load) {
    // What the spec stores: the host's shadow register, from the (current) mirror.
    catch_up();
    kcore k{kcfg_, lay_};
    MirrorRead m{&k, curid_, gfn, reg, static_cast<uint64_t>(cpu.cur_vcpuid)};
    if (kn_call(read_mirror, &m) == KN_PANICKED)
      throw harness::TargetError(
          fmt::format("qemu target: KCore's memory is inconsistent: {}", kn_panic_reason()));
    a.value = m.value;
  }
  return command(&a, nullptr, &stats_.accesses);
}

// The host writes a register: KCore's register file (hq_regs) is the host's, so the harness
// writes it there; no KCore code runs (the native target's set_reg).
model::StepKind QemuTarget::step_set_reg(const model::SetReg& r) {
  const uint64_t value = fit64(r.value, "a register value");
  if (cpu_state().icore || r.reg > 30) return model::StepKind::undefined;
  auto* file = static_cast<kc_cpu_regs*>(machine_->guest(HQ_REGS_PA));
  file->regs.x[r.reg] = value;
  // While a VM runs its x0..x30 are parked in the ring between traps (the guest agent loads
  // them for its next trap): the register the VM computed is there too.
  const kc_cpu& cpu = cpu_state();
  if (!cpu.ihost && !machine_->panicked())
    static_cast<hq_ring*>(machine_->guest(HQ_RING_PA, sizeof(hq_ring)))->vm_x[r.reg] = value;
  export_state(false);
  return model::StepKind::ok;
}

// The host runs a vCPU: the host agent's `hvc #4` with the host's registers (x0 = vmid); when
// KCore runs it, EL2 switches the hardware to the vCPU and the guest agent completes the
// command (docs/qemu.md, "vCPU run and VM exits").
model::StepKind QemuTarget::step_vcpu_run(const model::VcpuRun& run) {
  const uint64_t vmid = fit64(run.vmid, "a vmid");
  const kc_cpu& cpu = cpu_state();
  if (!(cpu.ihost && !cpu.icore)) return model::StepKind::undefined;  // kc_vcpu_run's check
  if (machine_->panicked()) {
    // The stopped CPU: kc_vcpu_run records x0 and halts again.
    static_cast<kc_cpu_regs*>(machine_->guest(HQ_REGS_PA))->regs.x[0] = vmid;
    export_state(false);
    return model::StepKind::halted;
  }
  MemAccess a;
  a.cmd = HQ_CMD_VCPU_RUN;
  a.x = host_regs();
  a.x[0] = vmid;
  return command(&a, nullptr, &stats_.vcpu_runs);
}

// The running VM traps: the guest agent's real `hvc #0` for a hypercall exit, a trapped MRS for
// SYS64, a trapped WFI for WFx, its timer's interrupt for an interrupt exit, a stage-2 abort for
// an abort exit, an AArch32 `hvc` for HVC32, `hvc #5` (the operation's exit injected) for any
// other (layout.h, hq_exit_kind_of); the VM's x0..x30 reach KCore either way.
model::StepKind QemuTarget::step_vm_exit(const model::VmExit& e) {
  MemAccess a;
  a.exit = {fit64(e.ec, "an exit code"), fit64(e.esr, "esr"), fit64(e.hpfar, "hpfar"),
            fit64(e.far, "far")};
  for (size_t i = 0; i < 4; ++i) a.x[i] = fit64(e.x[i], "a VM exit register");
  const kc_cpu& cpu = cpu_state();
  if (cpu.ihost || cpu.icore) return model::StepKind::undefined;  // kc_vm_exit's check
  if (machine_->panicked()) {
    // The stopped CPU: kc_vm_exit records the trap's registers and halts again.
    auto* file = static_cast<kc_cpu_regs*>(machine_->guest(HQ_REGS_PA));
    file->regs.ec = a.exit[0];
    file->regs.esr_el2 = a.exit[1];
    for (size_t i = 0; i < 4; ++i) file->regs.x[i] = a.x[i];
    file->regs.hpfar_el2 = a.exit[2];
    file->regs.far_el2 = a.exit[3];
    export_state(false);
    return model::StepKind::halted;
  }
  a.cmd = HQ_CMD_VM_EXIT;
  // The agent's choice (layout.h, hq_exit_kind_of): the real trap of the exit's kind.
  const bool real = hq_exit_kind_of(a.exit[0], a.exit[1]) != HQ_EXIT_INJECT;
  return command(&a, nullptr, real ? &stats_.real_exits : &stats_.injected_exits);
}

namespace {
struct VmRead {
  const kcore* kc;
  uint32_t vmid;
  uint64_t gfn, reg, vcpu;
  uint64_t pfn = 0, value = 0;
};
// The VM's frame for a gfn and a shadow register of the running vCPU, read from the mirror.
void read_vm_mirror(void* arg) {
  auto* m = static_cast<VmRead*>(arg);
  kc_walk w;
  kc_s2pt_walk(m->kc, m->vmid, m->gfn, &w);
  m->pfn = w.pfn;
  m->value = kc_ctxt_get(kc_ctxt_of(m->kc, m->vmid, m->vcpu), m->reg);
}
}  // namespace

// The running VM's load or store: the guest agent accesses IPA gfn * 4096 for real through the
// VM's stage 2; EL2 finishes it as the spec says (an unmapped page aborts: nothing happens).
model::StepKind QemuTarget::step_vm_access(uint64_t cmd, uint64_t gfn, uint64_t reg) {
  const bool load = cmd == HQ_CMD_MEM_LOAD;
  const kc_cpu& cpu = cpu_state();
  if (machine_->panicked())
    throw harness::TargetError("qemu target: a VM's access after a halt outside KCore");
  if (load && reg >= 30) return model::StepKind::undefined;  // the spec excludes x30 and up
  catch_up();
  kcore k{kcfg_, lay_};
  VmRead m{&k, cpu.cur_vmid, gfn, reg, static_cast<uint64_t>(cpu.cur_vcpuid)};
  if (kn_call(read_vm_mirror, &m) == KN_PANICKED)
    throw harness::TargetError(
        fmt::format("qemu target: KCore's memory is inconsistent: {}", kn_panic_reason()));
  // Frames beyond the spec window are QEMU's flash, the infrastructure or KCore's own memory
  // for the MMU (an IOREMAP can name them); gfns past the 44-bit IPA space are no access.
  if (m.pfn >= (HQ_SPEC_WINDOW >> KC_PAGE_SHIFT) || gfn >= (HQ_AGENT_IPA >> KC_PAGE_SHIFT))
    throw harness::TargetError("qemu target: a VM access outside the spec window");
  MemAccess a;
  a.cmd = cmd;
  a.ipa = gfn << KC_PAGE_SHIFT;
  a.reg = reg;
  a.value = m.value;  // what the spec stores: the vCPU's shadow register
  return command(&a, nullptr, &stats_.vm_accesses);
}

// A device of the running principal reads or writes through SMMU context bank (index, cbndx):
// the agent (the host's, or the guest's while a VM runs) rings EL2's doorbell, and EL2's
// emulated device does the spec's checks, walks the bank's table in KCore's memory with its
// own walker, takes the query point and reaches the frame in QEMU's RAM (el2/dma.c).
model::StepKind QemuTarget::step_dma(uint64_t cmd, uint64_t gfn, uint32_t reg, uint32_t cbndx,
                                     uint32_t index) {
  const kc_cpu& cpu = cpu_state();
  if (cpu.icore) return model::StepKind::undefined;  // also every halt inside KCore
  if (machine_->panicked())
    throw harness::TargetError("qemu target: a DMA access after a halt outside KCore");
  MemAccess a;
  a.cmd = cmd;
  a.x = host_regs();  // the host agent traps with them (the guest agent keeps the VM's)
  a.reg = reg;
  a.fault = {gfn, cbndx, index};
  return command(&a, nullptr, &stats_.dma);
}

// The mirror takes the step's pages now (QEMU may change them as soon as the next step starts);
// the abstraction from the mirror waits until the state is read (import_changes), so that it
// runs while QEMU runs the next step. A full export, and a checked one, happen at once.
void QemuTarget::export_state(bool full) {
  const auto t0 = Clock::now();
  sync_step();
  stats_.exports += since(t0);
  import_pending_ = true;
  if (full || verify_export_) import(full);
}

void QemuTarget::import_changes() {
  if (import_pending_) import(false);
}

void QemuTarget::import(bool full) {
  const auto t0 = Clock::now();
  import_pending_ = false;
  kcore k{kcfg_, lay_};
  const kn_export_env env{&k, curid_, log_length_};
  const auto run = [&](bool whole, const hd_sink* sink) {
    ExportCall c{exp_, &env, sink, whole, 0};
    if (kn_call(run_export, &c) == KN_PANICKED)
      throw harness::TargetError(
          fmt::format("qemu target: KCore's memory is inconsistent: {}", kn_panic_reason()));
    return c.result;
  };
  const auto export_fn = [&](const hd_sink* sink) { return run(full, sink); };
  const int status = full ? harness::import_full(base_, export_fn, &d_)
                          : harness::import_changes(d_, export_fn, &d_);
  if (status != 0) throw harness::TargetError("qemu target: the export ran out of memory");
  stats_.exports += since(t0);
  if (full || !verify_export_) return;
  // The check: a mirror copied afresh from every resident page, exported in full.
  full_sync();
  need_full_sync_ = true;  // the mirror's record of copied pages starts over
  model::RData whole;
  if (harness::import_full(
          base_, [&](const hd_sink* sink) { return run(true, sink); }, &whole) != 0)
    throw harness::TargetError("qemu target: the export ran out of memory");
  if (whole.slog.length() != d_.slog.length() || !oracles::same_observables(whole, d_))
    throw harness::TargetError(
        "qemu target: the step log and the incremental export disagree with a full copy");
}

}  // namespace hypdiff::qemu
