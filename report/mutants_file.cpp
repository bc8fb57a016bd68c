#include "report/mutants_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/error.hpp"

namespace hypdiff::report {

namespace {

using nlohmann::json;

// Typed access with errors that name the file, the mutant and the key.
struct Reader {
  const std::string& where;
  std::string context;

  [[noreturn]] void fail(const std::string& key, const char* want) const {
    throw ReportError(fmt::format("{}: {}'{}' must be {}", where, context, key, want));
  }
  std::string str(const json& j, const char* key, bool required = false) const {
    const auto it = j.find(key);
    if (it == j.end()) {
      if (required) fail(key, "present");
      return "";
    }
    if (!it->is_string()) fail(key, "a string");
    return it->get<std::string>();
  }
  std::optional<std::uint64_t> count(const json& j, const char* key, bool required = false) const {
    const auto it = j.find(key);
    if (it == j.end()) {
      if (required) fail(key, "present");
      return std::nullopt;
    }
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
      fail(key, "a non-negative integer");
    return it->get<std::uint64_t>();
  }
  std::optional<double> number(const json& j, const char* key) const {
    const auto it = j.find(key);
    if (it == j.end()) return std::nullopt;
    if (!it->is_number()) fail(key, "a number");
    return it->get<double>();
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

MutantScoreLine count_score(const std::vector<MutantRow>& rows) {
  MutantScoreLine s;
  std::vector<double> secs, lens;
  for (const auto& r : rows) {
    ++s.mutants;
    if (r.verdict == "equivalent") ++s.equivalent;
    if (r.verdict == "survived") ++s.survived;
    if (r.verdict == "killed") {
      ++s.killed;
      if (r.seconds) secs.push_back(*r.seconds);
      if (r.shrunk_length) lens.push_back(static_cast<double>(*r.shrunk_length));
    }
  }
  s.median_seconds = median(secs);
  s.median_shrunk_length = median(lens);
  return s;
}

}  // namespace

MutantsFile parse_mutants(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's message is one line: "[json.exception.parse_error.101] parse error at ...".
    throw ReportError(fmt::format("{}: not JSON: {}", where, e.what()));
  }
  if (!j.is_object() || !j.contains("mutants") || !j["mutants"].is_array())
    throw ReportError(where + ": not a `hypdiff mutants --json` report (no \"mutants\" list)");
  Reader rd{where, ""};
  MutantsFile f;
  f.target = rd.str(j, "target");
  f.against = rd.str(j, "against");
  f.seed = rd.count(j, "seed");
  f.budget_seconds = rd.number(j, "budget_seconds");
  std::size_t index = 0;
  for (const json& m : j["mutants"]) {
    rd.context = fmt::format("mutant #{}: ", index++);
    if (!m.is_object()) throw ReportError(where + ": " + rd.context + "not an object");
    MutantRow r;
    const auto id = rd.count(m, "id", true);
    if (*id > UINT32_MAX) rd.fail("id", "a 32-bit mutant id");
    r.id = static_cast<std::uint32_t>(*id);
    rd.context = fmt::format("mutant {}: ", r.id);
    r.name = rd.str(m, "name");
    r.area = rd.str(m, "area");
    r.description = rd.str(m, "description");
    r.endangers = rd.str(m, "endangers");
    r.expected_class = rd.str(m, "expected_class");
    r.verdict = rd.str(m, "verdict", true);
    if (r.verdict != "killed" && r.verdict != "survived" && r.verdict != "equivalent")
      rd.fail("verdict", "killed, survived or equivalent");
    r.reason = rd.str(m, "reason");
    r.seconds = rd.number(m, "seconds");
    r.steps = rd.count(m, "steps");
    r.cases = rd.count(m, "cases");
    r.failure_class = rd.str(m, "class");
    r.signature = rd.str(m, "signature");
    r.summary = rd.str(m, "summary");
    r.shrunk_length = rd.count(m, "shrunk_length");
    r.original_length = rd.count(m, "original_length");
    f.rows.push_back(std::move(r));
  }
  f.score = count_score(f.rows);
  if (const auto it = j.find("score"); it != j.end()) {
    // The file's own medians are kept (they are what `hypdiff mutants` printed); the counts are
    // checked against the rows so that a hand-edited file cannot show a score it does not hold.
    if (!it->is_object()) throw ReportError(where + ": 'score' must be an object");
    rd.context = "score: ";
    if (const auto v = rd.number(*it, "median_seconds")) f.score.median_seconds = *v;
    if (const auto v = rd.number(*it, "median_shrunk_length")) f.score.median_shrunk_length = *v;
    const auto killed = rd.count(*it, "killed");
    if (killed && *killed != f.score.killed)
      throw ReportError(fmt::format("{}: score says {} killed but {} mutants are marked killed",
                                    where, *killed, f.score.killed));
  }
  return f;
}

MutantsFile read_mutants(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ReportError(file.string() + ": no such mutants file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ReportError(file.string() + ": cannot read the mutants file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_mutants(ss.str(), file.string());
}

}  // namespace hypdiff::report
