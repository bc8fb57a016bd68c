#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "report/text.hpp"

namespace hypdiff::report::svg {

namespace {

using Out = std::back_insert_iterator<std::string>;

constexpr const char* kAxis = "#444";
constexpr const char* kGrid = "#e4e4e4";

// A value as shown in a hover title: counts with separators, the rest with 3 digits.
std::string fmt_value(double v) {
  if (v >= 0 && v < 1e15 && v == std::floor(v)) return fmt_count(static_cast<std::uint64_t>(v));
  return fmt::format("{:.3g}", v);
}

// The value axis of a chart: where a value lands between two pixel positions.
struct Scale {
  double lo = 0, hi = 1;  // in value space (log10 of it when log)
  double p0 = 0, p1 = 1;  // pixels
  bool log = false;
  double operator()(double v) const {
    if (log) v = std::log10(std::max(v, std::pow(10.0, lo)));
    const double t = hi > lo ? (v - lo) / (hi - lo) : 0;
    return p0 + std::clamp(t, 0.0, 1.0) * (p1 - p0);
  }
};

double px(int v) { return static_cast<double>(v); }

void open_svg(Out o, int w, int h, const std::string& title) {
  fmt::format_to(o,
                 "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
                 "role=\"img\" aria-label=\"{2}\" font-size=\"12\">\n"
                 "<text class=\"chart-title\" x=\"8\" y=\"18\" font-size=\"14\" "
                 "font-weight=\"bold\">{2}</text>\n",
                 w, h, html_escape(title));
}

// One row of legend entries, right-aligned on the title line. Width per character is a guess
// that holds for the sans-serif faces browsers fall back to.
void legend(Out o, int right, const std::vector<std::string>& names,
            const std::vector<std::string>& colors) {
  double width = 0;
  for (const auto& n : names) width += 14 + 7.0 * static_cast<double>(n.size()) + 16;
  double x = right - width;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& color = i < colors.size() ? colors[i] : "#888";
    fmt::format_to(o,
                   "<g class=\"legend-item\"><rect x=\"{:.1f}\" y=\"8\" width=\"10\" "
                   "height=\"10\" fill=\"{}\"/><text x=\"{:.1f}\" y=\"17\">{}</text></g>\n",
                   x, html_escape(color), x + 14, html_escape(names[i]));
    x += 14 + 7.0 * static_cast<double>(names[i].size()) + 16;
  }
}

void no_data(Out o, int w, int h) {
  fmt::format_to(o,
                 "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                 "fill=\"#777\">no data</text>\n</svg>\n",
                 w / 2, h / 2);
}

std::vector<double> linear_ticks(const Domain& d) {
  std::vector<double> t;
  const auto n = static_cast<long>(std::llround((d.hi - d.lo) / d.step));
  for (long i = 0; i <= n; ++i) {
    double v = d.lo + static_cast<double>(i) * d.step;
    if (std::fabs(v) < d.step * 1e-9) v = 0;
    t.push_back(v);
  }
  return t;
}

}  // namespace

Domain nice_domain(double lo, double hi, int ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo = lo == 0 ? 0 : lo - pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, step};
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0)) return {};
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  std::vector<double> t;
  for (int e = e0; e <= e1; ++e) t.push_back(std::pow(10.0, e));
  return t;
}

std::string line_chart(const LineChart& c) {
  std::string s;
  Out o(s);
  open_svg(o, c.width, c.height, c.title);
  std::vector<std::string> names, colors;
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min,
         y_max = -x_min;
  for (const auto& ser : c.series) {
    names.push_back(ser.name);
    colors.push_back(ser.color);
    for (const auto& p : ser.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      x_min = std::min(x_min, p.x), x_max = std::max(x_max, p.x);
      y_min = std::min(y_min, p.y), y_max = std::max(y_max, p.y);
    }
  }
  if (!(x_min <= x_max)) {
    no_data(o, c.width, c.height);
    return s;
  }
  const int left = 72, right = c.width - 20, top = 34, bottom = c.height - 46;
  legend(o, right, names, colors);
  if (c.y_from_zero) y_min = std::min(y_min, 0.0);
  const Domain dx = nice_domain(x_min, x_max, 8), dy = nice_domain(y_min, y_max, 6);
  const Scale sx{dx.lo, dx.hi, px(left), px(right)}, sy{dy.lo, dy.hi, px(bottom), px(top)};
  for (double v : linear_ticks(dy)) {
    fmt::format_to(o,
                   "<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
                   "stroke=\"{3}\"/>\n<text class=\"tick\" x=\"{4}\" y=\"{5:.1f}\" "
                   "text-anchor=\"end\">{6}</text>\n",
                   left, right, sy(v), kGrid, left - 6, sy(v) + 4, fmt_tick(v));
  }
  for (double v : linear_ticks(dx)) {
    fmt::format_to(o,
                   "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" "
                   "stroke=\"{3}\"/>\n<text class=\"tick\" x=\"{0:.1f}\" y=\"{4}\" "
                   "text-anchor=\"middle\">{5}</text>\n",
                   sx(v), top, bottom + 4, kGrid, bottom + 18, fmt_tick(v));
  }
  fmt::format_to(o,
                 "<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{4}\"/>"
                 "\n<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{3}\" y2=\"{2}\" "
                 "stroke=\"{4}\"/>\n",
                 left, right, bottom, top, kAxis);
  fmt::format_to(o,
                 "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n"
                 "<text class=\"axis-label\" transform=\"translate(16 {}) rotate(-90)\" "
                 "text-anchor=\"middle\">{}</text>\n",
                 (left + right) / 2, c.height - 8, html_escape(c.x_label), (top + bottom) / 2,
                 html_escape(c.y_label));
  for (const auto& ser : c.series) {
    std::string pts;
    for (const auto& p : ser.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      if (!pts.empty()) pts += ' ';
      pts += fmt::format("{:.1f},{:.1f}", sx(p.x), sy(p.y));
    }
    fmt::format_to(o,
                   "<polyline class=\"series\" data-name=\"{}\" fill=\"none\" stroke=\"{}\" "
                   "stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>\n",
                   html_escape(ser.name), html_escape(ser.color), pts);
    // Markers only while they stay apart; they carry the exact values on hover.
    if (ser.points.size() > 60) continue;
    for (const auto& p : ser.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      fmt::format_to(o,
                     "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\">"
                     "<title>{}: {} = {}, {} = {}</title></circle>\n",
                     sx(p.x), sy(p.y), html_escape(ser.color), html_escape(ser.name),
                     html_escape(c.x_label), fmt_value(p.x), html_escape(c.y_label),
                     fmt_value(p.y));
    }
  }
  s += "</svg>\n";
  return s;
}

