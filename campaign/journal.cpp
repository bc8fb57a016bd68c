#include "campaign/journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "campaign/coverage_json.hpp"
#include "campaign/records.hpp"

namespace hypdiff::campaign {
namespace {

using nlohmann::json;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const json& field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) throw BadRecord(fmt::format("missing field '{}'", name));
  return *it;
}
std::string get_string(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_string()) throw BadRecord(fmt::format("field '{}' must be a string", name));
  return v.get<std::string>();
}
std::uint64_t get_u64(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_number_unsigned())
    throw BadRecord(fmt::format("field '{}' must be an unsigned integer", name));
  return v.get<std::uint64_t>();
}
int get_int(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_number_integer()) throw BadRecord(fmt::format("field '{}' must be an integer", name));
  const auto n = v.get<std::int64_t>();
  if (n < INT_MIN || n > INT_MAX) throw BadRecord(fmt::format("field '{}' is out of range", name));
  return static_cast<int>(n);
}
double get_double(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_number()) throw BadRecord(fmt::format("field '{}' must be a number", name));
  return v.get<double>();
}
std::vector<std::string> get_strings(const json& j, const char* name) {
  const json& v = field(j, name);
  std::vector<std::string> out;
  if (!v.is_array()) throw BadRecord(fmt::format("field '{}' must be an array", name));
  for (const auto& e : v) {
    if (!e.is_string()) throw BadRecord(fmt::format("field '{}' must hold strings", name));
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

json config_to_json(const Config& c) {
  return {{"target", c.target},
          {"against", c.against},
          {"seed", c.seed},
          {"shard_index", c.shard_index},
          {"shard_count", c.shard_count},
          {"batch_cases", c.batch_cases},
          {"max_ops", c.max_ops},
          {"max_vms", c.max_vms},
          {"hostile", c.hostile},
          {"step_timeout", c.step_timeout},
          {"hypdiff_version", c.hypdiff_version}};
}

Config config_from_json(const json& j) {
  if (!j.is_object()) throw BadRecord("field 'config' must be an object");
  Config c;
  c.target = get_string(j, "target");
  c.against = get_string(j, "against");
  c.seed = get_u64(j, "seed");
  c.shard_index = get_u64(j, "shard_index");
  c.shard_count = get_u64(j, "shard_count");
  c.batch_cases = get_u64(j, "batch_cases");
  c.max_ops = get_int(j, "max_ops");
  c.max_vms = get_int(j, "max_vms");
  c.hostile = get_int(j, "hostile");
  c.step_timeout = get_double(j, "step_timeout");
  c.hypdiff_version = get_string(j, "hypdiff_version");
  if (c.shard_count == 0 || c.shard_index >= c.shard_count)
    throw BadRecord(fmt::format("bad shard {}/{}", c.shard_index, c.shard_count));
  if (c.batch_cases == 0) throw BadRecord("batch_cases must be positive");
  return c;
}

json batch_to_json(const Batch& b) {
  return {{"type", "batch"},
          {"batch", b.batch},
          {"worker", b.worker},
          {"cases", b.cases},
          {"steps", b.steps},
          {"checks", b.checks},
          {"failing_cases", b.failing_cases},
          {"seconds", b.seconds},
          {"at", b.at},
          {"coverage", coverage_to_json(b.coverage)}};
}

Batch batch_from_json(const json& j) {
  Batch b;
  b.batch = get_u64(j, "batch");
  b.worker = get_int(j, "worker");
  b.cases = get_u64(j, "cases");
  b.steps = get_u64(j, "steps");
  b.checks = get_u64(j, "checks");
  b.failing_cases = get_u64(j, "failing_cases");
  b.seconds = get_double(j, "seconds");
  b.at = get_double(j, "at");
  try {
    b.coverage = coverage_from_json(field(j, "coverage"));
  } catch (const BadRecord&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw BadRecord(e.what());
  }
  return b;
}

json failure_to_json(const FailureEntry& f) {
  return {{"type", "failure"},
          {"signature", f.signature},
          {"class", f.cls},
          {"principal", f.principal},
          {"field", f.field},
          {"handler", f.handler},
          {"op", f.op},
          {"summary", f.summary},
          {"details", f.details},
          {"case_file", f.case_file},
          {"length", f.length},
          {"original_length", f.original_length},
          {"batch", f.batch},
          {"case_seed", f.case_seed},
          {"at", f.at}};
}

FailureEntry failure_from_json(const json& j) {
  FailureEntry f;
  f.signature = get_string(j, "signature");
  f.cls = get_string(j, "class");
  f.principal = get_string(j, "principal");
  f.field = get_string(j, "field");
  f.handler = get_string(j, "handler");
  f.op = get_string(j, "op");
  f.summary = get_string(j, "summary");
  f.details = get_strings(j, "details");
  f.case_file = get_string(j, "case_file");
  f.length = get_u64(j, "length");
  f.original_length = get_u64(j, "original_length");
  f.batch = get_u64(j, "batch");
  f.case_seed = get_u64(j, "case_seed");
  f.at = get_double(j, "at");
  if (f.signature.empty()) throw BadRecord("field 'signature' is empty");
  if (f.case_file.empty() || f.case_file.front() == '/' ||
      f.case_file.find("..") != std::string::npos)
    throw BadRecord("field 'case_file' must be a path inside the campaign directory");
  return f;
}

namespace {

WorkerCrash crash_from(const json& j) {
  WorkerCrash c;
  c.worker = get_int(j, "worker");
  c.batch = get_u64(j, "batch");
  c.reason = get_string(j, "reason");
  c.at = get_double(j, "at");
  return c;
}

void apply(Journal& jr, const json& j, bool first) {
  if (!j.is_object()) throw BadRecord("a record must be a JSON object");
  const std::string type = get_string(j, "type");
  if (first != (type == "start")) {
    throw BadRecord(first ? fmt::format("the first record must be 'start', not '{}'", type)
                          : std::string("a second 'start' record"));
  }
  if (type == "start") {
    const auto v = get_int(j, "version");
    if (v != kJournalVersion)
      throw BadRecord(
          fmt::format("journal version {}; this hypdiff reads version {}", v, kJournalVersion));
    jr.config = config_from_json(field(j, "config"));
    jr.sessions.push_back(get_double(j, "time"));
  } else if (type == "resume") {
    jr.sessions.push_back(get_double(j, "time"));
    jr.stop_reason.clear();
  } else if (type == "merged") {
    const json& s = field(j, "shards");
    if (!s.is_array()) throw BadRecord("field 'shards' must be an array");
    jr.merged_shards.clear();
    for (const auto& e : s) {
      if (!e.is_number_unsigned()) throw BadRecord("field 'shards' must hold shard indices");
      jr.merged_shards.push_back(e.get<std::uint64_t>());
    }
    jr.merged_shard_count = get_u64(j, "shard_count");
  } else if (type == "batch") {
    jr.batches.push_back(batch_from_json(j));
    jr.elapsed = std::max(jr.elapsed, jr.batches.back().at);
  } else if (type == "failure") {
    jr.failures.push_back(failure_from_json(j));
    jr.elapsed = std::max(jr.elapsed, jr.failures.back().at);
  } else if (type == "crash") {
    jr.crashes.push_back(crash_from(j));
    jr.elapsed = std::max(jr.elapsed, jr.crashes.back().at);
  } else if (type == "stop") {
    jr.stop_reason = get_string(j, "reason");
    if (jr.stop_reason.empty()) throw BadRecord("field 'reason' is empty");
    jr.elapsed = std::max(jr.elapsed, get_double(j, "at"));
  } else {
    throw BadRecord(fmt::format("unknown record type '{}'", type));
  }
}

std::string errno_text() { return std::strerror(errno); }

void append(int fd, const std::filesystem::path& file, const json& j, bool sync) {
  const std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw JournalError(fmt::format("{}: cannot write: {}", file.string(), errno_text()));
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd) != 0)
    throw JournalError(fmt::format("{}: cannot sync: {}", file.string(), errno_text()));
}

}  // namespace

