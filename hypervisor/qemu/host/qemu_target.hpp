// KCore at EL2 in QEMU as a harness Target (docs/qemu.md, "The QEMU target"): host hypercalls,
// faults and accesses, vCPU runs and VM exits (the world switch) run for real through the
// ring, and DMA by a device EL2 emulates (its own walk of KCore's SMMU tables); the oracle answers
// come from the case (the doracle streams and the other CPUs' events are asked for by EL2 while a
// step runs, the Parameters are written into the oracle table at reset); the abstract state is the
// native target's export (hypervisor/native/export.c, unchanged) over a mirror of the machine's
// memory: after each step the pages EL2 reached (its step log) and the register file are copied
// from the shared mapping into the native platform's simulated memory, at the same spec addresses.
//
// The mirror is the native platform's memory, one per process: while a QemuTarget lives, do not
// run a native target in the same process (run them one after the other). Not thread safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/target.hpp"
#include "qemu/host/qemu_machine.hpp"

struct kn_export;
struct kc_cpu;

namespace hypdiff::qemu {

class QemuTarget final : public harness::Target {
 public:
  // `options.config` is ignored: each reset's MachineConfig decides (with el2_base =
  // HQ_EL2_BASE); a different configuration starts a fresh QEMU.
  explicit QemuTarget(QemuOptions options = {}, bool soft_reset = true);
  ~QemuTarget() override;
  QemuTarget(const QemuTarget&) = delete;
  QemuTarget& operator=(const QemuTarget&) = delete;

  std::string name() const override { return "qemu"; }
  std::string describe() const override;
  // Throws harness::TargetError for a configuration QEMU's memory cannot hold, a failure of
  // QEMU itself, or oracle answers the table cannot hold.
  void reset(const model::MachineConfig& cfg, model::OraclePtr oracle) override;
  // Every operation (docs/qemu.md): host hypercalls, host stage-2 faults, the host's loads and
  // stores, SET_REG, VCPU_RUN, VM exits, the running VM's loads and stores, and device DMA by
  // EL2's emulated device (its own walk of KCore's SMMU tables).
  model::StepKind step(const model::Op& op) override;
  // What step() realizes; generated cases use only these (harness::Target::realized).
  model::HandlerMask realized() const override {
    using model::Handler;
    using model::handler_bit;
    return handler_bit(Handler::host_hvc) | handler_bit(Handler::host_npt) |
           handler_bit(Handler::mem_load) | handler_bit(Handler::mem_store) |
           handler_bit(Handler::set_reg) | handler_bit(Handler::host_vcpu_run) |
           handler_bit(Handler::vm_exit) | handler_bit(Handler::dev_load) |
           handler_bit(Handler::dev_store);
  }
  // Pipelining (harness/target.hpp): start() posts the step's command to QEMU and returns;
  // finish() waits for it. step() is both.
  void start(const model::Op& op) override;
  model::StepKind finish() override;
  std::vector<std::string> notes() const override { return notes_; }
  // The last finished step's state. Abstracting it from the mirror is left until it is read, so
  // that it overlaps the next step in QEMU; hence the cast (no QemuTarget is a const object).
  const model::RData& state() const override {
    const_cast<QemuTarget*>(this)->import_changes();
    return d_;
  }

