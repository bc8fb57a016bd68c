#include "generators/case_gen.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "generators/curid.hpp"
#include "generators/pool_fill.hpp"
#include "model/init.hpp"

namespace hypdiff::generators {

using model::Handler;
using model::Op;
using model::pow2;
using model::RData;
using model::Z;
namespace k = model::k;

namespace {

// ---- choices (each shrinks towards 0) ----------------------------------------------------------

std::uint64_t pick(std::uint64_t n) { return n <= 1 ? 0 : *rc::gen::inRange<std::uint64_t>(0, n); }
Z pick_z(Z lo, Z hi) { return lo + static_cast<Z>(pick(static_cast<std::uint64_t>(hi - lo))); }
template <class T>
const T& pick_from(const std::vector<T>& v) {
  return v[pick(v.size())];
}
template <std::size_t N>
bool any_weight(const std::pair<int, int> (&table)[N]) {
  for (const auto& [w, kind] : table)
    if (w > 0) return true;
  return false;
}
// Picks the kind of a (weight, kind) entry with probability proportional to its weight.
template <std::size_t N>
int weighted(const std::pair<int, int> (&table)[N]) {
  int total = 0;
  for (const auto& [w, kind] : table) total += w;
  int r = static_cast<int>(pick(static_cast<std::uint64_t>(total)));
  for (const auto& [w, kind] : table) {
    if (r < w) return kind;
    r -= w;
  }
  return table[0].second;
}

Z any_u64() {
  switch (pick(6)) {
    case 0:
      return 0;
    case 1:
      return k::INVALID;
    case 2:
      return k::INVALID64;
    case 3:
      return pow2(48) + pick_z(0, 4096);
    case 4:
      return pow2(40) - 4096;
    default:
      return static_cast<Z>(*rc::gen::arbitrary<std::uint64_t>());
  }
}

// What the generator remembers about the VMs it drives. The model state is the truth about
// lifecycle states; these hints only bias argument choices.
struct VmHint {
  Z vmid = 0;
  Z block_pfn = 0;                    // 2 MiB-aligned host RAM block whose pages become the image
  Z load_addr = 0;                    // guest IPA of the image
  Z image_pages = 0;                  // per image
  Z images = 1;                       // load infos (SET_BOOT_INFO calls) of the VM
  std::vector<Z> gfns;                // gfns likely mapped in the VM's stage-2 table
  std::vector<std::pair<Z, Z>> smmu;  // (cbndx, index) allocated for this VM
  Z dma_pfn = 0;                      // host page reserved for this VM's DMA
  bool wants_dma = false;             // gets an SMMU context and DMA mappings before it is verified
  Z dma_mapped = 0;
};

struct Hints {
  std::map<Z, VmHint> vms;
  std::vector<Z> host_gfns;  // pages the host faulted in (identity mapped)
  Z next_block = 0;
  std::vector<std::pair<Z, Z>> host_smmu;
  std::vector<Z> granted;  // frames VMs shared with the host
};

struct Gen {
  const GenOptions& opts;
  const model::MachineConfig& cfg;
  model::OracleInputs& oracle;
  Hints& h;

  // Decided once per operation (begin_op); inside a hostile operation each argument is hostile
  // with probability 1/2, so most operations stay well-formed and sequences stay long.
  bool hostile_op = false;
  void begin_op() {
    hostile_op = pick(1000) >= static_cast<std::uint64_t>(1000 - opts.hostile_permille);
  }
  bool hostile() { return hostile_op && pick(2) == 1; }

  bool may(model::Handler x) const { return (opts.handlers & model::handler_bit(x)) != 0; }
  // A table weight, 0 when the handler is not allowed (GenOptions::handlers).
  int w(int weight, model::Handler x) const { return may(x) ? weight : 0; }
  // Load or store: the same draw as always when both are allowed.
  bool store_wanted(model::Handler load, model::Handler store) {
    return may(load) && may(store) ? pick(2) != 0 : may(store);
  }

  // Writes `value` at position p of a stream, padding with the values the positions before it
  // already had (the fallback), so answers consumed earlier stay what they were.
  static void put(std::vector<Z>& stream, const model::OracleInputs& o, Z v, Z p, Z value,
                  bool core) {
    while (static_cast<Z>(stream.size()) < p) {
      const Z i = static_cast<Z>(stream.size());
      stream.push_back(core ? o.core_doracle(v, i) : o.doracle(v, i));
    }
    if (static_cast<Z>(stream.size()) == p) {
      stream.push_back(value);
    } else {
      stream[static_cast<std::size_t>(p)] = value;
    }
  }
  // A load may read principal v's data oracle at its cursor without advancing it (the spec's
  // load_value); `peeked` holds, per principal, the last position read so. The generator's own
  // run has already used the value there, so a later put_data leaves it alone: otherwise the
  // finished case would read another value than the generator's states rest on
  // (generators/README.md).
  std::map<Z, Z> peeked = {};
  void put_data(Z v, Z p, Z value) {
    if (const auto it = peeked.find(v); it != peeked.end() && p <= it->second) return;
    put(oracle.data[v], oracle, v, p, value, false);
  }
  void put_core(Z v, Z p, Z value) { put(oracle.core[v], oracle, v, p, value, true); }

