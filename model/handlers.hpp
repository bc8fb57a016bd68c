// The eight exported top-level handlers of the TrapHandler layer (spec §3.5). Each is a pure
// function of the state (and, for memory/DMA accesses, the access's arguments).
#pragma once

#include <cstdint>

#include "model/state.hpp"

namespace hypdiff::model {

Outcome host_hvc_handler(RData d);       // Coq: TrapHandlerSpec.host_hvc_handler_spec
Outcome host_npt_handler(RData d);       // Coq: TrapHandlerSpec.host_npt_handler_spec
Outcome host_vcpu_run_handler(RData d);  // Coq: TrapHandlerSpec.host_vcpu_run_handler_spec
Outcome vm_exit_handler(RData d);        // Coq: TrapHandlerSpec.vm_exit_handler_spec
Outcome mem_load(RData d, std::uint64_t gfn, std::uint32_t reg);   // Coq: mem_load_spec
Outcome mem_store(RData d, std::uint64_t gfn, std::uint32_t reg);  // Coq: mem_store_spec
Outcome dev_load(RData d, std::uint64_t gfn, std::uint32_t reg, std::uint32_t cbndx,
                 std::uint32_t index);  // Coq: dev_load_spec
Outcome dev_store(RData d, std::uint64_t gfn, std::uint32_t reg, std::uint32_t cbndx,
                  std::uint32_t index);  // Coq: dev_store_spec

}  // namespace hypdiff::model
