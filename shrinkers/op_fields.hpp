// Uniform access to the integer fields of an operation, with what each field means for
// shrinking: which fields are VM ids (renumbered when a VM lifecycle is removed), which are
// addresses (page-aligned smaller values preferred), which are sizes or loop counts (1 and one
// page tried early), and which select a behaviour (only 0 is tried).
#pragma once

#include <cstdint>
#include <vector>

#include "model/op.hpp"

namespace hypdiff::shrinkers {

enum class FieldKind : std::uint8_t {
  number,    // no known meaning
  selector,  // hypercall number, exit code: changing it changes the operation, so only 0 is tried
  vmid,      // a VM id
  id,        // a small index: vCPU id, SMMU cbndx or index, register number, load-info index
  addr,      // a byte address
  frame,     // a page frame number (pfn or gfn)
  size,      // a byte count or page count that bounds a loop
  hpfar,     // HPFAR_EL2: (ipa >> 12) << 4, low four bits RES0
  esr,       // an ESR_EL2 value: the exception class lives in bits 31:26
  answer,    // an oracle answer: not bisected, since a case can hold hundreds of them
};

// Fields in a fixed order: HostHvc x0..x5; HostFault hpfar, esr, far; VcpuRun vmid; VmExit ec,
// esr, x0..x3, hpfar, far; MemLoad/MemStore gfn, reg; DevLoad/DevStore gfn, reg, cbndx, index;
// SetReg reg, value.
int field_count(const model::Op& op);
model::Z get_field(const model::Op& op, int i);
// `v` must fit the field's type; every value the shrinker writes is between 0 and the old value,
// or a renumbered VM id.
void set_field(model::Op& op, int i, model::Z v);
FieldKind field_kind(const model::Op& op, int i);

// Smaller values worth trying for a field, most canonical first, after 0 (always tried first)
// and before the bisection towards 0 (see bisection_unit).
std::vector<model::Z> smaller_values(FieldKind kind, model::Z value);
// The step of the bisection: 4096 for page-aligned addresses and sizes, 16 for aligned HPFAR
// values, else 1; 0 when the field is not bisected at all.
model::Z bisection_unit(FieldKind kind, model::Z value);

}  // namespace hypdiff::shrinkers
