#include "oracles/diff.hpp"

namespace hypdiff::oracles {

namespace {

template <class T>
ProjectionDiff diff_of(const T& a, const T& b, Z principal, std::size_t cap) {
  ProjectionDiff out;
  out.principal = principal;
  Path path;
  // One line past the cap tells whether anything was left out.
  diff(a, b, path, out.lines, cap + 1);
  if (out.lines.size() > cap) {
    out.lines.resize(cap);
    out.truncated = true;
  }
  return out;
}

// Translations read as "npt[gfn 0x40123] -> 0x812"; every other observation as "x = v".
bool is_translation(const std::string& path) {
  return path.starts_with("npt[") || path.starts_with("spt[");
}

}  // namespace

ProjectionDiff diff(const Projection& a, const Projection& b, std::size_t cap) {
  return diff_of(a, b, a.observer, cap);
}

ProjectionDiff diff(const SharedView& a, const SharedView& b, Z principal, std::size_t cap) {
  return diff_of(a, b, principal, cap);
}

std::string describe(const ProjectionDiff& d, std::string_view a_name, std::string_view b_name) {
  const std::string who = principal_name(d.principal);
  std::string out;
  for (const DiffLine& l : d.lines) {
    out += who;
    out += " sees ";
    out += l.path;
    out += is_translation(l.path) ? " -> " : " = ";
    out += l.a;
    out += " in ";
    out += a_name;
    out += " and ";
    out += l.b;
    out += " in ";
    out += b_name;
    out += '\n';
  }
  if (d.truncated) out += "(more differences not shown)\n";
  return out;
}

}  // namespace hypdiff::oracles
