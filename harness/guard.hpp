// Calls into a target's own code (a library's functions) run under a Guard, so that a target
// that crashes or hangs becomes a verdict instead of the end of the harness:
//   - SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT during the call: control returns to the harness
//     (siglongjmp from a handler on an alternate signal stack) and TargetCrashed is thrown;
//   - a call that has not returned after the timeout: a watchdog thread interrupts the calling
//     thread with a signal and TargetHung is thrown.
// Either way the target's instance must be considered lost: its frames were abandoned midway,
// so the target never gets called with it again (a fresh instance is opened instead).
//
// The cost per call is a few stores and a sigsetjmp without the signal mask (no system call):
// the handlers are installed once per process and the watchdog samples a per-call counter, so
// nothing is armed or disarmed per call. Signals that arrive outside a guarded call go to the
// handler that was installed before (or the default action), as if the guard were not there.
//
// Limits: the process is shared with the target. A target that corrupts the harness's memory,
// dies in a way that is no signal (exit, _exit), blocks these signals, or is interrupted while
// holding a lock the harness needs later (malloc's, stdio's) cannot be recovered from.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>

#include "harness/target.hpp"

namespace hypdiff::harness {

// The target crashed or hung inside a guarded call. A TargetError, so code that does not know
// about guards still treats it as the end of the target; the Runner turns it into a verdict.
class TargetFault : public TargetError {
 public:
  using TargetError::TargetError;
};

class TargetCrashed : public TargetFault {
 public:
  TargetCrashed(int sig, const std::string& what) : TargetFault(what), sig_(sig) {}
  int signal() const { return sig_; }

 private:
  int sig_;
};

class TargetHung : public TargetFault {
 public:
  TargetHung(double seconds, const std::string& what) : TargetFault(what), seconds_(seconds) {}
  double seconds() const { return seconds_; }  // the timeout that ran out

 private:
  double seconds_;
};

// "SIGSEGV"; "signal N" for others.
std::string signal_name(int sig);

// One per target; used by one thread at a time (any thread).
class Guard {
 public:
  // `who` names the target in messages; timeout_seconds <= 0: no timeout.
  explicit Guard(std::string who, double timeout_seconds = 10);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  void set_timeout(double seconds);
  double timeout() const { return timeout_.load(); }

  // Runs f() (which calls into the target; `call` names it in messages). What f throws passes
  // through; a crash or hang throws TargetCrashed or TargetHung. f's own frames must not hold
  // objects that need destroying at the point where the target's code is entered: a crash
  // abandons them.
  template <class F>
  void run(const char* call, F&& f) {
    auto thunk = [&f] { f(); };
    run_raw(
        call, [](void* p) { (*static_cast<decltype(thunk)*>(p))(); }, &thunk);
  }

  // Marks harness code the target calls back into (its oracle and export callbacks): a timeout
  // that runs out inside it takes effect when it returns to the target, so the harness is never
  // interrupted in the middle of its own work (an allocation, a map insertion). Declare it
  // first in the callback: when it goes out of scope the call may end there.
  class Callback {
   public:
    Callback();
    ~Callback();
    Callback(const Callback&) = delete;
    Callback& operator=(const Callback&) = delete;
  };

 private:
  void run_raw(const char* call, void (*fn)(void*), void* ctx);
  void watch();

  std::string who_;
  std::atomic<double> timeout_;
  // The guarded call in progress (a sequence number, 0 when none) and its thread, sampled by
  // the watchdog; `fire_` is the call the watchdog interrupted.
  std::atomic<std::uint64_t> current_{0};
  std::atomic<std::uint64_t> fire_{0};
  std::atomic<pthread_t> thread_{};
  std::uint64_t calls_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread watchdog_;  // started at the first call with a timeout
};

// A target whose calls into foreign code run under a Guard; the Runner sets the timeout
// (RunOptions::step_timeout). LibTarget is one; any other in-process target kind can be.
class Guarded {
 public:
  virtual ~Guarded() = default;
  virtual Guard& guard() = 0;
};

}  // namespace hypdiff::harness
