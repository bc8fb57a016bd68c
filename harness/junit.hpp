// JUnit XML, the report format CI systems (GitHub Actions reporters, GitLab, Jenkins) read:
// one <testsuite> of <testcase>s, each passing or carrying a <failure>. Written by hand: the
// format is a handful of elements, and no XML library is otherwise needed (escaping is the only
// subtle part, and it is tested).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hypdiff::harness {

struct JUnitCase {
  std::string classname;  // e.g. "hypdiff.corpus.regression"
  std::string name;
  double seconds = 0;
  // A failing case: message (one line), type (the failure class) and the full text.
  struct Failed {
    std::string message;
    std::string type;
    std::string text;
  };
  std::optional<Failed> failure;
  std::optional<std::string> skipped;  // why it did not run (JUnit <skipped message=...>)
  std::string system_out;              // e.g. the command that replays it
};

struct JUnitSuite {
  std::string name = "hypdiff";
  std::string timestamp;  // ISO 8601, UTC
  std::string hostname;
  double seconds = 0;
  std::vector<std::pair<std::string, std::string>> properties;  // seed, target, ...
  std::vector<JUnitCase> cases;
};

// Text with &, <, >, " and ' escaped, and characters XML 1.0 cannot carry (control characters
// but tab and newline, invalid UTF-8 bytes) replaced with '?'.
std::string xml_escape(std::string_view text);

std::string junit_xml(const JUnitSuite& suite);

// The current time as "2026-11-28T05:12:00Z".
std::string utc_timestamp();

}  // namespace hypdiff::harness
