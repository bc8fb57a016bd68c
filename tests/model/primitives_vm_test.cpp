#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "model/primitives.hpp"
#include "tests/model/shared_test_util.hpp"

namespace hypdiff::model {
namespace {

using test::booted;
using test::cleared;
using test::same_shared;
using test::set_pt;
using test::set_vm_state;

constexpr Z kVm1Info = 23;  // INFO_ID + 1 with the default configuration
constexpr Z kCoreNpt = 21;  // NPT_ID + COREVISOR

void set_vcpu_state(Shared& s, Z vmid, Z vcpuid, Z state) {
  VMInfo info = s.vminfos.get(vmid);
  info.VS.vm_vcpu_state.set(vcpuid, state);
  s.vminfos.set(vmid, info);
}

Z vcpu_state(const Shared& s, Z vmid, Z vcpuid) {
  return s.vminfos.get(vmid).VS.vm_vcpu_state.get(vcpuid);
}

// ---- vCPU states

TEST(SetVcpuActive, ReadyVcpuOfVerifiedVmBecomesActive) {
  Shared s = booted();
  set_vm_state(s, 1, k::VERIFIED);
  set_vcpu_state(s, 1, 3, k::READY);
  const PrimResult r = local_set_vcpu_active(s, 1, 3);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(vcpu_state(r.s, 1, 3), k::ACTIVE);
  EXPECT_EQ(vcpu_state(r.s, 1, 2), k::UNUSED);
}

TEST(SetVcpuActive, AnythingElseHaltsWithoutReleasingLocks) {
  for (auto [vm, vcpu] :
       {std::pair<Z, Z>{k::READY, k::READY}, std::pair<Z, Z>{k::VERIFIED, k::ACTIVE},
        std::pair<Z, Z>{k::VERIFIED, k::UNUSED}, std::pair<Z, Z>{k::POWEROFF, k::READY}}) {
    Shared s = booted();
    set_vm_state(s, 1, vm);
    set_vcpu_state(s, 1, 3, vcpu);
    const PrimResult r = local_set_vcpu_active(s, 1, 3);
    EXPECT_TRUE(r.halt);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(SetVcpuInactive, ActiveBecomesReadyRegardlessOfVmState) {
  Shared s = booted();
  set_vm_state(s, 1, k::POWEROFF);
  set_vcpu_state(s, 1, 0, k::ACTIVE);
  const PrimResult r = local_set_vcpu_inactive(s, 1, 0);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(vcpu_state(r.s, 1, 0), k::READY);
}

TEST(SetVcpuInactive, NotActiveHalts) {
  Shared s = booted();
  set_vcpu_state(s, 1, 0, k::READY);
  const PrimResult r = local_set_vcpu_inactive(s, 1, 0);
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SetVmPoweroff, AlwaysPowersOff) {
  for (Z state : {k::UNUSED, k::READY, k::VERIFIED, k::POWEROFF}) {
    Shared s = booted();
    set_vm_state(s, 2, state);
    const PrimResult r = local_set_vm_poweroff(s, 2);
    EXPECT_FALSE(r.halt);
    EXPECT_EQ(r.s.vminfos.get(2).VS.vm_state, k::POWEROFF);
    EXPECT_TRUE(cleared(r.s).empty());
  }
}

// ---- registration

TEST(RegisterVcpu, UnusedVcpuOfReadyVmRegisters) {
  Params p;
  p.shared_vcpu[{1, 4}] = 0xCAFE;
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_register_vcpu(s, 1, 4, p);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(vcpu_state(r.s, 1, 4), k::READY);
  EXPECT_EQ(r.s.vminfos.get(1).VS.vm_vcpu.get(4), 0xCAFE);
  // An absent shared_vcpu entry reads 0.
  const PrimResult other = local_register_vcpu(s, 1, 5, p);
  EXPECT_FALSE(other.halt);
  EXPECT_EQ(other.s.vminfos.get(1).VS.vm_vcpu.get(5), 0);
  EXPECT_EQ(vcpu_state(other.s, 1, 5), k::READY);
}

TEST(RegisterVcpu, WrongStatesHaltWithoutReleasingLocks) {
  for (auto [vm, vcpu] :
       {std::pair<Z, Z>{k::UNUSED, k::UNUSED}, std::pair<Z, Z>{k::VERIFIED, k::UNUSED},
        std::pair<Z, Z>{k::READY, k::READY}}) {
    Shared s = booted();
    set_vm_state(s, 1, vm);
    set_vcpu_state(s, 1, 4, vcpu);
    const PrimResult r = local_register_vcpu(s, 1, 4, Params{});
    EXPECT_TRUE(r.halt);
    EXPECT_TRUE(same_shared(r.s, s));
  }
}

TEST(GenVmid, CountsUpToCorevisor) {
  Shared s = booted();
  PrimResult r = local_gen_vmid(s);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.core_data.next_vmid, 2);
  s.core_data.next_vmid = 15;
  r = local_gen_vmid(s);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.core_data.next_vmid, 16);
  s.core_data.next_vmid = 16;
  r = local_gen_vmid(s);
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(GenVmid, BoundComesFromTheConfig) {
  MachineConfig cfg;
  cfg.max_vms = 3;
  Shared s = booted(Profile::intended(), cfg);
  s.core_data.next_vmid = 3;
  EXPECT_FALSE(local_gen_vmid(s).halt);
  s.core_data.next_vmid = 4;
  EXPECT_TRUE(local_gen_vmid(s).halt);
}

TEST(RegisterKvm, UnusedVmBecomesReady) {
  Params p;
  p.shared_kvm[1] = 0xBEEF;
  const PrimResult r = local_register_kvm(booted(), 1, p);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.vminfos.get(1).VS.vm_state, k::READY);
  EXPECT_EQ(r.s.vminfos.get(1).VS.vm_kvm, 0xBEEF);
  EXPECT_EQ(local_register_kvm(booted(), 2, p).s.vminfos.get(2).VS.vm_kvm, 0);
}

TEST(RegisterKvm, UsedVmHalts) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_register_kvm(s, 1, Params{});
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

// ---- boot images

TEST(SetBootInfo, RecordsTheImageAndReservesRemapSpace) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  const PrimResult r = local_set_boot_info(s, 1, 0x80000000, 4097);  // two pages
  ASSERT_FALSE(r.halt);
  const BootInfo& vb = r.s.vminfos.get(1).VB;
  EXPECT_EQ(vb.vm_next_load_info, 1);
  EXPECT_EQ(vb.vm_load_addr.get(0), 0x80000000);
  EXPECT_EQ(vb.vm_load_size.get(0), 4097);
  EXPECT_EQ(vb.vm_remap_addr.get(0), k::REMAP_START);
  EXPECT_EQ(vb.vm_mapped_pages.get(0), 0);
  EXPECT_EQ(r.s.core_data.next_remap_ptr, k::REMAP_START + 8192);

