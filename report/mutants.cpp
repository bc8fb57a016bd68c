// Mutant scores: the score line, time to first failure per mutant, and the table.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

// A kill in the very first step can take less than the clock's resolution; drawn at 0.1 ms.
constexpr double kMinDrawnSeconds = 1e-4;

std::string opt_count(const std::optional<std::uint64_t>& v) {
  return v ? fmt_count(*v) : std::string("-");
}

std::string short_name(const std::string& name) {
  return name.size() <= 32 ? name : name.substr(0, 31) + "…";
}

}  // namespace

std::string mutants_section(const Input& in) {
  std::string s = "<section id=\"mutants\">\n<h2>Mutant scores</h2>\n";
  if (!in.mutants) {
    s += "<p class=\"empty\">No mutant scores: the campaign directory has no "
         "<code>mutants.json</code> and <code>--mutants FILE</code> was not given. Make one with "
         "<code>./hypdiff mutants --target native --budget 30s --json DIR/mutants.json</code>."
         "</p>\n</section>\n";
    return s;
  }
  const MutantsFile& m = *in.mutants;
  const MutantScoreLine& sc = m.score;
  auto o = std::back_inserter(s);
  const std::uint64_t scored = sc.mutants - sc.equivalent;
  fmt::format_to(o, "<p class=\"source\">From <code>{}</code>: {} against {}{}{}.</p>\n",
                 html_escape(in.mutants_source), html_escape(m.target.empty() ? "?" : m.target),
                 html_escape(m.against.empty() ? "?" : m.against),
                 m.seed ? fmt::format(", seed {}", *m.seed) : "",
                 m.budget_seconds ? ", " + fmt_duration(*m.budget_seconds) + " per mutant" : "");
  fmt::format_to(o,
                 "<p class=\"score{}\"><b>{} mutants: {} killed, {} survived, {} equivalent; "
                 "score {}/{}{}; median time to first failure {:.2f} s, median shrunk length "
                 "{:g}</b></p>\n",
                 sc.survived > 0 ? " warn" : " ok", sc.mutants, sc.killed, sc.survived,
                 sc.equivalent, sc.killed, scored,
                 scored > 0 ? fmt::format(" = {:.1f}%", 100.0 * static_cast<double>(sc.killed) /
                                                            static_cast<double>(scored))
                            : "",
                 sc.median_seconds, sc.median_shrunk_length);
  if (m.rows.empty()) {
    s += "<p class=\"empty\">The file lists no mutants.</p>\n</section>\n";
    return s;
  }

  svg::BarChart chart;
  chart.title = "Time to first failure per mutant (log scale)";
  chart.value_label = "seconds (survivors: the whole budget)";
  chart.stacks = {"killed", "survived"};
  chart.colors = {"#43a047", "#e53935"};
  chart.log = true;
  chart.label_width = 250;
  for (const auto& r : m.rows) {
    svg::Bar b;
    b.label = fmt::format("{} {}", r.id, short_name(r.name));
    const double secs = r.seconds.value_or(0);
    if (r.verdict == "killed") {
      b.values = {std::max(secs, kMinDrawnSeconds), 0};
      b.note = fmt::format("{:.3g} s, {} steps", secs, opt_count(r.steps));
    } else if (r.verdict == "survived") {
      b.values = {0, std::max(secs, kMinDrawnSeconds)};
      b.highlight = true;
      b.note = "survived";
    } else {
      b.note = "equivalent, not run";
    }
    b.tooltip = r.description;
    chart.bars.push_back(std::move(b));
  }
  s += "<figure>" + svg::bar_chart(chart) + "</figure>\n";

  s += "<table class=\"sortable\"><thead><tr><th>id</th><th>mutant</th><th>area</th>"
       "<th>endangers</th><th>expected</th><th>verdict</th><th>seconds</th><th>steps</th>"
       "<th>class</th><th>shrunk</th></tr></thead><tbody>\n";
  for (const auto& r : m.rows) {
    std::string what = "<code>" + html_escape(r.name) + "</code><br>" + html_escape(r.description);
    if (!r.reason.empty()) what += "<br><i>" + html_escape(r.reason) + "</i>";
    fmt::format_to(o,
                   "<tr><td data-v=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                   "<td class=\"v-{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>"
                   "<td>{}</td><td data-v=\"{}\">{}</td></tr>\n",
                   r.id, r.id, what, html_escape(r.area), html_escape(r.endangers),
                   html_escape(r.expected_class), html_escape(r.verdict), html_escape(r.verdict),
                   r.seconds.value_or(-1), r.seconds ? fmt::format("{:.2f}", *r.seconds) : "-",
                   r.steps ? static_cast<double>(*r.steps) : -1.0, opt_count(r.steps),
                   html_escape(r.failure_class.empty() ? "-" : r.failure_class),
                   r.shrunk_length ? static_cast<double>(*r.shrunk_length) : -1.0,
                   opt_count(r.shrunk_length));
  }
  s += "</tbody></table>\n</section>\n";
  return s;
}

}  // namespace hypdiff::report