  Z vm_state(const RData& d, Z v) const { return d.shared.vminfos.get(v).VS.vm_state; }
  std::vector<Z> vms_in(const RData& d, Z state) const {
    std::vector<Z> out;
    for (const auto& [v, hint] : h.vms)
      if (vm_state(d, v) == state) out.push_back(v);
    return out;
  }
  Z some_vm(const RData& d) {
    if (h.vms.empty() || hostile()) return pick_z(0, cfg.max_vms + 3);
    std::vector<Z> ids;
    for (const auto& [v, hint] : h.vms) ids.push_back(v);
    (void)d;
    return pick_from(ids);
  }
  Z ram_pfn() { return cfg.ram_base_pfn + pick_z(0, cfg.ram_pages); }
  // Host RAM is carved into regions so well-formed operations do not collide: 2 MiB blocks for
  // VM images right after the first block, then pages the host touches, DMA pages and
  // decryption buffers; pages for VM fault mappings come from the upper half, which the spec's
  // host fault handler cannot reach anyway.
  Z first_block() const { return (cfg.ram_base_pfn + 511) / 512 * 512; }
  // Each VM slot has kMaxImages consecutive blocks, one per image: VERIFY maps whole 2 MiB
  // blocks, and one host block mapped at two guest regions would halt the assignment.
  static constexpr Z kMaxImages = 3;
  Z image_block(Z slot) const { return first_block() + 512 * (1 + kMaxImages * slot); }
  Z ram_end() const { return cfg.ram_base_pfn + cfg.ram_pages; }
  Z host_page() {
    // The first block, below every image block.
    return cfg.ram_base_pfn + pick_z(0, std::max<Z>(first_block() + 512 - cfg.ram_base_pfn, 1));
  }
  // Bit 4 of a DMA pfn is set so that LPAE_MAP works under the literal SMMU pte too.
  Z dma_page(Z v) const { return image_block(opts.max_vms) + 0x10 + 2 * (v % 8); }
  Z crypt_page() { return image_block(opts.max_vms) + 256 + pick_z(0, 64); }
  Z fault_region(Z v) const { return std::max(Z{0x1000}, ram_end() - 0x200 * (v + 1)); }
  Z host_reachable_pfn() {
    // The spec's host fault handler reaches addresses below 16 MiB only.
    const Z hi = std::min(ram_end(), Z{0x1000});
    return hi > cfg.ram_base_pfn ? pick_z(cfg.ram_base_pfn, hi) : ram_pfn();
  }
  static model::HostHvc hvc(Z x0, Z x1 = 0, Z x2 = 0, Z x3 = 0, Z x4 = 0, Z x5 = 0) {
    return model::HostHvc{{x0, x1, x2, x3, x4, x5}};
  }

  // ---- what the model state says ----------------------------------------------------------

  // A READY VM's next boot step: 0 register a vCPU, 1 set boot info, 2 remap a page, 3 verify.
  int boot_stage(const RData& d, Z v) const {
    const model::VMInfo info = d.shared.vminfos.get(v);
    if (info.VS.vm_vcpu_state.get(0) == k::UNUSED) return 0;
    const auto it = h.vms.find(v);
    const Z images = it == h.vms.end() ? 1 : it->second.images;
    if (info.VB.vm_next_load_info < images) return 1;
    for (Z i = 0; i < info.VB.vm_next_load_info; ++i) {
      const Z pages = (info.VB.vm_load_size.get(i) + 4095) / 4096;
      if (info.VB.vm_mapped_pages.get(i) < pages) return 2;
    }
    return 3;
  }
  std::vector<Z> runnable(const RData& d) const {
    std::vector<Z> out;
    for (Z v : vms_in(d, k::VERIFIED)) {
      const model::VMInfo info = d.shared.vminfos.get(v);
      for (Z c = 0; c < cfg.vcpus_per_vm; ++c)
        if (info.VS.vm_vcpu_state.get(c) == k::READY) {
          out.push_back(v);
          break;
        }
    }
    return out;
  }
  VmHint& hint(Z v) {
    VmHint& vh = h.vms[v];
    if (vh.vmid == 0) {
      vh.vmid = v;
      const Z slot = static_cast<Z>(h.vms.size()) - 1;
      vh.block_pfn = image_block(slot % std::max(opts.max_vms, 1));
      vh.image_pages = 1 + pick_z(0, 4);
      // Mostly one image; three exercise the load-info walk of VERIFY beyond index 1.
      vh.images = 1 + static_cast<Z>(weighted({{12, 0}, {4, 1}, {4, 2}}));
      // Below 2^28 so that the literal SET_BOOT_INFO check (is_pfn(load_addr + size)) passes too.
      vh.load_addr = Z{0x08000000} + pick_z(0, 8) * k::PAGE_SIZE;
      vh.dma_pfn = dma_page(v);
      vh.wants_dma = pick(2) == 1;
    }
    return vh;
  }