  const PrimResult second = local_set_boot_info(r.s, 1, 0x90000000, 4096);
  ASSERT_FALSE(second.halt);
  EXPECT_EQ(second.s.vminfos.get(1).VB.vm_next_load_info, 2);
  EXPECT_EQ(second.s.vminfos.get(1).VB.vm_remap_addr.get(1), k::REMAP_START + 8192);
  EXPECT_EQ(second.s.core_data.next_remap_ptr, k::REMAP_START + 12288);
}

TEST(SetBootInfo, VmNotReadyHaltsWithoutReleasingLocks) {
  const Shared s = booted();
  const PrimResult r = local_set_boot_info(s, 1, 0x80000000, 4096);
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SetBootInfo, FullTableIsIgnored) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  VMInfo info = s.vminfos.get(1);
  info.VB.vm_next_load_info = 5;
  s.vminfos.set(1, info);
  const PrimResult r = local_set_boot_info(s, 1, 0x80000000, 4096);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SetBootInfo, TableSizeComesFromTheConfig) {
  MachineConfig cfg;
  cfg.max_load_info = 1;
  Shared s = booted(Profile::intended(), cfg);
  set_vm_state(s, 1, k::READY);
  s = local_set_boot_info(s, 1, 0x80000000, 4096).s;
  EXPECT_EQ(s.vminfos.get(1).VB.vm_next_load_info, 1);
  const PrimResult r = local_set_boot_info(s, 1, 0x90000000, 4096);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
}

