// `hypdiff campaign`: a long run split into batches that worker processes run in parallel, with
// every finished batch and every failure in an append-only journal so a killed campaign resumes
// where it stopped; `hypdiff merge`: the shards of one campaign combined. docs/campaign.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "campaign/journal.hpp"
#include "campaign/merge.hpp"
#include "campaign/plan.hpp"
#include "campaign/records.hpp"
#include "campaign/workers.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "corpus/case_file.hpp"
#include "generators/case_gen.hpp"
#include "harness/check.hpp"

namespace hypdiff::cli {

namespace {

namespace fs = std::filesystem;
using campaign::Config;
using campaign::Journal;
using campaign::JournalWriter;

constexpr const char* kVersion = "hypdiff 0.1";
// Test hook (docs/campaign.md): a worker given this batch aborts, to exercise crash handling.
constexpr const char* kCrashEnv = "HYPDIFF_CAMPAIGN_CRASH_BATCH";

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

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// Worker side: batch numbers in on stdin, failure and batch records out, one JSON line each.

struct WorkerSetup {
  Config cfg;
  harness::RunOptions run;
  shrinkers::ShrinkOptions shrink;
  generators::GenOptions gen;
  fs::path dir;
};

std::vector<std::string> case_notes(const WorkerSetup& w, const Targets& t, std::uint64_t batch,
                                    std::uint64_t index, std::uint64_t cs, std::size_t ops) {
  const Config& c = w.cfg;
  const std::string timeout =
      c.step_timeout == 10 ? "" : fmt::format(" --step-timeout {}", c.step_timeout);
  return {
      fmt::format("found by: hypdiff campaign --target {} --against {} --seed {} --batch-cases {} "
                  "--max-ops {} --max-vms {} --hostile {}{} (batch {}, case {}, case seed {:#x}, "
                  "{} operations)",
                  t.target->name(), t.against_name(), c.seed, c.batch_cases, c.max_ops, c.max_vms,
                  c.hostile, timeout, batch, index, cs, ops),
      fmt::format("the same case unshrunk: hypdiff check --target {} --against {} --seed {} "
                  "--max-ops {} --max-vms {} --hostile {}{} --cases {} (its last case)",
                  t.target->name(), t.against_name(), c.seed, c.max_ops, c.max_vms, c.hostile,
                  timeout, index + 1),
      "reproduce: hypdiff replay THIS_FILE --expect"};
}

// Runs batch `b` and sends its failures and then its batch record to `out`.
bool run_batch(const WorkerSetup& w, Targets& t, std::uint64_t b,
               std::map<std::string, std::size_t>& known, int out) {
  const auto t0 = std::chrono::steady_clock::now();
  harness::Runner runner(*t.target, t.reference.get(), w.run);
  campaign::Batch rec;
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
        harness::shrink_case(*t.target, t.reference.get(), w.run, c, *r.failure, w.shrink);
    std::vector<std::string> notes = case_notes(w, t, b, i, cs, c.ops.size());
    notes.push_back(fmt::format("shrunk from {} to {} operations in {:.2f} s ({} candidates)",
                                s.stats.original_ops, s.stats.final_ops, s.stats.seconds,
                                s.stats.candidates));
    const std::string stem = corpus_stem(s.failure);
    const fs::path file =
        corpus::save_to_corpus(w.dir / "cases", stem, failure_file(s.c, s.failure, t, notes));
    campaign::FailureEntry f;
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
    nlohmann::json j = campaign::failure_to_json(f);
    j["stem"] = stem;
    if (!campaign::send_line(out, j.dump() + "\n")) return false;
    known[sig] = f.length;
  }
  rec.coverage = runner.coverage();
  rec.seconds = since(t0);
  return campaign::send_line(out, campaign::batch_to_json(rec).dump() + "\n");
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

int worker_main(const CampaignArgs& a, const WorkerSetup& setup) {
  // Only protocol lines go to the parent; anything a target prints goes to stderr.
  const int out = ::dup(1);
  if (out < 0 || ::dup2(2, 1) < 0) return kExitInternal;
  auto targets = make_targets(a.target, a.against);
  if (!targets) return kExitUsage;
  WorkerSetup w = setup;
  w.gen.profile = generation_profile(*targets);
  const char* crash_env = std::getenv(kCrashEnv);
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto msg = nlohmann::json::parse(line);
    const std::uint64_t b = msg.at("batch").get<std::uint64_t>();
    std::map<std::string, std::size_t> known =
        msg.at("known").get<std::map<std::string, std::size_t>>();
    if (crash_env && crash_now(crash_env, b)) std::abort();
    if (!run_batch(w, *targets, b, known, out)) return kExitInternal;
  }
  return kExitPass;
}

// ---------------------------------------------------------------------------------------------
// Parent side.

int g_signal_pipe[2] = {-1, -1};
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  const char c = 1;
  [[maybe_unused]] const auto n = ::write(g_signal_pipe[1], &c, 1);
}

