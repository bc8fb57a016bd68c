// parse_case: reads exactly the format of docs/case-format.md and reports the first problem with
// its line and column. Sections come in a fixed order so a misplaced line (an smmu unit after the
// ops, a second config) is an error rather than a silent change of meaning.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "corpus/case_file.hpp"
#include "corpus/fields.hpp"

namespace hypdiff::corpus {

namespace {

using detail::fail;
using detail::Fields;
using detail::Line;
using detail::Token;
using model::Z;

constexpr std::string_view kItems = "expect, config, smmu, oracle, data, core, soracle, param, op";
constexpr std::string_view kOrder =
    "expect, config, smmu, oracle, then data/core/soracle/param in any order, then op";
constexpr std::string_view kParams =
    "reg_desc, shared_kvm, shared_vcpu, verify_img, decrypt_gp_count, decrypt_sys_count";

// Sections in file order; lines of one section may not follow lines of a later one.
int section_of(std::string_view keyword) {
  if (keyword == "expect") return 0;
  if (keyword == "config") return 1;
  if (keyword == "smmu") return 2;
  if (keyword == "oracle") return 3;
  if (keyword == "data" || keyword == "core" || keyword == "soracle" || keyword == "param")
    return 4;
  if (keyword == "op") return 5;
  return -1;
}

// Remembers where a keyed line first appeared, to report duplicates.
template <class Key>
void first_time(std::map<Key, int>& seen, const Key& key, const Line& l, std::string_view what) {
  const auto [it, fresh] = seen.emplace(key, l.number);
  if (!fresh)
    fail(l.number, l.tokens.front().column,
         fmt::format("duplicate {} (first at line {})", what, it->second));
}

class Parser {
 public:
  CaseFile run(std::string_view text);

 private:
  void header(const Line& l);
  void item(const Line& l);
  void check_config();
  void expect(const Line& l);
  void config(const Line& l);
  void smmu(const Line& l);
  void oracle(const Line& l);
  void stream(const Line& l, std::map<Z, std::vector<Z>>& streams);
  void soracle(const Line& l);
  void param(const Line& l);

