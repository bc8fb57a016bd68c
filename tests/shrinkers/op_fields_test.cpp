#include "shrinkers/op_fields.hpp"

#include <gtest/gtest.h>

#include "model/constants.hpp"
#include "shrinkers/case_hash.hpp"
#include "tests/support/builders.hpp"

namespace hypdiff::shrinkers {
namespace {

using model::Op;
using model::Z;
using testing::hvc;
namespace k = model::k;
using K = FieldKind;

// One operation of each type, every field distinct: field i holds 100 + i.
std::vector<Op> one_of_each() {
  std::vector<Op> ops = {hvc(0),           model::HostFault{}, model::VcpuRun{},
                         model::VmExit{},  model::MemLoad{},   model::MemStore{},
                         model::DevLoad{}, model::DevStore{},  model::SetReg{}};
  for (Op& op : ops)
    for (int i = 0; i < field_count(op); ++i) set_field(op, i, 100 + i);
  return ops;
}

TEST(OpFields, EveryFieldReadsBackWhatWasWritten) {
  const std::vector<Op> ops = one_of_each();
  const int counts[] = {6, 3, 1, 8, 2, 2, 4, 4, 2};
  for (std::size_t t = 0; t < ops.size(); ++t) {
    ASSERT_EQ(field_count(ops[t]), counts[t]);
    for (int i = 0; i < counts[t]; ++i) EXPECT_EQ(get_field(ops[t], i), 100 + i) << t << " " << i;
  }
  // The fields are the named members, in the documented order.
  EXPECT_EQ(std::get<model::VmExit>(ops[3]),
            (model::VmExit{100, 101, {102, 103, 104, 105}, 106, 107}));
  EXPECT_EQ(std::get<model::DevStore>(ops[7]), (model::DevStore{100, 101, 102, 103}));
  EXPECT_EQ(std::get<model::HostFault>(ops[1]), (model::HostFault{100, 101, 102}));
}

TEST(OpFields, KindsFollowTheHypercallLayout) {
  const Op clear = hvc(k::HVC_CLEAR_VM_S2_RANGE, 1, 0x1000, 0x2000);
  EXPECT_EQ(field_kind(clear, 0), K::selector);
  EXPECT_EQ(field_kind(clear, 1), K::vmid);
  EXPECT_EQ(field_kind(clear, 2), K::addr);
  EXPECT_EQ(field_kind(clear, 3), K::size);
  const Op alloc = hvc(k::HVC_SMMU_ALLOC_PGD, 1, 2, 0);
  EXPECT_EQ(field_kind(alloc, 1), K::id);
  EXPECT_EQ(field_kind(alloc, 2), K::vmid);
  EXPECT_EQ(field_kind(alloc, 3), K::id);
  const Op map = hvc(k::HVC_SMMU_LPAE_MAP);
  EXPECT_EQ(field_kind(map, 1), K::addr);
  EXPECT_EQ(field_kind(map, 3), K::number);
  EXPECT_EQ(field_kind(map, 5), K::id);
  EXPECT_EQ(field_kind(hvc(k::HVC_PHYS_ADDR_IOREMAP), 4), K::size);
  EXPECT_EQ(field_kind(hvc(k::HVC_REMAP_VM_IMAGE), 2), K::frame);
  EXPECT_EQ(field_kind(hvc(99), 1), K::number);  // unknown hypercall: no meaning known
  EXPECT_EQ(field_kind(Op{model::VcpuRun{}}, 0), K::vmid);
  EXPECT_EQ(field_kind(Op{model::HostFault{}}, 0), K::hpfar);
  EXPECT_EQ(field_kind(Op{model::MemLoad{}}, 0), K::frame);
  EXPECT_EQ(field_kind(Op{model::DevLoad{}}, 3), K::id);
  EXPECT_EQ(field_kind(Op{model::SetReg{}}, 1), K::number);
}

TEST(OpFields, GuestShareArgumentsAreAddressAndSize) {
  const Op grant = model::VmExit{2, 0, {k::HVC_KVM_UNSET_DESC_PFN, 0, 0x1000, 0x3000}, 0, 0};
  EXPECT_EQ(field_kind(grant, 0), K::selector);
  EXPECT_EQ(field_kind(grant, 1), K::esr);
  EXPECT_EQ(field_kind(grant, 2), K::selector);
  EXPECT_EQ(field_kind(grant, 4), K::addr);
  EXPECT_EQ(field_kind(grant, 5), K::size);
  const Op other = model::VmExit{2, 0, {13, 0, 0x1000, 0x3000}, 0, 0};
  EXPECT_EQ(field_kind(other, 5), K::number);
}

TEST(OpFields, SmallerValuesPreferCanonicalOnes) {
  EXPECT_EQ(smaller_values(K::size, 0x5123), (std::vector<Z>{1, 0x1000, 0x5000, 0x1123}));
  EXPECT_EQ(smaller_values(K::addr, 0x08003010), (std::vector<Z>{0x08003000, 0x3000, 0x3010}));
  EXPECT_EQ(smaller_values(K::hpfar, 0x12345), (std::vector<Z>{0x12340, 0x2340, 0x2345}));
  EXPECT_EQ(smaller_values(K::esr, 0x5A001234), (std::vector<Z>{0x58000000, 0x1A001234}));
  EXPECT_EQ(smaller_values(K::vmid, 3), (std::vector<Z>{1}));
  EXPECT_EQ(smaller_values(K::number, 7), (std::vector<Z>{3}));
  EXPECT_EQ(smaller_values(K::number, k::INVALID64), (std::vector<Z>{k::INVALID64 >> 1}));
  EXPECT_TRUE(smaller_values(K::selector, 24).empty());
  EXPECT_TRUE(smaller_values(K::number, 1).empty());
  EXPECT_TRUE(smaller_values(K::number, -5).empty());
}

TEST(OpFields, BisectionUnitKeepsAlignment) {
  EXPECT_EQ(bisection_unit(K::addr, 0x08003000), 4096);
  EXPECT_EQ(bisection_unit(K::addr, 0x08003010), 1);
  EXPECT_EQ(bisection_unit(K::size, 0x2000), 4096);
  EXPECT_EQ(bisection_unit(K::hpfar, 0x120), 16);
  EXPECT_EQ(bisection_unit(K::number, 0x2000), 1);
  EXPECT_EQ(bisection_unit(K::selector, 24), 0);
  EXPECT_EQ(bisection_unit(K::number, 1), 0);
}

TEST(CaseHash, DistinguishesEveryPartAndIsStable) {
  generators::Case a;
  a.ops = one_of_each();
  const std::uint64_t h = hash_case(a);
  EXPECT_EQ(hash_case(a), h);
  generators::Case b = a;
  set_field(b.ops[3], 7, 0);
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.ops.pop_back();
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.data[1] = {0};
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.core[1] = {};
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.fallback_seed = 1;
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.soracle[0] = {};
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.params.shared_vcpu[{1, 0}] = 0;
  EXPECT_NE(hash_case(b), h);
  b = a;
  b.oracle.params.decrypt_sys_count = 0;
  EXPECT_NE(hash_case(b), h);
}

}  // namespace
}  // namespace hypdiff::shrinkers
