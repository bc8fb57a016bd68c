#include "campaign/journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/hana/accessors.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <type_traits>

#include "campaign/coverage_json.hpp"
#include "campaign/records.hpp"

// The fields of the records, journaled under their names (but `cls` as "class") and read in this
// order (a record missing two fields is reported as missing the first). A field added to one of
// these structs must be added here too; field_count below checks it.
BOOST_HANA_ADAPT_STRUCT(hypdiff::campaign::Config, target, against, seed, shard_index, shard_count,
                        batch_cases, max_ops, max_vms, hostile, step_timeout, hypdiff_version);
BOOST_HANA_ADAPT_STRUCT(hypdiff::campaign::Batch, batch, worker, cases, steps, checks,
                        failing_cases, seconds, at, coverage);
BOOST_HANA_ADAPT_STRUCT(hypdiff::campaign::FailureEntry, signature, cls, principal, field, handler,
                        op, summary, details, case_file, length, original_length, batch, case_seed,
                        at);
BOOST_HANA_ADAPT_STRUCT(hypdiff::campaign::WorkerCrash, worker, batch, reason, at);

namespace hypdiff::campaign {
namespace {

using nlohmann::json;
namespace hana = boost::hana;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const json& field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) throw BadRecord(fmt::format("missing field '{}'", name));
  return *it;
}

