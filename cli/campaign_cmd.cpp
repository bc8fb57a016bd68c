// `hypdiff campaign`: a long run split into batches that worker processes run in parallel, with
// every finished batch and every failure in an append-only journal so a killed campaign resumes
// where it stopped; `hypdiff merge`: the shards of one campaign combined. docs/campaign.md.
// The options and their checks are here; the campaign itself is campaign/parent.hpp (the
// parent process) and campaign/worker.hpp (a worker).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "campaign/journal.hpp"
#include "campaign/merge.hpp"
#include "campaign/parent.hpp"
#include "campaign/plan.hpp"
#include "campaign/worker.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace hypdiff::cli {

namespace {

namespace fs = std::filesystem;
using campaign::Config;
using campaign::Journal;

constexpr const char* kVersion = "hypdiff 0.1";

struct CampaignArgs {
  std::string out;
  std::string time;
  std::uint64_t cases = 0;
  unsigned jobs = 0;
  std::string shard = "0/1";
  std::string target = "native";
  std::string against = "model";
  std::uint64_t seed = 1;
  std::uint64_t batch_cases = 200;
  int max_ops = 60;
  int max_vms = 3;
  int hostile = 100;
  std::string step_timeout = "10s";
  std::string shrink_time = "60s";
  std::size_t shrink_candidates = 5000;
  std::string corpus = "corpus/found";
  bool no_corpus = false;
  std::string json;
  bool quiet = false;
  int worker = -1;  // hidden: run as worker number N of a parent campaign
};

// The journal's config for a fresh campaign (the options are already checked).
Config fresh_config(const CampaignArgs& a) {
  Config c;
  const auto shard = campaign::parse_shard(a.shard);
  c.target = a.target;
  c.against = a.against;
  c.seed = a.seed;
  c.shard_index = shard->index;
  c.shard_count = shard->count;
  c.batch_cases = a.batch_cases;
  c.max_ops = a.max_ops;
  c.max_vms = a.max_vms;
  c.hostile = a.hostile;
  c.step_timeout = *parse_duration(a.step_timeout);
  c.hypdiff_version = kVersion;
  return c;
}

// The command line of a worker: the journaled config, and this session's shrink budget.
std::vector<std::string> worker_argv(const CampaignArgs& a, const fs::path& dir, std::size_t id,
                                     const Config& c) {
  return {"/proc/self/exe",
          "campaign",
          "--worker",
          std::to_string(id),
          "--out",
          dir.string(),
          "--target",
          c.target,
          "--against",
          c.against,
          "--seed",
          std::to_string(c.seed),
          "--batch-cases",
          std::to_string(c.batch_cases),
          "--max-ops",
          std::to_string(c.max_ops),
          "--max-vms",
          std::to_string(c.max_vms),
          "--hostile",
          std::to_string(c.hostile),
          "--step-timeout",
          fmt::format("{}", c.step_timeout),
          "--shrink-time",
          a.shrink_time,
          "--shrink-candidates",
          std::to_string(a.shrink_candidates)};
}

// On resume: false, after a one-line error, when an option given contradicts the journal.
bool check_resume(const CLI::App& sub, const CampaignArgs& a, const Config& jc,
                  const fs::path& journal) {
  const Config given = fresh_config(a);
  const auto clash = [&](const char* opt, const std::string& mine, const std::string& theirs) {
    if (sub.get_option(opt)->count() == 0 || mine == theirs) return false;
    std::fprintf(stderr,
                 "hypdiff: %s %s conflicts with %s, which records %s; drop the option to resume "
                 "or use a new --out\n",
                 opt, mine.c_str(), journal.string().c_str(), theirs.c_str());
    return true;
  };
  const auto shard = [](const Config& c) {
    return fmt::format("{}/{}", c.shard_index, c.shard_count);
  };
  return !(
      clash("--target", given.target, jc.target) || clash("--against", given.against, jc.against) ||
      clash("--seed", std::to_string(given.seed), std::to_string(jc.seed)) ||
      clash("--shard", shard(given), shard(jc)) ||
      clash("--batch-cases", std::to_string(given.batch_cases), std::to_string(jc.batch_cases)) ||
      clash("--max-ops", std::to_string(given.max_ops), std::to_string(jc.max_ops)) ||
      clash("--max-vms", std::to_string(given.max_vms), std::to_string(jc.max_vms)) ||
      clash("--hostile", std::to_string(given.hostile), std::to_string(jc.hostile)) ||
      clash("--step-timeout", fmt::format("{}s", given.step_timeout),
            fmt::format("{}s", jc.step_timeout)));
}

int parent_main(const CLI::App& sub, const CampaignArgs& a) {
  if (a.out.empty()) {
    std::fprintf(stderr, "hypdiff: --out DIR is required\n");
    return kExitUsage;
  }
  if (a.time.empty() && a.cases == 0) {
    std::fprintf(stderr, "hypdiff: give --time (e.g. 8h) or --cases N, or both\n");
    return kExitUsage;
  }
  if (!a.time.empty() && !parse_duration(a.time)) {
    std::fprintf(stderr, "hypdiff: --time: '%s' is not a duration (e.g. 90s, 5m, 8h)\n",
                 a.time.c_str());
    return kExitUsage;
  }
  if (!campaign::parse_shard(a.shard)) {
    std::fprintf(stderr, "hypdiff: --shard: '%s' is not i/n with 0 <= i < n (e.g. 0/4)\n",
                 a.shard.c_str());
    return kExitUsage;
  }
  harness::RunOptions probe;
  if (!set_step_timeout(a.step_timeout, probe)) return kExitUsage;
  if (!parse_duration(a.shrink_time)) {
    std::fprintf(stderr, "hypdiff: --shrink-time: '%s' is not a duration (e.g. 30s)\n",
                 a.shrink_time.c_str());
    return kExitUsage;
  }
  if (!json_target_writable(a.json)) return kExitUsage;

  const fs::path dir = a.out;
  const fs::path jfile = dir / "journal.jsonl";
  std::optional<Journal> old;
  try {
    old = campaign::journal_to_resume(jfile);
  } catch (const campaign::JournalError& e) {
    std::fprintf(stderr, "hypdiff: %s\n", e.what());
    return kExitUsage;
  } catch (const campaign::SetupError& e) {
    std::fprintf(stderr, "hypdiff: %s\n", e.what());
    return kExitUsage;
  }
  if (old) {
    if (!check_resume(sub, a, old->config, jfile)) return kExitUsage;
    if (old->config.hypdiff_version != kVersion) {
      std::fprintf(stderr, "hypdiff: warning: %s was started by %s, this is %s\n",
                   jfile.string().c_str(), old->config.hypdiff_version.c_str(), kVersion);
    }
  }
  const Config cfg = old ? old->config : fresh_config(a);
  // The parent checks the targets once so a typo is one error, not a worker crash per batch.
  if (!make_targets(cfg.target, cfg.against)) return kExitUsage;

  campaign::SessionOptions o;
  o.dir = dir;
  o.cases = a.cases;
  if (!a.time.empty()) o.seconds = *parse_duration(a.time);
  // A QEMU worker keeps two cores busy (its vCPU thread polls the ring while the harness
  // checks), so the default is one per two CPUs for it: on 2 cores, 10,000 cases took 14.2 s
  // with one worker and 22.1 s with two (docs/benchmarks.md).
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  o.jobs = a.jobs > 0 ? a.jobs : cfg.target == "qemu" ? std::max(1u, cpus / 2) : cpus;
  if (!a.no_corpus) o.corpus = a.corpus;
  o.quiet = a.quiet;
  o.tty = interactive();
  o.text = a.json == "-" ? stderr : stdout;
  o.worker_argv = [&a, &dir](std::size_t id, const Config& c) {
    return worker_argv(a, dir, id, c);
  };
  campaign::SessionResult r;
  try {
    r = campaign::run_session(o, cfg, std::move(old));
  } catch (const campaign::SetupError& e) {
    std::fprintf(stderr, "hypdiff: %s\n", e.what());
    return kExitUsage;
  }
  campaign::print_summary(o.text, o, r);
  if (!a.json.empty() && !write_json(a.json, campaign::summary_json(o, r))) return kExitUsage;
  if (r.reason == "interrupted") return 128 + SIGINT;
  if (r.reason == "terminated") return 128 + SIGTERM;
  if (r.reason == "error") return kExitInternal;
  if (!r.smallest.empty()) return kExitFail;
  return r.skipped.empty() ? kExitPass : kExitInternal;
}

int worker_main(const CampaignArgs& a) {
  campaign::WorkerSetup w;
  w.cfg = fresh_config(a);
  w.dir = a.out;
  if (!set_step_timeout(a.step_timeout, w.run)) return kExitUsage;
  w.shrink.max_seconds = parse_duration(a.shrink_time).value_or(60);
  w.shrink.max_candidates = a.shrink_candidates;
  w.gen.max_ops = a.max_ops;
  w.gen.max_vms = a.max_vms;
  w.gen.hostile_permille = a.hostile;
  // Only protocol lines go to the parent; anything a target prints goes to stderr.
  const int out = campaign::take_protocol_fd();
  if (out < 0) return kExitInternal;
  auto targets = make_targets(a.target, a.against);
  if (!targets) return kExitUsage;
  w.gen.profile = generation_profile(*targets);
  w.gen.handlers = generation_handlers(*targets);  // what both targets run (all but for qemu)
  const Targets& t = *targets;
  const campaign::CaseFiling filing{
      [&t](const generators::Case& c, const harness::Failure& f, std::vector<std::string> notes) {
        return failure_file(c, f, t, std::move(notes));
      },
      corpus_stem};
  return campaign::serve_batches(w, *t.target, t.reference.get(), filing, std::cin, out)
             ? kExitPass
             : kExitInternal;
}

}  // namespace
Action add_campaign(CLI::App& app) {
  auto a = std::make_shared<CampaignArgs>();
  CLI::App* sub = app.add_subcommand(
      "campaign",
      "Run a long, resumable, parallel check: batches of cases in worker processes, every "
      "result in DIR/journal.jsonl (docs/campaign.md)");
  sub->add_option("--out", a->out,
                  "campaign directory; if it holds a journal, the campaign resumes from it");
  sub->add_option("--time", a->time, "run this session for this long (e.g. 90s, 30m, 8h)");
  sub->add_option("--cases", a->cases,
                  "cases of this shard in all (rounded up to whole batches); the campaign is "
                  "done when they have run")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 48));
  sub->add_option("--jobs", a->jobs,
                  "worker processes (default: one per CPU; one per two CPUs for --target qemu)")
      ->check(CLI::Range(1u, 1024u));
  sub->add_option("--shard", a->shard,
                  "i/n: run only batches b with b % n == i, for spreading one campaign over "
                  "machines (default 0/1)");
  sub->add_option("--target", a->target, "target under test: " + harness::target_names_help());
  sub->add_option("--against", a->against, "reference target, or 'none'");
  sub->add_option("--seed", a->seed, "campaign seed; batch b always runs the same cases");
  sub->add_option("--batch-cases", a->batch_cases, "cases per batch (default 200)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  sub->add_option("--max-ops", a->max_ops, "maximum operations per case")
      ->check(CLI::Range(1, 100000));
  sub->add_option("--max-vms", a->max_vms, "VMs each case tries to create")
      ->check(CLI::Range(0, 254));
  sub->add_option("--hostile", a->hostile, "per-mille share of hostile argument values")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--step-timeout", a->step_timeout, kStepTimeoutHelp);
  sub->add_option("--shrink-time", a->shrink_time, "time budget per shrink (default 60s)");
  sub->add_option("--shrink-candidates", a->shrink_candidates,
                  "candidate budget per shrink (default 5000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  sub->add_option("--corpus", a->corpus,
                  "where the smallest case of each new signature is also saved (default "
                  "corpus/found)");
  sub->add_flag("--no-corpus", a->no_corpus, "do not save found cases to the corpus");
  sub->add_option("--json", a->json, "write a JSON summary to FILE, or - for stdout");
  sub->add_flag("--quiet", a->quiet, "print only the summary");
  sub->add_option("--worker", a->worker, "internal: run as a campaign's worker process")->group("");

  return [a, sub]() -> int { return a->worker < 0 ? parent_main(*sub, *a) : worker_main(*a); };
}

