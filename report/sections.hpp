// The page's sections, each a <section> element, and the pure pieces they are computed from.
#pragma once

#include <string>
#include <vector>

#include "report/report.hpp"
#include "report/svg.hpp"

namespace hypdiff::report {

// The unit campaign time is shown in: seconds, minutes or hours, by the campaign's length.
struct TimeUnit {
  double seconds = 1;  // per unit
  const char* name = "s";
};
TimeUnit time_unit(double elapsed);

// Steps per second of all workers together in `buckets` equal slices of campaign time (x: the
// slice's middle, in `unit`); a slice without a finished batch is 0.
std::vector<svg::Point> throughput_points(const campaign::Journal& j, int buckets, TimeUnit unit);
// Per slice, the steps per second of one worker: steps over worker-seconds of the batches that
// finished in it; slices without a batch are left out.
std::vector<svg::Point> worker_rate_points(const campaign::Journal& j, int buckets, TimeUnit unit);
// Cases run by the end of each batch, in journal-time order, starting at (0, 0).
std::vector<svg::Point> cumulative_cases(const campaign::Journal& j, TimeUnit unit);
// Distinct failure signatures known at each failure's time, starting at (0, 0).
std::vector<svg::Point> cumulative_signatures(const campaign::Journal& j, TimeUnit unit);

// "13 TIMER_SET_CNTVOFF": the hypercall's number and its name in the spec (digest §2).
std::string hvc_label(int number);

std::string summary_section(const Input& in);
std::string throughput_section(const campaign::Journal& j);
std::string coverage_section(const campaign::Journal& j);
std::string failures_section(const campaign::Journal& j, const std::filesystem::path& dir);
std::string mutants_section(const Input& in);

}  // namespace hypdiff::report
