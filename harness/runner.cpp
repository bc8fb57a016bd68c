#include "harness/runner.hpp"

#include <fmt/format.h>

#include <array>

#include "harness/seed.hpp"
#include "oracles/diff.hpp"
#include "oracles/invariants.hpp"
#include "oracles/noninterference.hpp"
#include "oracles/projection.hpp"
#include "oracles/variation.hpp"

namespace hypdiff::harness {

using model::RData;
using model::StepKind;
using model::Z;

namespace {

constexpr std::array<const char*, 7> kClassNames = {
    "outcome", "divergence", "invariant", "integrity", "confidentiality", "crash", "hang"};

bool vm_in_use(const RData& d, Z v) {
  return d.shared.vminfos.get(v).VS.vm_state != model::k::UNUSED;
}

// The principals to compare: the host and every VM either side knows of; at the end of a case
// every VM id, so a change to an unregistered VM's view is not missed.
std::vector<Z> principals(const RData& a, const RData& b, bool all) {
  std::vector<Z> out{model::k::HOSTVISOR};
  for (Z v = 1; v <= a.cfg().max_vms; ++v) {
    if (all || vm_in_use(a, v) || vm_in_use(b, v)) out.push_back(v);
  }
  return out;
}

// "npt[gfn 0x4] ..." -> "npt"; "reg.x[0]" -> "reg".
std::string top_field(const std::string& path) {
  const auto cut = path.find_first_of(".[");
  return cut == std::string::npos ? path : path.substr(0, cut);
}

Failure make(FailureClass cls, std::size_t i, const model::Op& op) {
  Failure f;
  f.cls = cls;
  f.step = i;
  f.handler = model::handler_of(op);
  f.operation = op;
  f.op = model::to_string(op);
  return f;
}

// A failure about principal v; its field is the first one the diff shows differing.
Failure about(FailureClass cls, std::size_t i, const model::Op& op, Z v,
              const oracles::ProjectionDiff& d, std::string summary) {
  Failure f = make(cls, i, op);
  f.principal = v;
  f.field = d.lines.empty() ? "" : top_field(d.lines.front().path);
  f.summary = std::move(summary);
  return f;
}

void add_diff_lines(Failure& f, const oracles::ProjectionDiff& d, std::string_view a,
                    std::string_view b) {
  const std::string text = oracles::describe(d, a, b);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    f.details.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace

const char* failure_class_name(FailureClass c) { return kClassNames[static_cast<std::size_t>(c)]; }

std::optional<FailureClass> failure_class_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kClassNames.size(); ++i)
    if (name == kClassNames[i]) return static_cast<FailureClass>(i);
  return std::nullopt;
}

std::string Failure::signature() const {
  const std::string who = !principal ? "-" : (*principal == model::k::HOSTVISOR ? "host" : "vm");
  return fmt::format("{}/{}/{}/{}", failure_class_name(cls), who, field,
                     model::handler_name(handler));
}

std::string principal_label(Z v) { return oracles::principal_name(v); }

Runner::Runner(Target& target, Target* reference, RunOptions opts)
    : target_(target), reference_(reference), opts_(opts) {}

CaseResult Runner::run(const generators::Case& c, const StepHook& hook) {
  for (Target* t : {&target_, reference_}) {
    if (auto* g = dynamic_cast<Guarded*>(t)) g->guard().set_timeout(opts_.step_timeout);
  }
  CaseResult res;
  Call call;
  notes_.clear();
  try {
    run_case(c, hook, res, call);
  } catch (const TargetFault& e) {
    res.failure = fault(e, call, c);
  }
  // First: a note explains the rest (a diff can run past what is printed and saved).
  if (res.failure && res.failure->step == notes_step_)
    res.failure->details.insert(res.failure->details.begin(), notes_.begin(), notes_.end());
  return res;
}

Failure Runner::fault(const TargetFault& e, const Call& call, const generators::Case& c) const {
  const auto* hung = dynamic_cast<const TargetHung*>(&e);
  const auto* crashed = dynamic_cast<const TargetCrashed*>(&e);
  Failure f = make(hung ? FailureClass::hang : FailureClass::crash, call.step,
                   call.step < c.ops.size() ? c.ops[call.step] : model::Op{});
  const bool ref = call.target != &target_;
  const std::string cause = hung ? "timeout" : signal_name(crashed ? crashed->signal() : 0);
  f.field = (ref ? "reference-" : "") + cause;
  const std::string who = fmt::format("{} {}", ref ? "reference" : "target", call.target->name());
  const std::string where =
      call.reset ? "in reset, before step 0" : fmt::format("at step {}", call.step);
  f.summary = hung ? fmt::format("{} hung {} (no answer after {:g} s)", who, where, hung->seconds())
                   : fmt::format("{} crashed {} ({})", who, where, cause);
  f.details.push_back(e.what());
  return f;
}

void Runner::run_case(const generators::Case& c, const StepHook& hook, CaseResult& res,
                      Call& call) {
  const auto oracle = std::make_shared<const model::OracleInputs>(c.oracle);
  last_same_.reset();
  same_at_ = std::nullopt;
  call = {&target_, 0, true};
  target_.reset(c.cfg, oracle);
  if (reference_) {
    call.target = reference_;
    reference_->reset(c.cfg, oracle);
  }
  bool started = false;
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const model::Op& op = c.ops[i];
    const RData before = target_.state();
    call = {&target_, i, false};
    if (!started) target_.start(op);
    const StepKind kt = target_.finish();
    notes_ = target_.notes();
    notes_step_ = i;
    // The next step runs on the target while this one is compared and checked (Target::start).
    started = kt != StepKind::halted && i + 1 < c.ops.size();
    if (started) {
      call.step = i + 1;
      target_.start(c.ops[i + 1]);
      call.step = i;
    }
    std::optional<StepKind> kr;
    if (reference_) {
      call.target = reference_;
      kr = reference_->step(op);
    }
    coverage_.count(before, op, kt);
    ++res.steps;
    if (hook) hook(i, op, kt, kr);
    const bool last = i + 1 == c.ops.size();
    if (kr) {
      if (auto f = compare(i, op, kt, *kr, res)) {
        res.failure = std::move(f);
        return;
      }
    }
    if (kt == StepKind::ok) {
      if (auto f = check_target(i, op, before, res)) {
        res.failure = std::move(f);
        return;
      }
    }
    if (kt == StepKind::halted) break;
    if (last && kr && kt == StepKind::ok) {
      // Final sweep over every VM id (the per-step sweep covers the VMs in use).
      if (same_at_ == i) break;  // compare() found the whole states alike after this step
      const RData& t = target_.state();
      const RData& r = reference_->state();
      for (Z v : principals(r, t, true)) {
        ++res.checks;
        if (oracles::obs_eq(v, r, t)) continue;
        const oracles::ProjectionDiff d =
            oracles::diff(oracles::project(r, v), oracles::project(t, v), opts_.diff_lines);
        Failure f = about(FailureClass::divergence, i, op, v, d,
                          fmt::format("{} observes {} and {} differently after the last step",
                                      principal_label(v), reference_->name(), target_.name()));
        add_diff_lines(f, d, reference_->name(), target_.name());
        res.failure = std::move(f);
        return;
      }
    }
  }
}

