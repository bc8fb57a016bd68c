#include "model/config.hpp"

namespace hypdiff::model {

std::optional<std::string> MachineConfig::validate() const {
  auto bad = [](std::string why) { return std::optional<std::string>(std::move(why)); };
  // Owner ids and CBAR vmids are 8-bit fields in the SMMU emulation (CBAR_VMID_MASK = 255).
  if (max_vms < 1 || max_vms > 254) return bad("max_vms must be in 1..254, got " + to_dec(max_vms));
  if (vcpus_per_vm < 1 || vcpus_per_vm > 256)
    return bad("vcpus_per_vm must be in 1..256, got " + to_dec(vcpus_per_vm));
  if (total_cpus < 1) return bad("total_cpus must be at least 1");
  // The host's vCPU id on a CPU is its CPU id and its context is ctxt_id(HOST, curid): with more
  // CPUs than vCPU slots per principal the host's contexts would alias VM 1's.
  if (total_cpus > vcpus_per_vm)
    return bad("total_cpus (" + to_dec(total_cpus) + ") must not exceed vcpus_per_vm (" +
               to_dec(vcpus_per_vm) + "): host contexts would alias VM 1's");
  if (curid < 0 || curid >= total_cpus)
    return bad("curid must be in 0.." + to_dec(total_cpus - 1) + ", got " + to_dec(curid));
  if (ram_base_pfn < 1) return bad("RAM must not include pfn 0 (the spec's page_0_invalid)");
  if (ram_pages < 1) return bad("ram_pages must be at least 1");
  if (ram_base_pfn + ram_pages > k::KVM_PFN_SPACE)
    return bad("RAM must end below pfn 2^28 (KVM_PFN_SPACE)");
  if (smmus.size() > 16) return bad("at most 16 SMMUs are supported");
  if (smmu_ctxt_banks < 1 || smmu_ctxt_banks > 128)
    return bad("smmu_ctxt_banks must be in 1..128, got " + to_dec(smmu_ctxt_banks));
  // Every SMMU context table gets its own 8 KiB TTBR slot; they must stay inside the SMMU pool's
  // PGD area for the slots not to overlap the pool the tables are allocated from.
  if (smmu_ttbr(smmu_num(), 0) > k::SMMU_PGD_START)
    return bad("too many SMMU contexts: their TTBR slots overrun the SMMU PGD pool");
  for (std::size_t i = 0; i < smmus.size(); ++i) {
    const SmmuUnit& s = smmus[i];
    const std::string name = "smmu " + std::to_string(i);
    if (s.size <= 0 || s.phys_base < 0 || s.phys_base + s.size > k::MAX_MMIO_ADDR)
      return bad(name + ": MMIO window must be non-empty and below 2^30 (MAX_MMIO_ADDR)");
    if (s.context_banks < 0 || s.context_banks > smmu_ctxt_banks)
      return bad(name + ": context_banks must be in 0..smmu_ctxt_banks");
    const Z first = s.phys_base / k::PAGE_SIZE;
    const Z last = (s.phys_base + s.size - 1) / k::PAGE_SIZE;
    if (last >= ram_base_pfn && first < ram_base_pfn + ram_pages)
      return bad(name + ": MMIO window overlaps host RAM");
    for (std::size_t j = 0; j < i; ++j) {
      const SmmuUnit& o = smmus[j];
      if (s.phys_base < o.phys_base + o.size && o.phys_base < s.phys_base + s.size)
        return bad(name + ": MMIO window overlaps smmu " + std::to_string(j));
    }
  }
  if (max_share_count < 1) return bad("max_share_count must be at least 1");
  if (max_load_info < 1 || max_load_info > 64)
    return bad("max_load_info must be in 1..64, got " + to_dec(max_load_info));
  return std::nullopt;
}

}  // namespace hypdiff::model