  // Image i of a VM: in its own 2 MiB guest region (VERIFY maps images by 2 MiB blocks, so
  // images sharing a region would hide which ones were loaded), backed by its own host block.
  static Z image_addr(const VmHint& vh, Z i) { return vh.load_addr + i * k::PMD_SIZE; }
  static Z image_pfn(const VmHint& vh, Z i) { return vh.block_pfn + 512 * i; }

  // ---- host operations -------------------------------------------------------------------------

  Op register_kvm() { return hvc(k::HVC_REGISTER_KVM); }

  // The next step of booting READY VM v.
  Op boot_step(const RData& d, Z v) {
    VmHint& vh = hint(v);
    switch (boot_stage(d, v)) {
      case 0:
        return hvc(k::HVC_REGISTER_VCPU, v, hostile() ? pick_z(0, cfg.vcpus_per_vm + 2) : 0);
      case 1: {
        const Z i = d.shared.vminfos.get(v).VB.vm_next_load_info;
        Z size = vh.image_pages * k::PAGE_SIZE - pick_z(0, 4096);
        Z addr = image_addr(vh, i);
        if (hostile()) {
          // A huge size; an image ending just past 2^28 (refused by the literal is_pfn check of
          // load_addr + size, accepted by is_paddr); or one ending just past 2^40, which only
          // the is_paddr check refuses (the remap window would still hold it).
          switch (pick(3)) {
            case 0:
              size = any_u64();
              break;
            case 1:
              addr = pow2(28) - pick_z(1, 4) * k::PAGE_SIZE;
              break;
            default:
              addr = pow2(40) - pick_z(1, 4) * k::PAGE_SIZE;
              break;
          }
        }
        return hvc(k::HVC_SET_BOOT_INFO, v, addr, size);
      }
      case 2: {
        const model::BootInfo vb = d.shared.vminfos.get(v).VB;
        Z i = 0;
        while (i + 1 < vb.vm_next_load_info &&
               vb.vm_mapped_pages.get(i) * k::PAGE_SIZE >= vb.vm_load_size.get(i))
          ++i;
        const Z pfn = hostile() ? any_u64() : image_pfn(vh, i) + vb.vm_mapped_pages.get(i);
        return hvc(k::HVC_REMAP_VM_IMAGE, v, pfn, hostile() ? pick_z(0, cfg.max_load_info + 1) : i);
      }
      default:
        break;
    }
    if (vh.wants_dma && vh.smmu.empty()) {
      // Give the VM a free SMMU context before it is verified (afterwards the spec refuses).
      for (Z i = 0; i < cfg.smmu_num(); ++i)
        for (Z c = 0;
             c < cfg.smmu_ctxt_banks && c < cfg.smmus[static_cast<std::size_t>(i)].context_banks;
             ++c)
          if (d.shared.smmu_vmid.get(cfg.smmu_id(i, c)) == k::INVALID) {
            vh.smmu.emplace_back(c, i);
            return hvc(k::HVC_SMMU_ALLOC_PGD, c, v, i);
          }
    }
    if (vh.wants_dma && !vh.smmu.empty() && vh.dma_mapped < 2) {
      const auto [c, i] = vh.smmu.front();
      const Z n = vh.dma_mapped++;
      return hvc(k::HVC_SMMU_LPAE_MAP, (Z{0x60000} + n) * k::PAGE_SIZE,
                 (vh.dma_pfn + n) * k::PAGE_SIZE, pick_z(0, 0x100), c, i);
    }
    // Now and then the host presents an image whose signature does not verify.
    if (pick(16) == 0) oracle.params.verify_img[v] = 0;
    return hvc(k::HVC_VERIFY_VM_IMAGE, v);
  }

  // Extra vCPUs of READY VMs, and (hostile) lifecycle calls in the wrong state.
  Op lifecycle_extra(const RData& d) {
    const auto ready = vms_in(d, k::READY);
    if (!ready.empty() && !hostile()) {
      const Z v = pick_from(ready);
      const model::VMInfo info = d.shared.vminfos.get(v);
      for (Z c = 0; c < cfg.vcpus_per_vm; ++c)
        if (info.VS.vm_vcpu_state.get(c) == k::UNUSED) return hvc(k::HVC_REGISTER_VCPU, v, c);
    }
    const Z v = some_vm(d);
    if (!hostile_op) return hvc(k::HVC_TIMER_SET_CNTVOFF);
    if (pick(2) == 0) return hvc(k::HVC_REGISTER_VCPU, v, pick_z(0, cfg.vcpus_per_vm + 2));
    return hvc(pick(2) ? k::HVC_VERIFY_VM_IMAGE : k::HVC_SET_BOOT_INFO, v,
               Z{0x08000000} + pick_z(0, 64) * k::PAGE_SIZE, pick_z(1, 3) * k::PAGE_SIZE);
  }

