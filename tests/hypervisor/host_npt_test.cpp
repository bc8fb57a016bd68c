// The host's stage-2 fault path against the model (Twin::fault compares outcome, query points and
// the whole state after each fault): lazy RAM and device mappings, refusals, and the emulation
// of SMMU register accesses.
#include "hypervisor/core/host_npt.h"

#include <gtest/gtest.h>

#include "hypervisor/core/vm.h"
#include "tests/hypervisor/twin.hpp"

namespace hypdiff::kcore_test {
namespace {

using model::StepKind;

class HostNpt : public Twin {
 protected:
  // esr of a data abort: access size 1 << sas bytes, write or read, register rt.
  static uint64_t esr(uint32_t sas, bool write, uint32_t rt) {
    return (uint64_t(sas) << 22) | (write ? 64u : 0u) | (uint64_t(rt) << 16);
  }
  // hpfar for a fault at byte address a (< 16 MiB): the address is (hpfar & 0xFFFF) * 256.
  static uint64_t hpfar_of(uint64_t a) { return a / 256; }
  void set_x(uint32_t reg, uint64_t v) { step(model::SetReg{reg, Z(v)}); }
};

// hpfar 0x3450 -> address 0x345000 ((hpfar & 0xFFFF) * 256).
TEST_F(HostNpt, RamFaultMapsTheFrameAsNormalMemory) {
  EXPECT_EQ(fault(0x3450), StepKind::ok);
  EXPECT_EQ(kn_sections(), 2u);
  EXPECT_EQ(to_model(walk_of(0, 0x345)), (model::PtEntry{0x345, 3, 0x345FFF}));
  EXPECT_EQ(npt_entries(kc, 0).size(), 1u);
}

TEST_F(HostNpt, NonRamFaultMapsADevice) {
  EXPECT_EQ(fault(0x10), StepKind::ok);  // pfn 1: below RAM, no SMMU
  EXPECT_EQ(to_model(walk_of(0, 0x1)), (model::PtEntry{1, 3, Z(0x1000 | 0x40000000000747 | 0xC0)}));
  EXPECT_EQ(fault(0x0), StepKind::ok);  // pfn 0 as well: owner INVALID
  EXPECT_EQ(walk_of(0, 0).pte, KC_PAGE_S2_DEVICE | KC_S2_RDWR);
}

TEST_F(HostNpt, ManyAddressesAgreeWithTheModel) {
  // RAM bottom/top of the reachable half, sub-page hpfar bits, repeats, devices, 2 MiB edges,
  // and hpfar bits above 15 that the handler drops.
  for (uint64_t hpfar :
       {0x2000ull, 0x2001ull, 0x3450ull, 0x3451ull, 0x3450ull, 0x1FF0ull, 0xFFFFull, 0x1FFF0ull,
        0x12340ull, 0x4000ull, 0x3FF0ull, 0x200ull, 0x5000ull, 0x9990ull, 0xA000ull, ~0ull})
    EXPECT_EQ(fault(hpfar), StepKind::ok) << hpfar;
  EXPECT_EQ(npt_entries(kc, 0).size(), 11u);  // distinct frames among the above
}

TEST_F(HostNpt, TheHostsRegistersPassThrough) {
  set_x(3, 0xABC);
  set_x(30, 7);
  EXPECT_EQ(fault(0x3450), StepKind::ok);
  EXPECT_EQ(kc_ctxt_of(&kc, 0, 0)->regs.x[3], 0xABCu);  // host_to_core
  EXPECT_EQ(kn_cpu_regs(0)->regs.x[30], 7u);
}

TEST_F(HostNpt, FaultOnAVmPageHalts) {
  set_page(0x345, model::S2Page{1, 0, 0x50});
  EXPECT_EQ(fault(0x3450), StepKind::halted);
  EXPECT_STREQ(kn_panic_reason(), "host stage-2 fault on a page private to a VM or KCore");
  EXPECT_EQ(to_model(walk_of(0, 0x345)), (model::PtEntry{0, 0, 0}));
  // Halted inside KCore: every later host operation is undefined, on both.
  EXPECT_EQ(fault(0x3460), StepKind::undefined);
  EXPECT_EQ(hvc({24}), StepKind::undefined);
}

TEST_F(HostNpt, ASharedVmPageIsMapped) {
  set_page(0x345, model::S2Page{1, 1, 0x50});
  EXPECT_EQ(fault(0x3450), StepKind::ok);
  EXPECT_EQ(walk_of(0, 0x345).pfn, 0x345u);
}

TEST_F(HostNpt, SmmuReadsReturnTheHostsOracleValue) {
  model::OracleInputs oi;
  oi.data[0] = {Z(0x1122334455667788), Z(0xAABBCCDDEEFF0011)};
  reset(oi);
  // SMMU 1 at 0x110000: an 8-byte read into x7, then a 4-byte read into x8.
  EXPECT_EQ(fault(hpfar_of(0x110800), esr(3, false, 7), 0x20), StepKind::ok);
  EXPECT_EQ(kn_sections(), 1u);
  EXPECT_EQ(kn_cpu_regs(0)->regs.x[7], 0x1122334455667788u);
  EXPECT_EQ(kn_cpu_regs(0)->regs.elr_el2, 4u);  // pc-advance
  EXPECT_EQ(fault(hpfar_of(0x100000), esr(2, false, 8)), StepKind::ok);
  EXPECT_EQ(kn_cpu_regs(0)->regs.x[8], 0xEEFF0011u);
  EXPECT_EQ(kc_data_log(&kc, 0), 2u);
  EXPECT_TRUE(npt_entries(kc, 0).empty());
  // A 2-byte read halts and consumes nothing.
  EXPECT_EQ(fault(hpfar_of(0x100000), esr(1, false, 8)), StepKind::halted);
  EXPECT_EQ(kc_data_log(&kc, 0), 2u);
}

TEST_F(HostNpt, SmmuGlobalWritesAreChecked) {
  set_x(5, 1u << 21);  // sCR0 with SMCFCFG set: allowed
  EXPECT_EQ(fault(hpfar_of(0x100000), esr(2, true, 5)), StepKind::ok);
  set_x(5, 0x100);  // sCR2 (offset 8) with a zero low byte: allowed
  EXPECT_EQ(fault(hpfar_of(0x100000), esr(3, true, 5), 8), StepKind::ok);
  EXPECT_EQ(fault(hpfar_of(0x100100), esr(3, true, 5)), StepKind::ok);      // other GR0 registers
  EXPECT_EQ(fault(hpfar_of(0x108000), esr(3, true, 5), 32), StepKind::ok);  // a bank's TTBR0
  EXPECT_EQ(kn_cpu_regs(0)->regs.elr_el2, 16u);
  set_x(5, 0);  // sCR0 clearing SMCFCFG: refused
  EXPECT_EQ(fault(hpfar_of(0x100000), esr(2, true, 5)), StepKind::halted);
}

TEST_F(HostNpt, SmmuContextIdrWritesHalt) {
  EXPECT_EQ(fault(hpfar_of(0x109000), esr(3, true, 0), 52), StepKind::halted);
}

TEST_F(HostNpt, SmmuByteWritesHalt) {
  EXPECT_EQ(fault(hpfar_of(0x100100), esr(0, true, 0)), StepKind::halted);
}

// CBAR[n] at 0x1000 + 4n: a free bank's is refused, the host's is free, a VM's must name the VM.
TEST_F(HostNpt, SmmuCbarWritesFollowTheBanksOwner) {
  EXPECT_EQ(hvc({24}), StepKind::ok);           // VM 1, READY
  EXPECT_EQ(hvc({19, 2, 0, 0}), StepKind::ok);  // bank 2 of SMMU 0: the host's
  EXPECT_EQ(hvc({19, 3, 1, 0}), StepKind::ok);  // bank 3: VM 1's
  set_x(4, 0x12345);                            // type 1: anything goes for the host
  EXPECT_EQ(fault(hpfar_of(0x101000), esr(2, true, 4), 8), StepKind::ok);
  set_x(4, 1);  // type 0 (stage 2), VMID 1
  EXPECT_EQ(fault(hpfar_of(0x101000), esr(2, true, 4), 12), StepKind::ok);
  set_x(4, 2);  // the wrong VMID for VM 1's bank
  EXPECT_EQ(fault(hpfar_of(0x101000), esr(2, true, 4), 12), StepKind::halted);
}

TEST_F(HostNpt, SmmuCbarOfAFreeBankHalts) {
  // Offset 4096 is CBAR 0 (mmio-gr0-bound), bank 0 is free.
  EXPECT_EQ(fault(hpfar_of(0x101000), esr(3, true, 0)), StepKind::halted);
}

TEST_F(HostNpt, SmmuCbarIndicesBeyondTheBanksAliasOrReadFree) {
  EXPECT_EQ(hvc({19, 1, 0, 1}), StepKind::ok);  // SMMU 1 bank 1: the host's (smmu_id 9)
  // SMMU 0's CBAR[9] names smmu_id 9 as the spec computes it: host-owned, allowed.
  EXPECT_EQ(fault(hpfar_of(0x101000), esr(3, true, 0), 36), StepKind::ok);
  // SMMU 1's CBAR[9] is smmu_id 17: beyond the id space, free, refused.
  EXPECT_EQ(fault(hpfar_of(0x111000), esr(3, true, 0), 36), StepKind::halted);
}

}  // namespace
}  // namespace hypdiff::kcore_test
