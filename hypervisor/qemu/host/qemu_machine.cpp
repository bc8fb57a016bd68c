#include "qemu/host/qemu_machine.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern "C" {
#include "core/cpu.h"
}

#ifndef HYPDIFF_QEMU_KCORE_ELF
#define HYPDIFF_QEMU_KCORE_ELF ""
#endif
#ifndef HYPDIFF_QEMU_KCORE_MUTANTS_ELF
#define HYPDIFF_QEMU_KCORE_MUTANTS_ELF ""
#endif

namespace hypdiff::qemu {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kPage = 4096;
constexpr size_t kOutputHead = 16 << 10, kOutputTail = 240 << 10;  // what output() keeps

std::string find_in_path(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return access(prog.c_str(), X_OK) == 0 ? prog : "";
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string cand = dir + "/" + prog;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  const auto nl = t.find_last_of('\n');
  std::string line = nl == std::string::npos ? t : t.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::atomic<unsigned> instance_counter{0};

// Waiting for QEMU's vCPU thread: spin for the first ~40 us (a hypercall takes ~6 us), then
// sleep 10 us at a time (~100 us with the default timer slack). sched_yield was not enough on a
// loaded machine: CFS kept picking the yielding harness over the vCPU thread until the next
// tick (~4 ms per hypercall at load 3-5); a hybrid (yield up to 50 us, then sleep) still fell
// into that mode in half the runs. docs/qemu.md, "Measured". Remeasured for one instance and
// --jobs 2 (docs/benchmarks.md, "Waiting for the vCPU"): yield and a 1-us timer slack (short
// real sleeps) can help one instance on a quiet machine but collapse under load or with --jobs 2
// (each early wake-up preempts a vCPU thread); 10-100 us spins or 20-100 us sleeps are within
// the noise of this choice.
class Backoff {
 public:
  void pause() {
    if (++i_ < 64) return;
    if (Clock::now() - start_ < std::chrono::microseconds(40)) return;
    struct timespec ts {
      0, 10000
    };
    nanosleep(&ts, nullptr);
  }

 private:
  Clock::time_point start_ = Clock::now();
  unsigned i_ = 0;
};

}  // namespace

void QemuMachine::default_oracle(hq_oracle& o) {
  std::memset(&o, 0, sizeof o);
  for (auto& v : o.verify_img) v = 1;
  o.decrypt_gp_count = 31;
  o.decrypt_sys_count = 24;
}

QemuMachine::QemuMachine(QemuOptions options) : options_(std::move(options)) {
  if (options_.kcore_elf.empty())
    options_.kcore_elf = options_.mutant ? HYPDIFF_QEMU_KCORE_MUTANTS_ELF : HYPDIFF_QEMU_KCORE_ELF;
  if (options_.qemu.empty()) options_.qemu = "qemu-system-aarch64";
  if (options_.smp < 1 || options_.smp > HQ_PHYS_CPUS)
    throw QemuError("QemuOptions::smp is " + std::to_string(options_.smp) + ": EL2 drives 1 to " +
                    std::to_string(HQ_PHYS_CPUS) + " CPUs");
  try {
    spawn();
    wait_ready(options_.boot_timeout, "boot");
    take_snapshot();
  } catch (...) {
    kill_qemu();
    if (mem_) munmap(mem_, HQ_RAM_SIZE);
    if (mem_fd_ >= 0) ::close(mem_fd_);
    throw;
  }
}

QemuMachine::~QemuMachine() {
  if (pid_ > 0 && qmp_.connected()) {
    try {
      qmp_.execute("quit", std::chrono::milliseconds(500));
    } catch (const std::exception&) {
      // QEMU may close the connection before answering; kill_qemu makes sure.
    }
  }
  kill_qemu();
  if (out_fd_ >= 0) ::close(out_fd_);
  if (mem_) munmap(mem_, HQ_RAM_SIZE);
  if (mem_fd_ >= 0) ::close(mem_fd_);
}

hq_ring* QemuMachine::ring() const { return static_cast<hq_ring*>(guest(HQ_RING_PA)); }
hq_plat* QemuMachine::plat() const { return static_cast<hq_plat*>(guest(HQ_PLAT_PA)); }
hq_oracle& QemuMachine::oracle() {
  return *static_cast<hq_oracle*>(guest(HQ_ORACLE_PA, sizeof(hq_oracle)));
}

void* QemuMachine::guest(uint64_t pa, uint64_t size) const {
  if (!mem_ || pa < HQ_RAM_BASE || pa - HQ_RAM_BASE > HQ_RAM_SIZE ||
      size > HQ_RAM_SIZE - (pa - HQ_RAM_BASE))
    return nullptr;
  return mem_ + (pa - HQ_RAM_BASE);
}

bool QemuMachine::panicked() const { return plat()->panicked != 0; }
uint64_t QemuMachine::boots() const { return plat()->boots; }
const hq_cpu_info& QemuMachine::cpu_info(uint32_t phys) const {
  if (phys >= HQ_PHYS_CPUS) throw QemuError("no per-CPU block for CPU " + std::to_string(phys));
  return *static_cast<const hq_cpu_info*>(
      guest(HQ_PERCPU_PA + phys * HQ_PERCPU_SIZE, sizeof(hq_cpu_info)));
}

std::string QemuMachine::panic_text() const {
  const hq_plat* p = plat();
  return std::string(p->panic_text, strnlen(p->panic_text, HQ_PANIC_TEXT));
}

void QemuMachine::spawn() {
  const std::string qemu = find_in_path(options_.qemu);
  if (qemu.empty())
    throw QemuError(options_.qemu + " is not installed (apt install qemu-system-arm)");
  if (::access(options_.kcore_elf.c_str(), R_OK) != 0)
    throw QemuError("KCore's EL2 image " + options_.kcore_elf +
                    " is missing (ninja kcore_qemu_elf)");

  name_ = "hypdiff-" + std::to_string(getpid()) + "-" + std::to_string(instance_counter++);
  // The file exists under its name only until the unlink below; QEMU gets the descriptor.
  const std::string shm = "/dev/shm/" + name_;
  mem_fd_ = ::open(shm.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (mem_fd_ < 0) throw QemuError("cannot create " + shm + ": " + std::strerror(errno));
  ::unlink(shm.c_str());
  if (ftruncate(mem_fd_, static_cast<off_t>(HQ_RAM_SIZE)) != 0)
    throw QemuError(std::string("cannot size the guest RAM file: ") + std::strerror(errno));
  void* m = mmap(nullptr, HQ_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd_, 0);
  if (m == MAP_FAILED) throw QemuError(std::string("mmap of guest RAM: ") + std::strerror(errno));
  mem_ = static_cast<uint8_t*>(m);

  // What EL2 reads at boot: the machine and the oracle table. QEMU writes only the ELF and
  // the device tree into RAM, elsewhere.
  if (options_.config) {
    static_assert(sizeof(kc_config) <= sizeof(hq_plat::cfg));
    std::memcpy(plat()->cfg, &*options_.config, sizeof(kc_config));
    plat()->cfg_set = 1;
  }
  plat()->mutant = options_.mutant;
  plat()->smp = options_.smp;
  plat()->smp_level = options_.smp_level;
  plat()->smp_fault = options_.smp_fault;
  plat()->next_event = UINT64_MAX;  // no other-CPU events unless a step sets some
  default_oracle(oracle());

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw QemuError("pipe: " + std::string(std::strerror(errno)));
  const std::string mem_path = "/proc/self/fd/" + std::to_string(mem_fd_);
  const std::string ram = std::to_string(HQ_RAM_SIZE >> 20) + "M";
  const std::string qmp_name = name_ + "-qmp";
  std::vector<std::string> args = {
      qemu,
      "-name",
      name_,
      "-M",
      "virt,virtualization=on,gic-version=2,memory-backend=ram0",
      "-cpu",
      options_.cpu,
      "-m",
      ram,
      "-object",
      "memory-backend-file,id=ram0,size=" + ram + ",mem-path=" + mem_path + ",share=on",
      "-nodefaults",
      "-display",
      "none",
      "-serial",
      "stdio",
      "-chardev",
      "socket,id=qmp,path=" + qmp_name + ",abstract=on,server=on,wait=off",
      "-mon",
      "chardev=qmp,mode=control",
      "-kernel",
      options_.kcore_elf,
  };
  if (options_.smp > 1) {
    args.insert(args.end(), {"-smp", std::to_string(options_.smp), "-accel",
                             options_.mttcg ? "tcg,thread=multi" : "tcg,thread=single"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw QemuError("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    // QEMU must not outlive the harness, however it ends (SIGKILL included).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    fcntl(mem_fd_, F_SETFD, 0);  // inherited: mem-path is /proc/self/fd/N
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  ::close(out[1]);
  out_fd_ = out[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);

  const auto deadline = Clock::now() + options_.boot_timeout;
  for (;;) {
    try {
      if (qmp_.connect_abstract(qmp_name, options_.boot_timeout)) break;
    } catch (const std::runtime_error& e) {
      // QEMU hung up: usually because it is exiting with a message; wait for that.
      for (int i = 0; i < 200; ++i) {
        check_alive();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      fail(e.what());
    }
    check_alive();
    if (Clock::now() > deadline) fail("QEMU did not open its QMP socket");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Called at every reset: QEMU writes the UART with the BQL held and waits while the pipe is
// full, so an undrained pipe (64 KiB: a few hundred panic texts) stops the machine.
void QemuMachine::drain_output() {
  if (out_fd_ < 0) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<size_t>(n));
      // A night's panic texts would pile up: keep the boot text and the most recent output.
      if (output_.size() > kOutputHead + kOutputTail + kPage)
        output_ = output_.substr(0, kOutputHead) + "\n[...]\n" +
                  output_.substr(output_.size() - kOutputTail);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

std::string QemuMachine::output() {
  drain_output();
  return output_;
}

void QemuMachine::check_alive() {
  if (pid_ <= 0) fail("QEMU is not running");
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    drain_output();
    std::string why = WIFEXITED(status)
                          ? "exited with status " + std::to_string(WEXITSTATUS(status))
                          : "was killed by signal " + std::to_string(WTERMSIG(status));
    const std::string line = last_line(output_);
    fail("QEMU " + why + (line.empty() ? "" : ": " + line));
  }
}

void QemuMachine::fail(const std::string& what) {
  dead_ = true;
  throw QemuError(what);
}

void QemuMachine::kill_qemu() {
  qmp_.close();
  if (pid_ <= 0) return;
  // A polite quit may be under way: give QEMU a moment, then make sure.
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(i < 10 ? 1 : 5));
    if (i == 20) ::kill(pid_, SIGKILL);
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void QemuMachine::control(const char* command) {
  try {
    qmp_.execute(command);
  } catch (const std::runtime_error& e) {
    check_alive();
    fail(e.what());
  }
}

void QemuMachine::wait_ready(std::chrono::milliseconds timeout, const char* what) {
  const auto deadline = Clock::now() + timeout;
  const bool booting = std::string(what) == "boot";
  Backoff backoff;
  for (unsigned i = 0;; ++i) {
    if (ring()->ready == 1) break;
    if (plat()->panicked) fail("KCore panicked during " + std::string(what) + ": " + panic_text());
    if (i % (booting ? 64 : 4096) == 0) {
      check_alive();
      drain_output();
      if (Clock::now() > deadline) {
        const std::string line = last_line(output_);
        fail("KCore in QEMU did not " + std::string(what) + " within " +
             std::to_string(timeout.count()) + " ms" +
             (line.empty() ? "" : " (UART: " + line + ")"));
      }
    }
    // A boot takes milliseconds: sleep. A reset takes microseconds: spin, then sleep.
    if (booting)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    else
      backoff.pause();
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  head_ = ring()->head;
  // EL2 waits up to a second for CPU 1 before it enters the agent (el2/smp.c).
  if (options_.smp > 1 && plat()->secondaries_up != 1) {
    const auto r = static_cast<int64_t>(plat()->psci_on);
    if (r != 0)
      fail("KCore in QEMU: PSCI CPU_ON did not start CPU 1 (it returned " + std::to_string(r) +
           ")");
    fail("KCore in QEMU: CPU 1 did not come up within 1000 ms of PSCI CPU_ON");
  }
}

bool QemuMachine::wait_done(uint64_t seq, uint64_t x0) {
  hq_ring* r = ring();
  const auto deadline = Clock::now() + options_.command_timeout;
  Backoff backoff;
  for (uint64_t i = 1; r->tail < seq; ++i) {
    if (plat()->ask_pending) {
      serve_ask();
      i = 1;
      backoff = Backoff{};
      continue;
    }
    if (plat()->panicked) return false;
    // On a busy machine QEMU's vCPU thread may need this core: spin briefly, then sleep.
    backoff.pause();
    if (i % 4096 == 0) {
      check_alive();
      if (Clock::now() > deadline)
        fail("KCore in QEMU did not answer hypercall " + std::to_string(x0) + " within " +
             std::to_string(options_.command_timeout.count()) + " ms");
    }
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

void QemuMachine::serve_ask() {
  std::atomic_thread_fence(std::memory_order_acquire);
  hq_plat* p = plat();
  if (!answer_)
    fail("EL2 asked the harness (kind " + std::to_string(p->ask_kind) + ") but nothing answers");
  uint64_t value = 0;
  try {
    value = answer_(*p);
  } catch (...) {
    dead_ = true;  // EL2 waits for an answer that never comes
    throw;
  }
  p->ask_value = value;
  std::atomic_thread_fence(std::memory_order_release);
  p->ask_pending = 0;
}

std::vector<uint64_t> QemuMachine::take_step_log(bool* overflow) {
  settle();
  auto* t = static_cast<hq_touch*>(guest(HQ_STEP_PA));
  auto* bits = static_cast<uint8_t*>(guest(HQ_STEP_BITMAP_PA, HQ_RAM_SIZE / kPage / 8));
  const auto* list = static_cast<const uint64_t*>(guest(HQ_STEP_LIST_PA, HQ_TOUCH_CAP * 8));
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint64_t n = std::min<uint64_t>(uint64_t{t->count}, HQ_TOUCH_CAP);
  std::vector<uint64_t> out(list, list + n);
  *overflow = t->overflow != 0;
  if (t->overflow)
    std::memset(bits, 0, HQ_RAM_SIZE / kPage / 8);
  else
    for (const uint64_t page : out) bits[page >> 3] = 0;
  t->count = 0;
  t->overflow = 0;
  return out;
}

std::vector<uint64_t> QemuMachine::resident_pages() {
  std::vector<uint64_t> out;
  std::vector<unsigned char> vec;
  for (const SnapshotRange* rg : {&ranges_[0], &ranges_[2]}) {
    vec.resize(rg->pages);
    if (mincore(mem_ + rg->first_page * kPage, rg->pages * kPage, vec.data()) != 0)
      fail(std::string("mincore: ") + std::strerror(errno));
    for (uint64_t i = 0; i < rg->pages; ++i)
      if (vec[i] & 1) out.push_back(rg->first_page + i);
  }
  return out;
}

bool QemuMachine::ping() {
  check_idle();
  if (panicked()) return false;
  hq_ring* r = ring();
  r->slot[head_ % HQ_RING_SLOTS].cmd = HQ_CMD_NOP;
  std::atomic_thread_fence(std::memory_order_release);
  r->head = ++head_;
  return wait_done(head_, 0);
}

// KCore's state of the CPU the case runs on (plat_cpu_id: the curid the harness wrote).
const kc_cpu* QemuMachine::cpu_state() const {
  return static_cast<const kc_cpu*>(
      guest(lay_.cpus + plat()->curid * sizeof(kc_cpu), sizeof(kc_cpu)));
}

void QemuMachine::check_idle() {
  settle();
  if (dead_) throw QemuError("the QEMU machine failed earlier; reset() restarts it");
  if (pending_) throw QemuError("a command was started and not finished");
}

HvcResult QemuMachine::access(const Access& a, uint64_t* loaded) {
  start_access(a);
  return finish(loaded);
}

void QemuMachine::start_access(const Access& a) {
  check_idle();
  if (panicked()) throw QemuError("KCore has halted: no access reaches it");
  hq_ring* r = ring();
  hq_slot& s = r->slot[head_ % HQ_RING_SLOTS];
  s.cmd = a.cmd;
  s.status = HQ_STATUS_BAD_COMMAND;
  std::copy(a.x.begin(), a.x.end(), s.x);
  s.ipa = a.ipa;
  s.value = a.value;
  s.reg = a.reg;
  std::copy(a.fault.begin(), a.fault.end(), s.fault);
  std::copy(a.exit.begin(), a.exit.end(), s.exit);
  std::atomic_thread_fence(std::memory_order_release);
  r->head = ++head_;
  pending_ = Pending{false, head_, a.cmd, a.ipa, std::nullopt};
}

void QemuMachine::start_hvc(const Regs& x) {
  check_idle();
  if (panicked()) {
    // No command reaches KCore: hvc_batch answers as its entry checks would.
    pending_ = Pending{true, head_, x[0], 0, hvc_batch({x}).front()};
    return;
  }
  hq_ring* r = ring();
  hq_slot& s = r->slot[head_ % HQ_RING_SLOTS];
  s.cmd = HQ_CMD_HOST_HVC;
  std::copy(x.begin(), x.end(), s.x);
  std::atomic_thread_fence(std::memory_order_release);
  r->head = ++head_;
  pending_ = Pending{true, head_, x[0], 0, std::nullopt};
}

HvcResult QemuMachine::finish(uint64_t* loaded) {
  if (!pending_) throw QemuError("finish() without a started command");
  const Pending p = *pending_;
  pending_.reset();
  if (p.early) return *p.early;
  HvcResult res;
  if (!wait_done(p.seq, p.hvc ? p.cmd : p.cmd + 1000)) {
    res.status = HvcResult::Status::halted;
    res.panic_text = panic_text();
    return res;
  }
  const hq_slot& s = ring()->slot[(p.seq - 1) % HQ_RING_SLOTS];
  if (p.hvc) {
    std::copy(s.x, s.x + 31, res.x.begin());
  } else if (s.status != HQ_STATUS_OK && s.status != HQ_STATUS_UNDEFINED &&
             s.status != HQ_STATUS_STALE) {
    throw QemuError("EL2 refused access command " + std::to_string(p.cmd) + " at IPA " +
                    std::to_string(p.ipa) + ": status " + std::to_string(s.status));
  }
  // A stale translation is what KCore made the hardware do, not the platform's failure: the
  // access completed.
  res.stale = !p.hvc && s.status == HQ_STATUS_STALE;
  res.status =
      s.status == HQ_STATUS_UNDEFINED ? HvcResult::Status::undefined : HvcResult::Status::ok;
  if (loaded && !p.hvc) *loaded = s.value;
  return res;
}

HvcResult QemuMachine::hvc(const Regs& x) {
  start_hvc(x);
  return finish();
}

std::vector<HvcResult> QemuMachine::hvc_batch(const std::vector<Regs>& xs) {
  check_idle();
  std::vector<HvcResult> out(xs.size());
  hq_ring* r = ring();
  size_t done = 0;
  if (panicked() && !xs.empty()) {
    // Halted before this batch: no command reaches KCore; answer as its entry checks would.
    const auto* cpu = cpu_state();
    const bool host_runs = cpu && cpu->ihost && !cpu->icore;
    for (size_t i = 0; i < xs.size(); ++i) {
      out[i].status = host_runs ? HvcResult::Status::halted : HvcResult::Status::undefined;
      if (host_runs) out[i].panic_text = panic_text();
      if (!host_runs) out[i].x = xs[i];  // undefined: nothing changed
    }
    return out;
  }
  while (done < xs.size() && !panicked()) {
    const size_t n = std::min<size_t>(xs.size() - done, HQ_RING_SLOTS);
    const uint64_t first = head_;
    for (size_t i = 0; i < n; ++i) {
      hq_slot& s = r->slot[(first + i) % HQ_RING_SLOTS];
      s.cmd = HQ_CMD_HOST_HVC;
      std::copy(xs[done + i].begin(), xs[done + i].end(), s.x);
    }
    std::atomic_thread_fence(std::memory_order_release);
    head_ = first + n;
    r->head = head_;
    const bool ok = wait_done(head_, xs[done][0]);
    // Done commands have results even when a later one halted.
    const uint64_t tail = r->tail;
    const uint64_t finished = std::min(tail, head_) - first;
    for (size_t i = 0; i < finished; ++i) {
      const hq_slot& s = r->slot[(first + i) % HQ_RING_SLOTS];
      HvcResult& res = out[done + i];
      std::copy(s.x, s.x + 31, res.x.begin());
      res.status = s.status == HQ_STATUS_OK ? HvcResult::Status::ok : HvcResult::Status::undefined;
    }
    done += finished;
    if (!ok) break;
  }
  if (done == xs.size()) return out;
  // The hypercall that halted; then what kc_host_hvc's first checks say on the stopped CPU: a
  // halt inside a hypercall leaves icore set (undefined), one outside does not (halted again).
  out[done].status = HvcResult::Status::halted;
  out[done].panic_text = panic_text();
  const auto* cpu = cpu_state();
  const bool host_runs = cpu && cpu->ihost && !cpu->icore;
  for (++done; done < xs.size(); ++done) {
    out[done].status = host_runs ? HvcResult::Status::halted : HvcResult::Status::undefined;
    if (host_runs) out[done].panic_text = panic_text();
    if (!host_runs) out[done].x = xs[done];
  }
  return out;
}

// The pages a reset must put back: everything below the spec window's RAM, EL2's image, page,
// agent and oracle table, and KCore's memory.
void QemuMachine::take_snapshot() {
  kc_config cfg;
  if (options_.config) {
    cfg = *options_.config;
  } else {
    kc_config_default(&cfg);
    cfg.el2_base = HQ_EL2_BASE;
  }
  kc_layout_compute(&cfg, &lay_);
  const kc_layout& lay = lay_;
  const auto page_of = [](uint64_t pa) { return (pa - HQ_RAM_BASE) / kPage; };
  ranges_ = {
      {0, HQ_SPEC_WINDOW / kPage},
      {page_of(HQ_EL2_IMAGE),
       page_of(HQ_ORACLE_PA + sizeof(hq_oracle) + kPage - 1) - page_of(HQ_EL2_IMAGE)},
      {page_of(cfg.el2_base), (lay.end - cfg.el2_base + kPage - 1) / kPage},
  };
  control("stop");
  snap_pages_.clear();
  snap_data_.clear();
  std::vector<unsigned char> vec;
  for (const auto& rg : ranges_) {
    vec.resize(rg.pages);
    if (mincore(mem_ + rg.first_page * kPage, rg.pages * kPage, vec.data()) != 0)
      fail(std::string("mincore: ") + std::strerror(errno));
    for (uint64_t i = 0; i < rg.pages; ++i) {
      if (!(vec[i] & 1)) continue;
      const uint64_t page = rg.first_page + i;
      snap_pages_.push_back(page);
      const uint8_t* src = mem_ + page * kPage;
      snap_data_.insert(snap_data_.end(), src, src + kPage);
    }
  }
  clear_touch_log();  // from now on it lists what the cases change
  control("cont");
}

// The pages of `rg` the memory file holds (a write made them; SEEK_DATA/SEEK_HOLE cost a pair
// of calls per run of them, where mincore looks up every page), less those of the snapshot,
// become holes again (Clear::punch), or zero pages (Clear::zero): the infrastructure's are the
// same few pages in every case (ring slots past the snapshot's, the guest agent's stack and
// stage-2 root), and a hole costs a fallocate that unmaps the page from QEMU, which faults it
// in again.
void QemuMachine::clear_new_pages(const SnapshotRange& rg, Clear how) {
  const auto first = static_cast<off_t>(rg.first_page * kPage);
  const auto end = static_cast<off_t>((rg.first_page + rg.pages) * kPage);
  auto k = std::lower_bound(snap_pages_.begin(), snap_pages_.end(), rg.first_page);
  uint64_t run = 0, run_start = 0;
  const auto punch = [&] {
    if (run == 0) return;
    if (how == Clear::zero) {
      std::memset(mem_ + run_start * kPage, 0, run * kPage);
      run = 0;
      return;
    }
    // The pages read as zero again and give their memory back, in QEMU's mapping too.
    if (fallocate(mem_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(run_start * kPage), static_cast<off_t>(run * kPage)) != 0)
      fail(std::string("fallocate: ") + std::strerror(errno));
    run = 0;
  };
  for (off_t pos = first; pos < end;) {
    const off_t data = lseek(mem_fd_, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // no data after pos
    if (data < 0) fail(std::string("lseek(SEEK_DATA): ") + std::strerror(errno));
    if (data >= end) break;
    const off_t hole = lseek(mem_fd_, data, SEEK_HOLE);
    if (hole < 0) fail(std::string("lseek(SEEK_HOLE): ") + std::strerror(errno));
    const uint64_t stop = static_cast<uint64_t>(std::min(hole, end)) / kPage;
    for (uint64_t page = static_cast<uint64_t>(data) / kPage; page < stop; ++page) {
      while (k != snap_pages_.end() && *k < page) ++k;
      if (k != snap_pages_.end() && *k == page) {
        punch();
      } else {
        if (run == 0 || run_start + run != page) {
          punch();
          run_start = page;
        }
        ++run;
      }
    }
    pos = static_cast<off_t>(stop * kPage);
  }
  punch();
}

void QemuMachine::restore_page(uint64_t page) {
  const auto k = std::lower_bound(snap_pages_.begin(), snap_pages_.end(), page);
  if (k != snap_pages_.end() && *k == page)
    std::memcpy(mem_ + page * kPage,
                snap_data_.data() + static_cast<size_t>(k - snap_pages_.begin()) * kPage, kPage);
  else
    std::memset(mem_ + page * kPage, 0, kPage);
}

void QemuMachine::clear_touch_log() {
  auto* t = static_cast<hq_touch*>(guest(HQ_TOUCH_PA));
  auto* bits = static_cast<uint8_t*>(guest(HQ_TOUCH_BITMAP_PA, HQ_RAM_SIZE / kPage / 8));
  const auto* list = static_cast<const uint64_t*>(guest(HQ_TOUCH_LIST_PA, HQ_TOUCH_CAP * 8));
  if (t->overflow) {
    std::memset(bits, 0, HQ_RAM_SIZE / kPage / 8);
  } else {
    for (uint64_t i = 0; i < t->count; ++i) bits[list[i] >> 3] = 0;
  }
  t->count = 0;
  t->overflow = 0;
  bool overflow = false;
  take_step_log(&overflow);
}

// KCore's memory and the spec's RAM change only through plat_phys, which logs each page: those
// are put back one by one. EL2's image, page, ring and the oracle table (the harness writes
// them too) are compared with the snapshot by residency. A log that overflowed means a scan.
void QemuMachine::restore_snapshot() {
  auto* t = static_cast<hq_touch*>(guest(HQ_TOUCH_PA));
  const auto* list = static_cast<const uint64_t*>(guest(HQ_TOUCH_LIST_PA, HQ_TOUCH_CAP * 8));
  const SnapshotRange& infra = ranges_[1];
  if (t->overflow) {
    for (const auto& rg : ranges_) clear_new_pages(rg, Clear::punch);
    for (size_t i = 0; i < snap_pages_.size(); ++i)
      std::memcpy(mem_ + snap_pages_[i] * kPage, snap_data_.data() + i * kPage, kPage);
  } else {
    for (uint64_t i = 0; i < t->count && i < HQ_TOUCH_CAP; ++i) restore_page(list[i]);
    clear_new_pages(infra, Clear::zero);
    auto k = std::lower_bound(snap_pages_.begin(), snap_pages_.end(), infra.first_page);
    for (; k != snap_pages_.end() && *k < infra.first_page + infra.pages; ++k) restore_page(*k);
  }
  clear_touch_log();
}

void QemuMachine::reset() {
  pending_.reset();     // the CPU is reset under it
  restarting_ = false;  // so is a soft reset's restart
  if (dead_) {
    // A crash or hang: a fresh QEMU and a full boot instead of the fast path.
    kill_qemu();
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    if (mem_) munmap(mem_, HQ_RAM_SIZE);
    mem_ = nullptr;
    if (mem_fd_ >= 0) ::close(mem_fd_);
    mem_fd_ = -1;
    output_.clear();
    dead_ = false;
    spawn();
    wait_ready(options_.boot_timeout, "boot");
    take_snapshot();
    return;
  }
  drain_output();  // before QMP: QEMU waiting on a full pipe holds the lock QMP needs
  control("stop");
  restore_snapshot();
  ring()->ready = 0;
  control("system_reset");
  control("cont");
  wait_ready(options_.command_timeout, "come back after a reset");
}

void QemuMachine::soft_reset() {
  soft_reset_start();
  settle();
}

void QemuMachine::soft_reset_start() {
  settle();
  // A command still running finishes first (EL2 parks between commands); its result is dropped.
  if (pending_ && !dead_) finish();
  if (dead_) {
    reset();
    return;
  }
  drain_output();
  hq_plat* p = plat();
  if (!p->panicked) {
    hq_ring* r = ring();
    r->slot[head_ % HQ_RING_SLOTS].cmd = HQ_CMD_PARK;
    std::atomic_thread_fence(std::memory_order_release);
    r->head = ++head_;
  }
  const auto deadline = Clock::now() + options_.command_timeout;
  Backoff backoff;
  for (uint64_t i = 1; p->parked != 1; ++i) {
    backoff.pause();
    if (i % 4096 == 0) {
      check_alive();
      if (Clock::now() > deadline) {
        // A hang in EL2: start over (the next reset() re-executes QEMU).
        fail("KCore in QEMU did not park for a soft reset within " +
             std::to_string(options_.command_timeout.count()) + " ms");
      }
    }
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  restore_snapshot();  // the EL2 page too: parked and go are 0 again
  ring()->ready = 0;
  std::atomic_thread_fence(std::memory_order_release);
  p->go = 1;
  restarting_ = true;
}

void QemuMachine::settle() {
  if (!restarting_) return;
  restarting_ = false;
  wait_ready(options_.command_timeout, "come back after a soft reset");
}

}  // namespace hypdiff::qemu
