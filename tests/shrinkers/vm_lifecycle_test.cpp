#include "shrinkers/vm_lifecycle.hpp"

#include <gtest/gtest.h>

#include "model/constants.hpp"
#include "shrinkers/shrink.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::shrinkers {
namespace {

using generators::Case;
using model::Op;
using model::Z;
using testing::hvc;
namespace k = model::k;

Op interrupt() { return model::VmExit{k::ARM_EXCEPTION_INTERRUPT, 0, {}, 0, 0}; }
Op trap(Z ec_class, Z x0 = 0) {
  return model::VmExit{k::ARM_EXCEPTION_TRAP, ec_class << k::ESR_ELx_EC_SHIFT, {x0, 0, 0, 0}, 0, 0};
}

// Three VMs; VM 2 carries the marks the predicates below look for.
Case three_vms() {
  Case c;
  c.ops = {
      hvc(24),                                  // 0  VM 1
      hvc(24),                                  // 1  VM 2
      hvc(25, 1, 0),                            // 2
      hvc(25, 2, 0),                            // 3
      hvc(15, 1, 0x08000000, 0x2000),           // 4
      hvc(15, 2, 0x08000000, 0x2000),           // 5
      hvc(19, 1, 2, 0),                         // 6  SMMU context (cbndx 1, index 0) for VM 2
      hvc(20, 0x60000000, 0x1000000, 0, 1, 0),  // 7  maps through VM 2's context
      hvc(17, 1),                               // 8
      hvc(17, 2),                               // 9
      model::VcpuRun{1},                        // 10
      model::SetReg{3, 5},                      // 11
      interrupt(),                              // 12
      model::VcpuRun{2},                        // 13
      model::MemStore{0x8000, 3},               // 14
      trap(k::ESR_ELx_EC_SYS64),                // 15 stays in VM 2
      trap(k::ESR_ELx_EC_HVC64, k::HVC_KVM_SET_DESC_PFN),    // 16 stays in VM 2
      trap(k::ESR_ELx_EC_HVC64, k::PSCI_0_2_FN_SYSTEM_OFF),  // 17 back to the host
      model::MemLoad{0x200, 1},                              // 18 the host's
      hvc(18, 1, 0),                                         // 19 frees VM 2's context
      hvc(20, 0x60000000, 0x1000000, 0, 1, 0),               // 20 no longer VM 2's
      hvc(24),                                               // 21 VM 3
      hvc(25, 3, 0),                                         // 22
      model::VcpuRun{3},                                     // 23
      model::SetReg{1, 1},                                   // 24 VM 3's until the host acts
      hvc(23, 16, 0, 0, 0x1000),                             // 25 hostile id: nobody's
  };
  c.oracle.data = {{1, {0x11}}, {2, {0xAB}}, {3, {0x33}}, {16, {0x16}}};
  c.oracle.core = {{2, {0}}, {3, {1}}};
  c.oracle.params.shared_kvm = {{1, 5}, {2, 0x77}, {3, 9}};
  c.oracle.params.shared_vcpu = {{{2, 0}, 4}, {{3, 1}, 8}};
  c.oracle.params.verify_img = {{3, 0}};
  c.oracle.soracle[4] = {{1, {model::EventKind::OVM_ACTIVE, {3, 0, 0, 0}}},
                         {1, {model::EventKind::OMAP_HOST, {3, 0, 0, 0}}},
                         {1, {model::EventKind::OREVOKE, {2, 7, 3, 0}}}};
  return c;
}

std::vector<std::size_t> marked(const std::vector<bool>& m) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i]) out.push_back(i);
  return out;
}

TEST(VmLifecycle, AttributesOperationsToTheirVm) {
  const Case c = three_vms();
  EXPECT_EQ(marked(ops_of_vm(c.ops, 1)), (std::vector<std::size_t>{0, 2, 4, 8, 10, 11, 12}));
  EXPECT_EQ(marked(ops_of_vm(c.ops, 2)),
            (std::vector<std::size_t>{1, 3, 5, 6, 7, 9, 13, 14, 15, 16, 17, 19}));
  EXPECT_EQ(marked(ops_of_vm(c.ops, 3)), (std::vector<std::size_t>{21, 22, 23, 24}));
  EXPECT_TRUE(marked(ops_of_vm(c.ops, 4)).empty());
  EXPECT_EQ(registration_of(c.ops, 3), 21u);
  EXPECT_EQ(registration_of(c.ops, 4), std::nullopt);
  EXPECT_EQ(vms_in(c), (std::vector<Z>{1, 2, 3}));
}

TEST(VmLifecycle, VmsInCountsMentionedIdsWithinTheMachine) {
  Case c;
  c.ops = {model::VcpuRun{4}, hvc(17, 99)};
  EXPECT_EQ(vms_in(c), (std::vector<Z>{1, 2, 3, 4}));
  EXPECT_TRUE(vms_in(Case{}).empty());
}

