// Field-level difference of two projections, and its one-line-per-leaf English rendering:
// "VM 2 sees npt[gfn 0x40123] -> 0x812 in one state and 0 in the other".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "oracles/projection.hpp"
#include "oracles/reflect.hpp"

namespace hypdiff::oracles {

struct ProjectionDiff {
  Z principal = 0;
  std::vector<DiffLine> lines;  // at most the cap given to diff()
  bool truncated = false;       // more leaves differ than `lines` holds
  bool empty() const { return lines.empty(); }
};

ProjectionDiff diff(const Projection& a, const Projection& b, std::size_t cap = 50);
ProjectionDiff diff(const SharedView& a, const SharedView& b, Z principal, std::size_t cap = 50);

// One line per DiffLine; a final line says when the diff was truncated.
std::string describe(const ProjectionDiff& d, std::string_view a_name = "one state",
                     std::string_view b_name = "the other");

}  // namespace hypdiff::oracles
