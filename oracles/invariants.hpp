// The invariants of spec §5.3 (Coq: SecurityInvs.shared_inv, state_inv) as checks that name the
// failing clause and where it fails. Bounds the spec states with its constants use the machine
// configuration (COREVISOR = cfg.corevisor(), 16 SMMU contexts = cfg.smmu_ids(), ...).
//
// Clauses quantified over every key are checked on the explicit entries of the maps they read,
// plus once on each map's default entry (which stands for every key not stored).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/state.hpp"

namespace hypdiff::oracles {

struct InvViolation {
  std::string clause;  // the Coq field name: "host_iso", "run_vcpu_dirty", ...
  std::string where;   // "gfn 0x812", "smmu 1 cb 3 gfn 0x40", "every gfn not stored", ...
  std::string detail;  // the values that break it
  friend bool operator==(const InvViolation&, const InvViolation&) = default;
};

// Coq: SecurityInvs.count_smmu_map (over cfg.smmu_ids() contexts).
model::Z count_smmu_map(model::Z pfn, const model::Shared& s);

// At most `cap` violations, in clause order.
std::vector<InvViolation> check_shared_inv(const model::Shared& s, std::size_t cap = 20);
std::vector<InvViolation> check_state_inv(const model::RData& d, std::size_t cap = 20);

// "clause at where: detail", one per line.
std::string describe(const std::vector<InvViolation>& violations);

}  // namespace hypdiff::oracles