TEST(SetBootInfo, EmptyImageOrRemapOverflowHaltsWithoutReleasingLocks) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  PrimResult r = local_set_boot_info(s, 1, 0x80000000, 0);  // pgnum 0
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
  // remap + pgnum * 4096 must stay strictly below REMAP_END.
  s.core_data.next_remap_ptr = k::REMAP_END - 8192;
  r = local_set_boot_info(s, 1, 0x80000000, 8192);
  EXPECT_TRUE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
  r = local_set_boot_info(s, 1, 0x80000000, 4096);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.core_data.next_remap_ptr, k::REMAP_END - 4096);
}

Shared with_image(Z size, Z mapped) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  VMInfo info = s.vminfos.get(1);
  info.VB.vm_next_load_info = 1;
  info.VB.vm_load_size.set(0, size);
  info.VB.vm_remap_addr.set(0, k::REMAP_START);
  info.VB.vm_mapped_pages.set(0, mapped);
  s.vminfos.set(1, info);
  return s;
}

TEST(RemapVmImage, MapsTheNextPageIntoTheCorevisorWindow) {
  const Shared s = with_image(3 * 4096, 1);
  const PrimResult r = local_remap_vm_image(s, 1, 0x700, 0);
  ASSERT_FALSE(r.halt);
  const Z gfn = (k::REMAP_START + 4096) / 4096;
  // (0x700 * 4096) | PAGE_HYP (0x40000000000753)
  EXPECT_EQ(r.s.npts.get(16).pt.get(gfn), (PtEntry{0x700, 3, Z{0x40000000700753}}));
  EXPECT_EQ(r.s.vminfos.get(1).VB.vm_mapped_pages.get(0), 2);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(RemapVmImage, VmNotReadyHaltsAndReleasesItsInfo) {
  Shared s = with_image(4096, 0);
  set_vm_state(s, 1, k::VERIFIED);
  const PrimResult r = local_remap_vm_image(s, 1, 0x700, 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Info});
  EXPECT_EQ(r.s.npts, s.npts);
}

TEST(RemapVmImage, UnknownIndexOrFullyMappedImageIsIgnored) {
  const Shared s = with_image(4096, 0);
  PrimResult r = local_remap_vm_image(s, 1, 0x700, 1);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, s));
  const Shared full = with_image(4097, 2);
  r = local_remap_vm_image(full, 1, 0x700, 0);
  EXPECT_FALSE(r.halt);
  EXPECT_TRUE(same_shared(r.s, full));
}

TEST(RemapVmImage, MapFailureReleasesInfoAndCorevisorNpt) {
  Shared s = with_image(4096, 0);
  set_pt(s, 16, k::REMAP_START / 4096, PtEntry{1, 2, 0x1000});
  const PrimResult r = local_remap_vm_image(s, 1, 0x700, 0);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), (std::set<Z>{kVm1Info, kCoreNpt}));
  EXPECT_EQ(r.s.vminfos, s.vminfos);
  EXPECT_EQ(r.s.npts, s.npts);
}

TEST(VerifyVm, ReadyBecomesVerifiedElseHalts) {
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  PrimResult r = local_verify_vm(s, 1);
  EXPECT_FALSE(r.halt);
  EXPECT_EQ(r.s.vminfos.get(1).VS.vm_state, k::VERIFIED);
  r = local_verify_vm(r.s, 1);
  EXPECT_TRUE(r.halt);
  EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Info});
  EXPECT_EQ(r.s.vminfos.get(1).VS.vm_state, k::VERIFIED);
}

// ---- encrypted vCPU state

struct Crypt {
  OracleInputs o;
  Crypt() {
    std::vector<Z> v;
    for (Z i = 0; i < 100; ++i) v.push_back(1000 + i);
    o.data[0] = v;
  }
  Dorc host() const { return Dorc{&o, 0}; }
};

CtxtRegs marked_regs() {
  CtxtRegs r{};
  r.x.fill(7);
  r.elr_el2 = 7;
  r.vttbr_el2 = 7;
  return r;
}

