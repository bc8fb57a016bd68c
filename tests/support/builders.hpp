// Small builders for tests: fresh states, hypercall ops, and a booted VM.
#pragma once

#include <initializer_list>

#include "model/init.hpp"
#include "model/op.hpp"

namespace hypdiff::testing {

using model::Z;

model::RData fresh(const model::Profile& prof = model::Profile::intended(),
                   model::OraclePtr oracle = nullptr,
                   const model::MachineConfig& cfg = model::MachineConfig{});

model::Op hvc(Z x0, Z x1 = 0, Z x2 = 0, Z x3 = 0, Z x4 = 0, Z x5 = 0);

// Applies the ops in order. A step that is undefined fails the calling test (ADD_FAILURE) and
// leaves the state unchanged; halting steps are applied like any other.
model::RData run(model::RData d, std::initializer_list<model::Op> ops);

struct BootedVm {
  model::RData d;
  Z vmid = 0;
};
// Registers a VM with vCPU 0, loads an image of `pages` pages at guest IPA `load_addr` whose
// pages are host pfns block_pfn, block_pfn + 1, ... (remapped one by one), and verifies it, so
// the VM ends VERIFIED with the 2 MiB block around block_pfn assigned to it.
BootedVm boot_vm(model::RData d, Z block_pfn = 0x400, Z load_addr = 0x40000000, Z pages = 2);

}  // namespace hypdiff::testing
