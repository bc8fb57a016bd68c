// Indistinguishable variations: a state principal v cannot tell apart from a given one
// (obs_eq v d result) that differs in what v cannot see, for confidentiality checks that run the
// same step on both. Deterministic in the seed. Variations stay within what reachable states look
// like (invariants of §5.3 are kept when the input satisfies them):
//
//  - contents (flatmem) of frames v does not own (host: frames not owned by HOST);
//  - the unobserved parts of other VMs' StateInfo: vm_kvm, vm_vcpu, vm_power (never vm_state);
//  - for a VM observer: other VMs' pages moved to another gfn of the same 2 MiB region (npt and
//    s2page gfn together), host NPT entries unmapped (host mappings are lazy), and SMMU entries
//    of contexts v does not own unmapped;
//  - shadow contexts v does not observe (registers only; `dirty` is kept, the host sees whether
//    it is INVALID64), oracle cursors of other principals, the physical registers when v does
//    not observe them, and the trap registers (which nobody observes).
#pragma once

#include <cstdint>

#include "model/state.hpp"

namespace hypdiff::oracles {

// Throws model::ModelBug if the result is not obs_eq to d for v (a bug here, never a verdict).
model::RData vary_unobservable(const model::RData& d, model::Z v, std::uint64_t seed);
// The Shared part alone (shared_eq v s result), for primitive-level checks.
model::Shared vary_unobservable_shared(const model::Shared& s, model::Z v, std::uint64_t seed);

}  // namespace hypdiff::oracles