std::set<std::uint64_t> Journal::done_batches() const {
  std::set<std::uint64_t> out;
  for (const auto& b : batches) out.insert(b.batch);
  return out;
}

std::map<std::string, FailureEntry> Journal::smallest() const {
  std::map<std::string, FailureEntry> out;
  for (const auto& f : failures) {
    auto it = out.find(f.signature);
    if (it == out.end())
      out.emplace(f.signature, f);
    else if (f.length < it->second.length)
      it->second = f;
  }
  return out;
}

harness::Coverage Journal::coverage() const {
  harness::Coverage c;
  for (const auto& b : batches) c.merge(b.coverage);
  return c;
}

std::uint64_t Journal::cases() const {
  std::uint64_t n = 0;
  for (const auto& b : batches) n += b.cases;
  return n;
}

std::uint64_t Journal::steps() const {
  std::uint64_t n = 0;
  for (const auto& b : batches) n += b.steps;
  return n;
}

Journal read_journal(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw JournalError(fmt::format("{}: cannot open: {}", file.string(), errno_text()));
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  Journal jr;
  std::size_t pos = 0;
  std::size_t line = 0;
  while (pos < text.size()) {
    ++line;
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      // Every record is written with its newline in one write(2); a line without one is what
      // a kill mid-write leaves.
      jr.torn_tail = true;
      break;
    }
    const std::string_view rec(text.data() + pos, nl - pos);
    pos = nl + 1;
    try {
      const json j = json::parse(rec);
      apply(jr, j, line == 1);
    } catch (const json::parse_error&) {
      throw JournalError(fmt::format("{}:{}: not a JSON object", file.string(), line));
    } catch (const BadRecord& e) {
      throw JournalError(fmt::format("{}:{}: {}", file.string(), line, e.what()));
    }
  }
  if (line == 0 || (line == 1 && jr.torn_tail))
    throw JournalError(fmt::format("{}:1: empty journal (no start record)", file.string()));
  return jr;
}

