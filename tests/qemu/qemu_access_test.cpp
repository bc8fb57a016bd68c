// The host's own accesses on the QEMU target (docs/qemu.md, "Host loads and stores"): the leaf
// descriptor hook (core/platform.h) that makes KCore's host table point at QEMU's RAM, real
// stage-2 faults, loads and stores through that table, the injected faults, SET_REG, and a
// planted difference the model comparison catches.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "generators/case_gen.hpp"
#include "harness/runner.hpp"
#include "model/constants.hpp"
#include "qemu/host/qemu_target.hpp"

extern "C" {
#include "core/config.h"
#include "core/constants.h"
#include "core/platform.h"
#include "native/native.h"
}

namespace hypdiff::qemu {
namespace {

namespace k = model::k;
using model::StepKind;

constexpr uint64_t kW = HQ_SPEC_WINDOW;
constexpr uint64_t kO = HQ_RAM_BASE;
constexpr uint64_t kAddr = 0x0000FFFFFFFFF000ull;

TEST(LeafSwap, ExchangesTheSpecWindowWithQemusRam) {
  EXPECT_EQ(kc_leaf_swap(0x300000ull | 0xFFF, kW, kO), 0x40300000ull | 0xFFF);
  EXPECT_EQ(kc_leaf_swap(0x40300000ull | 0xFFF, kW, kO), 0x300000ull | 0xFFF);
  EXPECT_EQ(kc_leaf_swap(0x1FFFF000ull | 3, kW, kO), 0x5FFFF000ull | 3);  // the last page
  EXPECT_EQ(kc_leaf_swap(0x5FFFF000ull | 3, kW, kO), 0x1FFFF000ull | 3);
  // Device attributes (bit 54) and every other non-address bit stay.
  EXPECT_EQ(kc_leaf_swap(0x0040000000300747ull, kW, kO), 0x0040000040300747ull);
  // Output address 0 stays 0 (PAGE_GUEST, a zero pte), and so does its partner page.
  EXPECT_EQ(kc_leaf_swap(0x0200000000000000ull, kW, kO), 0x0200000000000000ull);
  EXPECT_EQ(kc_leaf_swap(0, kW, kO), 0u);
  EXPECT_EQ(kc_leaf_swap(0x40000000ull | 0x747, kW, kO), 0x40000000ull | 0x747);
  // Outside both ranges: the identity (KCore's own memory, the infrastructure, high pfns).
  for (uint64_t a : {0x20000000ull, 0x60000000ull, 0x80000000ull, 0x123456789000ull})
    EXPECT_EQ(kc_leaf_swap(a | 3, kW, kO), a | 3) << std::hex << a;
  // window 0: the identity.
  EXPECT_EQ(kc_leaf_swap(0x300FFFull, 0, 0), 0x300FFFull);
}

TEST(LeafSwap, IsAnInvolutionThatKeepsZeroAddressesAndOtherBits) {
  std::mt19937_64 rng(15);
  for (int i = 0; i < 200000; ++i) {
    uint64_t d = rng();
    // Half of them with an address near or in the two ranges.
    if (i & 1) d = (d & ~kAddr) | ((rng() % (3 * kO / 2)) & kAddr);
    const uint64_t s = kc_leaf_swap(d, kW, kO);
    ASSERT_EQ(kc_leaf_swap(s, kW, kO), d) << std::hex << d;
    ASSERT_EQ(s & ~kAddr, d & ~kAddr) << std::hex << d;
    ASSERT_EQ((s & kAddr) == 0, (d & kAddr) == 0) << std::hex << d;
  }
}

TEST(LeafSwap, TheNativePlatformIsTheIdentityUnlessAMirrorSetsAWindow) {
  EXPECT_EQ(plat_leaf_out(0x300FFFull), 0x300FFFull);
  EXPECT_EQ(plat_leaf_in(0x40300FFFull), 0x40300FFFull);
  kn_set_leaf_window(kW, kO);
  EXPECT_EQ(plat_leaf_out(0x300FFFull), 0x40300FFFull);
  EXPECT_EQ(plat_leaf_in(0x40300FFFull), 0x300FFFull);
  kn_set_leaf_window(0, 0);
  EXPECT_EQ(plat_leaf_out(0x300FFFull), 0x300FFFull);
}

// The level-3 descriptor of host gfn in the machine's real host table (0: none).
uint64_t raw_host_leaf(QemuMachine& m, uint64_t gfn) {
  uint64_t t = HQ_EL2_BASE + kc_pool_start(KC_HOSTVISOR);
  const uint64_t ipa = gfn << 12;
  for (uint32_t l = 0; l < 4; ++l) {
    const uint64_t d =
        *static_cast<const uint64_t*>(m.guest(t + 8 * ((ipa >> (39 - 9 * l)) & 511)));
    if (l == 3) return d;
    if ((d & 3) != 3) return 0;
    t = d & kAddr;
  }
  return 0;
}

uint64_t u(model::Z v) { return static_cast<uint64_t>(v); }

TEST(QemuAccess, ARealFaultMapsQemusRamAndALoadReadsIt) {
  QemuTarget qemu;
  model::MachineConfig cfg;
  qemu.reset(cfg, nullptr);
  const uint64_t pfn = 0x300;
  ASSERT_EQ(raw_host_leaf(*qemu.machine(), pfn), 0u);
  EXPECT_EQ(qemu.step(model::HostFault{pfn << 4, 0, 0x10}), StepKind::ok);
  EXPECT_EQ(qemu.stats().real_faults, 1u);
  EXPECT_EQ(qemu.stats().injected_faults, 0u);
  // The MMU walks QEMU's address; the export shows the spec's.
  EXPECT_EQ(raw_host_leaf(*qemu.machine(), pfn), (kO + (pfn << 12)) | k::PAGE_S2_KERNEL);
  const model::PtEntry e = qemu.state().shared.npts.get(0).pt.get(pfn);
  EXPECT_EQ(u(e.pfn), pfn);
  EXPECT_EQ(u(e.pte), (pfn << 12) | k::PAGE_S2_KERNEL);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.hpfar_el2), pfn << 4);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.far_el2), 0x10u);

  // A load reads what QEMU's RAM holds at HQ_RAM_BASE + pa into the host's shadow register.
  auto* word = static_cast<uint64_t*>(qemu.machine()->guest(kO + (pfn << 12)));
  const uint64_t before = *word;
  *word = 0x1122334455667788ull;
  EXPECT_EQ(qemu.step(model::MemLoad{pfn, 4}), StepKind::ok);
  *word = before;
  EXPECT_EQ(u(qemu.state().ctx(0).ctxt_regs.x[4]), 0x1122334455667788ull);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.x[4]), 0u);  // the physical register: untouched
  EXPECT_EQ(qemu.stats().accesses, 1u);

  // The same page again: mapped, so injected; the handler only records the registers.
  EXPECT_EQ(qemu.step(model::HostFault{pfn << 4, 0x24, 0x20}), StepKind::ok);
  EXPECT_EQ(qemu.stats().real_faults, 1u);
  EXPECT_EQ(qemu.stats().injected_faults, 1u);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.esr_el2), 0x24u);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.far_el2), 0x20u);
}

