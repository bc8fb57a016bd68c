#include "campaign/parent.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <fstream>
#include <limits>
#include <memory>
#include <system_error>

#include "campaign/plan.hpp"
#include "campaign/records.hpp"
#include "campaign/workers.hpp"
#include "corpus/case_file.hpp"

namespace hypdiff::campaign {
namespace {

namespace fs = std::filesystem;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int g_signal_pipe[2] = {-1, -1};
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  const char c = 1;
  [[maybe_unused]] const auto n = ::write(g_signal_pipe[1], &c, 1);
}

// SIGINT and SIGTERM end the session through the poll loop; a worker gone is EPIPE, not death.
void install_signal_handlers() {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::system_error(errno, std::generic_category(), "signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

struct Slot {
  WorkerProcess proc;
  std::string buf;
  std::optional<std::uint64_t> batch;
};

class Campaign {
 public:
  Campaign(const SessionOptions& o, Journal j, JournalWriter& w) : o_(o), j_(std::move(j)), w_(w) {
    done_ = j_.done_batches();
    skipped_ = skipped_batches(j_);
    for (const auto& c : j_.crashes) ++deaths_[c.batch];
    smallest_ = j_.smallest();
    base_at_ = j_.elapsed;
    if (o_.cases > 0) limit_ = batches_for_cases(j_.config, o_.cases);
  }

  // Runs until done, out of time or signalled; returns the stop reason.
  std::string run();
  SessionResult result(std::string reason) &&;

 private:
  double at() const { return base_at_ + since(t0_); }
  std::optional<std::uint64_t> next_batch();
  bool spawn(std::size_t id);
  void assign(std::size_t id);
  void handle_line(std::size_t id, const std::string& line);
  void worker_died(std::size_t id, const std::string& reason);
  void stop_all();
  void progress();
  void say(const std::string& text);

  const SessionOptions& o_;
  Journal j_;
  JournalWriter& w_;
  std::vector<Slot> slots_;
  std::set<std::uint64_t> done_, skipped_, in_flight_;
  std::map<std::uint64_t, int> deaths_;
  std::deque<std::uint64_t> retry_;
  std::uint64_t k_next_ = 0;
  std::uint64_t limit_ = std::numeric_limits<std::uint64_t>::max();
  std::map<std::string, FailureEntry> smallest_;
  std::map<std::string, std::string> corpus_files_;
  double base_at_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  SessionTotals session_;
  int deaths_in_a_row_ = 0;
  double last_draw_ = -1;
};

SessionResult Campaign::result(std::string reason) && {
  SessionResult r;
  r.reason = std::move(reason);
  r.session = session_;
  r.seconds = since(t0_);
  r.at = at();
  r.journal = std::move(j_);
  r.skipped = std::move(skipped_);
  r.smallest = std::move(smallest_);
  r.corpus_files = std::move(corpus_files_);
  return r;
}

std::optional<std::uint64_t> Campaign::next_batch() {
  while (!retry_.empty()) {
    const std::uint64_t b = retry_.front();
    retry_.pop_front();
    if (!done_.contains(b) && !skipped_.contains(b)) return b;
  }
  while (k_next_ < limit_) {
    const std::uint64_t b = shard_batch(j_.config, k_next_++);
    if (!done_.contains(b) && !skipped_.contains(b) && !in_flight_.contains(b)) return b;
  }
  return std::nullopt;
}

bool Campaign::spawn(std::size_t id) {
  try {
    slots_[id].proc = spawn_worker(o_.worker_argv(id, j_.config));
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
  send_line(s.proc.to, nlohmann::json{{"batch", *b}, {"known", known}}.dump() + "\n");
}

void Campaign::say(const std::string& text) {
  if (o_.tty) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
}

void Campaign::handle_line(std::size_t id, const std::string& line) {
  Slot& s = slots_[id];
  const auto j = nlohmann::json::parse(line);
  const std::string type = j.at("type").get<std::string>();
  if (type == "failure") {
    FailureEntry f = failure_from_json(j);
    f.at = at();
    w_.failure(f);
    j_.failures.push_back(f);
    auto it = smallest_.find(f.signature);
    const bool smaller = it == smallest_.end() || f.length < it->second.length;
    if (!smaller) return;
    smallest_[f.signature] = f;
    std::string saved;
    if (o_.corpus) {
      try {
        const auto file = corpus::load_case(o_.dir / f.case_file);
        saved = corpus::save_to_corpus(*o_.corpus, j.value("stem", "campaign"), file).string();
        corpus_files_[f.signature] = saved;
      } catch (const std::exception& e) {
        say(fmt::format("hypdiff: cannot save to the corpus: {}", e.what()));
      }
    }
    if (!o_.quiet) {
      if (o_.tty) std::fprintf(stderr, "\r\033[K");
      fmt::print(o_.text, "failure {}: {} operations (from {}), batch {}\n  {}\n  saved {}{}\n",
                 f.signature, f.length, f.original_length, f.batch, f.summary,
                 (o_.dir / f.case_file).string(), saved.empty() ? "" : " and " + saved);
      std::fflush(o_.text);
    }
  } else if (type == "batch") {
    Batch b = batch_from_json(j);
    if (!s.batch || b.batch != *s.batch)
      throw BadRecord(fmt::format("a record for batch {} it was not given", b.batch));
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
    throw BadRecord("unknown record type '" + type + "'");
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
    WorkerCrash c{static_cast<int>(id), b, reason, at()};
    w_.crash(c);
    j_.crashes.push_back(c);
    if (++deaths_[b] >= kBatchAttempts) {
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
  if (!o_.tty || t - last_draw_ < 0.2) return;
  last_draw_ = t;
  std::fprintf(stderr,
               "\r\033[K%zu batches, %llu cases, %.0f steps/s, %zu signatures, %llu worker "
               "crashes, %.0f s",
               done_.size(), static_cast<unsigned long long>(j_.cases()),
               t > 0 ? double(session_.steps) / t : 0.0, smallest_.size(),
               static_cast<unsigned long long>(j_.crashes.size()), at());
}

std::string Campaign::run() {
  const unsigned jobs = o_.jobs;
  const double seconds = o_.seconds;
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
    if (seconds > 0 && since(t0_) >= seconds) {
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
    const int timeout = seconds > 0 ? 100 : 200;
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
      if (why.empty()) why = describe_exit(st);
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
  if (o_.tty) std::fprintf(stderr, "\r\033[K");
  w_.stop(reason, at());
  j_.stop_reason = reason;
  return reason;
}

// True when the file holds at least one whole line.
bool has_records(const fs::path& journal) {
  std::error_code ec;
  if (!fs::exists(journal, ec)) return false;
  std::ifstream in(journal, std::ios::binary);
  std::string line;
  return static_cast<bool>(std::getline(in, line)) && !in.eof();
}

}  // namespace

std::optional<Journal> journal_to_resume(const fs::path& file) {
  if (!has_records(file)) return std::nullopt;
  Journal j = read_journal(file);
  if (j.merged_shard_count > 0) {
    throw SetupError(fmt::format("{} is a merge of shards; resume the shard directories instead",
                                 file.string()));
  }
  return j;
}

SessionResult run_session(const SessionOptions& o, const Config& cfg,
                          std::optional<Journal> resumed) {
  std::error_code ec;
  fs::create_directories(o.dir / "cases", ec);
  if (ec)
    throw SetupError(fmt::format("cannot create {}: {}", (o.dir / "cases").string(), ec.message()));
  std::unique_ptr<JournalWriter> writer;
  try {
    // Opening cuts a torn last line; a journal without one whole line is then empty.
    writer = std::make_unique<JournalWriter>(o.dir / "journal.jsonl");
    if (resumed)
      writer->resume();
    else
      writer->start(cfg);
  } catch (const JournalError& e) {
    throw SetupError(e.what());  // later journal errors are internal ones
  }
  Journal j;
  if (resumed)
    j = std::move(*resumed);
  else
    j.config = cfg;

  install_signal_handlers();
  if (!o.quiet) {
    fmt::print(o.text, "hypdiff campaign {}: {} {} against {}, seed {}, shard {}/{}, {} workers\n",
               o.dir.string(),
               j.batches.empty() && j.sessions.size() <= 1 ? "starting" : "resuming", cfg.target,
               cfg.against, cfg.seed, cfg.shard_index, cfg.shard_count, o.jobs);
    std::fflush(o.text);
  }
  Campaign c(o, std::move(j), *writer);
  std::string reason = c.run();
  return std::move(c).result(std::move(reason));
}

void print_summary(std::FILE* out, const SessionOptions& o, const SessionResult& r) {
  const Journal& jr = r.journal;
  const SessionTotals& s = r.session;
  const double sps = r.seconds > 0 ? double(s.steps) / r.seconds : 0;
  fmt::print(out,
             "campaign {}: {}\n  this session: {} batches, {} cases, {} steps in {:.1f} s "
             "({:.0f} steps/s with {} workers)\n  in all: {} batches, {} cases, {} steps, {:.1f} "
             "s; {} worker crashes, {} batches skipped\n",
             o.dir.string(), r.reason, s.batches, s.cases, s.steps, r.seconds, sps, o.jobs,
             jr.batches.size(), jr.cases(), jr.steps(), r.at, jr.crashes.size(), r.skipped.size());
  fmt::print(out, "  {} distinct failures\n", r.smallest.size());
  for (const auto& [sig, f] : r.smallest) {
    fmt::print(out, "    {}  {} ops (from {})  {}\n", sig, f.length, f.original_length,
               (o.dir / f.case_file).string());
  }
  if (!r.smallest.empty()) fmt::print(out, "  replay: ./hypdiff replay FILE\n");
}

nlohmann::json summary_json(const SessionOptions& o, const SessionResult& r) {
  const Journal& jr = r.journal;
  const SessionTotals& s = r.session;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& [sig, f] : r.smallest) {
    nlohmann::json fj = {{"signature", sig},
                         {"length", f.length},
                         {"original_length", f.original_length},
                         {"batch", f.batch},
                         {"file", (o.dir / f.case_file).string()}};
    if (auto it = r.corpus_files.find(sig); it != r.corpus_files.end())
      fj["corpus_file"] = it->second;
    failures.push_back(std::move(fj));
  }
  return {{"dir", o.dir.string()},
          {"stop", r.reason},
          {"config", config_to_json(jr.config)},
          {"session",
           {{"batches", s.batches},
            {"cases", s.cases},
            {"steps", s.steps},
            {"seconds", r.seconds},
            {"steps_per_second", r.seconds > 0 ? double(s.steps) / r.seconds : 0},
            {"workers", o.jobs},
            {"worker_crashes", s.crashes}}},
          {"batches", jr.batches.size()},
          {"cases", jr.cases()},
          {"steps", jr.steps()},
          {"seconds", r.at},
          {"worker_crashes", jr.crashes.size()},
          {"skipped_batches", r.skipped},
          {"failures", failures}};
}

}  // namespace hypdiff::campaign