  // Host runs a vCPU; writes the core-oracle answers (vcpu id, fault address, pte, level) and, for
  // a first run, the data-oracle answers (pc, pstate, ACTLR) where the model will read them.
  Op vcpu_run(const RData& d) {
    const auto ok = runnable(d);
    const Z v = ok.empty() || hostile() ? some_vm(d) : pick_from(ok);
    if (!cfg.is_vm(v)) return model::VcpuRun{v};
    const Z c0 = d.core_data_log.get(v);
    std::vector<Z> ready;
    const model::VMInfo info = d.shared.vminfos.get(v);
    for (Z c = 0; c < cfg.vcpus_per_vm; ++c)
      if (info.VS.vm_vcpu_state.get(c) == k::READY) ready.push_back(c);
    const Z vcpu = ready.empty() || hostile() ? pick_z(0, cfg.vcpus_per_vm + 2) : pick_from(ready);
    put_core(v, c0, vcpu);
    VmHint& vh = hint(v);
    if (cfg.is_vcpu(vcpu) && d.ctx(cfg.ctxt_id(v, vcpu)).ctxt_states.dirty == k::INVALID64) {
      const Z n = d.data_log.get(v);
      // An entry point inside the first loaded image.
      const Z la = info.VB.vm_load_addr.get(0), size = info.VB.vm_load_size.get(0);
      const Z pc = hostile() ? any_u64() : la + pick_z(0, std::max<Z>(size / 4, 1)) * 4;
      put_data(v, n, pc);
      put_data(v, n + 1, pick_z(0, 16) * 64);
      put_data(v, n + 2, pick_z(0, 1 << 16));
    } else if (pick(3) == 0) {
      put_core(v, c0 + 1, 0);  // no stage-2 fault to map
    } else {
      // Map the page the VM faulted on, from this VM's fault region; a 2 MiB block sometimes.
      const bool block = pick(8) == 7;
      const Z region = fault_region(v);
      const Z gfn = block ? Z{0x70000} + 512 * pick_z(0, 2) : Z{0x50000} + pick_z(0, 64);
      const Z pfn = hostile() ? pick_z(0, 0x3000) : block ? region : region + pick_z(0, 0x200);
      put_core(v, c0 + 1, hostile() ? any_u64() : gfn * k::PAGE_SIZE + pick_z(0, 4096));
      put_core(v, c0 + 2, pfn * k::PAGE_SIZE | pick_z(0, 0x1000));
      put_core(v, c0 + 3, block ? 2 : 3);
      for (Z i = 0; i < (block ? 8 : 1); ++i) vh.gfns.push_back(gfn + i);
    }
    return model::VcpuRun{v};
  }

  Op smmu_op(const RData& d) {
    const auto ready = vms_in(d, k::READY);
    const Z cb = hostile() ? pick_z(0, cfg.smmu_ctxt_banks + 2)
                           : pick_z(0, std::min<Z>(cfg.smmu_ctxt_banks, 3));
    const Z idx = hostile() ? pick_z(0, cfg.smmu_num() + 2) : pick_z(0, cfg.smmu_num());
    auto owned = [&](Z v) -> std::pair<Z, Z> {
      const auto& ctxs = v == 0 ? h.host_smmu : hint(v).smmu;
      return ctxs.empty() ? std::pair<Z, Z>{cb, idx} : pick_from(ctxs);
    };
    switch (pick(5)) {
      case 0: {
        // SMMU contexts are given to VMs before they are verified (or to the host).
        const Z owner = ready.empty() || pick(3) == 0 ? 0 : pick_from(ready);
        if (d.shared.smmu_vmid.get(cfg.smmu_id(idx, cb)) == k::INVALID) {
          if (owner != 0)
            hint(owner).smmu.emplace_back(cb, idx);
          else
            h.host_smmu.emplace_back(cb, idx);
        }
        return hvc(k::HVC_SMMU_ALLOC_PGD, cb, owner, idx);
      }
      case 1: {
        // Map one of a READY VM's DMA pages at the iova its device will use.
        const Z v = ready.empty() ? 0 : pick_from(ready);
        const auto [c, i] = owned(v);
        const Z pfn = v != 0 ? hint(v).dma_pfn + pick_z(0, 2) : host_page();
        const Z gfn = Z{0x60000} + pick_z(0, 4);
        if (v != 0) hint(v).gfns.push_back(gfn);
        const Z iova = hostile() ? any_u64() : gfn * k::PAGE_SIZE;
        return hvc(k::HVC_SMMU_LPAE_MAP, iova, pfn * k::PAGE_SIZE, pick_z(0, 0x1000), c, i);
      }
      case 2: {
        const auto [c, i] = owned(ready.empty() ? 0 : pick_from(ready));
        // Mostly page-aligned; sometimes with an offset, which the answer must keep.
        const Z offset = pick(4) == 0 ? pick_z(1, k::PAGE_SIZE) : 0;
        return hvc(k::HVC_SMMU_LPAE_IOVA_TO_PHYS,
                   (Z{0x60000} + pick_z(0, 4)) * k::PAGE_SIZE + offset, c, i);
      }
      case 3: {
        const auto [c, i] = owned(ready.empty() || pick(2) ? 0 : pick_from(ready));
        return hvc(k::HVC_SMMU_CLEAR, (Z{0x60000} + pick_z(0, 4)) * k::PAGE_SIZE, c, i);
      }
      default: {
        // Freeing is allowed for free contexts and those of powered-off VMs.
        const auto off = vms_in(d, k::POWEROFF);
        const auto [c, i] =
            off.empty() || hostile() ? std::pair<Z, Z>{cb, idx} : owned(pick_from(off));
        return hvc(k::HVC_SMMU_FREE_PGD, c, i);
      }
    }
  }

