// Every value the spec leaves open, as explicit data (spec §4, §7.1). The model never draws a
// random number: a run is a pure function of the initial state, the operations and this record.
//
//  - doracle(v)(n), core_doracle(v)(n): per-principal streams. Past the end of a stream the value
//    is `fallback(v, n)`: 0 when fallback_seed == 0, else a fixed hash of (seed, stream, v, n).
//  - soracle(cpu, slog): the other CPUs' events. Realized as a schedule keyed by the log's length
//    at the query, which is a function of the log as the spec requires.
//  - the abstract Parameters reg_desc, shared_kvm, shared_vcpu, verify_img and the two decrypt
//    functions, each as a table or a small data description.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "model/events.hpp"
#include "model/z.hpp"

namespace hypdiff::model {

struct Params {
  std::map<int, Z> reg_desc;                 // sysreg index -> reset value; absent = 0
  std::map<Z, Z> shared_kvm;                 // vmid -> value written to vm_kvm; absent = 0
  std::map<std::pair<Z, Z>, Z> shared_vcpu;  // (vmid, vcpuid) -> vm_vcpu value; absent = 0
  std::map<Z, Z> verify_img;                 // vmid -> signature verdict; absent = 1 (valid)
  // decrypt_gp_regs_specx: x0..x(n-1) := dorc(logn), dorc(logn+1), ...; consumes n values.
  int decrypt_gp_count = 31;
  // decrypt_sys_regs_specx: sysreg indices 47..47+n-1 := the next n values (via set_shadow_ctxt).
  int decrypt_sys_count = 24;
  friend bool operator==(const Params&, const Params&) = default;

  Z reg_desc_at(int i) const;
  Z shared_kvm_at(Z vmid) const;
  Z shared_vcpu_at(Z vmid, Z vcpuid) const;
  Z verify_img_at(Z vmid) const;
};

// Oracle answers computed on demand instead of stored: a target library that wraps the model
// gets them from its harness through the target ABI's callbacks. When an OracleInputs has a
// source, its streams and its schedule come from the source (Params stay tables: their domains
// are finite and are filled in full).
struct OracleSource {
  virtual ~OracleSource() = default;
  virtual Z data(Z v, Z n) const = 0;
  virtual Z core(Z v, Z n) const = 0;
  virtual const std::vector<SingleEvent>& events_at(std::uint64_t log_length) const = 0;
  virtual std::uint64_t next_scheduled(std::uint64_t from) const = 0;
};

struct OracleInputs {
  std::map<Z, std::vector<Z>> data;  // doracle streams by principal
  std::map<Z, std::vector<Z>> core;  // core_doracle streams by principal
  std::uint64_t fallback_seed = 0;
  // slog length at the query -> events of other CPUs, newest first (as soracle returns them).
  std::map<std::uint64_t, std::vector<SingleEvent>> soracle;
  Params params;
  std::shared_ptr<const OracleSource> source;  // when set, answers streams and schedule
  friend bool operator==(const OracleInputs&, const OracleInputs&) = default;

  Z doracle(Z v, Z n) const;
  Z core_doracle(Z v, Z n) const;
  // soracle(curid, log) for a log of the given length; empty when nothing is scheduled.
  const std::vector<SingleEvent>& events_at(std::uint64_t log_length) const;
  // The smallest scheduled log length >= from, or UINT64_MAX.
  std::uint64_t next_scheduled(std::uint64_t from) const;
};

using OraclePtr = std::shared_ptr<const OracleInputs>;

// Cheap comparison used by obs_eq: the same object, or equal contents.
inline bool same_oracles(const OraclePtr& a, const OraclePtr& b) {
  return a == b || (a && b && *a == *b);
}

}  // namespace hypdiff::model
