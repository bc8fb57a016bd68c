#include "oracles/noninterference.hpp"

#include <algorithm>

namespace hypdiff::oracles {

using model::RData;
using model::Shared;
namespace k = model::k;

namespace {

std::optional<Violation> violation(const char* property, Z v, ProjectionDiff diff,
                                   const char* what) {
  if (diff.empty()) return std::nullopt;
  Violation out;
  out.property = property;
  out.principal = v;
  out.summary = std::string(property) + ": " + principal_name(v) + " " + what + " (" +
                std::to_string(diff.lines.size()) + (diff.truncated ? "+" : "") +
                " differences, first: " + diff.lines.front().path + ")";
  out.diff = std::move(diff);
  return out;
}

void drop_gfns(ZObs& npt, const std::vector<Z>& gfns) {
  ZObs::Entries kept = npt.entries();
  std::erase_if(kept, [&](const std::pair<Gfn, Z>& e) {
    return std::binary_search(gfns.begin(), gfns.end(), static_cast<Z>(e.first.v));
  });
  npt.set_entries(std::move(kept));
}

[[noreturn]] void precondition_failed(const ProjectionDiff& d) {
  throw model::ModelBug("confidentiality check on states the principal can already tell apart:\n" +
                        describe(d, "the first", "the second"));
}

}  // namespace

// Coq: SecurityDef.valid_role
bool valid_role(Z v, const RData& d) {
  if (v == k::HOSTVISOR) return true;
  return k::HOSTVISOR < v && v < d.cfg().corevisor() &&
         d.shared.vminfos.get(v).VS.vm_state == k::VERIFIED;
}

// Coq: SecurityDef.active
bool active(Z v, const RData& d) { return (v == k::HOSTVISOR && d.ihost) || d.cur_vmid == v; }

bool integrity_applies(Z v, const RData& before, const RData& after) {
  return valid_role(v, before) && valid_role(v, after) && !active(v, before) && !active(v, after);
}

std::vector<Z> oracle_host_gfns(const RData& before, const RData& after) {
  std::vector<Z> gfns;
  if (!before.oracle) return gfns;
  const auto& sched = before.oracle->soracle;
  const auto end = sched.upper_bound(after.slog.length());
  for (auto it = sched.lower_bound(before.slog.length()); it != end; ++it) {
    for (const model::SingleEvent& e : it->second) {
      if (e.event.kind == model::EventKind::OMAP_HOST) {
        gfns.push_back(model::zdiv(e.event.args[0], k::PAGE_SIZE));
      }
    }
  }
  std::sort(gfns.begin(), gfns.end());
  gfns.erase(std::unique(gfns.begin(), gfns.end()), gfns.end());
  return gfns;
}

std::optional<Violation> check_integrity(Z v, const RData& before, const RData& after) {
  if (!integrity_applies(v, before, after)) return std::nullopt;
  if (obs_eq(v, before, after)) return std::nullopt;
  Projection a = project(before, v);
  Projection b = project(after, v);
  if (v == k::HOSTVISOR) {
    const std::vector<Z> gfns = oracle_host_gfns(before, after);
    drop_gfns(a.shared.npt, gfns);
    drop_gfns(b.shared.npt, gfns);
  }
  return violation("integrity", v, diff(a, b), "observes a step it took no part in");
}

std::optional<Violation> check_confidentiality(Z v, const RData& d1, const RData& d2,
                                               const RData& d1_after, const RData& d2_after) {
  if (!obs_eq(v, d1, d2)) precondition_failed(diff(project(d1, v), project(d2, v)));
  if (obs_eq(v, d1_after, d2_after)) return std::nullopt;
  return violation("confidentiality", v, diff(project(d1_after, v), project(d2_after, v)),
                   "tells apart two runs from states it could not");
}

std::optional<Violation> check_integrity_shared(Z v, const Shared& s, const Shared& s_after) {
  if (shared_eq(v, s, s_after)) return std::nullopt;
  return violation("integrity", v, diff(project_shared(s, v), project_shared(s_after, v), v),
                   "observes a step it took no part in");
}

std::optional<Violation> check_confidentiality_shared(Z v, const Shared& s1, const Shared& s2,
                                                      const Shared& s1_after,
                                                      const Shared& s2_after) {
  if (!shared_eq(v, s1, s2)) {
    precondition_failed(diff(project_shared(s1, v), project_shared(s2, v), v));
  }
  if (shared_eq(v, s1_after, s2_after)) return std::nullopt;
  return violation("confidentiality", v,
                   diff(project_shared(s1_after, v), project_shared(s2_after, v), v),
                   "tells apart two runs from states it could not");
}

}  // namespace hypdiff::oracles