  Op ioremap(const RData& d) {
    const auto ready = vms_in(d, k::READY);
    const Z v = ready.empty() || hostile() ? some_vm(d) : pick_from(ready);
    // Hostile sizes stay below 2^12 pages: every device page really gets mapped (no skipping).
    const Z pages = hostile() ? pick_z(0, 4096) : 1 + pick_z(0, 4);
    const Z pa =
        hostile() ? ram_pfn() * k::PAGE_SIZE : Z{0x09000000} + pick_z(0, 16) * k::PAGE_SIZE;
    return hvc(k::HVC_PHYS_ADDR_IOREMAP, v, Z{0x10000000} + pick_z(0, 16) * k::PAGE_SIZE, pa,
               pages * k::PAGE_SIZE);
  }

  Op crypt(const RData& d) {
    const auto ready = vms_in(d, k::READY);
    const auto verified = vms_in(d, k::VERIFIED);
    switch (pick(4)) {
      case 0: {
        // Encrypt one of a verified VM's image pages into a host page.
        if (verified.empty() && !hostile_op) return hvc(k::HVC_SAVE_CRYPT_VCPU, some_vm(d), 0);
        const Z v = verified.empty() || hostile() ? some_vm(d) : pick_from(verified);
        const Z in = hostile() || !cfg.is_vm(v) ? ram_pfn() : hint(v).block_pfn + pick_z(0, 4);
        return hvc(k::HVC_ENCRYPT_BUF, v, in * k::PAGE_SIZE, host_page() * k::PAGE_SIZE);
      }
      case 1: {
        // Decrypt a host buffer into a page that becomes the (READY) VM's.
        if (ready.empty() && !hostile_op) return hvc(k::HVC_SAVE_CRYPT_VCPU, some_vm(d), 0);
        const Z v = ready.empty() || hostile() ? some_vm(d) : pick_from(ready);
        return hvc(k::HVC_DECRYPT_BUF, v, (hostile() ? ram_pfn() : crypt_page()) * k::PAGE_SIZE);
      }
      case 2:
        return hvc(k::HVC_SAVE_CRYPT_VCPU, some_vm(d), pick_z(0, cfg.vcpus_per_vm));
      default: {
        // Load an encrypted vCPU state into a registered vCPU of a READY VM.
        if (!ready.empty() && !hostile()) {
          const Z v = pick_from(ready);
          const model::VMInfo info = d.shared.vminfos.get(v);
          for (Z c = 0; c < cfg.vcpus_per_vm; ++c)
            if (info.VS.vm_vcpu_state.get(c) == k::READY) return hvc(k::HVC_LOAD_CRYPT_VCPU, v, c);
        }
        if (!hostile_op) return hvc(k::HVC_SAVE_CRYPT_VCPU, some_vm(d), 0);
        return hvc(k::HVC_LOAD_CRYPT_VCPU, some_vm(d), pick_z(0, cfg.vcpus_per_vm + 2));
      }
    }
  }

  Op clear_vm(const RData& d) {
    const auto off = vms_in(d, k::POWEROFF);
    const Z v = off.empty() || hostile() ? some_vm(d) : pick_from(off);
    const Z base = cfg.is_vm(v) ? hint(v).block_pfn : ram_pfn();
    const Z size =
        hostile() ? any_u64() % pow2(40) : (pick(2) ? 512 : 1 + pick_z(0, 8)) * k::PAGE_SIZE;
    return hvc(k::HVC_CLEAR_VM_S2_RANGE, v, base * k::PAGE_SIZE, size);
  }