TEST(QemuAccess, AnUnmappedPageIsUndefinedUnlessAnEventDueMapsIt) {
  QemuTarget qemu;
  model::MachineConfig cfg;
  qemu.reset(cfg, nullptr);
  EXPECT_EQ(qemu.step(model::MemLoad{0x400, 1}), StepKind::undefined);
  EXPECT_EQ(qemu.step(model::MemStore{0x400, 1}), StepKind::undefined);
  EXPECT_EQ(qemu.step(model::MemLoad{0x400, 30}), StepKind::undefined);      // x30: excluded
  EXPECT_EQ(qemu.step(model::MemLoad{1ull << 27, 1}), StepKind::undefined);  // the agent's IPAs
  // gfn 0 and gfns beyond the spec window are answered without an access (nothing maps them).
  EXPECT_EQ(qemu.step(model::MemLoad{0, 1}), StepKind::undefined);
  EXPECT_EQ(qemu.step(model::MemStore{HQ_SPEC_WINDOW >> 12, 1}), StepKind::undefined);
  EXPECT_EQ(qemu.stats().accesses, 2u);  // only the two at 0x400 reached the machine
  EXPECT_EQ(qemu.stats().events, 0u);

  // Another CPU maps the page at the access's query point (log length 0): the access retries.
  model::OracleInputs o;
  model::SingleEvent ev;
  ev.cpu = 1;
  ev.event.kind = model::EventKind::OMAP_HOST;
  ev.event.args[0] = 0x400 << 12;
  o.soracle[0] = {ev};
  qemu.reset(cfg, std::make_shared<const model::OracleInputs>(o));
  EXPECT_EQ(qemu.step(model::MemLoad{0x400, 1}), StepKind::ok);
  EXPECT_EQ(qemu.stats().events, 1u);
  EXPECT_EQ(u(qemu.state().shared.npts.get(0).pt.get(0x400).pfn), 0x400u);
  EXPECT_EQ(qemu.state().slog.length(), 2u);  // the event and the access's query point

  // An event mapping a page beyond the spec window for such an access: not realized.
  o.soracle[0][0].event.args[0] = HQ_SPEC_WINDOW;
  qemu.reset(cfg, std::make_shared<const model::OracleInputs>(o));
  try {
    qemu.step(model::MemLoad{HQ_SPEC_WINDOW >> 12, 1});
    FAIL() << "no TargetError";
  } catch (const harness::TargetError& e) {
    EXPECT_STREQ(e.what(), "qemu target: an event maps a gfn the agent does not access");
  }
}

