// Text helpers of the report: HTML escaping and the number, duration and date formats the page
// and its charts share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hypdiff::report {

// Escapes & < > " ' so that any text from a file is safe inside an element or an attribute
// (HTML and inline SVG alike).
std::string html_escape(std::string_view text);

// 1234567 -> "1,234,567".
std::string fmt_count(std::uint64_t n);

// Chart tick labels: short and exact enough, e.g. "0", "2.5", "15k", "1.2M", "0.001".
std::string fmt_tick(double v);

// Durations: "0.42 s", "12.3 s", "4 min 05 s", "2 h 03 min".
std::string fmt_duration(double seconds);

// A unix time as "2026-11-28 04:42:52 UTC".
std::string fmt_utc(double unix_seconds);

}  // namespace hypdiff::report
