// `hypdiff mutants`: the checker against every seeded bug of a mutant-carrying target library
// (docs/mutants.md): killed or survived, time and steps to the first failure, shrunk length.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "harness/model_target.hpp"
#include "harness/mutants.hpp"

namespace hypdiff::cli {

namespace {

struct MutantsArgs {
  std::string target = "native";
  std::string against = "model";
  std::string budget = "30s";
  std::uint64_t seed = 1;
  std::string only;
  std::string ops = "all";
  std::string json;
  bool quiet = false;
};

// The library behind a target name: ours with its mutants compiled in, or the one given.
std::string library_of(const std::string& target) {
  if (target == "native") return HYPDIFF_NATIVE_MUTANTS_LIB;
  if (target.rfind("lib:", 0) == 0) return target.substr(4);
  return "";
}

bool parse_ids(const std::string& text, std::vector<std::uint32_t>& out) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) return false;
    out.push_back(v);
  }
  return true;
}

nlohmann::json result_json(const harness::MutantResult& r) {
  nlohmann::json j = {{"id", r.mutant.id},
                      {"name", r.mutant.name},
                      {"area", r.mutant.area},
                      {"description", r.mutant.description},
                      {"endangers", r.mutant.endangers},
                      {"expected_class", r.mutant.caught_by},
                      {"verdict", r.mutant.is_equivalent() ? "equivalent"
                                  : r.killed               ? "killed"
                                                           : "survived"}};
  if (!r.mutant.equivalent.empty()) j["reason"] = r.mutant.equivalent;
  if (r.ran) {
    j["seconds"] = r.seconds;
    j["cases"] = r.cases;
    j["steps"] = r.steps;
    j["shrink_seconds"] = r.shrink_seconds;
  }
  if (r.killed) {
    j["class"] = r.failure_class;
    j["signature"] = r.signature;
    j["summary"] = r.summary;
    j["original_length"] = r.original_length;
    j["shrunk_length"] = r.shrunk_length;
  }
  return j;
}

}  // namespace

