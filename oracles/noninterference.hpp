// Reusable integrity and confidentiality checks (spec §5.1, §5.2, §6; Coq: SecurityDef,
// SecurityNoninterference), on whole states (handler steps) and on Shared (primitives).
//
//  - Integrity: a step taken while v is a valid principal and not active must leave v's view
//    unchanged (local_unchanged v before after), except for what the concurrency oracle did.
//  - Confidentiality: two states v cannot tell apart (obs_eq v d1 d2) stay so after the same step.
//
// A failed precondition of confidentiality (the inputs already differ to v) is a tool bug, not a
// counterexample: it throws model::ModelBug.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/state.hpp"
#include "oracles/diff.hpp"

namespace hypdiff::oracles {

// A property violation: a counterexample, with what the principal sees differently.
struct Violation {
  std::string property;  // "integrity" or "confidentiality"
  Z principal = 0;
  std::string summary;  // one line
  ProjectionDiff diff;  // a = before / first run, b = after / second run
};

bool valid_role(Z v, const model::RData& d);  // Coq: SecurityDef.valid_role
bool active(Z v, const model::RData& d);      // Coq: SecurityDef.active

// valid_role v in both states and active v in neither: when check_integrity has something to say.
bool integrity_applies(Z v, const model::RData& before, const model::RData& after);

// The gfns that ORACLE steps between `before` and `after` may have remapped in the host NPT:
// OMAP_HOST(addr) events scheduled in before.oracle's soracle at log lengths within
// [before.slog.length(), after.slog.length()], as addr / PAGE_SIZE. Sorted, unique.
std::vector<Z> oracle_host_gfns(const model::RData& before, const model::RData& after);

// local_unchanged v before after, for a step that applies (nullopt when !integrity_applies).
// ORACLE steps only ever change the host NPT at oracle_host_gfns, so the host's npt observation
// is ignored there; every other observation must be unchanged.
std::optional<Violation> check_integrity(Z v, const model::RData& before,
                                         const model::RData& after);

// obs_eq v d1 d2 (else ModelBug) implies obs_eq v d1_after d2_after.
std::optional<Violation> check_confidentiality(Z v, const model::RData& d1, const model::RData& d2,
                                               const model::RData& d1_after,
                                               const model::RData& d2_after);

// Primitive-level forms (the *_integ / *_conf lemmas of §6.2): shared_eq instead of obs_eq.
std::optional<Violation> check_integrity_shared(Z v, const model::Shared& s,
                                                const model::Shared& s_after);
std::optional<Violation> check_confidentiality_shared(Z v, const model::Shared& s1,
                                                      const model::Shared& s2,
                                                      const model::Shared& s1_after,
                                                      const model::Shared& s2_after);

}  // namespace hypdiff::oracles
