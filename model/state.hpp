// The abstract state (Coq: RData.md): the global objects `Shared` and the per-CPU view `RData`.
// Both are plain values; every map inside is persistent, so copying a state costs O(1) per map
// and a handler step shares all it does not touch with its input.
#pragma once

#include <memory>
#include <optional>

#include "model/config.hpp"
#include "model/events.hpp"
#include "model/oracle_inputs.hpp"
#include "model/profile.hpp"
#include "model/records.hpp"

namespace hypdiff::model {

// Immutable facts a run is parameterized by: the machine and the profile. Not part of any
// observation; two states compared by the oracles always come from the same Env.
struct Env {
  MachineConfig cfg;
  Profile prof;
};
using EnvPtr = std::shared_ptr<const Env>;

// Default s2page of a frame the spec never wrote (§1.5): host RAM is the host's, the rest invalid.
struct S2PageDefault {
  Z ram_base_pfn = 0;
  Z ram_pages = 0;
  S2Page operator()(std::uint64_t pfn) const {
    const Z p = static_cast<Z>(pfn);
    if (ram_base_pfn <= p && p < ram_base_pfn + ram_pages)
      return S2Page{k::HOSTVISOR, 0, p + k::SMMU_HOST_OFFSET};
    return S2Page{k::INVALID, 0, k::INVALID64};
  }
  friend bool operator==(const S2PageDefault&, const S2PageDefault&) = default;
};

struct Shared {
  ZMap<Z> flatmem;                     // pfn -> the whole page's contents, one Z
  ZMap<NPT> npts;                      // principal -> stage-2 table (host 0, VMs, COREVISOR)
  ZMap<S2Page, S2PageDefault> s2page;  // pfn -> ownership
  CoreData core_data{};
  ZMap<VMInfo> vminfos;  // vmid -> VM info
  SPT spts{};
  ZMap<Z> smmu_vmid;  // smmu_id -> owner; INVALID = free
  ZMap<bool> hlock;   // ghost "lock held" flags (§4.1)
  EnvPtr env;         // machine + profile (not state, never observed)

  const MachineConfig& cfg() const { return env->cfg; }
  const Profile& prof() const { return env->prof; }
};

struct RData {
  bool halt = false;
  bool icore = false;
  bool ihost = true;
  Z curid = 0;
  Z cur_vmid = 0;
  Z cur_vcpuid = 0;
  Ctxt regs{};                   // physical registers (ctxt_states unused)
  ZMap<Box<Ctxt>> shadow_ctxts;  // ctxt_id(vmid, vcpuid) -> shadow context
  SMMUConf smmu_conf{};
  Slog slog;
  OraclePtr oracle;       // doracle, core_doracle, soracle, Parameters
  ZMap<Z> data_log;       // principal -> cursor into doracle
  ZMap<Z> core_data_log;  // principal -> cursor into core_doracle
  Shared shared;

  const MachineConfig& cfg() const { return shared.cfg(); }
  const Profile& prof() const { return shared.prof(); }
  Z doracle(Z v, Z n) const { return oracle->doracle(v, n); }
  Z core_doracle(Z v, Z n) const { return oracle->core_doracle(v, n); }

  // Shadow context access. ctx() reads; set_ctx() writes the whole context.
  const Ctxt& ctx(Z id) const { return *shadow_ctxts.get(id); }
  void set_ctx(Z id, Ctxt c) { shadow_ctxts.set(id, Box<Ctxt>(std::move(c))); }
};

// A handler's result: nullopt is the spec's None ("undefined": a rely failed, wrong mode, or a
// faulting access); a state with halt = true is a defined panic. The two are never confused.
using Outcome = std::optional<RData>;

}  // namespace hypdiff::model