  Op host_fault_ram(const RData& d) {
    Z pfn = host_page();
    if (hostile()) pfn = pick_z(0, 0x1000);
    // Pages a VM granted to the host may be mapped by the host too.
    if (!h.granted.empty() && pick(3) == 0) pfn = pick_from(h.granted);
    const model::S2Page p = d.shared.s2page.get(pfn);
    if (!hostile_op && p.owner != k::HOSTVISOR && p.owner != k::INVALID && p.count == 0)
      pfn = host_page();
    h.host_gfns.push_back(pfn);
    return model::HostFault{pfn << 4, 0, pick_z(0, 4096)};
  }

  Op host_fault_mmio() {
    const model::SmmuUnit& u = cfg.smmus.empty() ? model::SmmuUnit{0x100000, 0x10000, 8}
                                                 : cfg.smmus[pick(cfg.smmus.size())];
    // sCR0, sCR2, CBAR0, CBAR1, a context bank's TTBR0, another global register, and
    // (hostile only) CONTEXTIDR, whose writes the spec always refuses.
    static constexpr Z kOffsets[] = {0, 8, 4096, 4100, 32768 + 32, 16, 32768 + 52};
    const std::size_t n = std::size(kOffsets) - (hostile_op ? 0 : 1);
    const Z off = hostile() ? pick_z(0, u.size) : kOffsets[pick(n)];
    const Z ipa = u.phys_base + off;
    // Well-formed accesses are 4 or 8 bytes wide (SAS 2 or 3).
    const Z sas = hostile() ? pick_z(0, 4) : 2 + pick_z(0, 2);
    const Z esr = (sas << 22) | (pick(2) ? k::ESR_ELx_WNR : 0) | (pick_z(0, 31) << 16);
    return model::HostFault{(ipa >> 12) << 4, esr, ipa & 4095};
  }

  Op host_mem() {
    const Z gfn = h.host_gfns.empty() || hostile() ? pick_z(0, 0x3000) : pick_from(h.host_gfns);
    const auto reg = static_cast<std::uint32_t>(pick(hostile() ? 40 : 30));
    if (store_wanted(Handler::mem_load, Handler::mem_store))
      return model::MemStore{static_cast<std::uint64_t>(gfn), reg};
    return model::MemLoad{static_cast<std::uint64_t>(gfn), reg};
  }

  Op set_reg() {
    return model::SetReg{static_cast<std::uint32_t>(pick(31)),
                         hostile() ? any_u64() : pick_z(0, 1 << 20)};
  }

  Op hostile_hvc() {
    return hvc(pick_z(0, 32), any_u64(), any_u64(), any_u64(), any_u64(), any_u64());
  }

  std::optional<Op> host_op(const RData& d) {
    const bool room = static_cast<int>(h.vms.size()) < opts.max_vms &&
                      d.shared.core_data.next_vmid <= cfg.max_vms;
    const auto ready = vms_in(d, k::READY);
    const bool runnable_vm = !runnable(d).empty();
    const bool off = !vms_in(d, k::POWEROFF).empty();
    // (weight, kind); entry 0 is the plainest operation so shrinking lands there.
    using H = Handler;
    const bool mem = may(H::mem_load) || may(H::mem_store);
    const std::pair<int, int> table[] = {
        {w(1, H::host_hvc), 0},                          // TIMER_SET_CNTVOFF
        {room ? w(6, H::host_hvc) : 0, 1},               // REGISTER_KVM
        {ready.empty() ? 0 : w(24, H::host_hvc), 2},     // next boot step of a READY VM
        {w(2, H::host_hvc), 3},                          // extra vCPUs / load infos / verify
        {runnable_vm ? w(16, H::host_vcpu_run) : 0, 4},  // vcpu run
        {w(4, H::host_hvc), 5},                          // SMMU
        {ready.empty() ? 0 : w(2, H::host_hvc), 6},      // IOREMAP
        {w(3, H::host_hvc), 7},                          // crypt
        {off ? w(6, H::host_hvc) : 0, 8},                // CLEAR_VM_S2_RANGE
        {w(5, H::host_npt), 9},                          // host fault on RAM
        {w(1, H::host_npt), 10},                         // host fault on SMMU MMIO
        {mem ? 5 : 0, 11},                               // host load/store
        {w(2, H::set_reg), 12},                          // set_reg
        {hostile_op ? w(4, H::host_hvc) : 0, 13},        // hostile hypercall
    };
    if (!any_weight(table)) return std::nullopt;
    const int kind = weighted(table);
    switch (kind) {
      case 0:
        return hvc(k::HVC_TIMER_SET_CNTVOFF);
      case 1:
        return register_kvm();
      case 2:
        return boot_step(d, pick_from(ready));
      case 3:
        return lifecycle_extra(d);
      case 4:
        return vcpu_run(d);
      case 5:
        return smmu_op(d);
      case 6:
        return ioremap(d);
      case 7:
        return crypt(d);
      case 8:
        return clear_vm(d);
      case 9:
        return host_fault_ram(d);
      case 10:
        return host_fault_mmio();
      case 11:
        return host_mem();
      case 12:
        return set_reg();
      default:
        return hostile_hvc();
    }
  }

