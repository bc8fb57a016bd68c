#include "harness/guard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <exception>

namespace hypdiff::harness {

namespace {

constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr std::size_t kAltStackSize = 64 * 1024;

// The watchdog's signal: a real-time one nothing else in the harness uses.
int hang_signal() { return SIGRTMIN + 5; }

// One guarded call in progress on this thread. The handler and Guard::Callback reach it through
// tl_active; the fields they change are volatile because they change behind the compiler's back.
struct Active {
  sigjmp_buf env;
  std::uint64_t seq = 0;
  const std::atomic<std::uint64_t>* fire = nullptr;
  volatile std::sig_atomic_t in_callback = 0;
  volatile std::sig_atomic_t hang_pending = 0;
};

thread_local Active* tl_active = nullptr;
thread_local sigset_t tl_mask;  // the thread's signal mask, put back after a jump

struct sigaction g_previous[NSIG];

// A signal outside any guarded call: do what would have happened without the guard.
void chain(int sig, siginfo_t* info, void* uc) {
  const struct sigaction& p = g_previous[sig];
  if ((p.sa_flags & SA_SIGINFO) != 0 && p.sa_sigaction != nullptr) {
    p.sa_sigaction(sig, info, uc);
    return;
  }
  if (p.sa_handler == SIG_IGN) return;
  if (p.sa_handler != SIG_DFL && p.sa_handler != nullptr) {
    p.sa_handler(sig);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
  // A sent signal (kill, raise, abort) is sent again; a fault recurs when the handler returns.
  if (info->si_code <= 0) raise(sig);
}

void on_signal(int sig, siginfo_t* info, void* uc) {
  Active* a = tl_active;
  if (sig == hang_signal()) {
    // Late (the call it was meant for has returned) or early (nothing is guarded): ignore.
    if (a == nullptr || a->fire->load() != a->seq) return;
    if (a->in_callback != 0) {
      a->hang_pending = 1;
      return;
    }
    siglongjmp(a->env, sig);
  }
  if (a == nullptr) {
    chain(sig, info, uc);
    return;
  }
  siglongjmp(a->env, sig);
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : kCrashSignals) sigaction(sig, &sa, &g_previous[sig]);
  sigaction(hang_signal(), &sa, nullptr);
}

// Handlers once per process; an alternate signal stack (a crash may be a stack overflow) once
// per thread. The stack is never freed: the thread may take a signal until it is gone.
void prepare_thread() {
  thread_local bool ready = false;
  if (ready) return;
  static std::once_flag once;
  std::call_once(once, install_handlers);
  stack_t current{};
  sigaltstack(nullptr, &current);
  if ((current.ss_flags & SS_DISABLE) != 0) {
    thread_local char* const alt_stack = new char[kAltStackSize];  // a root for leak checkers
    stack_t ss{};
    ss.ss_sp = alt_stack;
    ss.ss_size = kAltStackSize;
    sigaltstack(&ss, nullptr);
  }
  pthread_sigmask(SIG_SETMASK, nullptr, &tl_mask);
  ready = true;
}

std::string seconds_text(double s) { return fmt::format("{:g} s", s); }

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : fmt::format("signal {}", sig);
}

Guard::Guard(std::string who, double timeout_seconds)
    : who_(std::move(who)), timeout_(timeout_seconds) {}

Guard::~Guard() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (watchdog_.joinable()) watchdog_.join();
}

void Guard::set_timeout(double seconds) {
  if (timeout_.exchange(seconds) != seconds) wake_.notify_one();
}

void Guard::run_raw(const char* call, void (*fn)(void*), void* ctx) {
  prepare_thread();
  if (timeout_.load() > 0 && !watchdog_.joinable()) watchdog_ = std::thread([this] { watch(); });
  Active a;
  a.seq = ++calls_;
  a.fire = &fire_;
  // Undone however the call ends: by returning, by an exception, or by a jump back here.
  struct Scope {
    Guard& g;
    Active* outer;
    std::uint64_t outer_seq;
    ~Scope() {
      g.current_.store(outer_seq, std::memory_order_release);
      tl_active = outer;
    }
  } scope{*this, tl_active, current_.load()};
  const int sig = sigsetjmp(a.env, 0);
  if (sig == 0) {
    tl_active = &a;
    thread_.store(pthread_self(), std::memory_order_relaxed);
    current_.store(a.seq, std::memory_order_release);
    fn(ctx);
    return;
  }
  // Back from the handler: the target's frames are abandoned. abort() may have blocked signals.
  pthread_sigmask(SIG_SETMASK, &tl_mask, nullptr);
  if (sig == hang_signal()) {
    const double t = timeout_.load();
    throw TargetHung(t, fmt::format("{}: no answer from {} after {}", who_, call, seconds_text(t)));
  }
  throw TargetCrashed(sig, fmt::format("{}: {} in {}", who_, signal_name(sig), call));
}

// Samples the call in progress every tick; one that has not changed for the timeout is
// interrupted. Detection takes between the timeout and the timeout plus two ticks.
void Guard::watch() {
  using Clock = std::chrono::steady_clock;
  std::uint64_t seen = 0;
  std::uint64_t fired = 0;
  Clock::time_point since = Clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    const double t = timeout_.load();
    const auto tick = std::chrono::duration<double>(t > 0 ? std::clamp(t / 10, 0.001, 0.1) : 1);
    wake_.wait_for(lock, tick);
    const std::uint64_t c = current_.load(std::memory_order_acquire);
    const auto now = Clock::now();
    if (c == 0 || c != seen) {
      seen = c;
      since = now;
    } else if (t > 0 && c != fired && std::chrono::duration<double>(now - since).count() >= t) {
      fired = c;
      fire_.store(c);
      pthread_kill(thread_.load(), hang_signal());
    }
  }
}

Guard::Callback::Callback() {
  if (Active* a = tl_active) a->in_callback = a->in_callback + 1;
}

Guard::Callback::~Callback() {
  Active* a = tl_active;
  if (a == nullptr) return;
  a->in_callback = a->in_callback - 1;
  // A timeout ran out while the harness was working: the call ends here, back in the target.
  if (a->in_callback == 0 && a->hang_pending != 0 && std::uncaught_exceptions() == 0)
    siglongjmp(a->env, hang_signal());
}

}  // namespace hypdiff::harness