struct Slot {
  campaign::WorkerProcess proc;
  std::string buf;
  std::optional<std::uint64_t> batch;
};

struct Summary {
  std::uint64_t batches = 0;
  std::uint64_t cases = 0;
  std::uint64_t steps = 0;
  std::uint64_t crashes = 0;
};

class Campaign {
 public:
  Campaign(const CampaignArgs& a, fs::path dir, Journal j, JournalWriter& w, bool tty,
           std::FILE* text)
      : a_(a), dir_(std::move(dir)), j_(std::move(j)), w_(w), tty_(tty), text_(text) {
    done_ = j_.done_batches();
    skipped_ = campaign::skipped_batches(j_);
    for (const auto& c : j_.crashes) ++deaths_[c.batch];
    smallest_ = j_.smallest();
    base_at_ = j_.elapsed;
    if (a_.cases > 0) limit_ = campaign::batches_for_cases(j_.config, a_.cases);
    if (!a_.time.empty()) seconds_ = *parse_duration(a_.time);
  }

  // Runs until done, out of time or signalled; returns the stop reason.
  std::string run(unsigned jobs);
  const Summary& session() const { return session_; }
  const Journal& journal() const { return j_; }
  const std::set<std::uint64_t>& skipped() const { return skipped_; }
  const std::map<std::string, campaign::FailureEntry>& smallest() const { return smallest_; }
  const std::map<std::string, std::string>& corpus_files() const { return corpus_files_; }
  double seconds() const { return since(t0_); }
  double at() const { return base_at_ + since(t0_); }

 private:
  std::optional<std::uint64_t> next_batch();
  bool spawn(std::size_t id);
  void assign(std::size_t id);
  void handle_line(std::size_t id, const std::string& line);
  void worker_died(std::size_t id, const std::string& reason);
  void stop_all();
  void progress();
  void say(const std::string& text);

  const CampaignArgs& a_;
  fs::path dir_;
  Journal j_;
  JournalWriter& w_;
  bool tty_;
  std::FILE* text_;  // failures go where the summary goes; worker trouble to stderr
  std::vector<Slot> slots_;
  std::set<std::uint64_t> done_, skipped_, in_flight_;
  std::map<std::uint64_t, int> deaths_;
  std::deque<std::uint64_t> retry_;
  std::uint64_t k_next_ = 0;
  std::uint64_t limit_ = std::numeric_limits<std::uint64_t>::max();
  double seconds_ = 0;
  std::map<std::string, campaign::FailureEntry> smallest_;
  std::map<std::string, std::string> corpus_files_;
  double base_at_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  Summary session_;
  int deaths_in_a_row_ = 0;
  double last_draw_ = -1;
};

std::optional<std::uint64_t> Campaign::next_batch() {
  while (!retry_.empty()) {
    const std::uint64_t b = retry_.front();
    retry_.pop_front();
    if (!done_.contains(b) && !skipped_.contains(b)) return b;
  }
  while (k_next_ < limit_) {
    const std::uint64_t b = campaign::shard_batch(j_.config, k_next_++);
    if (!done_.contains(b) && !skipped_.contains(b) && !in_flight_.contains(b)) return b;
  }
  return std::nullopt;
}

bool Campaign::spawn(std::size_t id) {
  const Config& c = j_.config;
  const std::vector<std::string> argv = {"/proc/self/exe",
                                         "campaign",
                                         "--worker",
                                         std::to_string(id),
                                         "--out",
                                         dir_.string(),
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
                                         a_.shrink_time,
                                         "--shrink-candidates",
                                         std::to_string(a_.shrink_candidates)};
  try {
    slots_[id].proc = campaign::spawn_worker(argv);
  } catch (const std::system_error& e) {
    say(fmt::format("hypdiff: cannot start a worker: {}", e.what()));
    return false;
  }
  slots_[id].buf.clear();
  slots_[id].batch.reset();
  return true;
}

