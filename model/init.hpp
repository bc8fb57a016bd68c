// The initial state (spec §1.5): a booted machine, the host running on CPU `curid`, host RAM
// owned by the host, no VMs. The spec leaves it opaque (`empty_adt`); docs/architecture.md
// records each choice.
#pragma once

#include "model/state.hpp"

namespace hypdiff::model {

// Throws std::invalid_argument with MachineConfig::validate()'s message on a bad configuration.
RData initial_state(const MachineConfig& cfg, const Profile& prof, OraclePtr oracle);

}  // namespace hypdiff::model
