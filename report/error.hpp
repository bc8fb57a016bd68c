#pragma once

#include <stdexcept>

namespace hypdiff::report {

// Anything that keeps a report from being written: a bad input file or an unwritable output.
// The message is one line, printed as is by the CLI.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace hypdiff::report