void Campaign::assign(std::size_t id) {
  Slot& s = slots_[id];
  const auto b = next_batch();
  if (!b) return;
  nlohmann::json known = nlohmann::json::object();
  for (const auto& [sig, f] : smallest_) known[sig] = f.length;
  s.batch = *b;
  in_flight_.insert(*b);
  // A worker that is gone shows up as end of file on its pipe; that path retries the batch.
  campaign::send_line(s.proc.to, nlohmann::json{{"batch", *b}, {"known", known}}.dump() + "\n");
}

void Campaign::say(const std::string& text) {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
}

void Campaign::handle_line(std::size_t id, const std::string& line) {
  Slot& s = slots_[id];
  const auto j = nlohmann::json::parse(line);
  const std::string type = j.at("type").get<std::string>();
  if (type == "failure") {
    campaign::FailureEntry f = campaign::failure_from_json(j);
    f.at = at();
    w_.failure(f);
    j_.failures.push_back(f);
    auto it = smallest_.find(f.signature);
    const bool smaller = it == smallest_.end() || f.length < it->second.length;
    if (!smaller) return;
    smallest_[f.signature] = f;
    std::string saved;
    if (!a_.no_corpus) {
      try {
        const auto file = corpus::load_case(dir_ / f.case_file);
        saved = corpus::save_to_corpus(a_.corpus, j.value("stem", "campaign"), file).string();
        corpus_files_[f.signature] = saved;
      } catch (const std::exception& e) {
        say(fmt::format("hypdiff: cannot save to the corpus: {}", e.what()));
      }
    }
    if (!a_.quiet) {
      if (tty_) std::fprintf(stderr, "\r\033[K");
      fmt::print(text_, "failure {}: {} operations (from {}), batch {}\n  {}\n  saved {}{}\n",
                 f.signature, f.length, f.original_length, f.batch, f.summary,
                 (dir_ / f.case_file).string(), saved.empty() ? "" : " and " + saved);
      std::fflush(text_);
    }
  } else if (type == "batch") {
    campaign::Batch b = campaign::batch_from_json(j);
    if (!s.batch || b.batch != *s.batch)
      throw campaign::BadRecord(fmt::format("a record for batch {} it was not given", b.batch));
    b.at = at();
    b.worker = static_cast<int>(id);
    w_.batch(b);
    j_.batches.push_back(b);
    done_.insert(b.batch);
    in_flight_.erase(b.batch);
    s.batch.reset();
    ++session_.batches;
    session_.cases += b.cases;
    session_.steps += b.steps;
    deaths_in_a_row_ = 0;
  } else {
    throw campaign::BadRecord("unknown record type '" + type + "'");
  }
}

void Campaign::worker_died(std::size_t id, const std::string& reason) {
  Slot& s = slots_[id];
  ::close(s.proc.to);
  ::close(s.proc.from);
  s.proc = {};
  ++session_.crashes;
  ++deaths_in_a_row_;
  if (s.batch) {
    const std::uint64_t b = *s.batch;
    in_flight_.erase(b);
    campaign::WorkerCrash c{static_cast<int>(id), b, reason, at()};
    w_.crash(c);
    j_.crashes.push_back(c);
    if (++deaths_[b] >= campaign::kBatchAttempts) {
      skipped_.insert(b);
      say(fmt::format("hypdiff: worker {} {} on batch {} again; batch {} skipped", id, reason, b,
                      b));
    } else {
      retry_.push_front(b);
      say(fmt::format("hypdiff: worker {} {} on batch {}; retrying it", id, reason, b));
    }
  } else {
    say(fmt::format("hypdiff: worker {} {} while idle", id, reason));
  }
  s.batch.reset();
}

void Campaign::stop_all() {
  for (auto& s : slots_) {
    if (s.proc.pid <= 0) continue;
    ::kill(s.proc.pid, SIGKILL);
    int st = 0;
    while (::waitpid(s.proc.pid, &st, 0) < 0 && errno == EINTR) {
    }
    ::close(s.proc.to);
    ::close(s.proc.from);
    s.proc = {};
  }
}

void Campaign::progress() {
  const double t = since(t0_);
  if (!tty_ || t - last_draw_ < 0.2) return;
  last_draw_ = t;
  std::fprintf(stderr,
               "\r\033[K%zu batches, %llu cases, %.0f steps/s, %zu signatures, %llu worker "
               "crashes, %.0f s",
               done_.size(), static_cast<unsigned long long>(j_.cases()),
               t > 0 ? double(session_.steps) / t : 0.0, smallest_.size(),
               static_cast<unsigned long long>(j_.crashes.size()), at());
}