  // ---- VM operations ---------------------------------------------------------------------------

  Op vm_exit(Z ec_class, Z x0 = 0, Z x1 = 0, Z x2 = 0, Z x3 = 0) {
    return model::VmExit{
        k::ARM_EXCEPTION_TRAP, ec_class << k::ESR_ELx_EC_SHIFT, {x0, x1, x2, x3}, 0, 0};
  }

  std::optional<Op> vm_op(const RData& d) {
    const Z v = d.cur_vmid;
    VmHint& vh = hint(v);
    std::vector<Z> gfns = vh.gfns;
    for (Z j = 0; j < vh.images; ++j)
      for (Z i = 0; i < vh.image_pages; ++i) gfns.push_back(image_addr(vh, j) / k::PAGE_SIZE + i);
    const Z gfn = gfns.empty() || hostile() ? pick_z(0, 0x80000) : pick_from(gfns);
    const Z bytes = hostile() ? any_u64() : pick_z(1, 4) * k::PAGE_SIZE;
    const auto reg = static_cast<std::uint32_t>(pick(30));
    using H = Handler;
    const bool dma = !vh.smmu.empty() && (may(H::dev_load) || may(H::dev_store));
    const std::pair<int, int> table[] = {
        {w(6, H::vm_exit), 0},                    // interrupt: back to the host
        {w(3, H::vm_exit), 1},                    // SYS64
        {w(4, H::vm_exit), 2},                    // grant
        {w(3, H::vm_exit), 3},                    // revoke
        {w(1, H::vm_exit), 4},                    // PSCI SYSTEM_OFF
        {w(1, H::vm_exit), 5},                    // other guest hypercall: exit to the host
        {w(8, H::mem_load), 6},                   // load
        {w(8, H::mem_store), 7},                  // store
        {dma ? 3 : 0, 8},                         // DMA
        {w(2, H::set_reg), 9},                    // set_reg
        {hostile_op ? w(4, H::vm_exit) : 0, 10},  // exits the spec halts on
    };
    if (!any_weight(table)) return std::nullopt;
    const int kind = weighted(table);
    switch (kind) {
      case 0:
        return model::VmExit{k::ARM_EXCEPTION_INTERRUPT, 0, {}, 0, 0};
      case 1:
        return vm_exit(k::ESR_ELx_EC_SYS64);
      case 2: {
        // Remember the frames the host may now map.
        const model::PtEntry e = d.shared.npts.get(v).pt.get(gfn);
        if (e.pfn != 0) h.granted.push_back(e.pfn);
        return vm_exit(k::ESR_ELx_EC_HVC64, k::HVC_KVM_SET_DESC_PFN, 0, gfn * k::PAGE_SIZE, bytes);
      }
      case 3:
        return vm_exit(k::ESR_ELx_EC_HVC64, k::HVC_KVM_UNSET_DESC_PFN, 0, gfn * k::PAGE_SIZE,
                       bytes);
      case 4:
        return vm_exit(k::ESR_ELx_EC_HVC64, k::PSCI_0_2_FN_SYSTEM_OFF);
      case 5:
        return vm_exit(k::ESR_ELx_EC_HVC64, 13 + pick_z(0, 50));
      case 6:
        return model::MemLoad{static_cast<std::uint64_t>(gfn), reg};
      case 7:
        return model::MemStore{static_cast<std::uint64_t>(gfn), reg};
      case 8: {
        const auto [cb, idx] = pick_from(vh.smmu);
        const Z dgfn =
            Z{0x60000} + (hostile() ? pick_z(0, 8) : pick_z(0, std::max<Z>(vh.dma_mapped, 1)));
        const auto g = static_cast<std::uint64_t>(dgfn);
        if (store_wanted(H::dev_load, H::dev_store))
          return model::DevStore{g, reg, static_cast<std::uint32_t>(cb),
                                 static_cast<std::uint32_t>(idx)};
        return model::DevLoad{g, reg, static_cast<std::uint32_t>(cb),
                              static_cast<std::uint32_t>(idx)};
      }
      case 9:
        return set_reg();
      default: {
        static constexpr Z kHalting[] = {k::ESR_ELx_EC_WFx, k::ESR_ELx_EC_DABT_LOW,
                                         k::ESR_ELx_EC_IABT_LOW, k::ESR_ELx_EC_HVC32, 7};
        if (pick(5) == 0) return model::VmExit{pick_z(3, 30), 0, {}, 0, 0};
        return vm_exit(kHalting[pick(std::size(kHalting))]);
      }
    }
  }