TEST(VmLifecycle, RenumberingMovesLaterVmsDown) {
  Case c = three_vms();
  renumber_after_removal(c, 2);
  EXPECT_EQ(c.ops[3], hvc(25, 2, 0));  // VM 2's own ids stay (its ops are removed separately)
  EXPECT_EQ(c.ops[22], hvc(25, 2, 0));
  EXPECT_EQ(c.ops[23], Op{model::VcpuRun{2}});
  EXPECT_EQ(c.ops[2], hvc(25, 1, 0));
  EXPECT_EQ(c.ops[6], hvc(19, 1, 2, 0));
  EXPECT_EQ(c.ops[25], hvc(23, 16, 0, 0, 0x1000));               // outside 1..max_vms: left alone
  EXPECT_EQ(c.ops[7], hvc(20, 0x60000000, 0x1000000, 0, 1, 0));  // x4 is a cbndx, not a VM
  const std::map<Z, std::vector<Z>> data{{1, {0x11}}, {2, {0x33}}, {16, {0x16}}};
  EXPECT_EQ(c.oracle.data, data);
  EXPECT_EQ(c.oracle.core, (std::map<Z, std::vector<Z>>{{2, {1}}}));
  EXPECT_EQ(c.oracle.params.shared_kvm, (std::map<Z, Z>{{1, 5}, {2, 9}}));
  EXPECT_EQ(c.oracle.params.shared_vcpu, (std::map<std::pair<Z, Z>, Z>{{{2, 1}, 8}}));
  EXPECT_EQ(c.oracle.params.verify_img, (std::map<Z, Z>{{2, 0}}));
  const auto& ev = c.oracle.soracle.at(4);
  EXPECT_EQ(ev[0].event.args, (std::array<Z, 4>{2, 0, 0, 0}));  // OVM_ACTIVE(vmid, vcpu)
  EXPECT_EQ(ev[1].event.args, (std::array<Z, 4>{3, 0, 0, 0}));  // OMAP_HOST(addr): no VM id
  EXPECT_EQ(ev[2].event.args, (std::array<Z, 4>{2, 7, 2, 0}));  // OREVOKE(vmid, _, vmid, _)
}

// Fails at the VERIFY of a registered VM v whose data stream starts with 0xAB and whose
// shared_kvm parameter is 0x77: only VM 2 of three_vms() qualifies.
std::optional<std::size_t> verify_of_marked_vm(const Case& c) {
  Z registered = 0;
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const auto* h = std::get_if<model::HostHvc>(&c.ops[i]);
    if (!h) continue;
    if (h->x[0] == 24) ++registered;
    if (h->x[0] != 17) continue;
    const Z v = h->x[1];
    const auto d = c.oracle.data.find(v);
    if (v >= 1 && v <= registered && d != c.oracle.data.end() && !d->second.empty() &&
        d->second[0] == 0xAB && c.oracle.params.shared_kvm_at(v) == 0x77)
      return i;
  }
  return std::nullopt;
}

TEST(VmLifecycle, ShrinkFindsVmTwoAsVmOneOnceVmOneIsGone) {
  const Case c = three_vms();
  ASSERT_EQ(verify_of_marked_vm(c), 9u);
  const ShrinkResult r = shrink(c, verify_of_marked_vm);
  EXPECT_EQ(r.c.ops, (std::vector<Op>{hvc(24), hvc(17, 1)}));
  EXPECT_EQ(r.c.oracle.data, (std::map<Z, std::vector<Z>>{{1, {0xAB}}}));
  EXPECT_EQ(r.c.oracle.params.shared_kvm, (std::map<Z, Z>{{1, 0x77}}));
  EXPECT_TRUE(r.c.oracle.core.empty());
  EXPECT_TRUE(r.c.oracle.params.shared_vcpu.empty());
  EXPECT_TRUE(r.c.oracle.soracle.empty());
  EXPECT_EQ(r.failing_step, 1u);
}

TEST(VmLifecycle, WithoutRenumberingWhenTheIdItselfMatters) {
  // Fails at a VERIFY of VM 2 literally, after two registrations: VM 1's registration must stay
  // while everything else of VM 1 goes.
  const auto pred = [](const Case& c) -> std::optional<std::size_t> {
    int registered = 0;
    for (std::size_t i = 0; i < c.ops.size(); ++i) {
      const auto* h = std::get_if<model::HostHvc>(&c.ops[i]);
      if (h && h->x[0] == 24) ++registered;
      if (h && h->x[0] == 17 && h->x[1] == 2 && registered >= 2) return i;
    }
    return std::nullopt;
  };
  const ShrinkResult r = shrink(three_vms(), pred);
  EXPECT_EQ(r.c.ops, (std::vector<Op>{hvc(24), hvc(24), hvc(17, 2)}));
}

}  // namespace
}  // namespace hypdiff::shrinkers
