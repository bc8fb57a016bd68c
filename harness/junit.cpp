#include "harness/junit.hpp"

#include <fmt/format.h>

#include <ctime>

namespace hypdiff::harness {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0 && c >= 0xc2)
    n = 2;
  else if ((c & 0xf0) == 0xe0)
    n = 3;
  else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&apos;";
        ++i;
        continue;
      default:
        break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\t') {
      out += '?';
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string junit_xml(const JUnitSuite& suite) {
  std::size_t failures = 0;
  std::size_t skipped = 0;
  for (const auto& c : suite.cases) {
    failures += c.failure ? 1 : 0;
    skipped += c.skipped && !c.failure ? 1 : 0;
  }
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format("<testsuites tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n",
                   suite.cases.size(), failures, suite.seconds);
  x += fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
      "time=\"{:.3f}\" timestamp=\"{}\" hostname=\"{}\">\n",
      xml_escape(suite.name), suite.cases.size(), failures, skipped, suite.seconds,
      xml_escape(suite.timestamp), xml_escape(suite.hostname));
  if (!suite.properties.empty()) {
    x += "    <properties>\n";
    for (const auto& [k, v] : suite.properties)
      x +=
          fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(k), xml_escape(v));
    x += "    </properties>\n";
  }
  for (const auto& c : suite.cases) {
    x += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"",
                     xml_escape(c.classname), xml_escape(c.name), c.seconds);
    if (!c.failure && !c.skipped && c.system_out.empty()) {
      x += "/>\n";
      continue;
    }
    x += ">\n";
    if (c.failure) {
      x += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                       xml_escape(c.failure->message), xml_escape(c.failure->type),
                       xml_escape(c.failure->text));
    } else if (c.skipped) {
      x += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(*c.skipped));
    }
    if (!c.system_out.empty())
      x += fmt::format("      <system-out>{}</system-out>\n", xml_escape(c.system_out));
    x += "    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace hypdiff::harness
