#include "campaign/worker.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "campaign/records.hpp"
#include "campaign/workers.hpp"
#include "generators/case_gen.hpp"
#include "harness/check.hpp"

namespace hypdiff::campaign {
namespace {

namespace fs = std::filesystem;

// Test hook (docs/campaign.md): a worker given this batch aborts, to exercise crash handling.
constexpr const char* kCrashEnv = "HYPDIFF_CAMPAIGN_CRASH_BATCH";

std::string against_name(const harness::Target* reference) {
  return reference ? reference->name() : "none";
}

std::vector<std::string> case_notes(const WorkerSetup& w, const harness::Target& target,
                                    const harness::Target* reference, std::uint64_t batch,
                                    std::uint64_t index, std::uint64_t cs, std::size_t ops) {
  const Config& c = w.cfg;
  const std::string timeout =
      c.step_timeout == 10 ? "" : fmt::format(" --step-timeout {}", c.step_timeout);
  return {
      fmt::format("found by: hypdiff campaign --target {} --against {} --seed {} --batch-cases {} "
                  "--max-ops {} --max-vms {} --hostile {}{} (batch {}, case {}, case seed {:#x}, "
                  "{} operations)",
                  target.name(), against_name(reference), c.seed, c.batch_cases, c.max_ops,
                  c.max_vms, c.hostile, timeout, batch, index, cs, ops),
      fmt::format("the same case unshrunk: hypdiff check --target {} --against {} --seed {} "
                  "--max-ops {} --max-vms {} --hostile {}{} --cases {} (its last case)",
                  target.name(), against_name(reference), c.seed, c.max_ops, c.max_vms, c.hostile,
                  timeout, index + 1),
      "reproduce: hypdiff replay THIS_FILE --expect"};
}

// Runs batch `b` and sends its failures and then its batch record to `out`.
bool run_batch(const WorkerSetup& w, harness::Target& target, harness::Target* reference,
               const CaseFiling& filing, std::uint64_t b, std::map<std::string, std::size_t>& known,
               int out) {
  const auto t0 = std::chrono::steady_clock::now();
  harness::Runner runner(target, reference, w.run);
  Batch rec;
  rec.batch = b;
  std::set<std::string> seen;
  const std::uint64_t first = b * w.cfg.batch_cases;
  for (std::uint64_t i = first; i < first + w.cfg.batch_cases; ++i) {
    const std::uint64_t cs = harness::case_seed(w.cfg.seed, i);
    const generators::Case c = generators::generate_case(w.gen, cs);
    const harness::CaseResult r = runner.run(c);
    ++rec.cases;
    rec.steps += r.steps;
    rec.checks += r.checks;
    if (!r.failure) continue;
    ++rec.failing_cases;
    const std::string sig = r.failure->signature();
    if (!seen.insert(sig).second) continue;
    // A signature the campaign already holds at this length or shorter: not worth a shrink.
    if (auto it = known.find(sig); it != known.end() && it->second <= c.ops.size()) continue;
    const harness::ShrunkCase s =
        harness::shrink_case(target, reference, w.run, c, *r.failure, w.shrink);
    std::vector<std::string> notes = case_notes(w, target, reference, b, i, cs, c.ops.size());
    notes.push_back(shrinkers::describe(s.stats));
    const std::string stem = filing.stem(s.failure);
    const fs::path file =
        corpus::save_to_corpus(w.dir / "cases", stem, filing.file(s.c, s.failure, notes));
    FailureEntry f;
    f.signature = sig;
    f.cls = harness::failure_class_name(s.failure.cls);
    f.principal = s.failure.principal ? harness::principal_label(*s.failure.principal) : "";
    f.field = s.failure.field;
    f.handler = model::handler_name(s.failure.handler);
    f.op = s.failure.op;
    f.summary = s.failure.summary;
    f.details = s.failure.details;
    f.case_file = (fs::path("cases") / file.filename()).string();
    f.length = s.c.ops.size();
    f.original_length = c.ops.size();
    f.batch = b;
    f.case_seed = cs;
    nlohmann::json j = failure_to_json(f);
    j["stem"] = stem;  // the parent saves to the corpus under the same name
    if (!send_line(out, j.dump() + "\n")) return false;
    known[sig] = f.length;
  }
  rec.coverage = runner.coverage();
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return send_line(out, batch_to_json(rec).dump() + "\n");
}

// HYPDIFF_CAMPAIGN_CRASH_BATCH=B: abort on every attempt at batch B; B:FILE: only while FILE
// does not exist (it is created first), so the retry succeeds.
bool crash_now(const std::string& spec, std::uint64_t b) {
  const auto colon = spec.find(':');
  if (spec.substr(0, colon) != std::to_string(b)) return false;
  if (colon == std::string::npos) return true;
  const fs::path marker = spec.substr(colon + 1);
  if (fs::exists(marker)) return false;
  std::ofstream(marker) << "crashed\n";
  return true;
}

}  // namespace

int take_protocol_fd() {
  const int out = ::dup(1);
  if (out < 0 || ::dup2(2, 1) < 0) return -1;
  return out;
}

bool serve_batches(const WorkerSetup& w, harness::Target& target, harness::Target* reference,
                   const CaseFiling& filing, std::istream& in, int out) {
  const char* crash_env = std::getenv(kCrashEnv);
  std::string line;
  while (std::getline(in, line)) {
    const auto msg = nlohmann::json::parse(line);
    const std::uint64_t b = msg.at("batch").get<std::uint64_t>();
    std::map<std::string, std::size_t> known =
        msg.at("known").get<std::map<std::string, std::size_t>>();
    if (crash_env && crash_now(crash_env, b)) std::abort();
    if (!run_batch(w, target, reference, filing, b, known, out)) return false;
  }
  return true;
}

}  // namespace hypdiff::campaign
