// The guard around calls into a target's code: crashes and hangs become exceptions, everything
// else passes through, the harness keeps working afterwards, and the cost per call is small.
// These run under ASan too: the guard's handlers replace ASan's for the duration of the process
// and hand it every signal that arrives outside a guarded call (ASan allows user SEGV handlers
// by default), so no ASAN_OPTIONS are needed.
#include "harness/guard.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hypdiff::harness {
namespace {

using Clock = std::chrono::steady_clock;

volatile std::uintptr_t g_wild = 16;
volatile int g_limit = 1 << 30;

void wild_write() { *reinterpret_cast<volatile int*>(g_wild) = 1; }

int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth >= g_limit) return 0;
  return recurse(depth + 1) + frame[0];
}

void spin_for(double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
  }
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int crash_signal(Guard& g, void (*fn)()) {
  try {
    g.run("step", fn);
  } catch (const TargetCrashed& e) {
    return e.signal();
  }
  return 0;
}

TEST(Guard, RunsTheCallAndPassesItsExceptionsThrough) {
  Guard g("lib:x.so");
  int n = 0;
  g.run("step", [&] { n = 42; });
  EXPECT_EQ(n, 42);
  EXPECT_THROW(g.run("step", [] { throw std::out_of_range("x"); }), std::out_of_range);
  g.run("step", [&] { ++n; });  // still usable after an exception
  EXPECT_EQ(n, 43);
}

TEST(Guard, ASegfaultIsTargetCrashedNamingTheSignalAndTheCall) {
  Guard g("lib:x.so");
  try {
    g.run("export_state", wild_write);
    FAIL() << "no crash";
  } catch (const TargetCrashed& e) {
    EXPECT_EQ(e.signal(), SIGSEGV);
    EXPECT_STREQ(e.what(), "lib:x.so: SIGSEGV in export_state");
  }
}

TEST(Guard, AbortStackOverflowAndRaisedSignalsAreCrashes) {
  Guard g("t");
  EXPECT_EQ(crash_signal(g, [] { std::abort(); }), SIGABRT);
  EXPECT_EQ(crash_signal(g, [] { recurse(0); }), SIGSEGV);
  EXPECT_EQ(crash_signal(g, [] { std::raise(SIGBUS); }), SIGBUS);
  EXPECT_EQ(crash_signal(g, [] { std::raise(SIGILL); }), SIGILL);
  EXPECT_EQ(crash_signal(g, [] { std::raise(SIGFPE); }), SIGFPE);
  EXPECT_EQ(signal_name(SIGBUS), "SIGBUS");
}

TEST(Guard, TheHarnessKeepsWorkingAfterManyCrashes) {
  sigset_t before;
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  Guard g("t");
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(crash_signal(
                  g, i % 2 ? wild_write : [] { std::abort(); }),
              i % 2 ? SIGSEGV : SIGABRT);
  }
  int n = 0;
  g.run("step", [&] { n = 1; });
  EXPECT_EQ(n, 1);
  // abort() may block signals before raising; the guard puts the thread's mask back.
  sigset_t after;
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig : {SIGABRT, SIGSEGV, SIGINT, SIGTERM})
    EXPECT_EQ(sigismember(&before, sig), sigismember(&after, sig)) << sig;
}

TEST(Guard, ACallPastTheTimeoutIsTargetHung) {
  Guard g("lib:x.so", 0.1);
  const auto t0 = Clock::now();
  try {
    g.run("step", [] {
      for (volatile std::uint64_t i = 0;;) i = i + 1;
    });
    FAIL() << "no hang";
  } catch (const TargetHung& e) {
    EXPECT_DOUBLE_EQ(e.seconds(), 0.1);
    EXPECT_STREQ(e.what(), "lib:x.so: no answer from step after 0.1 s");
  }
  const double took = seconds_since(t0);
  EXPECT_GE(took, 0.1);
  EXPECT_LT(took, 1.0);
  // A call that ends in time is not interrupted, also after a hang.
  int n = 0;
  g.run("step", [&] {
    spin_for(0.02);
    n = 1;
  });
  EXPECT_EQ(n, 1);
}

TEST(Guard, ATimeoutInsideAHarnessCallbackTakesEffectWhenItReturns) {
  Guard g("t", 0.05);
  bool finished = false;
  bool after = false;
  EXPECT_THROW(g.run("step",
                     [&] {
                       {
                         const Guard::Callback in;
                         spin_for(0.3);  // well past the timeout
                         finished = true;
                       }
                       after = true;  // never reached: the call ends with the callback
                     }),
               TargetHung);
  EXPECT_TRUE(finished);
  EXPECT_FALSE(after);
}

TEST(Guard, NoTimeoutWhenItIsZeroAndTheTimeoutCanChange) {
  Guard g("t", 0);
  int n = 0;
  g.run("step", [&] {
    spin_for(0.2);
    n = 1;
  });
  EXPECT_EQ(n, 1);
  g.set_timeout(0.05);
  EXPECT_DOUBLE_EQ(g.timeout(), 0.05);
  EXPECT_THROW(g.run("step", [] { spin_for(5); }), TargetHung);
}

// Outside a guarded call the process dies as it would without the guard (under ASan, through
// ASan's report).
TEST(GuardDeathTest, ACrashOutsideAGuardedCallIsNotSwallowed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Guard g("t");
        g.run("step", [] {});
        wild_write();
      },
      "");
  EXPECT_EXIT(
      {
        Guard g("t");
        g.run("step", [] {});
        std::abort();
      },
      testing::KilledBySignal(SIGABRT), "");
}

// The cost the guard adds to one call (the native target does > 100k steps/s).
TEST(Guard, OverheadPerCallIsSmall) {
  Guard g("t");
  constexpr int kCalls = 2'000'000;
  volatile int sink = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < kCalls; ++i) sink = sink + 1;
  const double bare = seconds_since(t0);
  const auto t1 = Clock::now();
  for (int i = 0; i < kCalls; ++i) g.run("step", [&] { sink = sink + 1; });
  const double guarded = seconds_since(t1);
  const double ns = (guarded - bare) / kCalls * 1e9;
  std::printf("guard overhead: %.1f ns per call\n", ns);
  EXPECT_EQ(sink, 2 * kCalls);
  EXPECT_LT(ns, 500);  // generous for sanitizer builds; a release build measures ~10 ns
}

}  // namespace
}  // namespace hypdiff::harness
