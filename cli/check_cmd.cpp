// `hypdiff check`: generate cases, run them on a target against a reference, shrink and save
// every new kind of failure, print the verdicts and the commands that replay them.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/corpus_phase.hpp"
#include "harness/check.hpp"
#include "harness/check_jobs.hpp"
#include "harness/junit.hpp"

namespace hypdiff::cli {

namespace {

struct CheckArgs {
  std::string target = "native";
  std::string against = "model";
  std::uint64_t cases = 0;
  std::string time;
  std::uint64_t seed = 1;
  std::string json;
  std::string junit;
  std::string corpus = "corpus/found";
  std::string regressions = "corpus/regression";
  bool no_corpus_replay = false;
  int max_ops = 60;
  int max_vms = 3;
  int hostile = 100;
  std::string ops = "all";
  std::size_t max_failures = 10;
  unsigned jobs = 1;
  bool no_shrink = false;
  std::string shrink_time = "60s";
  std::size_t shrink_candidates = 5000;
  bool no_invariants = false;
  bool no_integrity = false;
  bool no_confidentiality = false;
  bool verify_export = false;
  std::string step_timeout = "10s";
  bool quiet = false;
};

// One JUnit test case per distinct failure: its signature names it, its verdict fails it, and
// its saved file and replay command are what a CI page shows.
harness::JUnitCase junit_failure(const harness::FoundFailure& ff, const nlohmann::json& j) {
  harness::JUnitCase c;
  c.classname = "hypdiff.check.failure";
  c.name = ff.failure.signature();
  c.seconds = ff.shrink ? ff.shrink->seconds : 0;
  std::string text = ff.failure.summary;
  for (const auto& d : ff.failure.details) text += "\n" + d;
  c.failure = harness::JUnitCase::Failed{ff.failure.summary,
                                         harness::failure_class_name(ff.failure.cls), text};
  if (j.contains("file") && j["file"].is_string()) {
    const std::string f = j["file"].get<std::string>();
    c.system_out = fmt::format("saved {}\nreplay: ./hypdiff replay {}", f, f);
  }
  return c;
}

}  // namespace

Action add_check(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "Run random cases on a target against a reference: differential, noninterference and "
      "invariant checks; shrink and save each new failure");
  sub->add_option("--target", a->target, "target under test: " + harness::target_names_help());
  sub->add_option("--against", a->against,
                  "reference target (same names), or 'none' for property checks only");
  sub->add_option("--cases", a->cases, "number of cases (default 1000, or no limit with --time)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 48));
  sub->add_option("--time", a->time,
                  "stop after this long (e.g. 60s, 5m, 2h), the corpus phase included; with "
                  "--cases, at whichever comes first");
  sub->add_option("--seed", a->seed, "seed; the same seed gives the same cases");
  sub->add_option("--json", a->json, "write a JSON report to FILE, or - for stdout");
  sub->add_option("--junit", a->junit, "write a JUnit XML report to FILE");
  sub->add_option("--corpus", a->corpus,
                  "directory of found cases: each is replayed first and must pass; shrunk "
                  "failing cases are saved there");
  auto* regressions =
      sub->add_option("--regressions", a->regressions,
                      "directory of regression cases, replayed first on their recorded "
                      "pairings (default corpus/regression, skipped if absent)");
  sub->add_flag("--no-corpus-replay", a->no_corpus_replay,
                "explore only: skip replaying the regression and found cases")
      ->excludes(regressions);
  sub->add_option("--max-ops", a->max_ops, "maximum operations per case")
      ->check(CLI::Range(1, 100000));
  sub->add_option("--max-vms", a->max_vms, "VMs each case tries to create")
      ->check(CLI::Range(0, 254));
  sub->add_option("--ops", a->ops,
                  "operation kinds cases may use, e.g. host_hvc,host_npt (default all; narrowed "
                  "further to what the targets run)");
  sub->add_option("--hostile", a->hostile, "per-mille share of hostile argument values")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--jobs", a->jobs,
                  "processes running the cases, each with its own target instance (one QEMU "
                  "each for --target qemu); the verdict is the same for every N")
      ->check(CLI::Range(1, 256));
  sub->add_option("--max-failures", a->max_failures,
                  "stop after this many distinct failure signatures (0 = never)");
  sub->add_flag("--no-shrink", a->no_shrink, "save failing cases as generated");
  sub->add_option("--shrink-time", a->shrink_time, "time budget per shrink (default 60s)");
  sub->add_option("--shrink-candidates", a->shrink_candidates,
                  "candidate budget per shrink (default 5000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  sub->add_flag("--no-invariants", a->no_invariants, "skip the invariant checks");
  sub->add_flag("--no-integrity", a->no_integrity, "skip the integrity checks");
  sub->add_flag("--no-confidentiality", a->no_confidentiality, "skip the confidentiality checks");
  sub->add_flag("--verify-export", a->verify_export,
                "for target authors: check after every step that a library's export_changes "
                "adds up to its export_state");
  sub->add_option("--step-timeout", a->step_timeout, kStepTimeoutHelp);
  sub->add_flag("--quiet", a->quiet, "print only failures and the summary line");

  return [a, regressions]() -> int {
    harness::CheckOptions opts;
    opts.cases = a->cases > 0 ? a->cases : 1000;
    const bool regressions_given = regressions->count() > 0;
    if (!a->time.empty()) {
      const auto d = parse_duration(a->time);
      if (!d) {
        std::fprintf(stderr, "hypdiff: --time: '%s' is not a duration (e.g. 90s, 5m, 2h)\n",
                     a->time.c_str());
        return kExitUsage;
      }
      opts.seconds = *d;
      if (a->cases == 0) opts.cases = std::numeric_limits<std::uint64_t>::max();
    }
    const auto st = parse_duration(a->shrink_time);
    if (!st) {
      std::fprintf(stderr, "hypdiff: --shrink-time: '%s' is not a duration (e.g. 30s)\n",
                   a->shrink_time.c_str());
      return kExitUsage;
    }
    if (!set_step_timeout(a->step_timeout, opts.run)) return kExitUsage;
    auto targets = make_targets(a->target, a->against, a->verify_export);
    if (!targets) return kExitUsage;
    if (!json_target_writable(a->json) || !json_target_writable(a->junit)) return kExitUsage;
    if (a->junit == "-") {
      std::fprintf(stderr, "hypdiff: --junit: give a file name (stdout carries the text report)\n");
      return kExitUsage;
    }
    if (regressions_given && !std::filesystem::is_directory(a->regressions)) {
      std::fprintf(stderr, "hypdiff: --regressions: %s is not a directory\n",
                   a->regressions.c_str());
      return kExitUsage;
    }

    opts.seed = a->seed;
    opts.gen.max_ops = a->max_ops;
    opts.gen.max_vms = a->max_vms;
    opts.gen.hostile_permille = a->hostile;
    opts.gen.profile = generation_profile(*targets);
    std::string ops_error;
    const auto ops = model::parse_handler_list(a->ops, &ops_error);
    if (!ops) {
      std::fprintf(stderr, "hypdiff: --ops: %s\n", ops_error.c_str());
      return kExitUsage;
    }
    opts.gen.handlers = *ops;
    opts.max_failures = a->max_failures;
    opts.shrink = !a->no_shrink;
    opts.shrink_opts.max_seconds = *st;
    opts.shrink_opts.max_candidates = a->shrink_candidates;
    opts.run.invariants = !a->no_invariants;
    opts.run.integrity = !a->no_integrity;
    opts.run.confidentiality = !a->no_confidentiality;

    const std::string started = harness::utc_timestamp();
    const bool tty = interactive();
    const bool to_stdout_json = a->json == "-";
    std::FILE* text = to_stdout_json ? stderr : stdout;
    if (!a->quiet) {
      fmt::print(text, "hypdiff check: {} against {}, seed {}\n", targets->target->name(),
                 targets->against_name(), a->seed);
      if (const std::string note = restriction_note(*targets); !note.empty())
        fmt::print(text, "{}\n", note);
    }
    CorpusPhase corpus_phase;
    if (!a->no_corpus_replay) {
      corpus_phase = run_corpus_phase(a->regressions, a->corpus, *targets, opts.run, text);
      // The corpus phase is part of a --time budget: a pre-merge job has one deadline.
      if (opts.seconds > 0) opts.seconds = std::max(opts.seconds - corpus_phase.seconds, 1e-3);
    }
    nlohmann::json failures = nlohmann::json::array();
    const auto found = [&](const harness::FoundFailure& ff) {
      if (tty) std::fprintf(stderr, "\r\033[K");
      std::string extra = a->step_timeout == "10s" ? "" : " --step-timeout " + a->step_timeout;
      if (a->ops != "all") extra += " --ops " + a->ops;
      std::vector<std::string> notes = {fmt::format(
          "found by: hypdiff check --target {} --against {} --seed {} --max-ops {} "
          "--max-vms {} --hostile {}{} (case {}, case seed {:#x}, {} operations)",
          targets->target->name(), targets->against_name(), a->seed, a->max_ops, a->max_vms,
          a->hostile, extra, ff.case_index, ff.case_seed, ff.original.ops.size())};
      if (ff.shrink) {
        notes.push_back(shrinkers::describe(*ff.shrink));
      }
      std::string saved;
      try {
        saved = corpus::save_to_corpus(a->corpus, corpus_stem(ff.failure),
                                       failure_file(ff.shrunk, ff.failure, *targets, notes))
                    .string();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "hypdiff: cannot save the failing case: %s\n", e.what());
      }
      print_failure(text, ff.failure);
      fmt::print(text, "  found in case {} (step {} of {})", ff.case_index,
                 ff.original_failure.step, ff.original.ops.size());
      if (ff.shrink) {
        fmt::print(text, "; shrunk to {} operations in {:.2f} s, {} candidates{}",
                   ff.shrunk.ops.size(), ff.shrink->seconds, ff.shrink->candidates,
                   ff.shrink->budget_exhausted ? " (budget exhausted)" : "");
      }
      fmt::print(text, "\n");
      if (!saved.empty()) {
        fmt::print(text, "  saved {}\n  replay: ./hypdiff replay {}\n", saved, saved);
      }
      std::fflush(text);
      nlohmann::json j = failure_json(ff.failure);
      j["case"] = ff.case_index;
      j["case_seed"] = ff.case_seed;
      j["original_length"] = ff.original.ops.size();
      j["original_step"] = ff.original_failure.step;
      j["shrunk_length"] = ff.shrunk.ops.size();
      if (ff.shrink) {
        j["shrink"] = {{"candidates", ff.shrink->candidates},
                       {"accepted", ff.shrink->accepted},
                       {"seconds", ff.shrink->seconds},
                       {"budget_exhausted", ff.shrink->budget_exhausted}};
      }
      j["file"] = saved.empty() ? nlohmann::json(nullptr) : nlohmann::json(saved);
      failures.push_back(std::move(j));
    };
    double last_draw = -1;
    const auto progress = [&](const harness::CheckProgress& p) {
      if (!tty || p.seconds - last_draw < 0.2) return;
      last_draw = p.seconds;
      std::fprintf(stderr, "\r\033[K%llu cases, %llu steps, %.0f steps/s, %llu failing cases",
                   static_cast<unsigned long long>(p.cases),
                   static_cast<unsigned long long>(p.steps),
                   p.seconds > 0 ? double(p.steps) / p.seconds : 0.0,
                   static_cast<unsigned long long>(p.failing_cases));
    };
    // With --jobs, every worker process makes its own targets and this process holds none
    // while they start (a process holds one KCore); it makes them again to shrink.
    const std::string target_name = targets->target->name();
    const std::string against_name = targets->against_name();
    const auto remake = [&]() -> Targets {
      auto t = make_targets(target_name, against_name, a->verify_export);
      if (!t) throw harness::TargetError("cannot make the targets again");
      return std::move(*t);
    };
    if (a->jobs > 1) targets.reset();
    const harness::CheckReport rep = harness::run_check_jobs(
        a->jobs,
        [&] {
          Targets t = remake();
          return harness::TargetPair{std::move(t.target), std::move(t.reference)};
        },
        [&]() -> std::pair<harness::Target*, harness::Target*> {
          if (!targets) targets = remake();
          return {targets->target.get(), targets->reference.get()};
        },
        opts, {progress, found});
    if (tty) std::fprintf(stderr, "\r\033[K");

    const double explore = rep.seconds - rep.shrink_seconds;
    const double sps = explore > 0 ? double(rep.steps) / explore : 0;
    if (!a->quiet) fmt::print(text, "{}", rep.coverage.table());
    fmt::print(text,
               "{} cases, {} steps, {} checks in {:.2f} s ({:.0f} steps/s; {:.2f} s shrinking); "
               "{} failing cases, {} distinct failures\n",
               rep.cases, rep.steps, rep.checks, rep.seconds, sps, rep.shrink_seconds,
               rep.failing_cases, rep.failures.size());
    if (!a->json.empty()) {
      nlohmann::json j = {
          {"target", targets->target->name()},
          {"against", targets->against_name()},
          {"seed", a->seed},
          {"operations", model::handler_list(opts.gen.handlers & generation_handlers(*targets))},
          {"cases", rep.cases},
          {"steps", rep.steps},
          {"checks", rep.checks},
          {"failing_cases", rep.failing_cases},
          {"seconds", rep.seconds},
          {"shrink_seconds", rep.shrink_seconds},
          {"steps_per_second", sps},
          {"coverage", coverage_json(rep.coverage)},
          {"corpus", corpus_json(corpus_phase)},
          {"failures", failures}};
      for (std::size_t i = 0; i < rep.failures.size(); ++i)
        j["failures"][i]["duplicates"] = rep.failures[i].duplicates;
      if (!write_json(a->json, j)) return kExitUsage;
    }
    if (!a->junit.empty()) {
      harness::JUnitSuite suite;
      suite.name = fmt::format("hypdiff check {} against {}", targets->target->name(),
                               targets->against_name());
      suite.timestamp = started;
      suite.hostname = host_name();
      suite.seconds = corpus_phase.seconds + rep.seconds;
      suite.properties = {
          {"target", targets->target->name()},  {"against", targets->against_name()},
          {"seed", std::to_string(a->seed)},    {"cases", std::to_string(rep.cases)},
          {"steps", std::to_string(rep.steps)}, {"checks", std::to_string(rep.checks)}};
      suite.cases = junit_cases(corpus_phase);
      harness::JUnitCase explored;
      explored.classname = "hypdiff.check";
      explored.name = fmt::format("explore seed {}", a->seed);
      explored.seconds = rep.seconds - rep.shrink_seconds;
      explored.system_out =
          fmt::format("{} cases, {} steps, {} checks, {} failing cases{}", rep.cases, rep.steps,
                      rep.checks, rep.failing_cases,
                      rep.coverage.gaps().empty() ? "" : "; never ended ok:" + rep.coverage.gaps());
      suite.cases.push_back(std::move(explored));
      for (std::size_t i = 0; i < rep.failures.size(); ++i)
        suite.cases.push_back(junit_failure(rep.failures[i], failures[i]));
      if (!write_text(a->junit, harness::junit_xml(suite))) return kExitUsage;
    }
    return rep.failures.empty() && corpus_phase.failed == 0 ? kExitPass : kExitFail;
  };
}

}  // namespace hypdiff::cli