  CaseFile f_;
  int section_ = -1;
  int config_line_ = 0;
  int config_column_ = 1;
  bool config_checked_ = false;
  std::map<std::string, int> once_;  // expect, config, oracle, decrypt_*_count
  std::map<Z, int> data_lines_, core_lines_, kvm_lines_, verify_lines_;
  std::map<int, int> reg_desc_lines_;
  std::map<std::pair<Z, Z>, int> vcpu_lines_;
};

CaseFile Parser::run(std::string_view text) {
  bool have_header = false;
  bool items_started = false;
  int number = 0;
  std::string_view raw;
  for (std::string_view rest = text;;) {
    const auto nl = rest.find('\n');
    raw = rest.substr(0, nl);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);  // CRLF files
    ++number;
    const Line l = detail::split_line(raw, number);
    if (!have_header) {
      if (!l.tokens.empty()) {
        header(l);
        have_header = true;
      }
    } else if (!l.tokens.empty()) {
      items_started = true;
      item(l);
    } else if (!items_started) {
      // Comment lines between the header and the first item are the notes.
      const auto start = raw.find_first_not_of(" \t");
      if (start != std::string_view::npos && raw[start] == '#') {
        std::string_view note = raw.substr(start + 1);
        if (!note.empty() && note.front() == ' ') note.remove_prefix(1);
        f_.notes.emplace_back(note);
      }
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  // The end of the text: just past the last character of the last line.
  const int eof_column = static_cast<int>(raw.size()) + 1;
  if (!have_header)
    fail(number, eof_column, fmt::format("expected 'hypdiff-case {}' first", kFormatVersion));
  if (config_line_ == 0) fail(number, eof_column, "missing config line");
  if (!config_checked_) check_config();
  return std::move(f_);
}

void Parser::header(const Line& l) {
  const std::string expected = fmt::format("expected 'hypdiff-case {}' first", kFormatVersion);
  if (l.tokens[0].text != "hypdiff-case") fail(l.number, l.tokens[0].column, expected);
  if (l.tokens.size() < 2) fail(l.number, l.end_column, expected);
  const Token& v = l.tokens[1];
  if (v.text.size() > 9 || v.text.find_first_not_of("0123456789") != std::string_view::npos)
    fail(l.number, v.column,
         fmt::format("invalid format version '{}' (this build reads version {})", v.text,
                     kFormatVersion));
  if (std::stoi(std::string(v.text)) != kFormatVersion)
    fail(l.number, v.column,
         fmt::format("unsupported format version {} (this build reads version {})", v.text,
                     kFormatVersion));
  if (l.tokens.size() > 2)
    fail(l.number, l.tokens[2].column,
         fmt::format("unexpected '{}' after the version", l.tokens[2].text));
}

void Parser::item(const Line& l) {
  const Token& kw = l.tokens[0];
  const int section = section_of(kw.text);
  if (section < 0)
    fail(l.number, kw.column, fmt::format("unknown item '{}' (expected {})", kw.text, kItems));
  if (section < section_)
    fail(l.number, kw.column,
         fmt::format("'{}' line out of order (items go: {})", kw.text, kOrder));
  if (section >= 2 && config_line_ == 0)
    fail(l.number, kw.column, fmt::format("'{}' line before the config line", kw.text));
  // The smmu lines complete the configuration; validate it once they are over.
  if (section > 2 && !config_checked_) check_config();
  section_ = section;
  if (kw.text == "expect") return expect(l);
  if (kw.text == "config") return config(l);
  if (kw.text == "smmu") return smmu(l);
  if (kw.text == "oracle") return oracle(l);
  if (kw.text == "data") return stream(l, f_.c.oracle.data);
  if (kw.text == "core") return stream(l, f_.c.oracle.core);
  if (kw.text == "soracle") return soracle(l);
  if (kw.text == "param") return param(l);
  f_.c.ops.push_back(detail::parse_op(l));
}

void Parser::check_config() {
  config_checked_ = true;
  if (const auto why = f_.c.cfg.validate())
    fail(config_line_, config_column_, "invalid config: " + *why);
}

void Parser::expect(const Line& l) {
  first_time(once_, std::string("expect"), l, "expect line");
  const Fields fs(l, 1, "expect", {"target", "against", "verdict", "principal", "step"});
  fs.require({"target", "verdict"});
  Expectation e;
  e.target = fs.word("target");
  e.against = fs.word("against");
  e.verdict = fs.word("verdict");
  if (fs.has("principal")) e.principal = fs.i64("principal");
  if (fs.has("step")) e.step = fs.i64("step");
  f_.expect = std::move(e);
}

void Parser::config(const Line& l) {
  first_time(once_, std::string("config"), l, "config line");
  config_line_ = l.number;
  config_column_ = l.tokens[0].column;
  // Every field is required: a stored case must not depend on today's defaults.
  const Fields fs(l, 1, "config",
                  {"max_vms", "vcpus_per_vm", "total_cpus", "curid", "ram_base_pfn", "ram_pages",
                   "smmu_ctxt_banks", "max_share_count", "max_load_info"});
  fs.require({"max_vms", "vcpus_per_vm", "total_cpus", "curid", "ram_base_pfn", "ram_pages",
              "smmu_ctxt_banks", "max_share_count", "max_load_info"});
  model::MachineConfig& c = f_.c.cfg;
  c.max_vms = fs.z("max_vms");
  c.vcpus_per_vm = fs.z("vcpus_per_vm");
  c.total_cpus = fs.z("total_cpus");
  c.curid = fs.z("curid");
  c.ram_base_pfn = fs.z("ram_base_pfn");
  c.ram_pages = fs.z("ram_pages");
  c.smmu_ctxt_banks = fs.z("smmu_ctxt_banks");
  c.max_share_count = fs.z("max_share_count");
  c.max_load_info = fs.z("max_load_info");
  c.smmus.clear();  // the smmu lines are the whole list
}

void Parser::smmu(const Line& l) {
  const Fields fs(l, 1, "smmu", {"base", "size", "banks"});
  fs.require({"base", "size", "banks"});
  f_.c.cfg.smmus.push_back(model::SmmuUnit{fs.z("base"), fs.z("size"), fs.z("banks")});
}

void Parser::oracle(const Line& l) {
  first_time(once_, std::string("oracle"), l, "oracle line");
  const Fields fs(l, 1, "oracle", {"fallback_seed"});
  fs.require({"fallback_seed"});
  f_.c.oracle.fallback_seed = fs.u64("fallback_seed");
}

void Parser::stream(const Line& l, std::map<Z, std::vector<Z>>& streams) {
  const std::string kind(l.tokens[0].text);
  const Fields fs(l, 1, kind, {"principal", "values"});
  fs.require({"principal"});
  const Z principal = fs.z("principal");
  first_time(kind == "data" ? data_lines_ : core_lines_, principal, l,
             fmt::format("{} line for principal {}", kind, model::to_dec(principal)));
  streams[principal] = fs.z_list("values");
}

void Parser::soracle(const Line& l) {
  const Fields fs(l, 1, "soracle", {"at", "cpu", "event", "args"});
  fs.require({"at"});
  auto& events = f_.c.oracle.soracle[fs.u64("at")];
  if (!fs.has("event")) {
    // A line with only `at` stands for a schedule entry without events.
    if (const Token* t = fs.first_of({"cpu", "args"}))
      fail(l.number, t->column, "soracle line without event cannot have cpu or args");
    return;
  }
  const Token* name = fs.value("event");
  model::SingleEvent e;
  if (!model::event_from_name(std::string(name->text), &e.event.kind))
    fail(l.number, name->column, fmt::format("unknown event '{}'", name->text));
  e.cpu = fs.z("cpu");
  const std::vector<Z> args = fs.z_list("args");
  if (args.size() > e.event.args.size())
    fail(l.number, fs.value("args")->column,
         fmt::format("too many args ({} at most, got {})", e.event.args.size(), args.size()));
  std::copy(args.begin(), args.end(), e.event.args.begin());
  events.push_back(e);  // file order is the stored (newest-first) order
}

void Parser::param(const Line& l) {
  if (l.tokens.size() < 2)
    fail(l.number, l.end_column,
         fmt::format("missing parameter name after 'param' (expected {})", kParams));
  const Token& which = l.tokens[1];
  const std::string what = "param " + std::string(which.text);
  model::Params& p = f_.c.oracle.params;
  if (which.text == "reg_desc") {
    const Fields fs(l, 2, what, {"index", "value"});
    fs.require({"index", "value"});
    const int index = fs.i32("index");
    first_time(reg_desc_lines_, index, l, fmt::format("param reg_desc index={}", index));
    p.reg_desc[index] = fs.z("value");
  } else if (which.text == "shared_kvm" || which.text == "verify_img") {
    const Fields fs(l, 2, what, {"vmid", "value"});
    fs.require({"vmid", "value"});
    const Z vmid = fs.z("vmid");
    const bool kvm = which.text == "shared_kvm";
    first_time(kvm ? kvm_lines_ : verify_lines_, vmid, l,
               fmt::format("{} vmid={}", what, model::to_dec(vmid)));
    (kvm ? p.shared_kvm : p.verify_img)[vmid] = fs.z("value");
  } else if (which.text == "shared_vcpu") {
    const Fields fs(l, 2, what, {"vmid", "vcpu", "value"});
    fs.require({"vmid", "vcpu", "value"});
    const std::pair<Z, Z> key{fs.z("vmid"), fs.z("vcpu")};
    first_time(vcpu_lines_, key, l,
               fmt::format("{} vmid={} vcpu={}", what, model::to_dec(key.first),
                           model::to_dec(key.second)));
    p.shared_vcpu[key] = fs.z("value");
  } else if (which.text == "decrypt_gp_count" || which.text == "decrypt_sys_count") {
    const Fields fs(l, 2, what, {"value"});
    fs.require({"value"});
    first_time(once_, what, l, what);
    (which.text == "decrypt_gp_count" ? p.decrypt_gp_count : p.decrypt_sys_count) = fs.i32("value");
  } else {
    fail(l.number, which.column,
         fmt::format("unknown parameter '{}' (expected {})", which.text, kParams));
  }
}

}  // namespace

std::variant<CaseFile, ParseError> parse_case(std::string_view text) {
  try {
    return Parser().run(text);
  } catch (const detail::Failure& e) {
    return ParseError{e.line, e.column, e.message};
  }
}

}  // namespace hypdiff::corpus
