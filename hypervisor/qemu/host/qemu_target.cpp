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
#include "core/ctxt.h"
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
}

QemuTarget::~QemuTarget() {
  kn_export_free(exp_);
  instance_alive = false;
}

std::string QemuTarget::describe() const {
  return "KCore at EL2 in qemu-system-aarch64 (host hypercalls; the native target's export)";
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

// The pages EL2 reached since the last export, and the register file.
void QemuTarget::sync_step() {
  bool overflow = false;
  const std::vector<uint64_t> pages = machine_->take_step_log(&overflow);
  if (overflow) {
    full_sync();
  } else {
    for (const uint64_t i : pages) copy_page(i);
  }
  std::memcpy(kn_cpu_regs(curid_), machine_->guest(HQ_REGS_PA, sizeof(kc_cpu_regs)),
              sizeof(kc_cpu_regs));
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

void QemuTarget::reset(const model::MachineConfig& cfg, model::OraclePtr oracle) {
  if (auto why = cfg.validate()) throw harness::TargetError("qemu target: " + *why);
  oracle_ = oracle ? std::move(oracle) : std::make_shared<const model::OracleInputs>();
  const auto t0 = Clock::now();
  try {
    if (!machine_ || !cfg_ || !(*cfg_ == cfg)) {
      cfg_.reset();
      machine_.reset();
      kcfg_ = to_kc(cfg);
      QemuOptions o = options_;
      o.config = kcfg_;
      machine_ = std::make_unique<QemuMachine>(o);
      cfg_ = cfg;
      curid_ = static_cast<uint32_t>(cfg.curid);
      need_full_sync_ = true;
    } else if (soft_reset_) {
      machine_->soft_reset();
    } else {
      machine_->reset();
    }
  } catch (const QemuError& e) {
    need_full_sync_ = true;
    machine_failed(e);
  }
  stats_.machine_reset += since(t0);
  machine_->set_answer([this](hq_plat& p) { return answer(p); });
  write_params();
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
  bool overflow = false;
  machine_->take_step_log(&overflow);
  kn_regs_reset();
  base_ = model::initial_state(cfg, model::Profile::intended(), oracle_);
  export_state(true);
}

model::StepKind QemuTarget::step(const model::Op& op) {
  if (!machine_ || !cfg_) throw harness::TargetError("qemu target: step before reset");
  const auto* hvc = std::get_if<model::HostHvc>(&op);
  if (!hvc)
    throw harness::TargetError(fmt::format("qemu target: {} is not realized yet",
                                           model::handler_name(model::handler_of(op))));
  Regs x{};
  const auto* file = static_cast<const kc_cpu_regs*>(machine_->guest(HQ_REGS_PA));
  std::copy(file->regs.x, file->regs.x + 31, x.begin());
  for (size_t i = 0; i < 6; ++i) {
    if (hvc->x[i] < 0 || hvc->x[i] >= model::pow2(64))
      throw harness::TargetError("qemu target: a hypercall argument does not fit 64 bits");
    x[i] = u64(hvc->x[i]);
  }
  hq_plat& p = machine_->plat_page();
  p.log_base = log_length_;
  p.step_sections = 0;
  p.step_injected = 0;
  p.next_event = oracle_->next_scheduled(log_length_);
  p.ask_streams = 1;
  std::atomic_thread_fence(std::memory_order_release);
  HvcResult r;
  const auto t0 = Clock::now();
  try {
    r = machine_->hvc(x);
  } catch (const QemuError& e) {
    need_full_sync_ = true;
    machine_failed(e);
  } catch (...) {
    need_full_sync_ = true;  // an answer failed: the next reset starts a fresh QEMU
    throw;
  }
  stats_.hypercalls += since(t0);
  stats_.hypercall_us.push_back(static_cast<float>(since(t0) * 1e6));
  if (r.status == HvcResult::Status::undefined) return model::StepKind::undefined;
  const bool verified = r.status == HvcResult::Status::ok && x[0] == KC_HVC_VERIFY_VM_IMAGE;
  log_length_ += p.step_sections + p.step_injected + (verified ? 1u : 0u);
  export_state(false);
  return r.status == HvcResult::Status::ok ? model::StepKind::ok : model::StepKind::halted;
}

void QemuTarget::export_state(bool full) {
  const auto t0 = Clock::now();
  sync_step();
  kcore k{kcfg_, {}};
  kc_layout_compute(&kcfg_, &k.lay);
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
