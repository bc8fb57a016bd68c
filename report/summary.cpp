// The summary: what ran, for how long, and the headline numbers.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

void card(std::string& s, const std::string& value, const char* label, bool bad = false) {
  fmt::format_to(std::back_inserter(s),
                 "<div class=\"card{}\"><div class=\"value\">{}</div><div "
                 "class=\"label\">{}</div></div>\n",
                 bad ? " bad" : "", html_escape(value), label);
}

void row(std::string& s, const char* key, const std::string& value) {
  fmt::format_to(std::back_inserter(s), "<tr><th>{}</th><td>{}</td></tr>\n", key,
                 html_escape(value));
}

}  // namespace

std::string summary_section(const Input& in) {
  const campaign::Journal& j = in.journal;
  const campaign::Config& c = j.config;
  std::uint64_t checks = 0, failing = 0;
  double worker_seconds = 0;
  for (const auto& b : j.batches) {
    checks += b.checks;
    failing += b.failing_cases;
    worker_seconds += b.seconds;
  }
  const std::size_t distinct = j.smallest().size();
  const std::string gaps = j.coverage().gaps();
  const std::size_t gap_count = static_cast<std::size_t>(std::count(gaps.begin(), gaps.end(), ' '));
  const double rate = j.elapsed > 0 ? static_cast<double>(j.steps()) / j.elapsed : 0;

  std::string s = "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n";
  card(s, fmt_count(j.cases()), "cases");
  card(s, fmt_count(j.steps()), "steps");
  card(s, fmt_duration(j.elapsed), "campaign time");
  card(s, fmt::format("{:.0f}", rate), "steps/s");
  card(s, std::to_string(distinct), "distinct failures", distinct > 0);
  card(s, std::to_string(j.crashes.size()), "worker crashes", !j.crashes.empty());
  card(s, std::to_string(gap_count), "coverage gaps", gap_count > 0);
  s += "</div>\n<table class=\"facts\">\n";
  row(s, "target", fmt::format("{} against {}", c.target, c.against));
  row(s, "seed", std::to_string(c.seed));
  row(s, "shard",
      c.shard_count > 1 ? fmt::format("{} of {} (batches b with b mod {} = {})", c.shard_index + 1,
                                      c.shard_count, c.shard_count, c.shard_index)
                        : std::string("unsharded (1 of 1)"));
  row(s, "generator",
      fmt::format("{} cases per batch, up to {} operations and {} VMs per case, {:g}% hostile "
                  "values, step timeout {:g} s",
                  c.batch_cases, c.max_ops, c.max_vms, c.hostile / 10.0, c.step_timeout));
  std::string sessions = std::to_string(j.sessions.size());
  if (!j.sessions.empty()) {
    sessions += ", first started " + fmt_utc(j.sessions.front());
    if (j.sessions.size() > 1) sessions += ", last started " + fmt_utc(j.sessions.back());
  }
  row(s, "sessions", sessions);
  row(s, "batches",
      fmt::format("{} finished, {} worker-time", fmt_count(j.batches.size()),
                  fmt_duration(worker_seconds)));
  row(s, "checks", fmt_count(checks));
  row(s, "failing cases", fmt_count(failing));
  row(s, "stopped",
      j.stop_reason.empty() ? "not cleanly (killed, or still running)" : j.stop_reason);
  if (!c.hypdiff_version.empty()) row(s, "hypdiff", c.hypdiff_version);
  s += "</table>\n";
  if (j.torn_tail)
    s += "<p class=\"warn\">The journal's last line was cut short (a kill mid-write) and was "
         "ignored.</p>\n";
  if (j.batches.empty())
    s += "<p class=\"empty\">No batch has finished yet: there is nothing to chart.</p>\n";
  if (!j.crashes.empty()) {
    s += "<h3>Worker crashes</h3>\n<table class=\"sortable\"><thead><tr><th>campaign time</th>"
         "<th>worker</th><th>batch</th><th>reason</th></tr></thead><tbody>\n";
    for (const auto& w : j.crashes) {
      fmt::format_to(std::back_inserter(s),
                     "<tr><td data-v=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", w.at,
                     fmt_duration(w.at), w.worker, w.batch, html_escape(w.reason));
    }
    s += "</tbody></table>\n";
  }
  s += "</section>\n";
  return s;
}

}  // namespace hypdiff::report
