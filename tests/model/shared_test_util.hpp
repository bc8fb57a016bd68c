// Small helpers shared by the primitive tests: a booted Shared, lock-flag and state comparisons.
#pragma once

#include <memory>
#include <set>

#include "model/init.hpp"
#include "model/state.hpp"

namespace hypdiff::model::test {

// The Shared part of the §1.5 initial state: host RAM [0x200, 0x2000) owned by the host, no VMs,
// every hlock flag set.
inline Shared booted(const Profile& prof = Profile::intended(), const MachineConfig& cfg = {}) {
  return initial_state(cfg, prof, std::make_shared<const OracleInputs>()).shared;
}

// The lock ids whose hlock flag is clear (booted() starts with none).
inline std::set<Z> cleared(const Shared& s) {
  std::set<Z> out;
  s.hlock.for_each_explicit([&](std::uint64_t key, bool held) {
    if (!held) out.insert(static_cast<Z>(key));
  });
  return out;
}

inline bool same_shared(const Shared& a, const Shared& b) {
  return a.flatmem == b.flatmem && a.npts == b.npts && a.s2page == b.s2page &&
         a.core_data == b.core_data && a.vminfos == b.vminfos && a.spts == b.spts &&
         a.smmu_vmid == b.smmu_vmid && a.hlock == b.hlock;
}

// A VM in the given lifecycle state.
inline void set_vm_state(Shared& s, Z vmid, Z state) {
  VMInfo info = s.vminfos.get(vmid);
  info.VS.vm_state = state;
  s.vminfos.set(vmid, info);
}

inline void set_page(Shared& s, Z pfn, Z owner, Z count, Z gfn) {
  s.s2page.set(pfn, S2Page{owner, count, gfn});
}

// Puts pt[gfn] = e into principal v's NPT without touching its table flags or pool pointers.
inline void set_pt(Shared& s, Z v, Z gfn, PtEntry e) {
  NPT npt = s.npts.get(v);
  npt.pt.set(gfn, e);
  s.npts.set(v, npt);
}

}  // namespace hypdiff::model::test
