// Hypercalls on page ranges and buffers (14, 23, 26, 27) against the model, including host-sized
// loops (which must cost only the pages that change) and other CPUs' events landing inside them.
#include <gtest/gtest.h>

#include "hypervisor/core/vm.h"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

class HvcMem : public Twin {
 protected:
  void SetUp() override {
    Twin::SetUp();
    setup_vm();
  }
  // VM 1 READY with the 2 MiB block of frames 0xC00..0xDFF (below 16 MiB, where host faults
  // reach) as its image, VERIFIED when `verify`.
  void setup_vm(bool verify = true) {
    ASSERT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_SET_BOOT_INFO, 1, 0xC00000, 0x1000}), StepKind::ok);
    ASSERT_EQ(hvc({KC_HVC_REMAP_VM_IMAGE, 1, 0xC00, 0}), StepKind::ok);
    if (verify) {
      ASSERT_EQ(hvc({KC_HVC_VERIFY_VM_IMAGE, 1}), StepKind::ok);
    }
  }
  StepKind clear_range(uint64_t vmid, uint64_t start, uint64_t size) {
    return hvc({KC_HVC_CLEAR_VM_S2_RANGE, vmid, start, size});
  }
  StepKind ioremap(uint64_t vmid, uint64_t gpa, uint64_t pa, uint64_t size) {
    return hvc({KC_HVC_PHYS_ADDR_IOREMAP, vmid, gpa, pa, size});
  }
  // A fresh machine whose oracle schedules another CPU's OMAP_HOST(addr) at log length `at`.
  void reset_with_event(uint64_t at, uint64_t addr, bool verify = true) {
    model::OracleInputs oi;
    oi.soracle[at] = {
        model::SingleEvent{1, model::AtomicEvent{model::EventKind::OMAP_HOST, {Z(addr), 0, 0, 0}}}};
    reset(oi);
    setup_vm(verify);
  }
};

TEST_F(HvcMem, ClearReturnsAPoweredOffVmsFramesScrubbed) {
  EXPECT_EQ(clear_range(1, 0xC00000, 0x200000), StepKind::ok);  // VM running: nothing
  EXPECT_EQ(kn_sections(), 1u);
  EXPECT_EQ(page(0xC10).owner, 1u);
  kn_mem_poke64(0xC10008, 0x5EC2E7);
  set_vm_state(1, KC_VM_POWEROFF);
  EXPECT_EQ(clear_range(1, 0xBFF000, 0x3000), StepKind::ok);  // frames 0xBFF..0xC01
  EXPECT_EQ(kn_sections(), 4u);
  EXPECT_EQ(to_model(page(0xC01)), (model::S2Page{0, 0, 0xC01 + Z(KC_SMMU_HOST_OFFSET)}));
  EXPECT_EQ(page(0xC02).owner, 1u);
  EXPECT_EQ(clear_range(1, 0xC00000, 0x200FFF), StepKind::ok);  // floor: 512 frames
  EXPECT_EQ(page(0xDFF).owner, 0u);
  EXPECT_EQ(kn_mem_peek64(0xC10008), 0u);
  EXPECT_EQ(fault(0xC100), StepKind::ok);  // the host may map it again
}

TEST_F(HvcMem, ClearRefusesBadArguments) {
  for (auto x : std::vector<std::array<uint64_t, 6>>{{14, 0, 0, 0x1000},
                                                     {14, 16, 0, 0x1000},
                                                     {14, 1, 1ull << 40, 0},
                                                     {14, 1, 0, 1ull << 40}}) {
    reset();
    EXPECT_EQ(hvc(x), StepKind::halted) << x[1] << "/" << x[2] << "/" << x[3];
  }
}