std::string Campaign::run(unsigned jobs) {
  slots_.resize(jobs);
  std::string reason;
  for (std::size_t i = 0; i < jobs && reason.empty(); ++i) {
    if (spawn(i))
      assign(i);
    else
      reason = "error";
  }
  while (reason.empty()) {
    if (g_signal != 0) {
      reason = g_signal == SIGINT ? "interrupted" : "terminated";
      break;
    }
    if (seconds_ > 0 && since(t0_) >= seconds_) {
      reason = "time";
      break;
    }
    bool busy = false;
    for (const auto& s : slots_) busy = busy || s.batch.has_value();
    if (!busy) {
      reason = "done";
      break;
    }
    if (deaths_in_a_row_ > 2 * static_cast<int>(jobs) + 2) {
      say("hypdiff: workers keep dying without finishing a batch; stopping");
      reason = "error";
      break;
    }
    std::vector<pollfd> fds;
    fds.push_back({g_signal_pipe[0], POLLIN, 0});
    for (const auto& s : slots_) fds.push_back({s.proc.from, POLLIN, 0});
    const int timeout = seconds_ > 0 ? 100 : 200;
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "poll");
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (fds[i + 1].revents == 0) continue;
      Slot& s = slots_[i];
      char buf[65536];
      const ssize_t n = ::read(s.proc.from, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::string why;
      if (n > 0) {
        s.buf.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while (why.empty() && (nl = s.buf.find('\n')) != std::string::npos) {
          const std::string line = s.buf.substr(0, nl);
          s.buf.erase(0, nl + 1);
          try {
            handle_line(i, line);
          } catch (const std::exception& e) {
            why = fmt::format("sent a bad record ({})", e.what());
            ::kill(s.proc.pid, SIGKILL);
          }
        }
        if (why.empty()) {
          if (!s.batch) assign(i);
          continue;
        }
      }
      int st = 0;
      while (::waitpid(s.proc.pid, &st, 0) < 0 && errno == EINTR) {
      }
      if (why.empty()) why = campaign::describe_exit(st);
      worker_died(i, why);
      if (!spawn(i)) {
        reason = "error";
        break;
      }
      assign(i);
    }
    progress();
  }
  stop_all();
  if (tty_) std::fprintf(stderr, "\r\033[K");
  w_.stop(reason, at());
  j_.stop_reason = reason;
  return reason;
}

