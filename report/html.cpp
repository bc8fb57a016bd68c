// The page: head, style, sections, and the small script that sorts tables. Everything shows
// without the script; it only adds sorting and marks the page as rendered for the test.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "report/report.hpp"
#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

// No fonts, images or scripts from anywhere: the policy makes a stray external reference fail
// loudly in a browser instead of working only when online.
constexpr const char* kHead = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<script>
window.onerror = function (msg) {
  var d = document.documentElement;
  d.setAttribute('data-errors', (d.getAttribute('data-errors') || '') + String(msg) + '; ');
};
</script>
)";

constexpr const char* kStyle = R"(<style>
body { font-family: system-ui, "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       margin: 0; color: #222; background: #f6f7f9; line-height: 1.4; }
header { background: #263238; color: #fff; padding: 16px 32px 10px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0 0 8px; color: #cfd8dc; font-size: 13px; }
nav a { color: #fff; margin-right: 18px; font-size: 14px; text-decoration: none;
        border-bottom: 1px dotted #90a4ae; }
main { max-width: 940px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 4px 20px 16px;
          margin: 18px 0; }
h2 { font-size: 19px; border-bottom: 2px solid #eceff1; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; word-break: break-all; }
h4 { font-size: 13px; margin: 10px 0 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 14px; }
.card { flex: 1 1 0; min-width: 80px; border: 1px solid #dde1e6; border-radius: 5px; padding: 8px 10px;
        background: #fafbfc; }
.card .value { font-size: 18px; font-weight: bold; white-space: nowrap; }
.card .label { font-size: 12px; color: #607d8b; }
.card.bad { border-color: #e57373; background: #fff5f5; }
.card.bad .value { color: #c62828; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; width: 100%; }
th, td { border-bottom: 1px solid #e6e9ec; padding: 4px 8px; text-align: left;
         vertical-align: top; }
thead th { background: #eceff1; position: sticky; top: 0; }
table.sortable thead th { cursor: pointer; }
table.facts { width: auto; }
table.facts th { color: #546e7a; font-weight: normal; padding-right: 18px; }
td[data-v] { text-align: right; font-variant-numeric: tabular-nums; }
tr.gap td { background: #fde2e1; color: #b71c1c; }
.v-killed { color: #2e7d32; font-weight: bold; }
.v-survived { color: #c62828; font-weight: bold; background: #fde2e1; }
.v-equivalent { color: #757575; }
figure { margin: 10px 0; overflow-x: auto; }
svg.chart { background: #fff; max-width: 100%; height: auto; }
svg.chart text { fill: #333; font-family: inherit; }
svg.chart text.tick { fill: #555; font-size: 11px; }
pre { background: #f4f5f7; border: 1px solid #e0e3e7; border-radius: 4px; padding: 8px 10px;
      font-size: 12px; overflow-x: auto; white-space: pre; }
pre.diff { background: #fffaf0; border-color: #f0dcb4; }
details summary { cursor: pointer; font-size: 13px; color: #37474f; margin: 6px 0; }
article.failure { border-top: 1px solid #eceff1; margin-top: 12px; }
p.summary { font-size: 14px; margin: 4px 0 6px; }
.warn { color: #b71c1c; }
.ok { color: #2e7d32; }
.empty { color: #8d6e63; font-style: italic; }
.missing { color: #c62828; font-style: italic; }
.gaptext { color: #c62828; font-weight: bold; }
footer { text-align: center; color: #90a4ae; font-size: 12px; padding: 10px; }
</style>
</head>
)";

// Sorting by a header click: numbers by data-v, everything else as text.
constexpr const char* kScript = R"(<script>
(function () {
  function key(td) {
    var v = td.hasAttribute('data-v') ? td.getAttribute('data-v') : td.textContent;
    var n = Number(v);
    return v !== '' && !isNaN(n) ? n : v.toLowerCase();
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-dir') !== 'asc';
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    th.setAttribute('data-dir', asc ? 'asc' : 'desc');
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.title = 'click to sort';
      th.addEventListener('click', function () { sortBy(table, col, th); });
    });
  });
  document.body.setAttribute('data-rendered', 'ok');
})();
</script>
)";

std::string now_utc() { return fmt_utc(static_cast<double>(std::time(nullptr))); }

}  // namespace

std::string render_page(const Input& in) {
  const campaign::Config& c = in.journal.config;
  const std::string title =
      in.title.empty()
          ? fmt::format("hypdiff campaign: {} against {}, seed {}", c.target, c.against, c.seed)
          : in.title;
  std::string s = kHead;
  s += "<title>" + html_escape(title) + "</title>\n";
  s += kStyle;
  s += "<body>\n<header>\n<h1>" + html_escape(title) + "</h1>\n";
  s += fmt::format("<p>Campaign directory <code>{}</code>; report written {}.</p>\n",
                   html_escape(in.dir.string()), now_utc());
  s += "<nav><a href=\"#summary\">Summary</a><a href=\"#throughput\">Throughput</a>"
       "<a href=\"#coverage\">Coverage</a><a href=\"#failures\">Failures</a>"
       "<a href=\"#mutants\">Mutant scores</a></nav>\n</header>\n<main>\n";
  s += summary_section(in);
  s += throughput_section(in.journal);
  s += coverage_section(in.journal);
  s += failures_section(in.journal, in.dir);
  s += mutants_section(in);
  s += "</main>\n<footer>hypdiff report (docs/report.md)</footer>\n";
  s += kScript;
  s += "</body>\n</html>\n";
  return s;
}

void write_atomically(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  const std::filesystem::path tmp =
      dir / fmt::format(".{}.tmp.{}", file.filename().string(), ::getpid());
  const auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    throw ReportError(fmt::format("{}: cannot {}: {}", file.string(), what, std::strerror(err)));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw ReportError(fmt::format("{}: cannot write: {}", file.string(), std::strerror(err)));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      fail("write", err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) fail("write", errno);
  if (::rename(tmp.c_str(), file.c_str()) != 0) fail("replace", errno);
}

std::filesystem::path write_report(const Options& opts) {
  std::error_code ec;
  if (!std::filesystem::exists(opts.dir, ec))
    throw ReportError(opts.dir.string() + ": no such campaign directory");
  if (!std::filesystem::is_directory(opts.dir, ec))
    throw ReportError(opts.dir.string() + ": not a directory");
  Input in;
  in.dir = opts.dir;
  in.title = opts.title;
  in.journal = campaign::read_journal(opts.dir / "journal.jsonl");
  std::filesystem::path mutants = opts.mutants;
  if (mutants.empty() && std::filesystem::exists(opts.dir / "mutants.json", ec))
    mutants = opts.dir / "mutants.json";
  if (!mutants.empty()) {
    in.mutants = read_mutants(mutants);
    in.mutants_source = mutants.string();
  }
  const std::filesystem::path out = opts.out.empty() ? opts.dir / "report.html" : opts.out;
  write_atomically(out, render_page(in));
  return out;
}

}  // namespace hypdiff::report
