#include "generators/pool_fill.hpp"

#include <memory>
#include <vector>

#include "generators/mix.hpp"
#include "model/init.hpp"

namespace hypdiff::generators {

using model::Z;
namespace k = model::k;

namespace {

model::HostHvc hvc(Z x0, Z x1 = 0, Z x2 = 0, Z x3 = 0, Z x4 = 0) {
  return model::HostHvc{{x0, x1, x2, x3, x4, 0}};
}

// Two consecutive frames nobody owns, outside the SMMU windows (local_map_io ignores frames with
// an owner, so RAM would allocate nothing). 0x9000 is the device window the generator's
// ordinary IOREMAPs use; a configuration with RAM there moves it past the RAM.
Z device_pfn(const model::RData& d) {
  const model::MachineConfig& cfg = d.cfg();
  const auto free = [&](Z pfn) {
    if (d.shared.s2page.get(pfn).owner != k::INVALID) return false;
    for (const model::SmmuUnit& u : cfg.smmus) {
      if (u.phys_base <= pfn * k::PAGE_SIZE && pfn * k::PAGE_SIZE < u.phys_base + u.size) {
        return false;
      }
    }
    return true;
  };
  Z pfn = cfg.is_ram(0x9000) ? cfg.ram_base_pfn + cfg.ram_pages : Z{0x9000};
  while (!(free(pfn) && free(pfn + 1))) ++pfn;
  return pfn;
}

struct Map {
  Z gpa;
  Z pages;
};

// The IOREMAPs that take `left` tables in fresh 2 MiB regions from `base` on, two per call (the
// call's two pages straddle a region boundary), arranged so that the pool's last table completes
// a call; then one page in one more region, the map past the pool's end.
std::vector<Map> plan(Z left, Z base) {
  std::vector<Map> out;
  Z r = 0;  // the next fresh region
  if (left % 2 == 1) out.push_back({base + k::PMD_SIZE * r++, 1});
  for (; r < left; r += 2) out.push_back({base + k::PMD_SIZE * (r + 1) - k::PAGE_SIZE, 2});
  out.push_back({base + k::PMD_SIZE * r, 1});
  return out;
}

}  // namespace

bool pool_fill_drawn(const GenOptions& opts, std::uint64_t fallback_seed) {
  if (opts.pool_fill_one_in <= 0 || fallback_seed == 0) return false;
  if ((opts.handlers & model::handler_bit(model::Handler::host_hvc)) == 0) return false;
  if (opts.max_vms < 1 || opts.cfg.max_vms < 1) return false;
  return splitmix64(fallback_seed) % static_cast<std::uint64_t>(opts.pool_fill_one_in) == 0;
}

void add_pool_fill(const GenOptions& opts, Case& c) {
  model::RData d = model::initial_state(c.cfg, opts.profile,
                                        std::make_shared<const model::OracleInputs>(c.oracle));
  const auto step = [&](const model::Op& op) {
    c.ops.push_back(op);
    model::StepResult r = model::apply(d, op);
    if (r.after) d = std::move(*r.after);
  };
  step(hvc(k::HVC_REGISTER_KVM));
  const Z v = d.regs.ctxt_regs.x[0];
  if (d.halt || !c.cfg.is_vm(v) || d.shared.vminfos.get(v).VS.vm_state != k::READY) return;
  const Z left =
      (model::MachineConfig::pool_end(v) - d.shared.npts.get(v).pt_pmd_next) / k::PAGE_SIZE;
  const Z pa = device_pfn(d) * k::PAGE_SIZE;
  // 2^40: pgd index 2, far from every address other cases use, and within is_addr with room.
  for (const Map& m : plan(left, model::pow2(40))) {
    step(hvc(k::HVC_PHYS_ADDR_IOREMAP, v, m.gpa, pa, m.pages * k::PAGE_SIZE));
    if (d.halt) break;
  }
}

}  // namespace hypdiff::generators
