#include "campaign/coverage_json.hpp"

#include <stdexcept>

namespace hypdiff::campaign {
namespace {

nlohmann::json counts_json(const harness::Counts& k) { return {k[0], k[1], k[2]}; }
bool zero(const harness::Counts& k) { return k[0] == 0 && k[1] == 0 && k[2] == 0; }

harness::Counts counts_from(const nlohmann::json& j, const std::string& what) {
  if (!j.is_array() || j.size() != 3)
    throw std::invalid_argument("coverage " + what + ": expected [ok, halted, undefined]");
  harness::Counts k{};
  for (std::size_t i = 0; i < 3; ++i) {
    if (!j[i].is_number_unsigned())
      throw std::invalid_argument("coverage " + what + ": counts must be unsigned integers");
    k[i] = j[i].get<std::uint64_t>();
  }
  return k;
}

}  // namespace

nlohmann::json coverage_to_json(const harness::Coverage& c) {
  nlohmann::json handlers = nlohmann::json::object();
  for (int h = 0; h < model::kHandlerCount; ++h) {
    const auto& k = c.by_handler[static_cast<std::size_t>(h)];
    if (!zero(k)) handlers[model::handler_name(static_cast<model::Handler>(h))] = counts_json(k);
  }
  nlohmann::json hvcs = nlohmann::json::object();
  for (const auto& [n, k] : c.by_hvc) {
    if (!zero(k)) hvcs[n < 0 ? "other" : std::to_string(n)] = counts_json(k);
  }
  return {{"handlers", handlers}, {"hvc", hvcs}};
}

harness::Coverage coverage_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("handlers") || !j.contains("hvc") ||
      !j["handlers"].is_object() || !j["hvc"].is_object())
    throw std::invalid_argument("coverage: expected {\"handlers\": {...}, \"hvc\": {...}}");
  harness::Coverage c;
  for (const auto& [name, k] : j["handlers"].items()) {
    int found = -1;
    for (int h = 0; h < model::kHandlerCount; ++h) {
      if (name == model::handler_name(static_cast<model::Handler>(h))) found = h;
    }
    if (found < 0) throw std::invalid_argument("coverage: unknown handler '" + name + "'");
    c.by_handler[static_cast<std::size_t>(found)] = counts_from(k, name);
  }
  for (const auto& [name, k] : j["hvc"].items()) {
    int n = -1;
    if (name != "other") {
      std::size_t used = 0;
      try {
        n = std::stoi(name, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != name.size() || n < harness::kFirstHvc || n > harness::kLastHvc)
        throw std::invalid_argument("coverage: bad hypercall number '" + name + "'");
    }
    c.by_hvc[n] = counts_from(k, "hvc " + name);
  }
  return c;
}

}  // namespace hypdiff::campaign
