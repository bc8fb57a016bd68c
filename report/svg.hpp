// Charts as inline SVG, drawn in C++ so the page needs no script and no library: a line chart
// and a horizontal (stacked) bar chart, each with a title, axes with tick labels, axis labels and
// a legend. Every text given is escaped here.
//
// Element classes are part of the contract the tests check: "series" (one polyline per series,
// its points in `points`), "point" (a marker per data point), "seg" (one rect per non-empty bar
// segment), "gap" (the band behind a highlighted bar), "tick" (tick labels), "axis-label",
// "legend-item", "no-data".
#pragma once

#include <string>
#include <vector>

namespace hypdiff::report::svg {

// A linear axis over [lo, hi] with `step` between ticks; lo and hi are multiples of step.
struct Domain {
  double lo = 0, hi = 1, step = 1;
};
// Round bounds around [lo, hi] with about `ticks` ticks (steps of 1, 2 or 5 times 10^k).
Domain nice_domain(double lo, double hi, int ticks = 6);
// The powers of ten from at or below `lo` to at or above `hi` (both > 0).
std::vector<double> log_ticks(double lo, double hi);

struct Point {
  double x = 0, y = 0;
};
struct Series {
  std::string name;
  std::string color;  // any CSS colour
  std::vector<Point> points;
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool y_from_zero = true;
  int width = 860, height = 300;
};
std::string line_chart(const LineChart& c);

struct Bar {
  std::string label;
  std::vector<double> values;  // one per stack, drawn left to right
  bool highlight = false;      // a gap: red band and label
  std::string note;            // text right of the bar, e.g. the total
  std::string tooltip;         // extra text for the bar's hover title
};
struct BarChart {
  std::string title, value_label;
  std::vector<std::string> stacks, colors;  // names and colours of the stacks, in order
  std::vector<Bar> bars;
  bool percent = false;  // each bar scaled to 100% of its own total
  bool log = false;      // logarithmic value axis (values <= 0 draw nothing)
  int width = 860;
  int label_width = 200;  // room left of the axis for the bar labels
};
std::string bar_chart(const BarChart& c);

}  // namespace hypdiff::report::svg