JournalWriter::JournalWriter(const std::filesystem::path& file) : file_(file) {
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw JournalError(fmt::format("{}: cannot open: {}", file.string(), errno_text()));
  // Cut a torn last line so the next record starts on a line of its own.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    off_t end = st.st_size;
    char c = 0;
    while (end > 0 && ::pread(fd_, &c, 1, end - 1) == 1 && c != '\n') --end;
    if (end != st.st_size && ::ftruncate(fd_, end) != 0) {
      const std::string why = errno_text();
      ::close(fd_);
      throw JournalError(fmt::format("{}: cannot repair a torn last line: {}", file.string(), why));
    }
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) {
    const std::string why = errno_text();
    ::close(fd_);
    throw JournalError(fmt::format("{}: {}", file.string(), why));
  }
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::start(const Config& c) {
  append(fd_, file_,
         {{"type", "start"},
          {"version", kJournalVersion},
          {"time", unix_now()},
          {"config", config_to_json(c)}},
         true);
}
void JournalWriter::resume() {
  append(fd_, file_, {{"type", "resume"}, {"time", unix_now()}}, true);
}
void JournalWriter::batch(const Batch& b) { append(fd_, file_, batch_to_json(b), false); }
void JournalWriter::failure(const FailureEntry& f) { append(fd_, file_, failure_to_json(f), true); }
void JournalWriter::crash(const WorkerCrash& c) {
  append(fd_, file_,
         {{"type", "crash"},
          {"worker", c.worker},
          {"batch", c.batch},
          {"reason", c.reason},
          {"at", c.at}},
         false);
}
void JournalWriter::stop(const std::string& reason, double at) {
  append(fd_, file_, {{"type", "stop"}, {"reason", reason}, {"at", at}}, true);
}
void JournalWriter::merged(const std::vector<std::uint64_t>& shards, std::uint64_t shard_count) {
  append(fd_, file_, {{"type", "merged"}, {"shards", shards}, {"shard_count", shard_count}}, true);
}

}  // namespace hypdiff::campaign