// Field `name` of `j` as a T; BadRecord naming the field when it is missing or not a T.
template <class T>
T field_as(const json& j, const std::string& name) {
  const json& v = field(j, name.c_str());
  const auto bad = [&](const char* why) {
    return BadRecord(fmt::format("field '{}' {}", name, why));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw bad("must be a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) throw bad("must be an array");
    T out;
    for (const auto& e : v) {
      if (!e.is_string()) throw bad("must hold strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  } else if constexpr (std::is_same_v<T, int>) {
    if (!v.is_number_integer()) throw bad("must be an integer");
    const auto n = v.get<std::int64_t>();
    if (n < INT_MIN || n > INT_MAX) throw bad("is out of range");
    return static_cast<int>(n);
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) throw bad("must be a number");
    return v.get<double>();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (!v.is_number_unsigned()) throw bad("must be an unsigned integer");
    return v.get<std::uint64_t>();
  } else if constexpr (std::is_same_v<T, harness::Coverage>) {
    try {
      return coverage_from_json(v);
    } catch (const std::invalid_argument& e) {
      throw BadRecord(e.what());
    }
  } else {
    static_assert(sizeof(T) == 0, "journal: no JSON form for this field type");
  }
}

// How many members aggregate T has: the most initializers T{...} takes. Guards the lists above.
struct AnyValue {
  template <class T>
  operator T() const;
};
template <class T, class... Given>
constexpr std::size_t field_count() {
  if constexpr (requires { T{Given{}..., AnyValue{}}; }) {
    return field_count<T, Given..., AnyValue>();
  } else {
    return sizeof...(Given);
  }
}
template <class T>
constexpr bool all_fields_listed = field_count<T>() ==
                                   decltype(hana::length(hana::accessors<T>()))::value;
static_assert(all_fields_listed<Config> && all_fields_listed<Batch> &&
              all_fields_listed<FailureEntry> && all_fields_listed<WorkerCrash>);

// A member's name in JSON: its own, except where that is a C++ keyword.
std::string json_name(std::string_view member) {
  return std::string(member == "cls" ? "class" : member);
}

template <class T>
json value_to_json(const T& v) {
  if constexpr (std::is_same_v<T, harness::Coverage>) {
    return coverage_to_json(v);
  } else {
    return v;
  }
}

// Every field of `r` under its name; with "type" when the record is a journal line.
template <class T>
json record_to_json(const T& r, const char* type) {
  json j = json::object();
  if (type) j["type"] = type;
  hana::for_each(hana::accessors<T>(), [&](auto pair) {
    j[json_name(hana::to<const char*>(hana::first(pair)))] = value_to_json(hana::second(pair)(r));
  });
  return j;
}

template <class T>
T record_from_json(const json& j) {
  T r;
  hana::for_each(hana::accessors<T>(), [&](auto pair) {
    auto& member = hana::second(pair)(r);
    member = field_as<std::decay_t<decltype(member)>>(
        j, json_name(hana::to<const char*>(hana::first(pair))));
  });
  return r;
}

}  // namespace

json config_to_json(const Config& c) { return record_to_json(c, nullptr); }

Config config_from_json(const json& j) {
  if (!j.is_object()) throw BadRecord("field 'config' must be an object");
  const Config c = record_from_json<Config>(j);
  if (c.shard_count == 0 || c.shard_index >= c.shard_count)
    throw BadRecord(fmt::format("bad shard {}/{}", c.shard_index, c.shard_count));
  if (c.batch_cases == 0) throw BadRecord("batch_cases must be positive");
  return c;
}

json batch_to_json(const Batch& b) { return record_to_json(b, "batch"); }
Batch batch_from_json(const json& j) { return record_from_json<Batch>(j); }

json failure_to_json(const FailureEntry& f) { return record_to_json(f, "failure"); }

FailureEntry failure_from_json(const json& j) {
  const FailureEntry f = record_from_json<FailureEntry>(j);
  if (f.signature.empty()) throw BadRecord("field 'signature' is empty");
  if (f.case_file.empty() || f.case_file.front() == '/' ||
      f.case_file.find("..") != std::string::npos)
    throw BadRecord("field 'case_file' must be a path inside the campaign directory");
  return f;
}

json crash_to_json(const WorkerCrash& c) { return record_to_json(c, "crash"); }
WorkerCrash crash_from_json(const json& j) { return record_from_json<WorkerCrash>(j); }

namespace {

void apply(Journal& jr, const json& j, bool first) {
  if (!j.is_object()) throw BadRecord("a record must be a JSON object");
  const std::string type = field_as<std::string>(j, "type");
  if (first != (type == "start")) {
    throw BadRecord(first ? fmt::format("the first record must be 'start', not '{}'", type)
                          : std::string("a second 'start' record"));
  }
  if (type == "start") {
    const auto v = field_as<int>(j, "version");
    if (v != kJournalVersion)
      throw BadRecord(
          fmt::format("journal version {}; this hypdiff reads version {}", v, kJournalVersion));
    jr.config = config_from_json(field(j, "config"));
    jr.sessions.push_back(field_as<double>(j, "time"));
  } else if (type == "resume") {
    jr.sessions.push_back(field_as<double>(j, "time"));
    jr.stop_reason.clear();
  } else if (type == "merged") {
    const json& s = field(j, "shards");
    if (!s.is_array()) throw BadRecord("field 'shards' must be an array");
    jr.merged_shards.clear();
    for (const auto& e : s) {
      if (!e.is_number_unsigned()) throw BadRecord("field 'shards' must hold shard indices");
      jr.merged_shards.push_back(e.get<std::uint64_t>());
    }
    jr.merged_shard_count = field_as<std::uint64_t>(j, "shard_count");
  } else if (type == "batch") {
    jr.batches.push_back(batch_from_json(j));
    jr.elapsed = std::max(jr.elapsed, jr.batches.back().at);
  } else if (type == "failure") {
    jr.failures.push_back(failure_from_json(j));
    jr.elapsed = std::max(jr.elapsed, jr.failures.back().at);
  } else if (type == "crash") {
    jr.crashes.push_back(crash_from_json(j));
    jr.elapsed = std::max(jr.elapsed, jr.crashes.back().at);
  } else if (type == "stop") {
    jr.stop_reason = field_as<std::string>(j, "reason");
    if (jr.stop_reason.empty()) throw BadRecord("field 'reason' is empty");
    jr.elapsed = std::max(jr.elapsed, field_as<double>(j, "at"));
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
void JournalWriter::crash(const WorkerCrash& c) { append(fd_, file_, crash_to_json(c), false); }
void JournalWriter::stop(const std::string& reason, double at) {
  append(fd_, file_, {{"type", "stop"}, {"reason", reason}, {"at", at}}, true);
}
void JournalWriter::merged(const std::vector<std::uint64_t>& shards, std::uint64_t shard_count) {
  append(fd_, file_, {{"type", "merged"}, {"shards", shards}, {"shard_count", shard_count}}, true);
}

}  // namespace hypdiff::campaign
