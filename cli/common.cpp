#include "cli/common.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include "harness/lib_target.hpp"

namespace hypdiff::cli {

std::optional<double> parse_duration(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || ptr != text.data() + i) return std::nullopt;
  const std::string_view unit = text.substr(i);
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1;
  else if (unit == "ms")
    scale = 0.001;
  else if (unit == "m" || unit == "min")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  else
    return std::nullopt;
  if (!(value > 0)) return std::nullopt;
  return value * scale;
}

bool set_step_timeout(const std::string& text, harness::RunOptions& run) {
  const auto d = parse_duration(text);
  if (!d) {
    std::fprintf(stderr, "hypdiff: --step-timeout: '%s' is not a duration (e.g. 10s, 500ms)\n",
                 text.c_str());
    return false;
  }
  run.step_timeout = *d;
  return true;
}

std::optional<Targets> make_targets(const std::string& target, const std::string& against,
                                    bool verify_export) {
  Targets t;
  std::string error;
  t.target = harness::make_target(target, &error);
  if (!t.target) {
    std::fprintf(stderr, "hypdiff: --target: %s\n", error.c_str());
    return std::nullopt;
  }
  if (against != "none") {
    t.reference = harness::make_target(against, &error);
    if (!t.reference) {
      std::fprintf(stderr, "hypdiff: --against: %s\n", error.c_str());
      return std::nullopt;
    }
  }
  for (harness::Target* x : {t.target.get(), t.reference.get()}) {
    if (auto* lib = dynamic_cast<harness::LibTarget*>(x)) lib->set_verify_export(verify_export);
  }
  return t;
}

std::pair<std::string, std::string> recorded_pairing(const corpus::CaseFile& file,
                                                     const std::string& target,
                                                     const std::string& against) {
  std::string t = target;
  std::string r = against;
  if (t.empty()) t = file.expect ? file.expect->target : "native";
  if (r.empty())
    r = file.expect ? (file.expect->against.empty() ? "none" : file.expect->against) : "model";
  return {t, r};
}

model::Profile generation_profile(const Targets& t) {
  if (t.reference) {
    if (auto p = harness::model_profile(t.reference->name(), nullptr)) return *p;
  }
  if (auto p = harness::model_profile(t.target->name(), nullptr)) return *p;
  return model::Profile::intended();
}

model::HandlerMask generation_handlers(const Targets& t) {
  model::HandlerMask m = t.target->realized();
  if (t.reference) m &= t.reference->realized();
  return m;
}

bool case_runnable(const Targets& t, const generators::Case& c, const std::string& file) {
  for (const harness::Target* x : {t.target.get(), t.reference.get()}) {
    if (!x) continue;
    if (const auto i = harness::first_unrealized(c.ops, *x)) {
      std::fprintf(stderr,
                   "hypdiff: %s: step %zu is %s, which target %s does not run (it runs %s)\n",
                   file.c_str(), *i, model::handler_name(model::handler_of(c.ops[*i])),
                   x->name().c_str(), model::handler_list(x->realized()).c_str());
      return false;
    }
  }
  return true;
}

std::string restriction_note(const Targets& t) {
  const model::HandlerMask m = generation_handlers(t);
  if (m == model::kAllHandlers) return "";
  return fmt::format(
      "note: {} runs only {}: generated cases use only these operations (docs/qemu.md)",
      (t.target->realized() == m ? t.target : t.reference)->name(), model::handler_list(m));
}

corpus::CaseFile failure_file(const generators::Case& c, const harness::Failure& f,
                              const Targets& t, std::vector<std::string> notes) {
  corpus::CaseFile file;
  file.c = c;
  corpus::Expectation e;
  e.target = t.target->name();
  e.against = t.reference ? t.reference->name() : "";
  e.verdict = harness::failure_class_name(f.cls);
  if (f.principal) e.principal = static_cast<std::int64_t>(*f.principal);
  e.step = static_cast<std::int64_t>(f.step);
  file.expect = e;
  notes.push_back("verdict: " + std::string(harness::failure_class_name(f.cls)) + " at step " +
                  std::to_string(f.step) + ": " + f.summary);
  notes.push_back("signature: " + f.signature());
  for (std::size_t i = 0; i < f.details.size() && i < 20; ++i) notes.push_back("  " + f.details[i]);
  file.notes = std::move(notes);
  return file;
}

