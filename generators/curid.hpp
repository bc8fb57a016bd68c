// Which CPU a case runs on. The model is CPU `curid` of `total_cpus`; a target that ignored the
// case's curid (the QEMU target once ran KCore as CPU 0 whatever the case said) passes every case
// drawn on CPU 0, so some cases are drawn on another CPU.
#pragma once

#include <cstdint>

#include "generators/options.hpp"
#include "model/z.hpp"

namespace hypdiff::generators {

// The curid of the case whose fallback_seed was drawn as `fallback_seed`: opts.cfg.curid in most
// cases, in about one case in GenOptions::other_cpu_one_in another of the configuration's CPUs.
// A pure function of that draw, so every case keeps its other draws. opts.cfg.curid when
// other_cpu_one_in is 0, the configuration has one CPU, or fallback_seed is 0.
model::Z curid_drawn(const GenOptions& opts, std::uint64_t fallback_seed);

}  // namespace hypdiff::generators