Action add_merge(CLI::App& app) {
  struct MergeArgs {
    std::string out;
    std::vector<std::string> dirs;
  };
  auto a = std::make_shared<MergeArgs>();
  CLI::App* sub = app.add_subcommand(
      "merge", "Combine the shard directories of one campaign into one (docs/campaign.md)");
  sub->add_option("--out", a->out, "new directory for the merged journal and case files")
      ->required();
  sub->add_option("dirs", a->dirs, "shard directories (each with a journal.jsonl)")->required();
  return [a]() -> int {
    std::vector<fs::path> dirs(a->dirs.begin(), a->dirs.end());
    campaign::MergeResult r;
    try {
      r = campaign::merge_campaigns(dirs, a->out);
    } catch (const campaign::JournalError& e) {
      std::fprintf(stderr, "hypdiff: merge: %s\n", e.what());
      return kExitUsage;
    } catch (const campaign::MergeError& e) {
      std::fprintf(stderr, "hypdiff: merge: %s\n", e.what());
      return kExitUsage;
    } catch (const fs::filesystem_error& e) {
      std::fprintf(stderr, "hypdiff: merge: %s\n", e.what());
      return kExitUsage;
    }
    const Journal& j = r.journal;
    const auto list = [](const std::vector<std::uint64_t>& v) {
      return fmt::format("{}", fmt::join(v, ", "));
    };
    fmt::print("merged shards {} of {} into {}: {} batches, {} cases, {} steps, {} case files\n",
               list(r.shards), j.merged_shard_count, (fs::path(a->out) / "journal.jsonl").string(),
               j.batches.size(), j.cases(), j.steps(), r.case_files);
    if (!r.missing.empty()) fmt::print("missing shards: {}\n", list(r.missing));
    for (const auto& u : r.unfinished) fmt::print("unfinished: {}\n", u);
    const auto smallest = j.smallest();
    fmt::print("{} distinct failures\n", smallest.size());
    for (const auto& [sig, f] : smallest) {
      fmt::print("  {}  {} ops  {}\n", sig, f.length, (fs::path(a->out) / f.case_file).string());
    }
    return kExitPass;
  };
}

}  // namespace hypdiff::cli
