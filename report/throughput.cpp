// Throughput over campaign time and the cumulative counts.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>

#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

// Campaign time is per record; batches from parallel workers arrive out of batch order.
std::vector<const campaign::Batch*> by_time(const campaign::Journal& j) {
  std::vector<const campaign::Batch*> v;
  for (const auto& b : j.batches) v.push_back(&b);
  std::stable_sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->at < b->at; });
  return v;
}

double span_of(const campaign::Journal& j) {
  double end = j.elapsed;
  for (const auto& b : j.batches) end = std::max(end, b.at);
  return end;
}

// The slice a time falls in; the campaign's last instant belongs to the last slice.
std::size_t slice_of(double at, double width, int buckets) {
  const double i = width > 0 ? std::floor(at / width) : 0;
  return static_cast<std::size_t>(std::clamp(i, 0.0, static_cast<double>(buckets - 1)));
}

// Buckets for a chart of `n` batches: about three batches a slice, at most 60 slices.
int default_buckets(std::size_t n) {
  return static_cast<int>(std::clamp<std::size_t>(n / 3, 1, 60));
}

}  // namespace

TimeUnit time_unit(double elapsed) {
  if (elapsed >= 3 * 3600) return {3600, "h"};
  if (elapsed >= 180) return {60, "min"};
  return {1, "s"};
}

std::vector<svg::Point> throughput_points(const campaign::Journal& j, int buckets, TimeUnit unit) {
  if (j.batches.empty() || buckets < 1) return {};
  const double span = span_of(j);
  const double width = span / buckets;
  std::vector<double> steps(static_cast<std::size_t>(buckets), 0);
  for (const auto& b : j.batches)
    steps[slice_of(b.at, width, buckets)] += static_cast<double>(b.steps);
  std::vector<svg::Point> out;
  for (int i = 0; i < buckets; ++i) {
    const double mid = (i + 0.5) * width;
    out.push_back({mid / unit.seconds, width > 0 ? steps[static_cast<std::size_t>(i)] / width : 0});
  }
  return out;
}

std::vector<svg::Point> worker_rate_points(const campaign::Journal& j, int buckets, TimeUnit unit) {
  if (j.batches.empty() || buckets < 1) return {};
  const double width = span_of(j) / buckets;
  std::vector<double> steps(static_cast<std::size_t>(buckets), 0), secs(steps);
  for (const auto& b : j.batches) {
    const std::size_t i = slice_of(b.at, width, buckets);
    steps[i] += static_cast<double>(b.steps);
    secs[i] += b.seconds;
  }
  std::vector<svg::Point> out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (secs[i] > 0)
      out.push_back({(static_cast<double>(i) + 0.5) * width / unit.seconds, steps[i] / secs[i]});
  }
  return out;
}

std::vector<svg::Point> cumulative_cases(const campaign::Journal& j, TimeUnit unit) {
  if (j.batches.empty()) return {};
  std::vector<svg::Point> out{{0, 0}};
  double cases = 0;
  for (const auto* b : by_time(j)) {
    cases += static_cast<double>(b->cases);
    out.push_back({b->at / unit.seconds, cases});
  }
  return out;
}

std::vector<svg::Point> cumulative_signatures(const campaign::Journal& j, TimeUnit unit) {
  std::vector<const campaign::FailureEntry*> fs;
  for (const auto& f : j.failures) fs.push_back(&f);
  std::stable_sort(fs.begin(), fs.end(), [](auto* a, auto* b) { return a->at < b->at; });
  std::vector<svg::Point> out{{0, 0}};
  std::set<std::string> seen;
  for (const auto* f : fs) {
    if (seen.insert(f->signature).second)
      out.push_back({f->at / unit.seconds, static_cast<double>(seen.size())});
  }
  // Carry the count to the end so the line shows how long no new signature turned up.
  const double end = span_of(j) / unit.seconds;
  if (out.size() > 1 && end > out.back().x) out.push_back({end, out.back().y});
  return out;
}

std::string throughput_section(const campaign::Journal& j) {
  std::string s = "<section id=\"throughput\">\n<h2>Throughput</h2>\n";
  if (j.batches.empty()) {
    s += "<p class=\"empty\">No batch has finished yet, so there is no throughput to show.</p>\n"
         "</section>\n";
    return s;
  }
  const TimeUnit unit = time_unit(span_of(j));
  const int buckets = default_buckets(j.batches.size());
  const std::string x_label = fmt::format("campaign time ({})", unit.name);
  fmt::format_to(std::back_inserter(s),
                 "<p>Steps per second over campaign time, in {} slices of {} each: all workers "
                 "together (the steps of the batches that finished in the slice over its length), "
                 "and one worker (the same steps over the workers' own time on those batches, "
                 "shrinking included).</p>\n",
                 buckets, fmt_duration(span_of(j) / buckets));
  svg::LineChart rate;
  rate.title = "Throughput (steps/s)";
  rate.x_label = x_label;
  rate.y_label = "steps/s";
  rate.series = {{"all workers", "#1565c0", throughput_points(j, buckets, unit)},
                 {"per worker", "#ef6c00", worker_rate_points(j, buckets, unit)}};
  s += "<figure>" + svg::line_chart(rate) + "</figure>\n";
  svg::LineChart cum;
  cum.title = "Cases run (cumulative)";
  cum.x_label = x_label;
  cum.y_label = "cases";
  cum.series = {{"cases", "#2e7d32", cumulative_cases(j, unit)}};
  s += "<figure>" + svg::line_chart(cum) + "</figure>\n";
  if (!j.failures.empty()) {
    svg::LineChart sig;
    sig.title = "Distinct failure signatures found (cumulative)";
    sig.x_label = x_label;
    sig.y_label = "signatures";
    sig.height = 220;
    sig.series = {{"signatures", "#c62828", cumulative_signatures(j, unit)}};
    s += "<figure>" + svg::line_chart(sig) + "</figure>\n";
  }
  s += "</section>\n";
  return s;
}

}  // namespace hypdiff::report