Action add_mutants(CLI::App& app) {
  auto a = std::make_shared<MutantsArgs>();
  CLI::App* sub = app.add_subcommand(
      "mutants", "Run the check against every seeded bug of a mutant-carrying target and score it");
  sub->add_option("--target", a->target,
                  "native (KCore with its mutants compiled in), qemu (the same KCore at EL2 in "
                  "QEMU), or lib:PATH of a library that exports hypdiff_kcore_mutants_v1");
  sub->add_option("--against", a->against, "reference target (default model)");
  sub->add_option("--budget", a->budget, "time per mutant, e.g. 30s (shrinking is extra)");
  sub->add_option("--seed", a->seed, "seed; every mutant runs the same cases");
  sub->add_option("--only", a->only, "comma-separated mutant ids");
  sub->add_option("--ops", a->ops,
                  "operation kinds cases may use, e.g. host_hvc,host_npt (default all; narrowed "
                  "further to what the targets run)");
  sub->add_option("--json", a->json, "write a JSON report to FILE, or - for stdout");
  sub->add_flag("--quiet", a->quiet, "print only the summary line");

  return [a]() -> int {
    harness::MutantsOptions opts;
    const auto budget = parse_duration(a->budget);
    if (!budget || *budget <= 0) {
      std::fprintf(stderr, "hypdiff: --budget: '%s' is not a duration (e.g. 30s, 2m)\n",
                   a->budget.c_str());
      return kExitUsage;
    }
    opts.budget_seconds = *budget;
    opts.check.seed = a->seed;
    std::string ops_error;
    const auto ops = model::parse_handler_list(a->ops, &ops_error);
    if (!ops) {
      std::fprintf(stderr, "hypdiff: --ops: %s\n", ops_error.c_str());
      return kExitUsage;
    }
    opts.check.gen.handlers = *ops;
    if (!a->only.empty() && !parse_ids(a->only, opts.only)) {
      std::fprintf(stderr, "hypdiff: --only: '%s' is not a list of mutant ids\n", a->only.c_str());
      return kExitUsage;
    }
    // QEMU runs KCore compiled with the native target's seeded bugs: the catalog is the
    // native library's.
    const bool on_qemu = a->target == "qemu";
    const std::string path = on_qemu ? HYPDIFF_NATIVE_MUTANTS_LIB : library_of(a->target);
    if (path.empty()) {
      std::fprintf(stderr,
                   "hypdiff: --target: '%s' carries no mutants (use native, qemu or lib:PATH)\n",
                   a->target.c_str());
      return kExitUsage;
    }
    if (!json_target_writable(a->json)) return kExitUsage;
    std::string err;
    auto lib = harness::MutantLibrary::open(path, &err);
    if (!lib) {
      std::fprintf(stderr, "hypdiff: --target: %s\n", err.c_str());
      return kExitUsage;
    }
    std::unique_ptr<harness::Target> qemu;
    std::unique_ptr<harness::MutantsOn> on;
    harness::MutantSource* source = lib.get();
    if (on_qemu) {
      qemu = harness::make_target("qemu", &err);
      auto select = qemu ? mutant_switch(*qemu) : nullptr;
      if (!select) {
        std::fprintf(stderr, "hypdiff: --target: %s\n",
                     qemu ? "this target carries no mutants" : err.c_str());
        return kExitUsage;
      }
      on =
          std::make_unique<harness::MutantsOn>(harness::on_hardware(lib->mutants()), *qemu, select);
      source = on.get();
    }
    auto reference = harness::make_target(a->against, &err);
    if (!reference) {
      std::fprintf(stderr, "hypdiff: --against: %s\n", err.c_str());
      return kExitUsage;
    }
    for (std::uint32_t id : opts.only) {
      const auto& ms = lib->mutants();
      if (std::none_of(ms.begin(), ms.end(), [&](const auto& m) { return m.id == id; })) {
        std::fprintf(stderr, "hypdiff: --only: no mutant %u in %s\n", id, path.c_str());
        return kExitUsage;
      }
    }
    FILE* text = a->json == "-" ? stderr : stdout;
    if (!a->quiet) {
      fmt::print(text, "hypdiff mutants: {} against {}, seed {}, {} per mutant\n", a->target,
                 reference->name(), a->seed, a->budget);
      const model::HandlerMask runs = source->target().realized() & reference->realized();
      if (runs != model::kAllHandlers) {
        fmt::print(text,
                   "note: {} runs only {}: cases use only these operations, so a mutant only the "
                   "others reach survives\n",
                   a->target, model::handler_list(runs));
      }
      fmt::print(text, "{:>3}  {:<34} {:<12} {:<10} {:>8} {:>9} {:<15} {:>6}\n", "id", "mutant",
                 "area", "verdict", "seconds", "steps", "class", "shrunk");
    }
    const auto progress = [&](const harness::MutantResult& r) {
      if (a->quiet) return;
      const std::string verdict = r.mutant.is_equivalent() ? "equivalent"
                                  : r.killed               ? "killed"
                                                           : "SURVIVED";
      fmt::print(text, "{:>3}  {:<34} {:<12} {:<10} {:>8} {:>9} {:<15} {:>6}\n", r.mutant.id,
                 r.mutant.name, r.mutant.area, verdict,
                 r.ran ? fmt::format("{:.2f}", r.seconds) : "-",
                 r.ran ? std::to_string(r.steps) : "-", r.killed ? r.failure_class : "-",
                 r.killed ? std::to_string(r.shrunk_length) : "-");
      std::fflush(text);
    };
    const auto results = harness::run_mutants(*source, *reference, opts, progress);
    const harness::MutantScore s = harness::score(results);
    fmt::print(text,
               "{} mutants: {} killed, {} survived, {} equivalent; median time to first failure "
               "{:.2f} s, median shrunk length {:g}\n",
               s.mutants, s.killed, s.survived, s.equivalent, s.median_seconds,
               s.median_shrunk_length);
    if (!a->json.empty()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& r : results) list.push_back(result_json(r));
      const nlohmann::json j = {
          {"target", a->target},
          {"against", reference->name()},
          {"seed", a->seed},
          {"operations", model::handler_list(opts.check.gen.handlers & source->target().realized() &
                                             reference->realized())},
          {"budget_seconds", opts.budget_seconds},
          {"mutants", list},
          {"score",
           {{"mutants", s.mutants},
            {"killed", s.killed},
            {"survived", s.survived},
            {"equivalent", s.equivalent},
            {"median_seconds", s.median_seconds},
            {"median_shrunk_length", s.median_shrunk_length}}}};
      if (!write_json(a->json, j)) return kExitUsage;
    }
    return s.survived == 0 ? kExitPass : kExitFail;
  };
}

}  // namespace hypdiff::cli
