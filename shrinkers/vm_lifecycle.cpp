#include "shrinkers/vm_lifecycle.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <variant>

#include "model/constants.hpp"
#include "shrinkers/op_fields.hpp"

namespace hypdiff::shrinkers {

namespace {

using model::Z;
namespace k = model::k;

bool stays_in_vm(const model::VmExit& e) {
  if (e.ec != k::ARM_EXCEPTION_TRAP) return false;
  const Z cls = (e.esr & k::ESR_ELx_EC_MASK) >> k::ESR_ELx_EC_SHIFT;
  if (cls == k::ESR_ELx_EC_SYS64) return true;
  return cls == k::ESR_ELx_EC_HVC64 &&
         (e.x[0] == k::HVC_KVM_SET_DESC_PFN || e.x[0] == k::HVC_KVM_UNSET_DESC_PFN);
}

bool is_host_op(const model::Op& op) {
  return std::holds_alternative<model::HostHvc>(op) ||
         std::holds_alternative<model::HostFault>(op) || std::holds_alternative<model::VcpuRun>(op);
}

// The SMMU context (cbndx, index) an SMMU hypercall works on, if it is one.
std::optional<std::pair<Z, Z>> smmu_context(const model::HostHvc& h) {
  switch (static_cast<int>(h.x[0])) {
    case k::HVC_SMMU_FREE_PGD:
      return std::pair{h.x[1], h.x[2]};
    case k::HVC_SMMU_ALLOC_PGD:
      return std::pair{h.x[1], h.x[3]};
    case k::HVC_SMMU_LPAE_MAP:
      return std::pair{h.x[4], h.x[5]};
    case k::HVC_SMMU_LPAE_IOVA_TO_PHYS:
    case k::HVC_SMMU_CLEAR:
      return std::pair{h.x[2], h.x[3]};
    default:
      return std::nullopt;
  }
}

// Positions of VM-id arguments in each event kind (log_event call sites of the model).
std::vector<int> event_vmid_args(model::EventKind kind) {
  using E = model::EventKind;
  switch (kind) {
    case E::OMAP_HOST:
    case E::OGEN_VMID:
    case E::OSMMU_GET:
    case E::OASSIGN_SMMU:
    case E::OSMMU_FREE:
    case E::OSMMU_MAP:
    case E::OSMMU_CLEAR:
      return {};
    case E::OREVOKE:
      return {0, 2};
    case E::OSMMU_ALLOC:
      return {1};
    default:
      return {0};
  }
}

template <class M, class F>
void rekey(M& m, F&& f) {
  M out;
  for (auto& [key, value] : m) {
    if (auto nk = f(key)) out.emplace(*nk, std::move(value));
  }
  m = std::move(out);
}

}  // namespace

std::vector<bool> ops_of_vm(const std::vector<model::Op>& ops, Z v) {
  std::vector<bool> mine(ops.size(), false);
  std::set<std::pair<Z, Z>> contexts;
  const std::optional<std::size_t> reg = registration_of(ops, v);
  bool in_run = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const model::Op& op = ops[i];
    if (is_host_op(op)) in_run = false;
    if (const auto* h = std::get_if<model::HostHvc>(&op)) {
      bool names_v = reg == i;
      for (int f = 1; f < field_count(op); ++f)
        names_v = names_v || (field_kind(op, f) == FieldKind::vmid && get_field(op, f) == v);
      const auto ctx = smmu_context(*h);
      if (ctx && h->x[0] == k::HVC_SMMU_ALLOC_PGD && h->x[2] == v) contexts.insert(*ctx);
      if (ctx && contexts.contains(*ctx)) {
        names_v = true;
        if (h->x[0] == k::HVC_SMMU_FREE_PGD) contexts.erase(*ctx);
      }
      mine[i] = names_v;
    } else if (const auto* r = std::get_if<model::VcpuRun>(&op)) {
      in_run = r->vmid == v;
      mine[i] = in_run;
    } else if (in_run) {
      mine[i] = true;
      if (const auto* e = std::get_if<model::VmExit>(&op); e && !stays_in_vm(*e)) in_run = false;
    }
  }
  return mine;
}

std::optional<std::size_t> registration_of(const std::vector<model::Op>& ops, Z v) {
  Z n = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto* h = std::get_if<model::HostHvc>(&ops[i]);
    if (h && h->x[0] == k::HVC_REGISTER_KVM && ++n == v) return i;
  }
  return std::nullopt;
}

std::vector<Z> vms_in(const generators::Case& c) {
  Z top = 0;
  for (const model::Op& op : c.ops) {
    const auto* h = std::get_if<model::HostHvc>(&op);
    if (h && h->x[0] == k::HVC_REGISTER_KVM) ++top;
    for (int f = 0; f < field_count(op); ++f) {
      const Z id = get_field(op, f);
      if (field_kind(op, f) == FieldKind::vmid && c.cfg.is_vm(id)) top = std::max(top, id);
    }
  }
  top = std::min(top, c.cfg.max_vms);
  std::vector<Z> out;
  for (Z v = 1; v <= top; ++v) out.push_back(v);
  return out;
}

void renumber_after_removal(generators::Case& c, Z v) {
  const Z max_vms = c.cfg.max_vms;
  const auto moved = [&](Z id) { return v < id && id <= max_vms ? id - 1 : id; };
  const auto key = [&](Z id) -> std::optional<Z> {
    if (id == v) return std::nullopt;
    return moved(id);
  };
  for (model::Op& op : c.ops) {
    for (int f = 0; f < field_count(op); ++f)
      if (field_kind(op, f) == FieldKind::vmid) set_field(op, f, moved(get_field(op, f)));
  }
  model::OracleInputs& o = c.oracle;
  rekey(o.data, key);
  rekey(o.core, key);
  rekey(o.params.shared_kvm, key);
  rekey(o.params.verify_img, key);
  rekey(o.params.shared_vcpu, [&](const std::pair<Z, Z>& p) -> std::optional<std::pair<Z, Z>> {
    if (p.first == v) return std::nullopt;
    return std::pair{moved(p.first), p.second};
  });
  for (auto& [len, events] : o.soracle)
    for (model::SingleEvent& e : events)
      for (int a : event_vmid_args(e.event.kind)) {
        Z& arg = e.event.args[static_cast<std::size_t>(a)];
        arg = moved(arg);
      }
}

}  // namespace hypdiff::shrinkers
