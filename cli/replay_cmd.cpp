// `hypdiff replay FILE`: re-run a saved case step by step and print the verdict with the
// per-principal diff; with --expect, succeed exactly when the recorded verdict is reproduced.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "corpus/case_file.hpp"
#include "harness/corpus_replay.hpp"

namespace hypdiff::cli {

namespace {

struct ReplayArgs {
  std::string file;
  std::string target;
  std::string against;
  std::string json;
  bool expect = false;
  bool quiet = false;
  bool no_invariants = false;
  bool no_integrity = false;
  bool no_confidentiality = false;
  bool verify_export = false;
  std::string step_timeout = "10s";
};

}  // namespace

Action add_replay(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* sub =
      app.add_subcommand("replay", "Re-run a case file step by step and print its verdict");
  sub->add_option("file", a->file, "the case file")->required();
  sub->add_option("--target", a->target, "target (default: the one the file records)");
  sub->add_option("--against", a->against,
                  "reference (default: the one the file records; 'none' for property checks only)");
  sub->add_option("--json", a->json, "write a JSON verdict to FILE, or - for stdout");
  sub->add_flag("--expect", a->expect,
                "exit 0 exactly when the verdict recorded in the file is reproduced");
  sub->add_flag("--quiet", a->quiet, "do not list the steps");
  sub->add_flag("--no-invariants", a->no_invariants, "skip the invariant checks");
  sub->add_flag("--no-integrity", a->no_integrity, "skip the integrity checks");
  sub->add_flag("--no-confidentiality", a->no_confidentiality, "skip the confidentiality checks");
  sub->add_flag("--verify-export", a->verify_export,
                "for target authors: check after every step that a library's export_changes "
                "adds up to its export_state");
  sub->add_option("--step-timeout", a->step_timeout, kStepTimeoutHelp);

  return [a]() -> int {
    corpus::CaseFile file;
    try {
      file = corpus::load_case(a->file);
    } catch (const corpus::CorpusError& e) {
      std::fprintf(stderr, "hypdiff: %s\n", e.what());
      return kExitUsage;
    }
    const auto [target, against] = recorded_pairing(file, a->target, a->against);
    if (a->expect && !file.expect) {
      std::fprintf(stderr, "hypdiff: --expect: %s records no expected verdict\n", a->file.c_str());
      return kExitUsage;
    }
    auto targets = make_targets(target, against, a->verify_export);
    if (!targets) return kExitUsage;
    if (!case_runnable(*targets, file.c, a->file)) return kExitUsage;
    if (!json_target_writable(a->json)) return kExitUsage;
    const bool same_setup =
        file.expect && file.expect->target == targets->target->name() &&
        (file.expect->against.empty() ? "none" : file.expect->against) == targets->against_name();
    if (a->expect && !same_setup) {
      std::fprintf(stderr,
                   "hypdiff: --expect: %s records a verdict for %s against %s, not for this "
                   "pairing\n",
                   a->file.c_str(), file.expect->target.c_str(),
                   file.expect->against.empty() ? "none" : file.expect->against.c_str());
      return kExitUsage;
    }
    std::FILE* text = a->json == "-" ? stderr : stdout;

    harness::RunOptions run;
    run.invariants = !a->no_invariants;
    run.integrity = !a->no_integrity;
    run.confidentiality = !a->no_confidentiality;
    if (!set_step_timeout(a->step_timeout, run)) return kExitUsage;
    harness::Runner runner(*targets->target, targets->reference.get(), run);
    fmt::print(text, "replay {}: {} against {}, {} operations\n", a->file, targets->target->name(),
               targets->against_name(), file.c.ops.size());
    const auto hook = [&](std::size_t i, const model::Op& op, model::StepKind kt,
                          std::optional<model::StepKind> kr) {
      if (a->quiet) return;
      fmt::print(text, "  {:>4}  {:<9} {:<9} {}\n", i, model::step_kind_name(kt),
                 kr ? model::step_kind_name(*kr) : "-", corpus::op_line(op));
    };
    if (!a->quiet)
      fmt::print(text, "  {:>4}  {:<9} {:<9} {}\n", "step", "target", "reference", "operation");
    const harness::CaseResult r = runner.run(file.c, hook);
    if (r.failure) {
      print_failure(text, *r.failure, 200);
    } else {
      fmt::print(text, "PASS: {} steps, {} checks\n", r.steps, r.checks);
    }
    std::string differs;
    if (same_setup) {
      differs = harness::expectation_mismatch(*file.expect, r);
      fmt::print(text, "{}\n",
                 differs.empty() ? "matches the recorded verdict"
                                 : "differs from the recorded verdict: " + differs);
    }
    if (!a->json.empty()) {
      nlohmann::json j = {
          {"file", a->file},
          {"target", targets->target->name()},
          {"against", targets->against_name()},
          {"steps", r.steps},
          {"checks", r.checks},
          {"verdict", r.failure ? harness::failure_class_name(r.failure->cls) : "pass"}};
      j["failure"] = r.failure ? failure_json(*r.failure) : nlohmann::json(nullptr);
      if (same_setup) j["matches_expectation"] = differs.empty();
      if (!write_json(a->json, j)) return kExitUsage;
    }
    if (a->expect) return differs.empty() ? kExitPass : kExitFail;
    return r.failure ? kExitFail : kExitPass;
  };
}

}  // namespace hypdiff::cli
