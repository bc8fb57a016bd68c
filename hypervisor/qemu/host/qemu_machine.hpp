// KCore at EL2 in qemu-system-aarch64, driven from the harness (docs/qemu.md): one QEMU process
// per machine, its guest RAM a file under /dev/shm the harness maps (the command ring, the EL2
// page, the oracle table and KCore's memory are all read and written through it), QMP on an
// abstract unix socket for stop/cont/system_reset/quit, the UART (QEMU's stdout) only for boot
// and panic text.
//
// Cleanup: the /dev/shm file is unlinked before QEMU starts (QEMU opens it through an inherited
// descriptor) and QEMU dies with the thread that started it (PR_SET_PDEATHSIG), so even a
// SIGKILL of the harness leaves neither a file nor a process behind. Create a QemuMachine on a
// thread that outlives it. Not thread safe.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "qemu/host/qmp.hpp"

extern "C" {
#include "core/config.h"
#include "qemu/layout.h"
struct kc_cpu;
}

namespace hypdiff::qemu {

// A failure of the QEMU target itself (not a verdict about KCore): one line.
struct QemuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct QemuOptions {
  std::string kcore_elf;            // empty: the kcore.elf this build made
  std::string qemu;                 // empty: qemu-system-aarch64 from PATH
  std::optional<kc_config> config;  // empty: kc_config_default with el2_base = HQ_EL2_BASE
  std::string cpu = "cortex-a57";   // -cpu: needs EL2 and a PA size of at least 44 bits
  // KCore's seeded bug to switch on (core/mutant.h, catalog native/mutants.c); 0 = none.
  // Non-zero boots kcore_mutants.elf (when kcore_elf is empty) with kc_mutant set at every entry.
  uint32_t mutant = 0;
  // QEMU's CPUs (docs/qemu.md, "SMP"): 1, or 2 (CPU 1 is started by EL2 at every entry and
  // turned off at every park). With 2, TCG runs both on one thread (-accel tcg,thread=single)
  // unless mttcg (one host thread per CPU). 2 by default: as fast as 1 (docs/qemu.md, "SMP").
  uint32_t smp = 2;
  bool mttcg = false;
  // With smp 2, who performs the other CPUs' events (layout.h, hq_plat::smp_level): 1 CPU 1,
  // as the event's CPU; 0 CPU 0, as with one CPU.
  uint32_t smp_level = 1;
  // A test's fault in starting CPU 1 (layout.h, enum hq_smp_fault); 0 = none.
  uint32_t smp_fault = HQ_SMP_FAULT_NONE;
  std::chrono::milliseconds boot_timeout{10000};
  // The per-command watchdog. A step takes ~100 us; 10 s tells a hang from a loaded machine (at
  // load 8 on 2 cores a hypercall once took over 2 s).
  std::chrono::milliseconds command_timeout{10000};
};

using Regs = std::array<uint64_t, 31>;

struct HvcResult {
  enum class Status { ok, undefined, halted };
  Status status = Status::ok;
  Regs x{};                // the host's x0..x30 after the hypercall (ok, undefined)
  std::string panic_text;  // halted: what KCore said
  bool stale = false;      // an access went through a stale translation (HQ_STATUS_STALE)
};

class QemuMachine {
 public:
  // Starts QEMU and waits until the host agent polls the ring; then takes the RAM snapshot
  // reset() restores. Throws QemuError: "qemu-system-aarch64 is not installed", "... did not
  // boot ...", "KCore panicked during boot: <text>".
  explicit QemuMachine(QemuOptions options = {});
  QemuMachine(const QemuMachine&) = delete;
  QemuMachine& operator=(const QemuMachine&) = delete;
  ~QemuMachine();

  // The host's hypercall with the host's x0..x30 (x0 = number). A KCore halt is a result
  // (halted, with the panic text); the CPU then stays in EL2 until reset(), and later
  // hypercalls get what KCore's entry checks would answer (undefined after a halt inside a
  // hypercall, halted otherwise). Throws QemuError when QEMU dies or the watchdog expires.
  HvcResult hvc(const Regs& x);
  // The same for a sequence, posted to the ring up to HQ_RING_SLOTS at a time (the agent
  // runs them back to back): one result per hypercall, as hvc() would give.
  std::vector<HvcResult> hvc_batch(const std::vector<Regs>& xs);

  // One host access or stage-2 fault through the ring (layout.h, enum hq_cmd: MEM_LOAD,
  // MEM_STORE, HOST_FAULT, HOST_FAULT_INJECT; also VCPU_RUN, VM_EXIT and a running VM's
  // MEM_LOAD and MEM_STORE), the slot's fields as given; x = the host's x0..x30
  // (KCore's register file). Result: ok, undefined (EL2 ended the access without it) or halted.
  // EL2 reporting a platform bug (HQ_STATUS_BAD_STEP), or KCore having halted before, is a
  // QemuError. *loaded: the value the agent loaded (MEM_LOAD).
  struct Access {
    uint64_t cmd = HQ_CMD_MEM_LOAD;
    Regs x{};
    uint64_t ipa = 0, value = 0, reg = 0;
    std::array<uint64_t, 3> fault{};  // hpfar, esr, far
    std::array<uint64_t, 4> exit{};   // VM_EXIT: ec, esr, hpfar, far
  };
  HvcResult access(const Access& a, uint64_t* loaded = nullptr);
  // access() and hvc() in two halves, so that the harness works while QEMU runs the command:
  // start_access()/start_hvc() post it and return at once, finish() waits for it and returns
  // what access()/hvc() would have. One command at a time; started() says whether one is.
  void start_access(const Access& a);
  void start_hvc(const Regs& x);
  HvcResult finish(uint64_t* loaded = nullptr);
  bool started() const { return pending_.has_value(); }

