#include "shrinkers/op_fields.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "model/constants.hpp"

namespace hypdiff::shrinkers {

namespace {

using model::Z;
namespace k = model::k;
using K = FieldKind;

template <class... Fs>
struct Overload : Fs... {
  using Fs::operator()...;
};

// The argument layout of each host hypercall x1..x5 (spec §3.5.1).
std::array<K, 5> hvc_layout(Z x0) {
  constexpr K n = K::number;
  switch (static_cast<int>(x0)) {
    case k::HVC_CLEAR_VM_S2_RANGE:
    case k::HVC_SET_BOOT_INFO:
      return {K::vmid, K::addr, K::size, n, n};
    case k::HVC_REMAP_VM_IMAGE:
      return {K::vmid, K::frame, K::id, n, n};
    case k::HVC_VERIFY_VM_IMAGE:
      return {K::vmid, n, n, n, n};
    case k::HVC_SMMU_FREE_PGD:
      return {K::id, K::id, n, n, n};
    case k::HVC_SMMU_ALLOC_PGD:
      return {K::id, K::vmid, K::id, n, n};
    case k::HVC_SMMU_LPAE_MAP:
      return {K::addr, K::addr, n, K::id, K::id};
    case k::HVC_SMMU_LPAE_IOVA_TO_PHYS:
    case k::HVC_SMMU_CLEAR:
      return {K::addr, K::id, K::id, n, n};
    case k::HVC_PHYS_ADDR_IOREMAP:
      return {K::vmid, K::addr, K::addr, K::size, n};
    case k::HVC_REGISTER_VCPU:
    case k::HVC_SAVE_CRYPT_VCPU:
    case k::HVC_LOAD_CRYPT_VCPU:
      return {K::vmid, K::id, n, n, n};
    case k::HVC_ENCRYPT_BUF:
      return {K::vmid, K::addr, K::addr, n, n};
    case k::HVC_DECRYPT_BUF:
      return {K::vmid, K::addr, n, n, n};
    default:
      return {n, n, n, n, n};
  }
}

// The guest's grant/revoke hypercalls (x2 = address, x3 = byte count; spec §3.4
// vm_exit_dispatcher). Decided by x0 alone, so that shrinking the exit code or syndrome to 0
// first does not change how x2 and x3 are shrunk.
bool is_share(const model::VmExit& e) {
  return e.x[0] == k::HVC_KVM_SET_DESC_PFN || e.x[0] == k::HVC_KVM_UNSET_DESC_PFN;
}

Z align_down(Z v, Z a) { return v - v % a; }

Z clear_highest_bit(Z v) {
  auto u = static_cast<unsigned __int128>(v);
  unsigned __int128 top = 1;
  while (top <= u / 2) top <<= 1;
  return static_cast<Z>(u & ~top);
}

// Hands `f` the field as an lvalue of its own type (const when `op` is).
template <class OpT, class F>
void with_field(OpT& op, int i, F&& f) {
  const auto at = [](auto& arr, int j) -> auto& { return arr[static_cast<std::size_t>(j)]; };
  std::visit(
      [&](auto& o) {
        using T = std::remove_const_t<std::remove_reference_t<decltype(o)>>;
        if constexpr (std::is_same_v<T, model::HostHvc>) {
          f(at(o.x, i));
        } else if constexpr (std::is_same_v<T, model::HostFault>) {
          f(i == 0 ? o.hpfar : i == 1 ? o.esr : o.far);
        } else if constexpr (std::is_same_v<T, model::VcpuRun>) {
          f(o.vmid);
        } else if constexpr (std::is_same_v<T, model::VmExit>) {
          if (i >= 2 && i < 6) {
            f(at(o.x, i - 2));
          } else {
            f(i == 0 ? o.ec : i == 1 ? o.esr : i == 6 ? o.hpfar : o.far);
          }
        } else if constexpr (std::is_same_v<T, model::SetReg>) {
          i == 0 ? f(o.reg) : f(o.value);
        } else if constexpr (std::is_same_v<T, model::MemLoad> ||
                             std::is_same_v<T, model::MemStore>) {
          i == 0 ? f(o.gfn) : f(o.reg);
        } else {
          i == 0 ? f(o.gfn) : f(i == 1 ? o.reg : i == 2 ? o.cbndx : o.index);
        }
      },
      op);
}

}  // namespace

int field_count(const model::Op& op) {
  static constexpr int kCounts[] = {6, 3, 1, 8, 2, 2, 4, 4, 2};
  return kCounts[op.index()];
}

Z get_field(const model::Op& op, int i) {
  Z out = 0;
  with_field(op, i, [&](const auto& f) { out = static_cast<Z>(f); });
  return out;
}

void set_field(model::Op& op, int i, Z v) {
  with_field(op, i, [&](auto& f) { f = static_cast<std::remove_reference_t<decltype(f)>>(v); });
}

FieldKind field_kind(const model::Op& op, int i) {
  return std::visit(
      Overload{
          [&](const model::HostHvc& o) {
            return i == 0 ? K::selector : hvc_layout(o.x[0])[static_cast<std::size_t>(i - 1)];
          },
          [&](const model::HostFault&) { return i == 0   ? K::hpfar
                                                : i == 1 ? K::esr
                                                         : K::number; },
          [&](const model::VcpuRun&) { return K::vmid; },
          [&](const model::VmExit& o) {
            switch (i) {
              case 0:
              case 2:
                return K::selector;
              case 1:
                return K::esr;
              case 4:
                return is_share(o) ? K::addr : K::number;
              case 5:
                return is_share(o) ? K::size : K::number;
              case 6:
                return K::hpfar;
              default:
                return K::number;
            }
          },
          [&](const model::SetReg&) { return i == 0 ? K::id : K::number; },
          [&](const auto&) { return i == 0 ? K::frame : K::id; },
      },
      op);
}

std::vector<Z> smaller_values(FieldKind kind, Z value) {
  std::vector<Z> out;
  if (value <= 0 || kind == K::selector) return out;
  auto add = [&](Z v) {
    if (0 < v && v < value && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  switch (kind) {
    case K::vmid:
    case K::id:
      add(1);
      break;
    case K::size:
      add(1);
      add(k::PAGE_SIZE);
      add(align_down(value, k::PAGE_SIZE));
      break;
    case K::addr:
      add(align_down(value, k::PAGE_SIZE));
      add(align_down(clear_highest_bit(value), k::PAGE_SIZE));
      break;
    case K::hpfar:
      add(align_down(value, 16));
      add(align_down(clear_highest_bit(value), 16));
      break;
    case K::esr:
      add(value & k::ESR_ELx_EC_MASK);
      break;
    default:
      break;
  }
  add(clear_highest_bit(value));
  return out;
}

Z bisection_unit(FieldKind kind, Z value) {
  if (value <= 1 || kind == K::selector || kind == K::answer) return 0;
  if ((kind == K::addr || kind == K::size) && value % k::PAGE_SIZE == 0) return k::PAGE_SIZE;
  if (kind == K::hpfar && value % 16 == 0) return 16;
  return 1;
}

}  // namespace hypdiff::shrinkers
