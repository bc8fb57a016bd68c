// `hypdiff selfcheck`: the model's self-check against the proved theorems, with coverage.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "harness/selfcheck.hpp"

namespace hypdiff::cli {

namespace {

struct SelfcheckArgs {
  int cases = 2000;
  std::uint64_t seed = 1;
  std::string profile = "intended";
  int max_ops = 60;
  int max_vms = 3;
  int hostile = 100;
  std::string json;
  bool no_integrity = false;
  bool no_confidentiality = false;
  bool no_invariants = false;
  bool allow_findings = false;
};

nlohmann::json counts_json(const harness::Counts& c) {
  return {{"ok", c[0]}, {"halted", c[1]}, {"undefined", c[2]}};
}

nlohmann::json report_json(const harness::SelfCheckReport& r, const std::string& profile,
                           std::uint64_t seed, bool covered) {
  nlohmann::json handlers = nlohmann::json::object();
  for (int h = 0; h < model::kHandlerCount; ++h) {
    handlers[model::handler_name(static_cast<model::Handler>(h))] =
        counts_json(r.coverage.by_handler[static_cast<std::size_t>(h)]);
  }
  nlohmann::json hvcs = nlohmann::json::object();
  for (const auto& [n, c] : r.coverage.by_hvc)
    hvcs[n < 0 ? "other" : std::to_string(n)] = counts_json(c);
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : r.findings) {
    findings.push_back({{"property", f.property},
                        {"case", f.case_index},
                        {"step", f.step},
                        {"op", f.op},
                        {"detail", f.detail}});
  }
  return {{"profile", profile},
          {"seed", seed},
          {"cases", r.cases},
          {"steps", r.steps},
          {"checks", r.checks},
          {"seconds", r.seconds},
          {"steps_per_second", r.seconds > 0 ? double(r.steps) / r.seconds : 0.0},
          {"handlers", handlers},
          {"hypercalls", hvcs},
          {"covered", covered},
          {"finding_count", r.finding_count},
          {"findings_by_property", r.findings_by_property},
          {"findings", findings}};
}

}  // namespace

Action add_selfcheck(CLI::App& app) {
  auto args = std::make_shared<SelfcheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "selfcheck",
      "Run the spec model's self-checks (invariants, integrity, confidentiality) on random "
      "reachable sequences and report per-handler and per-hypercall coverage");
  sub->add_option("--cases", args->cases, "number of random sequences")
      ->check(CLI::Range(1, 100000000));
  sub->add_option("--seed", args->seed, "seed; the same seed gives the same sequences");
  sub->add_option("--profile", args->profile,
                  "model profile: intended, literal, or either with +id/-id deviation switches");
  sub->add_option("--max-ops", args->max_ops, "maximum operations per sequence")
      ->check(CLI::Range(1, 100000));
  sub->add_option("--max-vms", args->max_vms, "VMs each sequence tries to create")
      ->check(CLI::Range(0, 254));
  sub->add_option("--hostile", args->hostile, "per-mille share of hostile argument values")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--json", args->json, "write a JSON report to FILE, or - for stdout");
  sub->add_flag("--no-invariants", args->no_invariants, "skip the shared_inv/state_inv checks");
  sub->add_flag("--no-integrity", args->no_integrity, "skip the integrity checks");
  sub->add_flag("--no-confidentiality", args->no_confidentiality,
                "skip the confidentiality checks");
  sub->add_flag("--allow-findings", args->allow_findings,
                "exit 0 even when properties fail (to survey the literal profile)");

  return [args]() -> int {
    std::string error;
    const auto prof = model::Profile::parse(args->profile, &error);
    if (!prof) {
      std::fprintf(stderr, "hypdiff: %s\n", error.c_str());
      return kExitUsage;
    }
    harness::SelfCheckOptions opts;
    opts.cases = args->cases;
    opts.seed = args->seed;
    opts.gen.max_ops = args->max_ops;
    opts.gen.max_vms = args->max_vms;
    opts.gen.hostile_permille = args->hostile;
    opts.gen.profile = *prof;
    opts.invariants = !args->no_invariants;
    opts.integrity = !args->no_integrity;
    opts.confidentiality = !args->no_confidentiality;

    std::unique_ptr<std::ofstream> file;
    if (!args->json.empty() && args->json != "-") {
      file = std::make_unique<std::ofstream>(args->json);
      if (!*file) {
        std::fprintf(stderr, "hypdiff: cannot write %s\n", args->json.c_str());
        return kExitUsage;
      }
    }
    const bool tty = isatty(STDERR_FILENO) != 0;
    const int every = std::max(1, args->cases / 100);
    const auto progress = [&](int done) {
      if (tty && (done % every == 0 || done == args->cases))
        std::fprintf(stderr, "\rselfcheck: %d/%d sequences", done, args->cases);
    };
    const harness::SelfCheckReport rep = harness::run_selfcheck(opts, progress);
    if (tty) std::fprintf(stderr, "\n");

    const std::string gaps = rep.coverage.gaps();
    if (args->json == "-") {
      std::cout << report_json(rep, prof->name(), args->seed, gaps.empty()).dump(2) << "\n";
    } else {
      std::cout << "profile " << prof->name() << ", seed " << args->seed << "\n"
                << harness::format_report(rep);
      if (!gaps.empty()) std::cout << "never reached without halting:" << gaps << "\n";
      if (file) *file << report_json(rep, prof->name(), args->seed, gaps.empty()).dump(2) << "\n";
    }
    if (!gaps.empty()) return kExitFail;
    if (rep.finding_count > 0 && !args->allow_findings) return kExitFail;
    return kExitPass;
  };
}

}  // namespace hypdiff::cli
