// `hypdiff shrink FILE`: minimize a saved failing case, keeping its failure signature.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "corpus/case_file.hpp"
#include "harness/check.hpp"

namespace hypdiff::cli {

namespace {

struct ShrinkArgs {
  std::string file;
  std::string target;
  std::string against;
  std::string out;
  std::string corpus = "corpus/found";
  std::string time = "60s";
  std::size_t candidates = 5000;
  std::string json;
  bool no_invariants = false;
  bool no_integrity = false;
  bool no_confidentiality = false;
  std::string step_timeout = "10s";
};

}  // namespace

Action add_shrink(CLI::App& app) {
  auto a = std::make_shared<ShrinkArgs>();
  CLI::App* sub = app.add_subcommand(
      "shrink", "Minimize a failing case file, keeping the same kind of failure");
  sub->add_option("file", a->file, "the case file")->required();
  sub->add_option("--target", a->target, "target (default: the one the file records)");
  sub->add_option("--against", a->against, "reference (default: the one the file records)");
  sub->add_option("--out", a->out, "write the shrunk case here (default: into --corpus)");
  sub->add_option("--corpus", a->corpus, "directory for the shrunk case when --out is not given");
  sub->add_option("--time", a->time, "time budget (default 60s)");
  sub->add_option("--candidates", a->candidates, "candidate budget (default 5000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  sub->add_option("--json", a->json, "write a JSON report to FILE, or - for stdout");
  sub->add_flag("--no-invariants", a->no_invariants, "skip the invariant checks");
  sub->add_flag("--no-integrity", a->no_integrity, "skip the integrity checks");
  sub->add_flag("--no-confidentiality", a->no_confidentiality, "skip the confidentiality checks");
  sub->add_option("--step-timeout", a->step_timeout, kStepTimeoutHelp);

  return [a]() -> int {
    corpus::CaseFile file;
    try {
      file = corpus::load_case(a->file);
    } catch (const corpus::CorpusError& e) {
      std::fprintf(stderr, "hypdiff: %s\n", e.what());
      return kExitUsage;
    }
    const auto budget = parse_duration(a->time);
    if (!budget) {
      std::fprintf(stderr, "hypdiff: --time: '%s' is not a duration (e.g. 30s)\n", a->time.c_str());
      return kExitUsage;
    }
    const auto [target, against] = recorded_pairing(file, a->target, a->against);
    auto targets = make_targets(target, against);
    if (!targets) return kExitUsage;
    if (!case_runnable(*targets, file.c, a->file)) return kExitUsage;
    if (!json_target_writable(a->json)) return kExitUsage;
    std::FILE* text = a->json == "-" ? stderr : stdout;

    harness::RunOptions run;
    run.invariants = !a->no_invariants;
    run.integrity = !a->no_integrity;
    run.confidentiality = !a->no_confidentiality;
    if (!set_step_timeout(a->step_timeout, run)) return kExitUsage;
    harness::Runner runner(*targets->target, targets->reference.get(), run);
    const harness::CaseResult first = runner.run(file.c);
    if (!first.failure) {
      fmt::print(text, "{} passes on {} against {}: nothing to shrink\n", a->file,
                 targets->target->name(), targets->against_name());
      return kExitPass;
    }
    shrinkers::ShrinkOptions so;
    so.max_seconds = *budget;
    so.max_candidates = a->candidates;
    const harness::ShrunkCase s = harness::shrink_case(*targets->target, targets->reference.get(),
                                                       run, file.c, *first.failure, so);
    std::vector<std::string> notes = {
        fmt::format("shrunk from {} ({} operations)", a->file, file.c.ops.size())};
    notes.push_back(shrinkers::describe(s.stats));
    const corpus::CaseFile out = failure_file(s.c, s.failure, *targets, notes);
    std::string saved;
    try {
      if (!a->out.empty()) {
        corpus::save_case(a->out, out);
        saved = a->out;
      } else {
        saved = corpus::save_to_corpus(a->corpus, corpus_stem(s.failure), out).string();
      }
    } catch (const corpus::CorpusError& e) {
      std::fprintf(stderr, "hypdiff: %s\n", e.what());
      return kExitUsage;
    }
    print_failure(text, s.failure);
    fmt::print(text, "shrunk from {} to {} operations in {:.2f} s ({} candidates, {} kept{})\n",
               s.stats.original_ops, s.stats.final_ops, s.stats.seconds, s.stats.candidates,
               s.stats.accepted, s.stats.budget_exhausted ? ", budget exhausted" : "");
    fmt::print(text, "saved {}\nreplay: ./hypdiff replay {}\n", saved, saved);
    if (!a->json.empty()) {
      nlohmann::json j = failure_json(s.failure);
      j["original_length"] = file.c.ops.size();
      j["shrunk_length"] = s.c.ops.size();
      j["candidates"] = s.stats.candidates;
      j["seconds"] = s.stats.seconds;
      j["file"] = saved;
      if (!write_json(a->json, j)) return kExitUsage;
    }
    return kExitFail;
  };
}

}  // namespace hypdiff::cli
