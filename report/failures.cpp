// Failures by signature: one row each, then each signature's smallest case and its diff.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

// Case files are small; a huge one (a hand-made journal, a wrong path) is cut, not inlined.
constexpr std::size_t kMaxCaseBytes = 256 * 1024;
constexpr std::size_t kDiffLinesShown = 24;

struct Hits {
  std::size_t count = 0;
  double first_at = 0;
  std::uint64_t first_batch = 0;
};

std::string case_file_html(const std::filesystem::path& dir, const std::string& name) {
  if (name.empty()) return "<p class=\"missing\">The journal names no case file.</p>\n";
  const std::filesystem::path file = dir / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return fmt::format("<p class=\"missing\">Case file <code>{}</code> is missing.</p>\n",
                       html_escape(file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  std::string text(kMaxCaseBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return fmt::format("<p class=\"missing\">Case file <code>{}</code> cannot be read.</p>\n",
                       html_escape(file.string()));
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string note;
  if (text.size() > kMaxCaseBytes) {
    text.resize(kMaxCaseBytes);
    note = fmt::format(" (first {} KiB shown)", kMaxCaseBytes / 1024);
  }
  return fmt::format(
      "<details class=\"case\" open><summary>Case file <code>{}</code>{}</summary>\n<pre>{}</pre>"
      "\n</details>\n",
      html_escape(name), note, html_escape(text));
}

}  // namespace

std::string failures_section(const campaign::Journal& j, const std::filesystem::path& dir) {
  std::string s = "<section id=\"failures\">\n<h2>Failures</h2>\n";
  const auto smallest = j.smallest();
  if (smallest.empty()) {
    s += "<p class=\"ok\">No failures: every case of this campaign passed.</p>\n</section>\n";
    return s;
  }
  std::map<std::string, Hits> hits;
  for (const auto& f : j.failures) {
    Hits& h = hits[f.signature];
    if (h.count == 0 || f.at < h.first_at) h.first_at = f.at, h.first_batch = f.batch;
    ++h.count;
  }
  auto o = std::back_inserter(s);
  fmt::format_to(o,
                 "<p>{} distinct signatures in {} journaled failures. Hits counts the journal's "
                 "failure records with the signature; the case shown is the smallest one "
                 "(fewest operations, earliest among equals).</p>\n",
                 smallest.size(), j.failures.size());
  s += "<table class=\"sortable\"><thead><tr><th>signature</th><th>class</th><th>principal</th>"
       "<th>field</th><th>handler</th><th>hits</th><th>smallest length</th><th>first found</th>"
       "</tr></thead><tbody>\n";
  std::size_t n = 0;
  for (const auto& [sig, f] : smallest) {
    const Hits& h = hits[sig];
    fmt::format_to(o,
                   "<tr><td><a href=\"#sig-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
                   "<td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>"
                   "<td data-v=\"{}\">{} (batch {})</td></tr>\n",
                   n++, html_escape(sig), html_escape(f.cls),
                   html_escape(f.principal.empty() ? "-" : f.principal), html_escape(f.field),
                   html_escape(f.handler), h.count, h.count, f.length, f.length, h.first_at,
                   fmt_duration(h.first_at), h.first_batch);
  }
  s += "</tbody></table>\n";
  n = 0;
  for (const auto& [sig, f] : smallest) {
    fmt::format_to(o, "<article class=\"failure\" id=\"sig-{}\">\n<h3>{}</h3>\n", n++,
                   html_escape(sig));
    fmt::format_to(o, "<p class=\"summary\">{}</p>\n", html_escape(f.summary));
    fmt::format_to(o,
                   "<table class=\"facts\"><tr><th>class</th><td>{}</td></tr><tr><th>principal"
                   "</th><td>{}</td></tr><tr><th>field</th><td>{}</td></tr><tr><th>failing "
                   "operation</th><td><code>{}</code> ({})</td></tr><tr><th>shrunk</th><td>from "
                   "{} to {} operations</td></tr><tr><th>found</th><td>batch {}, case seed {}, at "
                   "{}</td></tr></table>\n",
                   html_escape(f.cls), html_escape(f.principal.empty() ? "-" : f.principal),
                   html_escape(f.field), html_escape(f.op), html_escape(f.handler),
                   f.original_length, f.length, f.batch, f.case_seed, fmt_duration(f.at));
    if (f.details.empty()) {
      s += "<p class=\"empty\">No per-principal diff lines were journaled.</p>\n";
    } else {
      // A diff can run to hundreds of lines (a whole page table); the rest stays one click away.
      s += "<h4>Per-principal diff</h4>\n<pre class=\"diff\">";
      const std::size_t shown = std::min(f.details.size(), kDiffLinesShown);
      for (std::size_t i = 0; i < shown; ++i) s += html_escape(f.details[i]) + "\n";
      s += "</pre>\n";
      if (shown < f.details.size()) {
        fmt::format_to(o,
                       "<details class=\"more\"><summary>{} more lines</summary><pre "
                       "class=\"diff\">",
                       f.details.size() - shown);
        for (std::size_t i = shown; i < f.details.size(); ++i)
          s += html_escape(f.details[i]) + "\n";
        s += "</pre></details>\n";
      }
    }
    s += case_file_html(dir, f.case_file);
    s += "</article>\n";
  }
  s += "</section>\n";
  return s;
}

}  // namespace hypdiff::report
