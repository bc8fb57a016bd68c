#include "tests/support/builders.hpp"

#include <gtest/gtest.h>

namespace hypdiff::testing {

namespace k = model::k;

model::RData fresh(const model::Profile& prof, model::OraclePtr oracle,
                   const model::MachineConfig& cfg) {
  return model::initial_state(cfg, prof, std::move(oracle));
}

model::Op hvc(Z x0, Z x1, Z x2, Z x3, Z x4, Z x5) {
  return model::HostHvc{{x0, x1, x2, x3, x4, x5}};
}

model::RData run(model::RData d, std::initializer_list<model::Op> ops) {
  for (const model::Op& op : ops) {
    model::StepResult r = model::apply(d, op);
    if (!r.after) {
      ADD_FAILURE() << "undefined step: " << model::to_string(op);
      continue;
    }
    d = std::move(*r.after);
  }
  return d;
}

BootedVm boot_vm(model::RData d, Z block_pfn, Z load_addr, Z pages) {
  d = run(std::move(d), {hvc(k::HVC_REGISTER_KVM)});
  const Z vmid = d.regs.ctxt_regs.x[0];
  d = run(std::move(d), {hvc(k::HVC_REGISTER_VCPU, vmid, 0),
                         hvc(k::HVC_SET_BOOT_INFO, vmid, load_addr, pages * k::PAGE_SIZE)});
  for (Z i = 0; i < pages; ++i)
    d = run(std::move(d), {hvc(k::HVC_REMAP_VM_IMAGE, vmid, block_pfn + i, 0)});
  d = run(std::move(d), {hvc(k::HVC_VERIFY_VM_IMAGE, vmid)});
  return BootedVm{std::move(d), vmid};
}

}  // namespace hypdiff::testing
