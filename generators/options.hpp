// Knobs of case generation, independent of RapidCheck's size parameter so a case's length and VM
// count are what the user asked for.
#pragma once

#include "model/config.hpp"
#include "model/op.hpp"
#include "model/profile.hpp"

namespace hypdiff::generators {

struct GenOptions {
  int min_ops = 1;
  int max_ops = 60;
  int max_vms = 3;             // VMs the generator tries to create and boot
  int hostile_permille = 100;  // share of boundary and hostile argument values
  model::MachineConfig cfg;
  // The generator runs the model to stay state-aware; this is the profile it simulates.
  model::Profile profile = model::Profile::intended();
  // The handlers the case may use: a target that cannot run some (the QEMU target before every
  // operation is realized there) gets cases without them. With every handler allowed the
  // generator draws exactly as it always did, so seeds keep reproducing the same cases.
  model::HandlerMask handlers = model::kAllHandlers;
  // One case in about pool_fill_one_in / 0.75 is a pool-fill case (pool_fill.hpp): about 2,950
  // operations, whatever max_ops says, since a VM's level-3 pool takes that many to fill. The
  // choice is a function of the case's fallback_seed draw (0 in a quarter of the cases: never a
  // pool-fill case). 0: never.
  int pool_fill_one_in = 2048;
  // About one case in other_cpu_one_in / 0.75 runs on another CPU than cfg.curid (curid.hpp),
  // decided from the same fallback_seed draw. 0: every case on cfg.curid.
  int other_cpu_one_in = 4;
};

}  // namespace hypdiff::generators
