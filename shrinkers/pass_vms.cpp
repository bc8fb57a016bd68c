// Pass 2: remove whole VM lifecycles (attribution rule in vm_lifecycle.hpp).
#include <algorithm>

#include "shrinkers/passes.hpp"
#include "shrinkers/vm_lifecycle.hpp"

namespace hypdiff::shrinkers {

namespace {

bool attempt_any(Search& s, std::vector<generators::Case> candidates) {
  for (generators::Case& c : candidates)
    if (s.attempt(std::move(c))) return true;
  return false;
}

}  // namespace

bool remove_vm_lifecycles(Search& s) {
  bool progress = false;
  LogLengths lengths;
  std::vector<model::Z> vms = vms_in(s.best());
  // Highest first: removing VM v renumbers only the VMs above it, so the ids still to be tried
  // keep their meaning.
  std::reverse(vms.begin(), vms.end());
  for (model::Z v : vms) {
    if (s.done()) break;
    std::vector<bool> mine = ops_of_vm(s.best().ops, v);
    if (std::none_of(mine.begin(), mine.end(), [](bool b) { return b; })) continue;
    // 1. Everything of v, its registration included, and renumber the VMs registered after it.
    std::vector<generators::Case> renumbered = without_ops(s.best(), mine, lengths);
    for (generators::Case& c : renumbered) renumber_after_removal(c, v);
    if (attempt_any(s, std::move(renumbered))) {
      progress = true;
      continue;
    }
    // 2. Keep the registration, so that no id changes.
    const std::optional<std::size_t> reg = registration_of(s.best().ops, v);
    std::vector<bool> rest = mine;
    if (reg) rest[*reg] = false;
    if (std::any_of(rest.begin(), rest.end(), [](bool b) { return b; }) &&
        attempt_any(s, without_ops(s.best(), rest, lengths))) {
      progress = true;
      continue;
    }
    // 3. Everything of v without renumbering: the ids of later VMs now name other VMs, which
    //    matters only to failures about wrong ids.
    if (reg && attempt_any(s, without_ops(s.best(), mine, lengths))) progress = true;
  }
  return progress;
}

}  // namespace hypdiff::shrinkers