std::string bar_chart(const BarChart& c) {
  const int n = static_cast<int>(c.bars.size());
  const int row = n > 25 ? 16 : 24, bar_h = row - 6;
  const int left = c.label_width, right = c.width - 150, top = 34;
  const int height = top + std::max(n, 2) * row + 46;
  std::string s;
  Out o(s);
  open_svg(o, c.width, height, c.title);
  legend(o, c.width - 20, c.stacks, c.colors);
  double max_total = 0, min_positive = std::numeric_limits<double>::infinity();
  for (const auto& b : c.bars) {
    double total = 0;
    for (double v : b.values) {
      if (v > 0) total += v, min_positive = std::min(min_positive, v);
    }
    max_total = std::max(max_total, total);
  }
  if (n == 0) {
    no_data(o, c.width, height);
    return s;
  }
  Scale sx;
  std::vector<double> ticks;
  if (c.percent) {
    sx = {0, 100, px(left), px(right)};
    ticks = linear_ticks({0, 100, 20});
  } else if (c.log && max_total > 0) {
    ticks = log_ticks(min_positive, max_total);
    sx = {std::log10(ticks.front()), std::log10(ticks.back()), px(left), px(right), true};
  } else {
    const Domain d = nice_domain(0, max_total > 0 ? max_total : 1, 6);
    sx = {d.lo, d.hi, px(left), px(right)};
    ticks = linear_ticks(d);
  }
  const int bottom = top + n * row;
  for (double v : ticks) {
    fmt::format_to(o,
                   "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" "
                   "stroke=\"{3}\"/>\n<text class=\"tick\" x=\"{0:.1f}\" y=\"{4}\" "
                   "text-anchor=\"middle\">{5}{6}</text>\n",
                   sx(v), top, bottom + 4, kGrid, bottom + 18, fmt_tick(v), c.percent ? "%" : "");
  }
  for (int i = 0; i < n; ++i) {
    const Bar& b = c.bars[static_cast<std::size_t>(i)];
    const int y = top + i * row + 3;
    if (b.highlight) {
      fmt::format_to(o,
                     "<rect class=\"gap\" x=\"4\" y=\"{}\" width=\"{}\" height=\"{}\" "
                     "fill=\"#fde2e1\"/>\n",
                     y - 3, c.width - 8, row);
    }
    fmt::format_to(
        o, "<text class=\"bar-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\"{}>{}</text>\n",
        left - 8, y + bar_h / 2 + 4, b.highlight ? " fill=\"#c62828\" font-weight=\"bold\"" : "",
        html_escape(b.label));
    double total = 0;
    for (double v : b.values) total += std::max(v, 0.0);
    double cum = 0;
    for (std::size_t k = 0; k < b.values.size(); ++k) {
      const double v = b.values[k];
      if (!(v > 0)) continue;
      double a = cum, z = cum + v;
      cum = z;
      if (c.percent) a = a / total * 100, z = z / total * 100;
      const double xa = sx(a), xz = sx(z);
      const std::string stack = k < c.stacks.size() ? c.stacks[k] : "";
      const std::string color = k < c.colors.size() ? c.colors[k] : "#888";
      std::string tip = fmt::format("{}: {} {}", b.label, stack, fmt_value(v));
      if (c.percent) tip += fmt::format(" ({:.1f}%)", v / total * 100);
      if (!b.tooltip.empty()) tip += "; " + b.tooltip;
      fmt::format_to(o,
                     "<rect class=\"seg\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" "
                     "fill=\"{}\"><title>{}</title></rect>\n",
                     xa, y, std::max(xz - xa, 1.0), bar_h, html_escape(color), html_escape(tip));
    }
    if (!b.note.empty()) {
      fmt::format_to(o, "<text class=\"note\" x=\"{}\" y=\"{}\"{}>{}</text>\n", right + 8,
                     y + bar_h / 2 + 4, b.highlight ? " fill=\"#c62828\"" : "",
                     html_escape(b.note));
    }
  }
  fmt::format_to(o,
                 "<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{4}\"/>"
                 "\n<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{3}\" y2=\"{2}\" "
                 "stroke=\"{4}\"/>\n<text class=\"axis-label\" x=\"{5}\" y=\"{6}\" "
                 "text-anchor=\"middle\">{7}</text>\n</svg>\n",
                 left, right, bottom, top, kAxis, (left + right) / 2, height - 8,
                 html_escape(c.value_label));
  return s;
}

}  // namespace hypdiff::report::svg
