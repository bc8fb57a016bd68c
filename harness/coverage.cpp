#include "harness/coverage.hpp"

#include <fmt/format.h>

namespace hypdiff::harness {

void Coverage::count(const model::RData& before, const model::Op& op, model::StepKind kind) {
  const auto k = static_cast<std::size_t>(kind);
  ++by_handler[static_cast<std::size_t>(model::handler_of(op))][k];
  if (const auto* h = std::get_if<model::HostHvc>(&op); h && before.ihost && !before.icore) {
    const model::Z n = h->x[0];
    const int key = (n >= kFirstHvc && n <= kLastHvc) ? static_cast<int>(n) : -1;
    ++by_hvc[key][k];
  }
}

void Coverage::merge(const Coverage& o) {
  for (std::size_t h = 0; h < by_handler.size(); ++h)
    for (std::size_t k = 0; k < 3; ++k) by_handler[h][k] += o.by_handler[h][k];
  for (const auto& [n, c] : o.by_hvc)
    for (std::size_t k = 0; k < 3; ++k) by_hvc[n][k] += c[k];
}

std::string Coverage::gaps() const {
  std::string out;
  for (int h = 0; h < model::kHandlerCount; ++h) {
    if (static_cast<model::Handler>(h) == model::Handler::set_reg) continue;
    if (by_handler[static_cast<std::size_t>(h)][0] == 0)
      out += std::string(" ") + model::handler_name(static_cast<model::Handler>(h));
  }
  for (int n = kFirstHvc; n <= kLastHvc; ++n) {
    const auto it = by_hvc.find(n);
    if (it == by_hvc.end() || it->second[0] == 0) out += " hvc" + std::to_string(n);
  }
  return out;
}

std::string Coverage::table() const {
  std::string out =
      fmt::format("{:<16} {:>10} {:>10} {:>10}\n", "handler", "ok", "halted", "undefined");
  for (int h = 0; h < model::kHandlerCount; ++h) {
    const Counts& c = by_handler[static_cast<std::size_t>(h)];
    out += fmt::format("{:<16} {:>10} {:>10} {:>10}\n",
                       model::handler_name(static_cast<model::Handler>(h)), c[0], c[1], c[2]);
  }
  out += fmt::format("{:<16} {:>10} {:>10} {:>10}\n", "hypercall", "ok", "halted", "undefined");
  for (int n = kFirstHvc; n <= kLastHvc; ++n) {
    const auto it = by_hvc.find(n);
    const Counts c = it == by_hvc.end() ? Counts{} : it->second;
    out += fmt::format("{:<16} {:>10} {:>10} {:>10}\n", n, c[0], c[1], c[2]);
  }
  if (auto it = by_hvc.find(-1); it != by_hvc.end()) {
    out += fmt::format("{:<16} {:>10} {:>10} {:>10}\n", "other", it->second[0], it->second[1],
                       it->second[2]);
  }
  return out;
}

}  // namespace hypdiff::harness
