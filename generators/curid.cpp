#include "generators/curid.hpp"

#include "generators/mix.hpp"

namespace hypdiff::generators {

model::Z curid_drawn(const GenOptions& opts, std::uint64_t fallback_seed) {
  const model::MachineConfig& cfg = opts.cfg;
  if (opts.other_cpu_one_in <= 0 || cfg.total_cpus < 2 || fallback_seed == 0) return cfg.curid;
  // Salted: independent of the pool-fill draw, which mixes the same fallback_seed.
  const std::uint64_t h = splitmix64(fallback_seed ^ 0x6375726964ULL /* "curid" */);
  const auto one_in = static_cast<std::uint64_t>(opts.other_cpu_one_in);
  if (h % one_in != 0) return cfg.curid;
  // Another CPU than the configured one, each equally likely.
  const auto others = static_cast<std::uint64_t>(cfg.total_cpus - 1);
  const auto step = static_cast<model::Z>(1 + (h / one_in) % others);
  return (cfg.curid + step) % cfg.total_cpus;
}

}  // namespace hypdiff::generators
