// A Case: the machine configuration, the operation sequence and every oracle answer the run
// consumes (design.md §1). Plain data: replaying it on the same profile is bit-for-bit repeatable.
#pragma once

#include <vector>

#include "model/config.hpp"
#include "model/op.hpp"
#include "model/oracle_inputs.hpp"

namespace hypdiff::generators {

struct Case {
  model::MachineConfig cfg;
  model::OracleInputs oracle;
  std::vector<model::Op> ops;
};

}  // namespace hypdiff::generators