std::string corpus_stem(const harness::Failure& f) {
  std::string out;
  for (char ch : f.signature()) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
    if (keep) {
      out += ch;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

void print_failure(std::FILE* out, const harness::Failure& f, std::size_t max_lines) {
  fmt::print(out, "FAIL {}: {}\n", harness::failure_class_name(f.cls), f.summary);
  fmt::print(out, "  at step {}: {}\n", f.step, corpus::op_line(f.operation));
  for (std::size_t i = 0; i < f.details.size() && i < max_lines; ++i)
    fmt::print(out, "    {}\n", f.details[i]);
  if (f.details.size() > max_lines)
    fmt::print(out, "    ... {} more lines\n", f.details.size() - max_lines);
}

nlohmann::json failure_json(const harness::Failure& f) {
  nlohmann::json j = {{"class", harness::failure_class_name(f.cls)},
                      {"step", f.step},
                      {"op", corpus::op_line(f.operation)},
                      {"handler", model::handler_name(f.handler)},
                      {"field", f.field},
                      {"summary", f.summary},
                      {"signature", f.signature()},
                      {"details", f.details}};
  j["principal"] = f.principal ? nlohmann::json(static_cast<std::int64_t>(*f.principal))
                               : nlohmann::json(nullptr);
  return j;
}

nlohmann::json coverage_json(const harness::Coverage& c) {
  const auto counts = [](const harness::Counts& k) {
    return nlohmann::json{{"ok", k[0]}, {"halted", k[1]}, {"undefined", k[2]}};
  };
  nlohmann::json handlers = nlohmann::json::object();
  for (int h = 0; h < model::kHandlerCount; ++h) {
    handlers[model::handler_name(static_cast<model::Handler>(h))] =
        counts(c.by_handler[static_cast<std::size_t>(h)]);
  }
  nlohmann::json hvcs = nlohmann::json::object();
  for (const auto& [n, k] : c.by_hvc) hvcs[n < 0 ? "other" : std::to_string(n)] = counts(k);
  return {{"handlers", handlers}, {"hypercalls", hvcs}, {"gaps", c.gaps()}};
}

bool write_json(const std::string& where, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  if (where == "-") {
    std::cout << text;
    return true;
  }
  // A report a CI job collects is never seen half written (write_text renames a finished
  // file into place); a pipe or a device (/dev/stderr) cannot be renamed over: write it directly.
  std::error_code ec;
  if (std::filesystem::exists(where, ec) && !std::filesystem::is_regular_file(where, ec)) {
    std::ofstream f(where);
    if (f) f << text;
    if (!f) {
      std::fprintf(stderr, "hypdiff: cannot write %s: %s\n", where.c_str(), std::strerror(errno));
      return false;
    }
    return true;
  }
  return write_text(where, text);
}

bool write_text(const std::string& file, const std::string& text) {
  const std::string tmp = file + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (f) f << text;
    if (!f || !f.flush()) {
      std::fprintf(stderr, "hypdiff: cannot write %s: %s\n", file.c_str(), std::strerror(errno));
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::fprintf(stderr, "hypdiff: cannot write %s: %s\n", file.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

bool json_target_writable(const std::string& where) {
  if (where.empty() || where == "-") return true;
  std::ofstream f(where, std::ios::app);
  if (!f) {
    std::fprintf(stderr, "hypdiff: cannot write %s: %s\n", where.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

bool interactive() {
  const char* ci = std::getenv("CI");
  return isatty(STDERR_FILENO) != 0 && (ci == nullptr || *ci == '\0');
}

}  // namespace hypdiff::cli
