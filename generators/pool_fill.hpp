// The pool-fill family (issue 6, mutant #7): a case that fills one VM's level-3 table pool (the
// spec's PMD area, 5,887 pages per principal) exactly, then asks for one table more. The spec
// halts on that last map; a KCore whose pool check is off by one halts one map earlier.
//
// Route (spec §2.2, §3.1 local_mmap_h, local_map_io): PHYS_ADDR_IOREMAP maps device frames (no
// owner) into a READY VM, so it needs no host frame per map; a level-3 map in a 2 MiB region
// without a table takes one page from the PMD area. Each IOREMAP maps two pages straddling a
// 2 MiB boundary (two new tables per call), starting at 2^40, where no other case maps anything.
#pragma once

#include <cstdint>

#include "generators/case.hpp"
#include "generators/options.hpp"

namespace hypdiff::generators {

// Whether the case whose fallback_seed was drawn as `fallback_seed` is a pool-fill case: a pure
// function of that draw, so ordinary cases keep all their draws. Never when the options forbid
// host hypercalls or VMs, or GenOptions::pool_fill_one_in is 0.
bool pool_fill_drawn(const GenOptions& opts, std::uint64_t fallback_seed);

// Appends the family's operations to `c` (cfg and oracle already set): REGISTER_KVM, then
// IOREMAPs until the model halts on the map past the pool's end. Runs the model to plan.
void add_pool_fill(const GenOptions& opts, Case& c);

}  // namespace hypdiff::generators