TEST(QemuAccess, AnSmmuFaultIsEmulatedAndTheAccessDoesNotRetry) {
  QemuTarget qemu;
  model::MachineConfig cfg;
  model::OracleInputs o;
  o.data[0] = {0x5151};  // the host's doracle: the SMMU register's value
  qemu.reset(cfg, std::make_shared<const model::OracleInputs>(o));
  // An 8-byte read (SAS 3) into x3 of SMMU 0's register at offset 0x20.
  const uint64_t ipa = u(cfg.smmus[0].phys_base) + 0x20;
  const uint64_t esr = (3ull << 22) | (3ull << 16);
  EXPECT_EQ(qemu.step(model::HostFault{(ipa >> 12) << 4, esr, ipa & 4095}), StepKind::ok);
  EXPECT_EQ(qemu.stats().real_faults, 1u);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.x[3]), 0x5151u);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.elr_el2), 4u);                    // pc-advance
  EXPECT_EQ(u(qemu.state().shared.npts.get(0).pt.get(ipa >> 12).pfn), 0u);  // no mapping
  // A store of x3 to a host page it then owns.
  EXPECT_EQ(qemu.step(model::HostFault{0x300 << 4, 0, 0}), StepKind::ok);
  EXPECT_EQ(qemu.step(model::MemStore{0x300, 3}), StepKind::ok);
  EXPECT_EQ(u(qemu.state().shared.flatmem.get(0x300)), 0x5151u);
}

TEST(QemuAccess, SetRegWritesTheRegisterFile) {
  QemuTarget qemu;
  model::MachineConfig cfg;
  qemu.reset(cfg, nullptr);
  EXPECT_EQ(qemu.step(model::SetReg{7, 0x77}), StepKind::ok);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.x[7]), 0x77u);
  EXPECT_EQ(qemu.step(model::SetReg{31, 1}), StepKind::undefined);
  // The host's next hypercall carries it (REGISTER_KVM keeps x7).
  model::HostHvc h;
  h.x[0] = k::HVC_REGISTER_KVM;
  EXPECT_EQ(qemu.step(h), StepKind::ok);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.x[7]), 0x77u);
  // A reset forgets it.
  qemu.reset(cfg, nullptr);
  EXPECT_EQ(u(qemu.state().regs.ctxt_regs.x[7]), 0u);
}

// A store reaches the frame (the page's value word, through the real mapping), and a planted
// difference in that page's copy is a divergence of the model comparison.
TEST(QemuAccess, AStoreReachesTheFrameAndAPlantedDifferenceIsCaught) {
  std::string err;
  auto model = harness::make_target("model", &err);
  ASSERT_NE(model, nullptr) << err;
  QemuTarget qemu;
  harness::Runner runner(qemu, model.get());
  generators::Case c;
  c.oracle.data[0] = {0xABCDEF};
  const uint64_t ipa = u(c.cfg.smmus[0].phys_base) + 0x20;
  const uint64_t esr = (3ull << 22) | (3ull << 16);  // x3 := the SMMU's value (0xABCDEF)
  c.ops = {model::HostFault{(ipa >> 12) << 4, esr, 0x20}, model::HostFault{0x300 << 4, 0, 0},
           model::MemStore{0x300, 3}, model::MemLoad{0x300, 9}};
  const harness::CaseResult r = runner.run(c);
  ASSERT_FALSE(r.failure) << r.failure->summary;
  EXPECT_EQ(u(qemu.state().shared.flatmem.get(0x300)), 0xABCDEFu);
  EXPECT_EQ(u(qemu.state().ctx(0).ctxt_regs.x[9]), 0xABCDEFu);
  EXPECT_EQ(*static_cast<const uint64_t*>(qemu.machine()->guest(kO + 0x300000)), 0xABCDEFu);

  qemu.set_page_hook([](uint64_t pa, uint8_t* page) {
    if (pa != 0x300000) return;
    uint64_t v;
    std::memcpy(&v, page, 8);
    ++v;
    std::memcpy(page, &v, 8);
  });
  const harness::CaseResult bad = runner.run(c);
  ASSERT_TRUE(bad.failure);
  EXPECT_EQ(bad.failure->cls, harness::FailureClass::divergence) << bad.failure->summary;
  qemu.set_page_hook({});
  EXPECT_FALSE(runner.run(c).failure);
}

}  // namespace
}  // namespace hypdiff::qemu