// 2^28 - 1 frames, of which the VM owns 512: the loop costs the RAM scan and the 512.
TEST_F(HvcMem, AHugeClearCostsOnlyTheFramesThatChange) {
  set_vm_state(1, KC_VM_POWEROFF);
  kn_reset_counters();
  kc_step st;
  kn_mem_clear_touched();
  ASSERT_EQ(kc_step_only(model::HostHvc{{14, 1, 0, (1ull << 40) - 1}}, &st), KN_RETURNED);
  EXPECT_EQ(kn_sections(), 1u + (1ull << 28) - 1u);
  // The work is the pages the core reaches (the ownership scan of RAM and the 512 frames it
  // scrubs and unmaps, ~1,600 page switches), not the 2^28 iterations.
  std::size_t touched = 0;
  kn_mem_touched(&touched);
  EXPECT_LT(touched, 3000u);
  EXPECT_EQ(page(0xC00).owner, 0u);
  EXPECT_EQ(page(0xDFF).owner, 0u);
  // The model agrees (it skips the same way).
  const model::StepResult r = model::apply(d, model::HostHvc{{14, 1, 0, (1ull << 40) - 1}});
  ASSERT_EQ(r.kind, StepKind::ok);
  d = *r.after;
  EXPECT_EQ(diff(), "");
}

// Frame 0xC05 is shared with the host (count 1) when the VM powers off. Another CPU's host
// fault on it lands before or after this CPU clears it, depending on the query point it is
// scheduled at: before, the host maps the VM's page and the clear unmaps it again; after, the
// host maps its own page. Query points: the state read (log + 0), then frame 0xC00 + i at
// log + 1 + i.
TEST_F(HvcMem, AnotherCpusFaultLandsAtItsQueryPointInsideTheClear) {
  const uint64_t log0 = d.slog.length();
  for (uint64_t k : {0ull, 5ull, 6ull, 7ull, 100ull}) {
    reset_with_event(log0 + k, 0xC05000);
    set_page(0xC05, model::S2Page{1, 1, 0xC05});
    set_vm_state(1, KC_VM_POWEROFF);
    EXPECT_EQ(clear_range(1, 0xC00000, 0x200000), StepKind::ok) << k;
    EXPECT_EQ(injected_total, 1u) << k;
    const uint64_t want = k <= 6 ? KC_PAGE_GUEST : 0xC05FFF;
    EXPECT_EQ(walk_of(0, 0xC05).pte, want) << k;
  }
}

TEST_F(HvcMem, IoremapMapsDeviceFramesAndSkipsRam) {
  reset();
  setup_vm(false);
  EXPECT_EQ(ioremap(1, 0x8000000, 0x1FE000, 0x4000), StepKind::ok);  // 0x1FE, 0x1FF, RAM
  EXPECT_EQ(kn_sections(), 4u);
  EXPECT_EQ(to_model(walk_of(1, 0x8001)),
            (model::PtEntry{0x1FF, 3, Z(0x1FF000 | KC_PAGE_S2_DEVICE | KC_S2_RDWR)}));
  EXPECT_EQ(npt_entries(kc, 1).size(), 2u);
  EXPECT_EQ(ioremap(1, 0x9000123, 0x100FFF, 1), StepKind::ok);  // unaligned: one page
  EXPECT_EQ(walk_of(1, 0x9000).pfn, 0x100u);
  EXPECT_EQ(ioremap(1, 0x9000000, 0x100000, 0), StepKind::ok);  // empty
  EXPECT_EQ(kn_sections(), 0u);
}

TEST_F(HvcMem, IoremapNeedsAReadyVm) {
  EXPECT_EQ(ioremap(1, 0x8000000, 0x200000, 0x1000), StepKind::halted);  // VERIFIED
}

TEST_F(HvcMem, IoremapRefusesBadArguments) {
  for (auto x : std::vector<std::array<uint64_t, 6>>{{23, 0, 0, 0, 0x1000},
                                                     {23, 1, 1ull << 48, 0, 0x1000},
                                                     {23, 1, (1ull << 48) - 0x1000, 0, 0x1000},
                                                     {23, 1, 0, (1ull << 40) - 0x1000, 0x1},
                                                     {23, 1, 0, 0, 1ull << 40}}) {
    reset();
    setup_vm(false);
    EXPECT_EQ(hvc(x), StepKind::halted) << x[2] << "/" << x[3] << "/" << x[4];
  }
}