TEST(LoadEncrytedVcpu, DecryptsGprsThenSysregs) {
  Crypt c;
  Shared s = booted();
  set_vm_state(s, 1, k::READY);
  set_vcpu_state(s, 1, 2, k::READY);
  CtxtStates cs{};
  cs.pc = 9;
  const LoadVcpuResult r =
      local_load_encryted_vcpu(s, 1, 2, marked_regs(), cs, c.host(), 10, Params{});
  ASSERT_FALSE(r.halt);
  EXPECT_EQ(r.logn, 10 + 31 + 24);
  for (std::size_t i = 0; i < 31; ++i) EXPECT_EQ(r.cregs.x[i], 1010 + static_cast<Z>(i));
  // Sysreg index 47 + j takes the value at logn 41 + j.
  EXPECT_EQ(r.cregs.mpidr_el1, 1041);  // 47
  EXPECT_EQ(r.cregs.actlr_el1, 1044);  // 50
  EXPECT_EQ(r.cstates.esr_el1, 1049);  // 55
  EXPECT_EQ(r.cregs.mdscr_el1, 1062);  // 68; 69 (MDCCINT) consumes 1063 and is dropped
  EXPECT_EQ(r.cregs.elr_el2, 1064);    // 70
  EXPECT_EQ(r.cstates.pc, 9);
  EXPECT_EQ(r.cregs.vttbr_el2, 7);
  EXPECT_EQ(r.s.vminfos.get(1).VB.vm_inc_exe, 1);
  EXPECT_TRUE(cleared(r.s).empty());
}

TEST(LoadEncrytedVcpu, NotReadyHaltsAndReturnsTheInputs) {
  Crypt c;
  for (auto [vm, vcpu] :
       {std::pair<Z, Z>{k::READY, k::UNUSED}, std::pair<Z, Z>{k::VERIFIED, k::READY}}) {
    Shared s = booted();
    set_vm_state(s, 1, vm);
    set_vcpu_state(s, 1, 2, vcpu);
    CtxtStates cs{};
    cs.dirty = 5;
    const LoadVcpuResult r =
        local_load_encryted_vcpu(s, 1, 2, marked_regs(), cs, c.host(), 10, Params{});
    EXPECT_TRUE(r.halt);
    EXPECT_EQ(r.logn, 10);
    EXPECT_EQ(r.cregs, marked_regs());
    EXPECT_EQ(r.cstates, cs);
    EXPECT_EQ(cleared(r.s), std::set<Z>{kVm1Info});
    EXPECT_EQ(r.s.vminfos, s.vminfos);
  }
}

TEST(DecryptParams, CountsChooseHowManyValuesAreConsumed) {
  Crypt c;
  Params p;
  p.decrypt_gp_count = 2;
  p.decrypt_sys_count = 1;
  const DecryptResult gp = decrypt_gp_regs_specx(marked_regs(), CtxtStates{}, c.host(), 0, p);
  EXPECT_EQ(gp.logn, 2);
  EXPECT_EQ(gp.cregs.x[0], 1000);
  EXPECT_EQ(gp.cregs.x[1], 1001);
  EXPECT_EQ(gp.cregs.x[2], 7);
  const DecryptResult sys = decrypt_sys_regs_specx(marked_regs(), CtxtStates{}, c.host(), 5, p);
  EXPECT_EQ(sys.logn, 6);
  EXPECT_EQ(sys.cregs.mpidr_el1, 1005);
  EXPECT_EQ(sys.cregs.csselr_el1, 0);
  p.decrypt_gp_count = 0;
  EXPECT_EQ(decrypt_gp_regs_specx(marked_regs(), CtxtStates{}, c.host(), 3, p).cregs,
            marked_regs());
}

TEST(DecryptParams, CountsBeyondTheRegisterFileAreToolBugs) {
  Crypt c;
  Params p;
  p.decrypt_gp_count = 32;
  EXPECT_THROW(decrypt_gp_regs_specx(CtxtRegs{}, CtxtStates{}, c.host(), 0, p), ModelBug);
  p.decrypt_gp_count = 31;
  p.decrypt_sys_count = -1;
  EXPECT_THROW(decrypt_sys_regs_specx(CtxtRegs{}, CtxtStates{}, c.host(), 0, p), ModelBug);
}

}  // namespace
}  // namespace hypdiff::model
