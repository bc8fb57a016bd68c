// VM lifecycles inside a case: which operations concern a VM, and how the VM ids of everything
// else change when one VM's registration is removed (REGISTER_KVM hands out ids in order, so
// every VM registered after it moves down by one).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "generators/case.hpp"

namespace hypdiff::shrinkers {

// The operations attributed to VM v (a simple, conservative rule; README.md):
//  - the v-th REGISTER_KVM of the sequence (ids start at 1 and are handed out in order);
//  - every host hypercall whose VM-id argument is v (x1 of CLEAR_VM_S2_RANGE, SET_BOOT_INFO,
//    REMAP/VERIFY_VM_IMAGE, PHYS_ADDR_IOREMAP, REGISTER_VCPU, ENCRYPT/DECRYPT_BUF,
//    SAVE/LOAD_CRYPT_VCPU; x2 of SMMU_ALLOC_PGD);
//  - SMMU hypercalls on a context (cbndx, index) that an SMMU_ALLOC_PGD gave to v, up to and
//    including the SMMU_FREE_PGD of that context;
//  - `vcpu_run vmid=v` and every operation after it up to the exit that returns to the host
//    (inclusive), or up to the next host operation (exclusive). Exits that stay in the VM are
//    SYS64 traps and the guest's grant/revoke hypercalls; every other exit leaves.
std::vector<bool> ops_of_vm(const std::vector<model::Op>& ops, model::Z v);

// Index of the REGISTER_KVM that creates VM v, if the sequence has one.
std::optional<std::size_t> registration_of(const std::vector<model::Op>& ops, model::Z v);

// The VM ids 1..max_vms that the operations register or mention, ascending.
std::vector<model::Z> vms_in(const generators::Case& c);

// After VM v's lifecycle is removed: every VM id in (v, max_vms] drops by one, in the operations'
// VM-id arguments, the keys of the data/core streams and the Parameters, and the VM-id arguments
// of scheduled soracle events; v's own streams and Parameters are erased. Ids outside
// 1..max_vms (hostile values, the corevisor) are left alone.
void renumber_after_removal(generators::Case& c, model::Z v);

}  // namespace hypdiff::shrinkers