  // nullopt when no allowed handler fits the state (e.g. a VM runs but the target cannot run
  // VM exits): the case ends there.
  std::optional<Op> next(const RData& d) {
    if (d.ihost && !d.icore) return host_op(d);
    if (!d.ihost && !d.icore) return vm_op(d);
    // Halted in KCore: only the accesses that ignore halt still do anything.
    const bool mem = may(Handler::mem_load) || may(Handler::mem_store);
    if (mem && may(Handler::host_hvc)) return pick(2) ? Op{host_mem()} : Op{hostile_hvc()};
    if (mem) return host_mem();
    if (may(Handler::host_hvc)) return hostile_hvc();
    return std::nullopt;
  }

  void learn(const Op& op, const RData& after) {
    if (const auto* c = std::get_if<model::HostHvc>(&op); c && c->x[0] == k::HVC_REGISTER_KVM) {
      const Z v = after.regs.ctxt_regs.x[0];
      if (cfg.is_vm(v) && after.shared.vminfos.get(v).VS.vm_state == k::READY) hint(v);
    }
  }
};

Case build(const GenOptions& opts, std::vector<RData>* states) {
  if (states) states->clear();
  Hints hints;
  Case c;
  c.cfg = opts.cfg;
  c.oracle.fallback_seed =
      pick(4) == 0 ? 0 : static_cast<std::uint64_t>(*rc::gen::arbitrary<std::uint32_t>()) + 1;
  c.cfg.curid = curid_drawn(opts, c.oracle.fallback_seed);
  // The abstract Parameters: the values REGISTER_KVM/REGISTER_VCPU store for the host and the
  // system-register reset values a first run installs (0 when absent).
  if (pick(2) == 1) {
    for (int i = k::SYSREGS_START; i < k::SYSREGS_START + k::SHADOW_SYS_REGS_SIZE; ++i)
      c.oracle.params.reg_desc[i] = pick_z(0, 1 << 16);
  }
  if (pick(2) == 1) {
    for (Z v = 1; v <= std::min<Z>(c.cfg.max_vms, opts.max_vms + 1); ++v) {
      c.oracle.params.shared_kvm[v] = pick_z(1, 1 << 20);
      for (Z vc = 0; vc < std::min<Z>(c.cfg.vcpus_per_vm, 2); ++vc)
        c.oracle.params.shared_vcpu[{v, vc}] = pick_z(1, 1 << 20);
    }
  }
  // Now and then a case that fills a VM's table pool instead (pool_fill.hpp); deciding from a
  // value already drawn leaves every other case's draws as they were.
  if (pool_fill_drawn(opts, c.oracle.fallback_seed)) {
    add_pool_fill(opts, c);
    return c;
  }
  Gen g{opts, c.cfg, c.oracle, hints};
  RData d = model::initial_state(c.cfg, opts.profile,
                                 std::make_shared<const model::OracleInputs>(c.oracle));
  const int n = *rc::gen::inRange(opts.min_ops, opts.max_ops + 1);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t log_len = d.slog.length();
    g.begin_op();
    std::optional<Op> next = g.next(d);
    if (!next) break;
    Op op = std::move(*next);
    // Another CPU maps a host page at one of this step's first lock points.
    if (pick(12) == 11) {
      const std::uint64_t at = pick(2) == 0 ? log_len : log_len + 1 + pick(8);
      model::SingleEvent e{
          (d.curid + 1) % std::max<Z>(c.cfg.total_cpus, 1),
          {model::EventKind::OMAP_HOST, {g.host_reachable_pfn() * k::PAGE_SIZE, 0, 0, 0}}};
      c.oracle.soracle[at].push_back(e);
    }
    d.oracle = std::make_shared<const model::OracleInputs>(c.oracle);
    model::StepResult r = model::apply(d, op);
    c.ops.push_back(op);
    if (r.after) {
      if (std::holds_alternative<model::MemLoad>(op) || std::holds_alternative<model::DevLoad>(op))
        g.peeked[d.cur_vmid] = d.data_log.get(d.cur_vmid);  // conservatively: it may have read
      d = std::move(*r.after);
      g.learn(op, d);
    }
    if (states) states->push_back(d);
    // After a panic only accesses still do anything; end the case soon.
    if (d.halt && pick(4) != 0) break;
  }
  return c;
}

}  // namespace

rc::Gen<Case> case_gen(const GenOptions& opts) {
  return rc::gen::exec([opts] { return build(opts, nullptr); });
}

Case generate_case(const GenOptions& opts, std::uint64_t seed) {
  return case_gen(opts)(rc::Random(seed), rc::kNominalSize).value();
}

Case generate_case(const GenOptions& opts, std::uint64_t seed, std::vector<model::RData>* states) {
  const rc::Gen<Case> gen = rc::gen::exec([opts, states] { return build(opts, states); });
  return gen(rc::Random(seed), rc::kNominalSize).value();
}

}  // namespace hypdiff::generators
