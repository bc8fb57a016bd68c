// What one principal observes of a state (spec §5.2, Coq: SecuritySecurityDef): the observe_*
// functions, and a Projection that holds all of them at once, so that obs_eq is equality of
// projections and a failed obs_eq can be printed as a diff of two projections.
//
// Observations quantified over unbounded keys (every gfn, pfn, v0) are stored sparsely: a key is
// kept only where the observation differs from the one the map's default entry gives there (the
// Sparse base). Candidate keys are the explicit entries of the maps an observation reads. Two
// projections of states with the same ZMap defaults (any two states grown from one initial
// state) are equal exactly when the observations agree at every key. States whose defaults
// differ compare unequal where the defaults are observable.
#pragma once

#include <boost/hana/define_struct.hpp>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/state.hpp"
#include "oracles/reflect.hpp"

namespace hypdiff::oracles {

// ---- the spec's observation functions (the ground truth the projection is built to agree with)

Z observe_npt(Z v, Z gfn, const model::Shared& s);              // Coq: SecurityDef.observe_npt
Z observe_owner(Z v, Z pfn, const model::Shared& s);            // Coq: SecurityDef.observe_owner
Z observe_count(Z v, Z pfn, const model::Shared& s);            // Coq: SecurityDef.observe_count
Z observe_gfn(Z v, Z pfn, const model::Shared& s);              // Coq: SecurityDef.observe_gfn
Z observe_flatmem(Z v, Z pfn, const model::Shared& s);          // Coq: SecurityDef.observe_flatmem
Z observe_smmu(Z v, Z cbndx, Z index, const model::Shared& s);  // Coq: SecurityDef.observe_smmu
model::SptEntry observe_spt(Z v, Z cbndx, Z index, Z gfn,
                            const model::Shared& s);  // Coq: SecurityDef.observe_spt
std::optional<model::BootInfo> observe_boot_info(Z v, Z v0, const model::Shared& s);
std::optional<model::StateInfo> observe_state_info(Z v, Z v0, const model::Shared& s);
std::optional<model::CoreData> observe_core_data(Z v, const model::Shared& s);
std::optional<model::CtxtRegs> observe_reg(Z v, const model::RData& d);
model::Ctxt observe_shadow_ctxt(Z v, Z vcpuid, const model::RData& d);
bool observe_dirty(Z v, Z v0, Z vcpuid0, const model::RData& d);
Z observe_cur_vcpuid(Z v, const model::RData& d);
Z observe_data_log(Z v, const model::RData& d);
std::optional<Z> observe_core_data_log(Z v, Z v0, const model::RData& d);

// ---- keys, labelled in diff paths ("npt[gfn 0x40123]") ---------------------------------------

struct Gfn {
  BOOST_HANA_DEFINE_STRUCT(Gfn, (std::uint64_t, v));
  friend auto operator<=>(const Gfn&, const Gfn&) = default;
  void print_label(std::string& out) const;
};

struct Pfn {
  BOOST_HANA_DEFINE_STRUCT(Pfn, (std::uint64_t, v));
  friend auto operator<=>(const Pfn&, const Pfn&) = default;
  void print_label(std::string& out) const;
};

struct Vm {
  BOOST_HANA_DEFINE_STRUCT(Vm, (std::uint64_t, v));
  friend auto operator<=>(const Vm&, const Vm&) = default;
  void print_label(std::string& out) const;
};

// A valid SMMU context bank: cfg.is_smmu(index) && cfg.is_smmu_cfg(cbndx).
struct SmmuCtx {
  BOOST_HANA_DEFINE_STRUCT(SmmuCtx, (std::uint32_t, index), (std::uint32_t, cbndx));
  friend auto operator<=>(const SmmuCtx&, const SmmuCtx&) = default;
  void print_label(std::string& out) const;
};

struct SptKey {
  BOOST_HANA_DEFINE_STRUCT(SptKey, (SmmuCtx, ctx), (std::uint64_t, gfn));
  friend auto operator<=>(const SptKey&, const SptKey&) = default;
  void print_label(std::string& out) const;
};

struct VmVcpu {
  BOOST_HANA_DEFINE_STRUCT(VmVcpu, (std::uint64_t, vm), (std::uint64_t, vcpu));
  friend auto operator<=>(const VmVcpu&, const VmVcpu&) = default;
  void print_label(std::string& out) const;
};

// ---- bases (the observation a key has when it is not stored) ----------------------------------

enum class PageField : std::uint8_t { owner, count, gfn, flatmem };

// observe_owner/count/gfn/flatmem of a frame whose s2page and flatmem entries are the defaults.
struct PageBase {
  BOOST_HANA_DEFINE_STRUCT(PageBase, (Z, ram_base_pfn), (Z, ram_pages), (Z, flat_default),
                           (Z, observer), (PageField, field));
  Z operator()(const Pfn& k) const;
};

// observe_spt at a gfn a context's table does not store: that table's default entry (visible
// contexts only; (0,0) for the others). Lists only the contexts whose default is not (0,0).
struct SptBase {
  BOOST_HANA_DEFINE_STRUCT(SptBase, (std::vector<std::pair<SmmuCtx, model::SptEntry>>, rests));
  model::SptEntry operator()(const SptKey& k) const;
};

using ZObs = Sparse<Gfn, Z, ConstBase<Z>>;
using PageObs = Sparse<Pfn, Z, PageBase>;
using SmmuObs = Sparse<SmmuCtx, Z, ConstBase<Z>>;
using SptObs = Sparse<SptKey, model::SptEntry, SptBase>;
using BootObs = Sparse<Vm, model::BootInfo, ConstBase<model::BootInfo>>;
using StateObs = Sparse<Vm, model::StateInfo, ConstBase<model::StateInfo>>;
using DirtyObs = Sparse<VmVcpu, bool, ConstBase<bool>>;
using CoreLogObs = Sparse<Vm, Z, ConstBase<Z>>;

// doracle and core_doracle as whole functions (obs_eq's data_oracle_eq / core_data_oracle_eq).
// Equal when both streams give the same value at every (v, n), fallback included; soracle and
// the Parameters are not observations. Prints as a short fingerprint.
struct OracleView {
  model::OraclePtr p;
  bool reflect_equal(const OracleView& o) const;
  std::size_t reflect_hash() const;
  void reflect_print(std::string& out) const;
};

// ---- projections ------------------------------------------------------------------------------

// The shared_eq part: everything v observes of a Shared.
struct SharedView {
  BOOST_HANA_DEFINE_STRUCT(SharedView, (ZObs, npt), (PageObs, owner), (PageObs, count),
                           (PageObs, gfn), (PageObs, flatmem), (SmmuObs, smmu), (SptObs, spt),
                           (BootObs, boot_info), (StateObs, state_info),
                           (std::optional<model::CoreData>, core_data));
  friend bool operator==(const SharedView& a, const SharedView& b) { return equal(a, b); }
};

// The obs_eq part: everything principal `observer` observes of an RData.
struct Projection {
  BOOST_HANA_DEFINE_STRUCT(Projection, (Z, observer), (SharedView, shared),
                           (std::optional<model::CtxtRegs>, reg),
                           (std::vector<model::Box<model::Ctxt>>, shadow_ctxt),  // [vcpu]
                           (DirtyObs, dirty), (Z, curid), (Z, cur_vcpuid), (Z, data_log),
                           (CoreLogObs, core_data_log), (OracleView, oracle),
                           (model::SMMUConf, smmu_conf));
  friend bool operator==(const Projection& a, const Projection& b) { return equal(a, b); }
};

template <>
inline constexpr bool flatten_in_path<SharedView> = true;

SharedView project_shared(const model::Shared& s, Z v);
Projection project(const model::RData& d, Z v);

// Coq: SecurityDef.shared_eq / obs_eq. Equal to comparing projections, with shortcuts for maps
// the two states still share.
bool shared_eq(Z v, const model::Shared& s1, const model::Shared& s2);
bool obs_eq(Z v, const model::RData& d1, const model::RData& d2);

// A cheap sufficient condition for obs_eq(v, d1, d2) for every v at once: every field any
// observation reads is equal (the ghost log, lock flags and profile may differ). Used to skip
// the per-principal comparison of two runs that agree, which is the common case.
bool same_observables(const model::RData& d1, const model::RData& d2);
// same_observables(r, t), given that it held for r0 and t0, earlier versions of r and t: only
// what changed on either side since then is compared (the persistent maps share the rest), so
// a lockstep run pays for the changes of a step, not for the size of the state.
bool same_observables_since(const model::RData& r0, const model::RData& r, const model::RData& t0,
                            const model::RData& t);

// "host", "VM 3", or "principal 16".
std::string principal_name(Z v, const model::MachineConfig* cfg = nullptr);

}  // namespace hypdiff::oracles