  // A NOP through the ring: the agent answers without trapping (the channel's own cost, and a
  // liveness check). Throws QemuError like hvc(); returns false if KCore has halted.
  bool ping();

  // Back to the state right after boot: QMP stop, RAM restored from the snapshot, QMP
  // system_reset, cont, and the agent's ready flag again.
  void reset();
  // The same state without QMP and without resetting the CPU: the agent (or a halted EL2)
  // parks EL2, the harness restores RAM, EL2 restarts at its entry (docs/qemu.md, "Soft
  // reset"). Valid while only the host runs (EL1 system registers are not reset). A machine
  // that failed earlier gets a fresh QEMU; one that does not park within command_timeout (a
  // hang in EL2) throws QemuError, and the next reset starts a fresh QEMU.
  void soft_reset();
  // soft_reset() in two halves, so that the harness works while EL2 restarts: start() returns
  // once RAM is restored and EL2 is told to go; settle() waits for the agent's ready flag.
  // Commands and take_step_log() settle first by themselves. In between, the harness may read
  // the restored RAM; panicked(), boots() and cpu_info() describe the machine only after
  // settle().
  void soft_reset_start();
  void settle();

  bool panicked() const;
  std::string panic_text() const;
  // The oracle table EL2 reads (docs/qemu.md); part of the snapshot: write it after reset().
  hq_oracle& oracle();
  // A pointer into guest RAM at physical address pa (nullptr outside RAM).
  void* guest(uint64_t pa, uint64_t size = 8) const;
  pid_t pid() const { return pid_; }
  // The name of the /dev/shm file (unlinked already) and of the QEMU process (-name).
  const std::string& name() const { return name_; }
  // What QEMU wrote to stdout/stderr so far (the UART and its own messages): its first 16 KiB
  // and its last 240 KiB.
  std::string output();
  uint64_t boots() const;
  // A physical CPU's per-CPU block (layout.h, struct hq_cpu_info): what EL2 recorded there.
  const hq_cpu_info& cpu_info(uint32_t phys) const;

  // What answers EL2's asks (layout.h, enum hq_ask) while a command runs: called with the EL2
  // page (kind and arguments in ask_kind, ask_a, ask_b), returns the value; it may write more
  // into the page (events, next_event). Without one, an ask is a QemuError. An exception from
  // it leaves EL2 waiting: the machine fails and the next reset starts a fresh QEMU.
  using Answer = std::function<uint64_t(hq_plat& page)>;
  void set_answer(Answer answer) { answer_ = std::move(answer); }
  // The EL2 page (harness-written fields: log_base, step counters, next_event, ask_streams).
  hq_plat& plat_page() { return *plat(); }

  // The pages EL2 reached through plat_phys since the last call or reset, as indices into guest
  // RAM ((pa - HQ_RAM_BASE) / 4096), once each; empties the step log. *overflow: more than
  // HQ_TOUCH_CAP pages were reached and the list is incomplete.
  std::vector<uint64_t> take_step_log(bool* overflow);
  // The resident pages of the spec window and KCore's memory (same indices): what a full copy
  // of the modelled memory must take.
  std::vector<uint64_t> resident_pages();
  const uint8_t* page_data(uint64_t index) const { return mem_ + index * 4096; }

  // Fills `o` with the values the native platform gives without hooks: everything 0 except
  // verify_img 1 and the decrypt counts 31 and 24.
  static void default_oracle(hq_oracle& o);

 private:
  void spawn();
  void wait_ready(std::chrono::milliseconds timeout, const char* what);
  void take_snapshot();
  void restore_snapshot();
  void clear_touch_log();
  void serve_ask();
  void restore_page(uint64_t page);
  void check_alive();
  // A QMP command; a failure is a QemuError (QEMU's exit status when it died).
  void control(const char* command);
  void drain_output();
  void kill_qemu();
  [[noreturn]] void fail(const std::string& what);
  // Waits until the agent has done command `seq` (tail >= seq); false if KCore panicked.
  bool wait_done(uint64_t seq, uint64_t x0);
  hq_ring* ring() const;
  hq_plat* plat() const;

  QemuOptions options_;
  std::string name_;
  int mem_fd_ = -1;
  uint8_t* mem_ = nullptr;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
  Qmp qmp_;
  uint64_t head_ = 0;
  kc_layout lay_{};  // KCore's layout in this machine
  bool dead_ = false;
  bool restarting_ = false;  // soft_reset_start() set `go`; settle() has not seen `ready` yet
  Answer answer_;
  struct Pending {
    bool hvc = false;
    uint64_t seq = 0, cmd = 0, ipa = 0;
    std::optional<HvcResult> early;  // a hypercall answered without KCore (halted before)
  };
  std::optional<Pending> pending_;
  void check_idle();
  const kc_cpu* cpu_state() const;

  struct SnapshotRange {
    uint64_t first_page, pages;
  };
  enum class Clear { punch, zero };
  void clear_new_pages(const SnapshotRange& rg, Clear how);
  std::vector<SnapshotRange> ranges_;  // where the snapshot looks for changed pages
  std::vector<uint64_t> snap_pages_;   // resident pages after boot (page index into the file)
  std::vector<uint8_t> snap_data_;     // their contents
};

}  // namespace hypdiff::qemu
