// The random operations of random_diff_test.cpp: each drawn from what exists in the model's state
// (VMs by state, image frames, SMMU banks, mapped pages) so that most succeed and sequences reach
// deep states, with a share of hostile values.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {

// Draws operations from what exists in the model's state, so that most succeed and sequences
// reach deep states; a share of every draw is anything at all.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t below(uint64_t n) { return n ? rng_() % n : 0; }
  bool chance(uint32_t percent) { return below(100) < percent; }
  uint64_t any() { return rng_(); }
  template <class T>
  T pick(std::initializer_list<T> xs) {
    return *(xs.begin() + below(xs.size()));
  }
  template <class T>
  T pick(const std::vector<T>& xs, T otherwise) {
    return xs.empty() ? otherwise : xs[below(xs.size())];
  }

  uint64_t maybe_hostile(uint64_t good) {
    if (chance(10)) return good;
    return pick<uint64_t>({any(), 0, ~0ull, 1ull << 40, (1ull << 40) - 1, 1ull << 48, 16, 8, 5});
  }

  // The next operation of whoever runs. Oracle answers the operation reads (the vCPU a run
  // picks, the fault it maps, a first run's entry point) are written into `t`'s oracle first.
  model::Op op(Twin& t) {
    d_ = &t.d;
    if (!d_->ihost) return vm_op();
    const uint64_t r = below(100);
    if (r < 60) return hvc_op(hvc());
    if (r < 76) return fault();
    if (r < 95 && (!runnable().empty() || chance(5))) return run(t);
    if (r < 95) return towards_runnable();
    return model::SetReg{static_cast<uint32_t>(below(32)),
                         Z(chance(50) ? (1ull << 21) | below(256) : any())};
  }

  model::OracleInputs oracle() {
    model::OracleInputs oi;
    oi.fallback_seed = any() | 1;
    if (chance(10)) oi.params.verify_img[Z(1 + below(3))] = 0;
    oi.params.decrypt_gp_count = static_cast<int>(below(32));
    oi.params.decrypt_sys_count = static_cast<int>(below(25));
    oi.params.shared_kvm[1] = Z(any());
    oi.params.shared_vcpu[{1, 0}] = Z(any());
    oi.params.reg_desc[48] = Z(any());
    // Other CPUs' host faults, at random log lengths, mostly on frames that matter.
    for (uint64_t i = below(8); i > 0; --i) {
      const uint64_t addr = chance(70) ? host_frame_any() << 12 : below(1u << 24);
      oi.soracle[chance(80) ? below(200) : below(4000)].push_back(model::SingleEvent{
          1, model::AtomicEvent{model::EventKind::OMAP_HOST, {Z(addr), 0, 0, 0}}});
    }
    return oi;
  }

  // A VM's image base: VM v loads at 8 MiB + 4 MiB (v % 4), below the host's 16 MiB reach.
  static uint64_t image_base(uint64_t v) { return 0x800000 + 0x400000 * (v % 4); }
  uint64_t host_frame_any() {
    return pick<uint64_t>({0x300 + below(64), 0x800 + below(0x800), 0x200 + below(0x1E00)});
  }

 private:
  model::VMInfo info(uint64_t v) const { return d_->shared.vminfos.get(Z(v)); }
  Z state(uint64_t v) const { return info(v).VS.vm_state; }
  std::vector<uint64_t> vms(std::initializer_list<Z> states) const {
    std::vector<uint64_t> out;
    for (uint64_t v = 1; v <= 15; ++v)
      for (Z s : states)
        if (state(v) == s) out.push_back(v);
    return out;
  }
  uint64_t vm_in(std::initializer_list<Z> states) {
    return chance(97) ? pick(vms(states), uint64_t{1}) : 1 + below(15);
  }
  model::S2Page page(uint64_t pfn) const { return d_->shared.s2page.get(Z(pfn)); }
  // Frames some VM owns, and which VM.
  std::vector<std::pair<uint64_t, uint64_t>> vm_frames() const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    d_->shared.s2page.for_each_explicit([&](std::uint64_t pfn, const model::S2Page& p) {
      if (p.owner != 0) out.push_back({pfn, static_cast<uint64_t>(p.owner)});
    });
    return out;
  }
  uint64_t owner(uint64_t cb, uint64_t idx) const {
    return static_cast<uint64_t>(d_->shared.smmu_vmid.get(Z(idx * 8 + cb)));
  }

  std::array<uint64_t, 6> hvc() {
    std::array<uint64_t, 6> x{};
    const uint64_t registered = vms({2, 3, 4}).size();
    uint64_t which = registered < 3 ? below(22) : 4 + below(20);
    // Most calls need a READY VM, or a VM's page: make one first.
    const bool needs_ready = (which >= 4 && which <= 8) || which == 16 || which >= 19;
    if (chance(95) && registered < 6 &&
        ((needs_ready && vms({2}).empty()) || (which >= 17 && vm_frames().empty())))
      which = 0;
    switch (which) {
      case 0:
      case 1:
      case 2:
      case 3:
        x = {KC_HVC_REGISTER_KVM};
        break;
      case 4: {
        const uint64_t v = vm_in({2});
        uint64_t c = below(8);
        for (uint64_t k = 0; k < 8 && info(v).VS.vm_vcpu_state.get(Z(c)) != 0; ++k) c = (c + 1) % 8;
        x = {KC_HVC_REGISTER_VCPU, v, c};
        break;
      }
      case 5: {
        const uint64_t v = vm_in({2});
        x = {KC_HVC_SET_BOOT_INFO, v, image_base(v) + pick<uint64_t>({0, 0x1000, 0x1FF000}),
             pick<uint64_t>({0x1000, 0x2000, 0x3001})};
        break;
      }
      case 6:
      case 7: {
        // The image's own frames, in order: VERIFY then gives the VM the blocks they lie in.
        const uint64_t v = vm_in({2});
        const model::BootInfo vb = info(v).VB;
        const uint64_t idx = below(static_cast<uint64_t>(vb.vm_next_load_info) + 1);
        const uint64_t pfn = static_cast<uint64_t>(vb.vm_load_addr.get(Z(idx)) / 4096 +
                                                   vb.vm_mapped_pages.get(Z(idx)));
        x = {KC_HVC_REMAP_VM_IMAGE, v, chance(90) ? pfn : host_frame_any(), idx};
        break;
      }
      case 8: {
        // Mostly a VM with a remapped image and a vCPU, so that it can run.
        uint64_t v = vm_in({2});
        for (uint64_t k = 0; k < 4; ++k) {
          const model::VMInfo i = info(v);
          if ((i.VB.vm_mapped_pages.get(0) > 0 && i.VS.vm_vcpu_state.get(0) == 2) || chance(20))
            break;
          v = vm_in({2});
        }
        x = {KC_HVC_VERIFY_VM_IMAGE, v};
        break;
      }
      case 9: {
        const uint64_t cb = below(8), idx = below(2);
        x = {KC_HVC_SMMU_ALLOC_PGD, cb, chance(30) ? 0 : vm_in({2}), idx};
        break;
      }
      case 10: {
        uint64_t cb = below(8), idx = below(2);
        for (uint64_t k = 0; k < 16; ++k) {
          const uint64_t o = owner(cb, idx);
          if (o == KC_INVALID || (o >= 1 && o <= 15 && state(o) == 4) || chance(5)) break;
          cb = below(8);
          idx = below(2);
        }
        x = {KC_HVC_SMMU_FREE_PGD, cb, idx};
        break;
      }
      case 11:
      case 12:
      case 13: {
        // A bank of a VM not yet VERIFIED; a DMA frame that is the host's or already the VM's.
        uint64_t cb = below(8), idx = below(2);
        for (uint64_t k = 0; k < 16; ++k) {
          const uint64_t o = owner(cb, idx);
          if ((o >= 1 && o <= 15 && state(o) == 2) || chance(3)) break;
          cb = below(8);
          idx = below(2);
        }
        const uint64_t pfn = 0x300 + below(64);
        const model::S2Page p = page(pfn);
        const uint64_t iova = p.owner != 0 && p.gfn < (Z(1) << 28)
                                  ? static_cast<uint64_t>(p.gfn) << 12
                                  : below(1024) << 12;
        x = {KC_HVC_SMMU_LPAE_MAP, iova, pfn << 12, below(0x1000), cb, idx};
        break;
      }
      case 14:
        x = {KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, below(1024) << 12 | below(4096), below(8), below(2)};
        break;
      case 15:
        x = {KC_HVC_SMMU_CLEAR, below(1024) << 12, below(8), below(2)};
        break;
      case 16:
        x = {KC_HVC_PHYS_ADDR_IOREMAP, vm_in({2}), below(1ull << 36) << 12 | below(4096),
             (chance(80) ? pick<uint64_t>({0x1F0, 0x100, 0x110, 0x2000, 0x40000}) + below(8)
                         : host_frame_any())
                 << 12,
             pick<uint64_t>({0, 1, 0x1000, 0x5000, 0x40000})};
        break;
      case 17: {
        // Mostly the frames of a powered-off VM, which the call returns to the host.
        auto frames = vm_frames();
        std::vector<std::pair<uint64_t, uint64_t>> off;
        for (const auto& f : frames)
          if (state(f.second) == 4) off.push_back(f);
        if (!off.empty() && chance(80)) frames = off;
        const auto f = pick(frames, std::pair<uint64_t, uint64_t>{0x800, 1});
        const uint64_t v = chance(80) ? f.second : vm_in({4});
        x = {KC_HVC_CLEAR_VM_S2_RANGE, v, (f.first - below(4)) << 12,
             pick<uint64_t>({0x1000, 0x10000, 0x200000, (1ull << 40) - 1})};
        break;
      }
      case 18: {
        const auto f = pick(vm_frames(), std::pair<uint64_t, uint64_t>{0x800, 1});
        x = {KC_HVC_ENCRYPT_BUF, f.second, f.first << 12, (0x300 + below(64)) << 12};
        break;
      }
      case 19:
        x = {KC_HVC_DECRYPT_BUF, vm_in({2}), (0x300 + below(64)) << 12 | below(4096)};
        break;
      case 20: {
        const uint64_t v = vm_in({2});
        uint64_t c = below(8);
        for (uint64_t k = 0; k < 8 && info(v).VS.vm_vcpu_state.get(Z(c)) != 2; ++k) c = (c + 1) % 8;
        x = {pick<uint64_t>({KC_HVC_SAVE_CRYPT_VCPU, KC_HVC_LOAD_CRYPT_VCPU}), v, c};
        break;
      }
      default:
        x = {pick<uint64_t>({KC_HVC_TIMER_SET_CNTVOFF, 0, 30, 12})};
        break;
    }
    if (chance(5)) {
      const std::size_t i = 1 + below(5);
      x[i] = maybe_hostile(x[i]);
    }
    return x;
  }

  model::Op fault() {
    uint64_t hpfar, esr = 0, far = 0;
    const uint64_t r = below(100);
    if (r < 60) {
      // A frame below 16 MiB the host may map (its own, a shared one, a device), sometimes any.
      uint64_t pfn = host_frame_any() & 0xFFF;
      for (uint64_t k = 0; k < 8; ++k) {
        const model::S2Page p = page(pfn);
        if (p.owner == 0 || p.owner == KC_INVALID || p.count > 0 || chance(3)) break;
        pfn = host_frame_any() & 0xFFF;
      }
      hpfar = (pfn << 4) + below(16);
    } else if (r < 90) {
      // An SMMU register: reads of 4 or 8 bytes; writes to GR0, a bank's TTBR0 or a CBAR.
      const bool write = chance(40);
      hpfar = (0x1000 + below(0x20)) | (chance(50) ? 0x100 : 0);
      esr = ((chance(5) ? below(2) : 2 + below(2)) << 22) | (write ? 64 : 0) | (below(31) << 16);
      far = write ? pick<uint64_t>({0x100, 32, 0x40, 8 + below(40)}) : below(4096);
      if (write && chance(50)) hpfar = 0x1080 + below(8);  // the bank space (offset >= 0x8000)
    } else {
      hpfar = any();
      esr = any();
      far = any();
    }
    return model::HostFault{Z(hpfar), Z(esr), Z(far)};
  }

  // The host runs a VERIFIED VM's vCPU; the answers make most runs succeed.
  static model::Op hvc_op(const std::array<uint64_t, 6>& x) {
    model::HostHvc h;
    for (std::size_t i = 0; i < 6; ++i) h.x[i] = Z(x[i]);
    return h;
  }

  // The next step of bringing a READY VM to run: a vCPU, an image, its pages, VERIFY.
  model::Op towards_runnable() {
    const std::vector<uint64_t> ready = vms({2});
    if (ready.empty()) return hvc_op({KC_HVC_REGISTER_KVM});
    const uint64_t v = pick(ready, uint64_t{1});
    const model::VMInfo i = info(v);
    for (uint64_t c = 0; c < 8; ++c) {
      if (i.VS.vm_vcpu_state.get(Z(c)) == 2) break;
      if (i.VS.vm_vcpu_state.get(Z(c)) == 0) return hvc_op({KC_HVC_REGISTER_VCPU, v, c});
    }
    if (i.VB.vm_next_load_info == 0)
      return hvc_op({KC_HVC_SET_BOOT_INFO, v, image_base(v), 0x1000});
    const Z mapped = i.VB.vm_mapped_pages.get(0);
    if (mapped == 0) {
      return hvc_op({KC_HVC_REMAP_VM_IMAGE, v,
                     static_cast<uint64_t>(i.VB.vm_load_addr.get(0) / 4096 + mapped), 0});
    }
    return hvc_op({KC_HVC_VERIFY_VM_IMAGE, v});
  }

  // VERIFIED VMs with an image and a READY vCPU.
  std::vector<uint64_t> runnable() const {
    std::vector<uint64_t> out;
    for (uint64_t v : vms({3})) {
      const model::VMInfo i = info(v);
      bool ready = false;
      for (Z c = 0; c < 8; ++c) ready = ready || i.VS.vm_vcpu_state.get(c) == 2;
      if (ready && i.VB.vm_next_load_info > 0) out.push_back(v);
    }
    return out;
  }

  model::Op run(Twin& t) {
    const uint64_t v = pick(runnable(), uint64_t{1});
    if (v < 1 || v > 15) return model::VcpuRun{Z(v)};
    const uint64_t c = static_cast<uint64_t>(d_->core_data_log.get(Z(v)));
    uint64_t vcpu = below(8);
    for (uint64_t k = 0; k < 8 && info(v).VS.vm_vcpu_state.get(Z(vcpu)) != 2 && !chance(3); ++k)
      vcpu = (vcpu + 1) % 8;
    t.set_core(v, c, vcpu);
    // The page the VM faulted on: none, a host frame, or a 2 MiB block of frames.
    const uint64_t kind = below(10);
    const uint64_t gfn = pick<uint64_t>({0x40000, 0x80000, 0xC00, 0x1000}) + below(0x400);
    t.set_core(v, c + 1, kind < 5 ? below(4096) : gfn << 12 | below(4096));
    t.set_core(v, c + 2,
               kind < 8 ? (0x300 + below(64)) << 12 | below(4096)
                        : pick<uint64_t>({0x1000, 0x1200, 0x1600}) << 12);
    t.set_core(v, c + 3, kind < 8 ? pick<uint64_t>({3, 3, 1, 0}) : 2);
    // A first run's entry point (inside the first image mostly), PSTATE and ACTLR.
    const uint64_t n = static_cast<uint64_t>(d_->data_log.get(Z(v)));
    const model::BootInfo vb = info(v).VB;
    t.set_data(
        v, n,
        static_cast<uint64_t>(vb.vm_load_addr.get(0)) + below(chance(90) ? 0x1000 : 1ull << 30));
    t.set_data(v, n + 1, any());
    t.set_data(v, n + 2, any());
    return model::VcpuRun{Z(chance(97) ? v : any())};
  }

  // The running VM: a trap (system register, hypercall: share, unshare, PSCI off, other), an
  // interrupt, or a register write.
  model::Op vm_op() {
    if (chance(10)) return model::SetReg{static_cast<uint32_t>(below(31)), Z(any())};
    model::VmExit e;
    const uint64_t r = below(100);
    e.ec = r < 75 ? KC_ARM_EXCEPTION_TRAP : r < 97 ? KC_ARM_EXCEPTION_INTERRUPT : Z(below(64));
    const uint64_t ec =
        pick<uint64_t>({KC_ESR_EC_HVC64, KC_ESR_EC_HVC64, KC_ESR_EC_HVC64, KC_ESR_EC_SYS64,
                        KC_ESR_EC_HVC64, chance(20) ? below(64) : 22});
    e.esr = Z(ec << 26 | below(1u << 25));
    const uint64_t call =
        pick<uint64_t>({KC_HVC_KVM_SET_DESC_PFN, KC_HVC_KVM_SET_DESC_PFN, KC_HVC_KVM_UNSET_DESC_PFN,
                        KC_HVC_KVM_UNSET_DESC_PFN, 0x84000008, 0x1234});
    const uint64_t gfn = pick<uint64_t>({0xC00, 0x800, 0x1000, 0x40000, 0x80000}) + below(0x200);
    e.x = {Z(call), Z(any()), Z(chance(90) ? gfn << 12 | below(4096) : any()),
           Z(chance(90) ? below(0x10000) : pick<uint64_t>({~0ull, 1ull << 40, any()}))};
    e.hpfar = Z(any());
    e.far = Z(any());
    return e;
  }

  std::mt19937_64 rng_;
  const model::RData* d_ = nullptr;
};

}  // namespace hypdiff::kcore_test
