// High-level page-table primitives (spec §3.1): a flat gfn -> (pfn, level, pte) map plus
// "table allocated" flags and pool bump pointers.
#pragma once

#include "model/state.hpp"

namespace hypdiff::model {

struct MmapResult {
  bool halt;
  NPT npt;
};
struct SptMapResult {
  bool halt;
  SPT spt;
};

// Coq: TrapHandlerSpec.local_mmap_loop_h. Returns (gfn + n, pfn + n, pt').
struct MmapLoopResult {
  Z gfn;
  Z pfn;
  ZMap<PtEntry> pt;
};
MmapLoopResult local_mmap_loop_h(Z n, Z gfn, Z pfn, Z level, Z pte, ZMap<PtEntry> pt);

// Coq: TrapHandlerSpec.local_mmap_h
MmapResult local_mmap_h(const MachineConfig& cfg, Z vmid, Z addr, Z level, Z pte, NPT npt);

// Coq: TrapHandlerSpec.local_spt_map_h
SptMapResult local_spt_map_h(const MachineConfig& cfg, Z cbndx, Z index, Z addr, Z pte, SPT spt);

}  // namespace hypdiff::model