// The journal's config for a fresh campaign, or nullopt after a one-line error.
std::optional<Config> fresh_config(const CampaignArgs& a) {
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

// On resume: the journaled config, after checking that no option given contradicts it.
bool check_resume(const CLI::App& sub, const CampaignArgs& a, const Config& jc,
                  const fs::path& journal) {
  const Config given = *fresh_config(a);
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

// True when the file holds at least one whole line (a campaign killed before its start record
// was complete left nothing to resume).
bool has_records(const fs::path& journal) {
  std::error_code ec;
  if (!fs::exists(journal, ec)) return false;
  std::ifstream in(journal, std::ios::binary);
  std::string line;
  return static_cast<bool>(std::getline(in, line)) && !in.eof();
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
  if (has_records(jfile)) {
    try {
      old = campaign::read_journal(jfile);
    } catch (const campaign::JournalError& e) {
      std::fprintf(stderr, "hypdiff: %s\n", e.what());
      return kExitUsage;
    }
    if (old->merged_shard_count > 0) {
      std::fprintf(stderr,
                   "hypdiff: %s is a merge of shards; resume the shard directories instead\n",
                   jfile.string().c_str());
      return kExitUsage;
    }
    if (!check_resume(sub, a, old->config, jfile)) return kExitUsage;
    if (old->config.hypdiff_version != kVersion) {
      std::fprintf(stderr, "hypdiff: warning: %s was started by %s, this is %s\n",
                   jfile.string().c_str(), old->config.hypdiff_version.c_str(), kVersion);
    }
  }
  const Config cfg = old ? old->config : *fresh_config(a);
  // The parent checks the targets once so a typo is one error, not a worker crash per batch.
  if (!make_targets(cfg.target, cfg.against)) return kExitUsage;

  std::error_code ec;
  fs::create_directories(dir / "cases", ec);
  if (ec) {
    std::fprintf(stderr, "hypdiff: cannot create %s: %s\n", (dir / "cases").string().c_str(),
                 ec.message().c_str());
    return kExitUsage;
  }
  std::unique_ptr<JournalWriter> writer;
  try {
    // Opening cuts a torn last line; a journal without one whole line is then empty.
    writer = std::make_unique<JournalWriter>(jfile);
    if (old)
      writer->resume();
    else
      writer->start(cfg);
  } catch (const campaign::JournalError& e) {
    std::fprintf(stderr, "hypdiff: %s\n", e.what());
    return kExitUsage;
  }
  Journal j;
  if (old)
    j = std::move(*old);
  else
    j.config = cfg;

  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return kExitInternal;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const unsigned jobs = a.jobs > 0 ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  const bool tty = interactive();
  std::FILE* text = a.json == "-" ? stderr : stdout;
  if (!a.quiet) {
    fmt::print(text, "hypdiff campaign {}: {} {} against {}, seed {}, shard {}/{}, {} workers\n",
               dir.string(), j.batches.empty() && j.sessions.size() <= 1 ? "starting" : "resuming",
               cfg.target, cfg.against, cfg.seed, cfg.shard_index, cfg.shard_count, jobs);
    std::fflush(text);
  }
  Campaign c(a, dir, std::move(j), *writer, tty, text);
  const std::string reason = c.run(jobs);

  const Journal& jr = c.journal();
  const Summary& s = c.session();
  const double secs = c.seconds();
  const double sps = secs > 0 ? double(s.steps) / secs : 0;
  fmt::print(
      text,
      "campaign {}: {}\n  this session: {} batches, {} cases, {} steps in {:.1f} s "
      "({:.0f} steps/s with {} workers)\n  in all: {} batches, {} cases, {} steps, {:.1f} s; "
      "{} worker crashes, {} batches skipped\n",
      dir.string(), reason, s.batches, s.cases, s.steps, secs, sps, jobs, jr.batches.size(),
      jr.cases(), jr.steps(), c.at(), jr.crashes.size(), c.skipped().size());
  fmt::print(text, "  {} distinct failures\n", c.smallest().size());
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& [sig, f] : c.smallest()) {
    const std::string file = (dir / f.case_file).string();
    fmt::print(text, "    {}  {} ops (from {})  {}\n", sig, f.length, f.original_length, file);
    nlohmann::json fj = {{"signature", sig},
                         {"length", f.length},
                         {"original_length", f.original_length},
                         {"batch", f.batch},
                         {"file", file}};
    if (auto it = c.corpus_files().find(sig); it != c.corpus_files().end())
      fj["corpus_file"] = it->second;
    failures.push_back(std::move(fj));
  }
  if (!c.smallest().empty()) fmt::print(text, "  replay: ./hypdiff replay FILE\n");
  if (!a.json.empty()) {
    nlohmann::json out = {{"dir", dir.string()},
                          {"stop", reason},
                          {"config", campaign::config_to_json(cfg)},
                          {"session",
                           {{"batches", s.batches},
                            {"cases", s.cases},
                            {"steps", s.steps},
                            {"seconds", secs},
                            {"steps_per_second", sps},
                            {"workers", jobs},
                            {"worker_crashes", s.crashes}}},
                          {"batches", jr.batches.size()},
                          {"cases", jr.cases()},
                          {"steps", jr.steps()},
                          {"seconds", c.at()},
                          {"worker_crashes", jr.crashes.size()},
                          {"skipped_batches", c.skipped()},
                          {"failures", failures}};
    if (!write_json(a.json, out)) return kExitUsage;
  }
  if (reason == "interrupted") return 128 + SIGINT;
  if (reason == "terminated") return 128 + SIGTERM;
  if (reason == "error") return kExitInternal;
  if (!c.smallest().empty()) return kExitFail;
  return c.skipped().empty() ? kExitPass : kExitInternal;
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
  sub->add_option("--jobs", a->jobs, "worker processes (default: one per CPU)")
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

  return [a, sub]() -> int {
    if (a->worker < 0) return parent_main(*sub, *a);
    WorkerSetup w;
    w.cfg = *fresh_config(*a);
    w.dir = a->out;
    if (!set_step_timeout(a->step_timeout, w.run)) return kExitUsage;
    w.shrink.max_seconds = parse_duration(a->shrink_time).value_or(60);
    w.shrink.max_candidates = a->shrink_candidates;
    w.gen.max_ops = a->max_ops;
    w.gen.max_vms = a->max_vms;
    w.gen.hostile_permille = a->hostile;
    return worker_main(*a, w);
  };
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