TEST_F(HvcMem, AHugeIoremapOverRamCostsNothing) {
  kc_config cfg = default_config();
  cfg.ram_pages = 1ull << 20;  // 4 GiB of RAM from 2 MiB
  reset({}, cfg);
  ASSERT_EQ(hvc({KC_HVC_REGISTER_KVM}), StepKind::ok);
  kn_mem_clear_touched();
  kn_reset_counters();
  kc_step st;
  ASSERT_EQ(kc_step_only(model::HostHvc{{23, 1, 0, 0x200000, 1ull << 32}}, &st), KN_RETURNED);
  EXPECT_EQ(kn_sections(), 1ull << 20);
  EXPECT_TRUE(npt_entries(kc, 1).empty());
  // The work is one scan of the RAM frames' ownership entries (4,096 pages of them), not 2^20
  // critical sections.
  std::size_t touched = 0;
  kn_mem_touched(&touched);
  EXPECT_LT(touched, 4096u + 100u);
  // The model agrees.
  const model::StepResult r = model::apply(d, model::HostHvc{{23, 1, 0, 0x200000, 1ull << 32}});
  ASSERT_EQ(r.kind, StepKind::ok);
  d = *r.after;
  EXPECT_EQ(diff(), "");
}

TEST_F(HvcMem, AnotherCpusFaultInsideAnIoremap) {
  // The host maps device frame 0x1F0 while VM 1 maps 0x1E0..0x1FF and skips RAM frames 0x200
  // and 0x201: the same result at every query point, including the skipped ones, where KCore
  // must stop skipping to let the event in.
  const uint64_t log0 = [&] {
    reset();
    setup_vm(false);
    return d.slog.length();
  }();
  for (uint64_t k : {0ull, 3ull, 31ull, 32ull, 33ull}) {
    reset_with_event(log0 + k, 0x1F0000, false);
    EXPECT_EQ(ioremap(1, 0x8000000, 0x1E0000, 0x22000), StepKind::ok) << k;  // + 2 RAM frames
    EXPECT_EQ(injected_total, 1u) << k;
    EXPECT_EQ(walk_of(0, 0x1F0).pfn, 0x1F0u) << k;
  }
}

TEST_F(HvcMem, DecryptGivesAnUnsharedHostPageToTheVm) {
  reset();
  setup_vm(false);
  EXPECT_EQ(fault(0x3000), StepKind::ok);  // the host maps frame 0x300
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 1, 0x300123}), StepKind::ok);
  EXPECT_EQ(to_model(page(0x300)), (model::S2Page{1, 0, Z(KC_INVALID64)}));
  EXPECT_EQ(walk_of(0, 0x300).pte, KC_PAGE_GUEST);
  EXPECT_EQ(kc_data_log(&kc, 0), 1u);
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 1, 0x300000}), StepKind::halted);  // the VM's now
}

TEST_F(HvcMem, DecryptRefusals) {
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 1, 0x300000}), StepKind::halted);  // VERIFIED
  reset();
  setup_vm(false);
  set_page(0x300, model::S2Page{0, 1, 0x300 + KC_SMMU_HOST_OFFSET});
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 1, 0x300000}), StepKind::halted);  // DMA-mapped
  reset();
  setup_vm(false);
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 1, 0x100000}), StepKind::halted);  // not RAM
  reset();
  EXPECT_EQ(hvc({KC_HVC_DECRYPT_BUF, 0, 0x300000}), StepKind::halted);  // not a VM
}

TEST_F(HvcMem, EncryptGoesFromAVmPageToAHostPage) {
  EXPECT_EQ(hvc({KC_HVC_ENCRYPT_BUF, 1, 0xC00000, 0x300000}), StepKind::ok);
  EXPECT_EQ(kc_data_log(&kc, 0), 1u);
  EXPECT_EQ(hvc({KC_HVC_ENCRYPT_BUF, 1, 0x300000, 0xC00000}), StepKind::halted);
  reset();
  setup_vm();
  EXPECT_EQ(hvc({KC_HVC_ENCRYPT_BUF, 2, 0xC00000, 0x300000}), StepKind::halted);  // VM 1's
  reset();
  EXPECT_EQ(hvc({KC_HVC_ENCRYPT_BUF, 1, 0, 1ull << 40}), StepKind::halted);
}

}  // namespace
}  // namespace hypdiff::kcore_test
