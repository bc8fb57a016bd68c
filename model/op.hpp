// The operation vocabulary: the spec's eight top-level operations with their inputs, as plain
// data (design.md §1). A step sets the registers the acting principal controls (or that the
// hardware fills in at the trap), then runs the handler. apply() is the model's single entry
// point for a step; generators, shrinkers and the corpus only ever see these types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "model/state.hpp"

namespace hypdiff::model {

// The host issues `hvc` with x0..x5 (x0 = hypercall number).
struct HostHvc {
  std::array<Z, 6> x{};
  friend bool operator==(const HostHvc&, const HostHvc&) = default;
};
// The host takes a stage-2 fault; the hardware reports hpfar_el2, esr_el2 and far_el2.
struct HostFault {
  Z hpfar = 0;
  Z esr = 0;
  Z far = 0;
  friend bool operator==(const HostFault&, const HostFault&) = default;
};
// The host asks to run a vCPU of VM `vmid` (x0); the vCPU id comes from core_doracle.
struct VcpuRun {
  Z vmid = 0;
  friend bool operator==(const VcpuRun&, const VcpuRun&) = default;
};
// The running VM traps: exit code `ec` (ARM_EXCEPTION_TRAP / _INTERRUPT / other), syndrome
// `esr`, the guest's x0..x3 and the fault registers.
struct VmExit {
  Z ec = 0;
  Z esr = 0;
  std::array<Z, 4> x{};
  Z hpfar = 0;
  Z far = 0;
  friend bool operator==(const VmExit&, const VmExit&) = default;
};
// Loads/stores by whoever runs (mem_*), and DMA through SMMU context (cbndx, index) (dev_*).
struct MemLoad {
  std::uint64_t gfn = 0;
  std::uint32_t reg = 0;
  friend bool operator==(const MemLoad&, const MemLoad&) = default;
};
struct MemStore {
  std::uint64_t gfn = 0;
  std::uint32_t reg = 0;
  friend bool operator==(const MemStore&, const MemStore&) = default;
};
struct DevLoad {
  std::uint64_t gfn = 0;
  std::uint32_t reg = 0;
  std::uint32_t cbndx = 0;
  std::uint32_t index = 0;
  friend bool operator==(const DevLoad&, const DevLoad&) = default;
};
struct DevStore {
  std::uint64_t gfn = 0;
  std::uint32_t reg = 0;
  std::uint32_t cbndx = 0;
  std::uint32_t index = 0;
  friend bool operator==(const DevStore&, const DevStore&) = default;
};
// The running principal writes one of its own general-purpose registers x0..x30.
struct SetReg {
  std::uint32_t reg = 0;
  Z value = 0;
  friend bool operator==(const SetReg&, const SetReg&) = default;
};

using Op =
    std::variant<HostHvc, HostFault, VcpuRun, VmExit, MemLoad, MemStore, DevLoad, DevStore, SetReg>;

// Which exported handler a step runs (SetReg runs none).
enum class Handler : std::uint8_t {
  host_hvc,
  host_npt,
  host_vcpu_run,
  vm_exit,
  mem_load,
  mem_store,
  dev_load,
  dev_store,
  set_reg,
};
inline constexpr int kHandlerCount = 9;
const char* handler_name(Handler h);
// A set of handlers, bit i for Handler i: what a target can run, what a generator may draw.
using HandlerMask = std::uint32_t;
inline constexpr HandlerMask kAllHandlers = (HandlerMask{1} << kHandlerCount) - 1;
constexpr HandlerMask handler_bit(Handler h) { return HandlerMask{1} << static_cast<unsigned>(h); }
// "host_hvc, host_npt" (in Handler order); "none" for the empty set.
std::string handler_list(HandlerMask m);
// The inverse, for the command line: "host_hvc,host_npt" or "all"; nullopt and a one-line
// message in *error for an unknown name or an empty list.
std::optional<HandlerMask> parse_handler_list(std::string_view text, std::string* error);
Handler handler_of(const Op& op);
// Loads and stores by the running principal or its devices (mem_* and dev_*): the steps the
// confidentiality check varies.
bool is_access(const Op& op);

enum class StepKind : std::uint8_t {
  ok,         // defined, not halted
  halted,     // defined, halt = true after the step
  undefined,  // the spec's None
};
const char* step_kind_name(StepKind k);

struct StepResult {
  Outcome after;
  StepKind kind;
};

// Runs one operation. Register set-up happens only when the principal the op speaks for is the
// one running (host ops need (ihost, icore) = (T, F), VM exits (F, F), SetReg !icore); otherwise
// the handler sees the state as it is and its mode check decides.
StepResult apply(const RData& d, const Op& op);

// One line, e.g. "hvc x0=24 x1=0x0 ..." (the corpus format builds on these names).
std::string to_string(const Op& op);

}  // namespace hypdiff::model
