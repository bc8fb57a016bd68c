#include "harness/check_jobs.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generators/case_gen.hpp"
#include "harness/clock.hpp"

namespace hypdiff::harness {

namespace {

using Json = nlohmann::json;

Json coverage_to_json(const Coverage& c) {
  Json handlers = Json::array();
  for (const Counts& k : c.by_handler) handlers.push_back(k);
  Json hvcs = Json::array();
  for (const auto& [n, k] : c.by_hvc) hvcs.push_back({n, k});
  return {{"handlers", handlers}, {"hvcs", hvcs}};
}

Coverage coverage_from_json(const Json& j) {
  Coverage c;
  const Json& h = j.at("handlers");
  for (std::size_t i = 0; i < c.by_handler.size() && i < h.size(); ++i)
    c.by_handler[i] = h[i].get<Counts>();
  for (const Json& e : j.at("hvcs")) c.by_hvc[e.at(0).get<int>()] = e.at(1).get<Counts>();
  return c;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone; nobody to tell
    done += static_cast<std::size_t>(n);
  }
}

// A worker: its share of the cases, unshrunk; one JSON document on `fd`; then _exit, so no
// destructor of the parent's objects (copied by fork) runs here.
[[noreturn]] void worker(unsigned k, unsigned jobs, pid_t parent_pid, int fd,
                         const std::function<TargetPair()>& make, const CheckOptions& opts) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent_pid) ::_exit(3);  // the parent died before prctl
  Json out;
  int code = 0;
  try {
    TargetPair t = make();
    CheckOptions o = opts;
    o.stride = jobs;
    o.offset = k;
    o.shrink = false;
    const CheckReport r = run_check(*t.target, t.reference.get(), o);
    Json failures = Json::array();
    for (const FoundFailure& f : r.failures)
      failures.push_back({{"index", f.case_index},
                          {"signature", f.failure.signature()},
                          {"count", 1 + f.duplicates}});
    out = {{"cases", r.cases},     {"steps", r.steps},
           {"checks", r.checks},   {"failing_cases", r.failing_cases},
           {"failures", failures}, {"coverage", coverage_to_json(r.coverage)}};
  } catch (const TargetError& e) {
    out = {{"error", e.what()}};
    code = 2;
  } catch (const std::exception& e) {
    out = {{"error", std::string("internal error: ") + e.what()}};
    code = 3;
  }
  write_all(fd, out.dump());
  ::close(fd);
  ::_exit(code);
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::string out;
  int status = 0;
};

std::string death(int status) {
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

// Reads every worker's pipe to its end, then reaps it.
void collect(std::vector<Worker>& ws) {
  std::size_t open = ws.size();
  std::vector<pollfd> fds(ws.size());
  while (open > 0) {
    for (std::size_t i = 0; i < ws.size(); ++i) fds[i] = {ws[i].fd, POLLIN, 0};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw TargetError(std::string("check --jobs: poll: ") + std::strerror(errno));
    }
    for (std::size_t i = 0; i < ws.size(); ++i) {
      if (ws[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      const ssize_t n = ::read(ws[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        ws[i].out.append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(ws[i].fd);
        ws[i].fd = -1;
        --open;
      }
    }
  }
  for (Worker& w : ws)
    while (::waitpid(w.pid, &w.status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

CheckReport run_check_jobs(unsigned jobs, const std::function<TargetPair()>& make,
                           const TargetsNow& parent, const CheckOptions& opts,
                           const CheckCallbacks& cb) {
  if (jobs <= 1) {
    const auto [t, r] = parent();
    return run_check(*t, r, opts, cb);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::fflush(nullptr);  // or the workers would print the parent's buffered text again
  const pid_t self = ::getpid();
  std::vector<Worker> ws;
  for (unsigned k = 0; k < jobs; ++k) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
      throw TargetError(std::string("check --jobs: pipe: ") + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) throw TargetError(std::string("check --jobs: fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::close(p[0]);
      for (const Worker& w : ws) ::close(w.fd);
      worker(k, jobs, self, p[1], make, opts);
    }
    ::close(p[1]);
    ws.push_back({pid, p[0], {}, 0});
  }
  collect(ws);

  CheckReport rep;
  struct First {
    std::uint64_t index;
    std::uint64_t count;
  };
  std::map<std::string, First> firsts;
  for (std::size_t k = 0; k < ws.size(); ++k) {
    const std::string who = fmt::format("check --jobs: worker {} of {}", k + 1, jobs);
    Json j = Json::parse(ws[k].out, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("error"))
      throw TargetError(who + ": " + j["error"].get<std::string>());
    if (!j.is_object() || !WIFEXITED(ws[k].status) || WEXITSTATUS(ws[k].status) != 0)
      throw TargetError(who + " " + death(ws[k].status) + " before reporting");
    rep.cases += j.at("cases").get<std::uint64_t>();
    rep.steps += j.at("steps").get<std::uint64_t>();
    rep.checks += j.at("checks").get<std::uint64_t>();
    rep.failing_cases += j.at("failing_cases").get<std::uint64_t>();
    rep.coverage.merge(coverage_from_json(j.at("coverage")));
    for (const Json& f : j.at("failures")) {
      const auto index = f.at("index").get<std::uint64_t>();
      const auto count = f.at("count").get<std::uint64_t>();
      auto [it, fresh] = firsts.try_emplace(f.at("signature").get<std::string>(), First{index, 0});
      it->second.index = std::min(it->second.index, index);
      it->second.count += count;
    }
  }
  std::vector<First> order;
  for (const auto& [sig, f] : firsts) order.push_back(f);
  std::sort(order.begin(), order.end(),
            [](const First& a, const First& b) { return a.index < b.index; });
  if (opts.max_failures > 0 && order.size() > opts.max_failures) order.resize(opts.max_failures);

  // Each signature's first case, again and shrunk, in this process.
  const auto [target, reference] = parent();
  const generators::GenOptions gen = effective_gen(opts.gen, *target, reference);
  Runner runner(*target, reference, opts.run);
  for (const First& f : order) {
    FoundFailure found;
    found.case_index = f.index;
    found.case_seed = case_seed(opts.seed, f.index);
    found.original = generators::generate_case(gen, found.case_seed);
    const CaseResult r = runner.run(found.original);
    if (!r.failure) {
      throw TargetError(fmt::format(
          "check --jobs: case {} failed in a worker but passes when run again: {} is not "
          "deterministic",
          f.index, target->name()));
    }
    found.original_failure = *r.failure;
    found.failure = *r.failure;
    found.shrunk = found.original;
    found.duplicates = f.count - 1;
    if (opts.shrink) {
      const auto s0 = std::chrono::steady_clock::now();
      ShrunkCase s =
          shrink_case(*target, reference, opts.run, found.original, *r.failure, opts.shrink_opts);
      rep.shrink_seconds += seconds_since(s0);
      found.shrunk = std::move(s.c);
      found.failure = std::move(s.failure);
      found.shrink = s.stats;
    }
    rep.failures.push_back(std::move(found));
    if (cb.found) cb.found(rep.failures.back());
  }
  rep.seconds = seconds_since(t0);
  if (cb.progress) cb.progress({rep.cases, rep.steps, rep.failing_cases, rep.seconds});
  return rep;
}

}  // namespace hypdiff::harness
