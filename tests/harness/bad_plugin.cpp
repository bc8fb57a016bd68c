// The model behind the target ABI (model_plugin.cpp) with a fault on request, for the tests of
// crashes and hangs. HYPDIFF_BAD, read when an instance opens, says what goes wrong and when:
//   HYPDIFF_BAD=WHAT[@WHEN]
//   WHAT  segv (a wild write), abort, overflow (unbounded recursion), hang (a busy loop),
//         hang-in-callbacks (a loop calling the harness's oracle);
//   WHEN  hvc: a host hypercall with x0 = 0xBAD (the default), so generated cases with that
//         operation inserted fail at it and shrink to it; N: the N-th step after a reset
//         (0-based); open; reset; export: the export after the first step.
// Unset or empty: the model plugin as it is.
#include <cstdint>
#include <cstdlib>
#include <string>

// The model plugin's entry point, renamed: this library's own wraps it.
#define hypdiff_target_v1 model_plugin_target_v1
#include "model_plugin.cpp"
#undef hypdiff_target_v1

namespace {

enum class Fault { none, segv, abort, overflow, hang, hang_in_callbacks };

struct Bad {
  void* inner = nullptr;
  Fault what = Fault::none;
  std::string when = "hvc";
  std::uint64_t steps = 0;  // since the reset
  const hd_oracle* oracle = nullptr;
};

const hd_target_v1& inner() { return *model_plugin_target_v1(); }

volatile std::uintptr_t g_wild_address = 16;
volatile int g_depth_limit = 1 << 30;

int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth >= g_depth_limit) return 0;
  return recurse(depth + 1) + frame[0];
}

void misbehave(const Bad& b) {
  switch (b.what) {
    case Fault::none:
      return;
    case Fault::segv:
      *reinterpret_cast<volatile int*>(g_wild_address) = 1;
      return;
    case Fault::abort:
      std::abort();
    case Fault::overflow:
      recurse(0);
      return;
    case Fault::hang:
      for (volatile std::uint64_t i = 0;;) i = i + 1;
    case Fault::hang_in_callbacks:
      for (std::uint64_t n = 0;; ++n) b.oracle->data(b.oracle->ctx, 0, n % 64);
  }
}

Fault fault_named(const std::string& w) {
  if (w == "segv") return Fault::segv;
  if (w == "abort") return Fault::abort;
  if (w == "overflow") return Fault::overflow;
  if (w == "hang") return Fault::hang;
  if (w == "hang-in-callbacks") return Fault::hang_in_callbacks;
  return Fault::none;
}

void* open_bad(const hd_config* c, char* err, std::size_t errlen) {
  Bad b;
  const char* env = std::getenv("HYPDIFF_BAD");
  const std::string spec = env ? env : "";
  const auto at = spec.find('@');
  b.what = fault_named(spec.substr(0, at));
  if (at != std::string::npos) b.when = spec.substr(at + 1);
  if (b.when == "open") misbehave(b);
  b.inner = inner().open(c, err, errlen);
  return b.inner ? new Bad(b) : nullptr;
}

void close_bad(void* t) {
  auto* b = static_cast<Bad*>(t);
  inner().close(b->inner);
  delete b;
}

int reset_bad(void* t, const hd_oracle* o) {
  auto* b = static_cast<Bad*>(t);
  b->steps = 0;
  b->oracle = o;
  if (b->when == "reset") misbehave(*b);
  return inner().reset(b->inner, o);
}

int step_bad(void* t, const hd_op* op) {
  auto* b = static_cast<Bad*>(t);
  const bool bad_hvc = op->kind == HD_OP_HOST_HVC && op->arg[0] == 0xBAD;
  if ((b->when == "hvc" && bad_hvc) || b->when == std::to_string(b->steps)) misbehave(*b);
  ++b->steps;
  return inner().step(b->inner, op);
}

int export_bad(void* t, const hd_sink* s) {
  auto* b = static_cast<Bad*>(t);
  if (b->when == "export" && b->steps > 0) misbehave(*b);
  return inner().export_state(b->inner, s);
}

const char* last_error_bad(void* t) { return inner().last_error(static_cast<Bad*>(t)->inner); }

const hd_target_v1 kBad = {.abi_version = HD_ABI_VERSION,
                           .name = "bad-plugin",
                           .description = "the model plugin, faulting on request",
                           .open = open_bad,
                           .close = close_bad,
                           .reset = reset_bad,
                           .step = step_bad,
                           .export_state = export_bad,
                           .last_error = last_error_bad,
                           .export_changes = nullptr};  // a full export after every step

}  // namespace

extern "C" __attribute__((visibility("default"))) const hd_target_v1* hypdiff_target_v1(void) {
  return &kBad;
}