std::optional<Failure> Runner::compare(std::size_t i, const model::Op& op, StepKind kt, StepKind kr,
                                       CaseResult& res) {
  ++res.checks;
  if (kt != kr) {
    Failure f = make(FailureClass::outcome, i, op);
    f.field = fmt::format("{}-vs-{}", model::step_kind_name(kr), model::step_kind_name(kt));
    f.summary = fmt::format("the step is {} on {} but {} on {}", model::step_kind_name(kr),
                            reference_->name(), model::step_kind_name(kt), target_.name());
    return f;
  }
  if (kt != StepKind::ok) return std::nullopt;  // both halted or both undefined
  const RData& t = target_.state();
  const RData& r = reference_->state();
  // After the first step only what changed since the last equal pair needs comparing.
  if (last_same_ ? oracles::same_observables_since(last_same_->first, r, last_same_->second, t)
                 : oracles::same_observables(r, t)) {
    last_same_.emplace(r, t);
    same_at_ = i;
    return std::nullopt;
  }
  std::optional<Failure> first;
  for (Z v : principals(r, t, false)) {
    ++res.checks;
    if (oracles::obs_eq(v, r, t)) continue;
    const oracles::ProjectionDiff d =
        oracles::diff(oracles::project(r, v), oracles::project(t, v), opts_.diff_lines);
    if (!first) {
      first = about(FailureClass::divergence, i, op, v, d,
                    fmt::format("{} observes {} and {} differently", principal_label(v),
                                reference_->name(), target_.name()));
    }
    first->details.push_back(principal_label(v) + ":");
    add_diff_lines(*first, d, reference_->name(), target_.name());
  }
  return first;
}

std::optional<Failure> Runner::check_target(std::size_t i, const model::Op& op, const RData& before,
                                            CaseResult& res) {
  const RData& after = target_.state();
  if (opts_.invariants) {
    ++res.checks;
    const auto bad = oracles::check_state_inv(after, 5);
    if (!bad.empty()) {
      Failure f = make(FailureClass::invariant, i, op);
      f.field = bad.front().clause;
      f.summary = fmt::format("{} breaks {} at {}: {}", target_.name(), bad.front().clause,
                              bad.front().where, bad.front().detail);
      for (const auto& v : bad) f.details.push_back(v.clause + " at " + v.where + ": " + v.detail);
      return f;
    }
  }
  if (opts_.integrity) {
    for (Z v : principals(before, after, false)) {
      if (!oracles::integrity_applies(v, before, after)) continue;
      ++res.checks;
      if (auto bad = oracles::check_integrity(v, before, after)) {
        Failure f = about(FailureClass::integrity, i, op, v, bad->diff, bad->summary);
        add_diff_lines(f, bad->diff, "before", "after");
        return f;
      }
    }
  }
  if (opts_.confidentiality && model::is_access(op) && target_.can_step_from()) {
    const Z v = before.cur_vmid;
    if (!oracles::valid_role(v, before) || !oracles::active(v, before)) return std::nullopt;
    const RData twin = oracles::vary_unobservable(before, v, mix(i, before.slog.length()));
    const model::StepResult r2 = target_.step_from(twin, op);
    ++res.checks;
    if (!r2.after) {
      Failure f = make(FailureClass::confidentiality, i, op);
      f.principal = v;
      f.field = "defined";
      f.summary = "the access is defined in one state and undefined in one " + principal_label(v) +
                  " cannot tell apart from it";
      return f;
    }
    if (r2.after->halt) return std::nullopt;
    if (auto bad = oracles::check_confidentiality(v, before, twin, after, *r2.after)) {
      Failure f = about(FailureClass::confidentiality, i, op, v, bad->diff, bad->summary);
      add_diff_lines(f, bad->diff, "the real run", "the varied run");
      return f;
    }
  }
  return std::nullopt;
}

}  // namespace hypdiff::harness
