#include "harness/selfcheck.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "generators/case_gen.hpp"
#include "harness/seed.hpp"
#include "model/init.hpp"
#include "oracles/invariants.hpp"
#include "oracles/noninterference.hpp"
#include "oracles/variation.hpp"

namespace hypdiff::harness {

using model::RData;
using model::Z;

namespace {

// The principals of a state: the host and every VM the state knows of.
std::vector<Z> principals(const RData& d) {
  std::vector<Z> out{model::k::HOSTVISOR};
  for (Z v = 1; v <= d.cfg().max_vms; ++v) {
    if (d.shared.vminfos.get(v).VS.vm_state != model::k::UNUSED) out.push_back(v);
  }
  return out;
}

class Checker {
 public:
  Checker(const SelfCheckOptions& opts, SelfCheckReport& rep) : opts_(opts), rep_(rep) {}

  void run_case(const generators::Case& c, int case_index) {
    RData d = model::initial_state(c.cfg, opts_.gen.profile,
                                   std::make_shared<const model::OracleInputs>(c.oracle));
    for (std::size_t i = 0; i < c.ops.size(); ++i) {
      const model::Op& op = c.ops[i];
      const model::StepResult r = model::apply(d, op);
      count(d, op, r.kind);
      ++rep_.steps;
      if (r.after) {
        // A case is a counterexample from its first failing step on; later steps would only
        // repeat the same finding (an invariant stays broken).
        if (!check_step(d, op, *r.after, case_index, static_cast<int>(i))) {
          count_rest(c, i + 1);
          return;
        }
        d = *r.after;
      }
    }
  }

 private:
  // Steps of a case after its first finding are not run; they are still counted as steps.
  void count_rest(const generators::Case& c, std::size_t from) {
    rep_.steps += c.ops.size() - from;
    rep_.skipped_steps += c.ops.size() - from;
  }

  void count(const RData& before, const model::Op& op, model::StepKind kind) {
    rep_.coverage.count(before, op, kind);
  }

  void find(const char* property, int case_index, int step, const model::Op& op,
            std::string detail) {
    found_ = true;
    ++rep_.finding_count;
    ++rep_.findings_by_property[property];
    if (rep_.findings.size() < opts_.max_findings) {
      rep_.findings.push_back(
          Finding{property, case_index, step, model::to_string(op), std::move(detail)});
    }
  }

  // False when the step fails a property.
  bool check_step(const RData& before, const model::Op& op, const RData& after, int case_index,
                  int step) {
    found_ = false;
    check_properties(before, op, after, case_index, step);
    return !found_;
  }

  void check_properties(const RData& before, const model::Op& op, const RData& after,
                        int case_index, int step) {
    if (after.halt) return;  // the theorems are stated for non-halting steps
    if (opts_.invariants) {
      ++rep_.checks;
      const auto bad = oracles::check_state_inv(after, 3);
      if (!bad.empty()) {
        std::string text;
        for (const auto& v : bad) text += v.clause + " at " + v.where + ": " + v.detail + "; ";
        find("invariant", case_index, step, op, text);
      }
    }
    if (opts_.integrity) {
      for (Z v : principals(after)) {
        if (!oracles::integrity_applies(v, before, after)) continue;
        ++rep_.checks;
        if (auto bad = oracles::check_integrity(v, before, after)) {
          find("integrity", case_index, step, op, bad->summary);
        }
      }
    }
    if (opts_.confidentiality && model::is_access(op)) {
      const Z v = before.cur_vmid;
      if (!oracles::valid_role(v, before) || !oracles::active(v, before)) return;
      const std::uint64_t seed =
          mix(static_cast<std::uint64_t>(case_index), static_cast<std::uint64_t>(step));
      const RData twin = oracles::vary_unobservable(before, v, seed);
      const model::StepResult r2 = model::apply(twin, op);
      ++rep_.checks;
      if (!r2.after) {
        find("confidentiality", case_index, step, op,
             "the access is defined in one state and undefined in an indistinguishable one");
        return;
      }
      if (r2.after->halt) return;
      if (auto bad = oracles::check_confidentiality(v, before, twin, after, *r2.after)) {
        find("confidentiality", case_index, step, op, bad->summary);
      }
    }
  }

  const SelfCheckOptions& opts_;
  SelfCheckReport& rep_;
  bool found_ = false;
};

}  // namespace

SelfCheckReport run_selfcheck(const SelfCheckOptions& opts,
                              const std::function<void(int)>& progress) {
  SelfCheckReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  Checker checker(opts, rep);
  for (int i = 0; i < opts.cases; ++i) {
    const generators::Case c =
        generators::generate_case(opts.gen, mix(opts.seed, static_cast<std::uint64_t>(i)));
    checker.run_case(c, i);
    ++rep.cases;
    if (progress) progress(i + 1);
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

std::string format_report(const SelfCheckReport& r) {
  std::string out;
  out += fmt::format("{} cases, {} steps, {} checks in {:.2f} s ({:.0f} steps/s)\n", r.cases,
                     r.steps, r.checks, r.seconds, r.seconds > 0 ? double(r.steps) / r.seconds : 0);
  if (r.skipped_steps > 0)
    out += fmt::format("{} steps after a case's first finding were not run\n", r.skipped_steps);
  out += r.coverage.table();
  out += fmt::format("findings: {}\n", r.finding_count);
  for (const auto& [prop, n] : r.findings_by_property) out += fmt::format("  {}: {}\n", prop, n);
  for (const Finding& f : r.findings) {
    out += fmt::format("  [{}] case {} step {}: {}\n      {}\n", f.property, f.case_index, f.step,
                       f.op, f.detail);
  }
  return out;
}

}  // namespace hypdiff::harness