  QemuMachine* machine() { return machine_.get(); }
  // KCore's seeded bug (core/mutant.h; 0 = the original): a different one takes effect at the
  // next reset, which starts a fresh QEMU (kcore_mutants.elf when non-zero), as a different
  // configuration does. Also settable through QemuOptions::mutant.
  void set_mutant(uint32_t id);
  uint32_t mutant() const { return options_.mutant; }
  // For checking the mirror: after each step also copy every resident page afresh, take the
  // full export and require that it equals the state the step log and the incremental export
  // gave (a TargetError saying so, otherwise). Slow.
  void set_verify_export(bool on) { verify_export_ = on; }
  // Tests: called on each page copied into the mirror (spec address, the copy) before the
  // export reads it, so that a test can plant a difference the comparison must catch.
  using PageHook = std::function<void(uint64_t pa, uint8_t* page)>;
  void set_page_hook(PageHook hook) { page_hook_ = std::move(hook); }
  // How the last reset brought the mirror up to date: pages copied.
  uint64_t last_reset_pages() const { return last_reset_pages_; }
  // Where the time goes (seconds since construction), for qemu_target_bench.
  struct Stats {
    double machine_reset = 0;  // QemuMachine's reset or soft reset
    double hypercalls = 0;     // QemuMachine::hvc, EL2's asks included
    double exports = 0;        // mirror copies and the native export, resets included
    uint64_t asks = 0;         // EL2's questions answered
    uint64_t events = 0;       // other-CPU events EL2 replayed
    uint64_t pages_copied = 0;
    uint64_t accesses = 0;            // host loads and stores that reached the machine
    uint64_t real_faults = 0;         // host stage-2 faults taken by a real access
    uint64_t injected_faults = 0;     // ... injected (hvc #3)
    uint64_t vcpu_runs = 0;           // VCPU_RUNs that reached the machine
    uint64_t real_exits = 0;          // VM exits by a real trap (hvc, MRS, WFI, IRQ, stage-2 abort)
    uint64_t injected_exits = 0;      // ... injected (hvc #5: WFE, unknown classes and codes)
    uint64_t vm_accesses = 0;         // a running VM's loads and stores on the machine
    uint64_t dma = 0;                 // DMA loads and stores that reached the machine
    uint64_t restart_changes = 0;     // resets whose EL2 restart changed the modelled state
    uint64_t stale_translations = 0;  // accesses EL2 saw go through a stale TLB entry
    std::vector<float> hypercall_us;  // each command's time (hypercalls, accesses, faults)
  };
  const Stats& stats() const { return stats_; }

 private:
  using MemAccess = QemuMachine::Access;
  model::StepKind step_hvc(const model::HostHvc& hvc);
  model::StepKind step_fault(const model::HostFault& f);
  model::StepKind step_access(uint64_t cmd, uint64_t gfn, uint64_t reg);
  model::StepKind step_set_reg(const model::SetReg& r);
  model::StepKind step_vcpu_run(const model::VcpuRun& run);
  model::StepKind step_vm_exit(const model::VmExit& e);
  model::StepKind step_vm_access(uint64_t cmd, uint64_t gfn, uint64_t reg);
  model::StepKind step_dma(uint64_t cmd, uint64_t gfn, uint32_t reg, uint32_t cbndx,
                           uint32_t index);
  Regs host_regs() const;
  const kc_cpu& cpu_state() const;
  void begin_step();
  model::StepKind run(const model::Op& op);
  template <class F>
  auto on_machine(F&& what) -> decltype(what());
  model::StepKind command(const MemAccess* a, const Regs* x, uint64_t* counter);
  model::StepKind complete();
  model::StepKind end_step(const HvcResult& r, bool verified);
  void catch_up();
  void copy_page(uint64_t index);
  bool copy_regs();
  void full_sync();
  void sync_step();
  void write_params();
  uint64_t answer(hq_plat& p);
  void export_state(bool full);
  void import_changes();
  void import(bool full);
  void drain();
  [[noreturn]] void machine_failed(const std::exception& e);

  QemuOptions options_;
  bool soft_reset_;
  std::unique_ptr<QemuMachine> machine_;
  std::optional<model::MachineConfig> cfg_;
  kc_config kcfg_{};
  kc_layout lay_{};
  uint32_t curid_ = 0;
  model::OraclePtr oracle_;
  model::RData base_;
  model::RData d_;
  kn_export* exp_ = nullptr;
  uint64_t log_length_ = 0;
  bool need_full_sync_ = true;
  std::vector<uint64_t> synced_;  // pages copied since the last full sync (RAM page indices)
  std::vector<uint8_t> synced_mark_;
  PageHook page_hook_;
  uint64_t last_reset_pages_ = 0;
  Stats stats_;
  bool verify_export_ = false;
  // The step between start() and finish() (see start()).
  struct Posted {
    bool verified;      // VERIFY_VM_IMAGE: the log grows by one more on success
    uint64_t* counter;  // in stats_
    std::chrono::steady_clock::time_point t0;
  };
  bool started_ = false, starting_ = false, deferred_ = false, import_pending_ = false;
  std::vector<std::string> notes_;  // the last finished step's (notes())
  model::Op started_op_;
  std::optional<model::StepKind> early_;  // decided without a command (undefined)
  std::optional<Posted> posted_;
  std::exception_ptr start_error_;
};

}  // namespace hypdiff::qemu
