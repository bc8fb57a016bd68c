#include "model/regs.hpp"

#include <gtest/gtest.h>

#include <boost/hana.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/constants.hpp"

namespace hypdiff::model {
namespace {

namespace hana = boost::hana;

// A record whose every Z (and every array element) holds a different value, base, base+1, ...
template <class T>
T distinct(Z base) {
  T r{};
  Z n = base;
  hana::for_each(hana::accessors<T>(), [&](auto pair) {
    auto& f = hana::second(pair)(r);
    if constexpr (std::is_same_v<std::decay_t<decltype(f)>, Z>) {
      f = n++;
    } else {
      for (Z& e : f) e = n++;
    }
  });
  return r;
}

// Checks that every field of `out` named in `from_b` equals b's and every other field equals a's,
// except the fields in `skip`, which the caller checks itself.
template <class T>
void expect_fields(const T& out, const T& a, const T& b, const std::set<std::string>& from_b,
                   const std::set<std::string>& skip = {}) {
  std::set<std::string> seen;
  hana::for_each(hana::accessors<T>(), [&](auto pair) {
    const std::string name = hana::to<const char*>(hana::first(pair));
    seen.insert(name);
    if (skip.count(name)) return;
    const auto& get = hana::second(pair);
    if (from_b.count(name)) {
      EXPECT_TRUE(get(out) == get(b)) << name << " should come from the second record";
    } else {
      EXPECT_TRUE(get(out) == get(a)) << name << " should be unchanged";
    }
  });
  for (const std::string& n : from_b) EXPECT_TRUE(seen.count(n)) << "no field " << n;
}

const std::set<std::string> kEl1Regs = {
    "csselr_el1", "sctlr_el1",   "cpacr_el1",  "ttbr0_el1", "ttbr1_el1", "tcr_el1",
    "afsr0_el1",  "afsr1_el1",   "far_el1",    "mair_el1",  "vbar_el1",  "contextidr_el1",
    "amair_el1",  "cntkctl_el1", "par_el1",    "tpidr_el1", "spsr_el1",  "mdscr_el1",
    "sp_el0",     "tpidr_el0",   "tpidrro_el0"};

// §2.6, one row per handled index: the index and a reader of the register it names.
struct Slot {
  int index;
  Z (*read)(const CtxtRegs&, const CtxtStates&);
};
#define CR(field) [](const CtxtRegs& r, const CtxtStates&) { return r.field; }
#define CS(field) [](const CtxtRegs&, const CtxtStates& s) { return s.field; }
const std::vector<Slot> kHandled = {
    {32, CS(pc)},
    {33, CS(pstate)},
    {35, CR(elr_el1)},
    {36, CR(spsr_el1)},
    {41, CR(far_el2)},
    {42, CR(hpfar_el2)},
    {43, CR(hcr_el2)},
    {44, CR(ec)},
    {45, CS(dirty)},
    {46, CS(flags)},
    {47, CR(mpidr_el1)},
    {48, CR(csselr_el1)},
    {49, CR(sctlr_el1)},
    {50, CR(actlr_el1)},
    {51, CR(cpacr_el1)},
    {52, CR(ttbr0_el1)},
    {53, CR(ttbr1_el1)},
    {54, CR(tcr_el1)},
    {55, CS(esr_el1)},
    {56, CR(afsr0_el1)},
    {57, CR(afsr1_el1)},
    {58, CR(far_el1)},
    {59, CR(mair_el1)},
    {60, CR(vbar_el1)},
    {61, CR(contextidr_el1)},
    {62, CR(tpidr_el0)},
    {63, CR(tpidrro_el0)},
    {64, CR(tpidr_el1)},
    {65, CR(amair_el1)},
    {66, CR(cntkctl_el1)},
    {67, CR(par_el1)},
    {68, CR(mdscr_el1)},
    {70, CR(elr_el2)},
    {71, CS(spsr_0)},
    {72, CR(esr_el2)},
};
#undef CR
#undef CS

TEST(ShadowCtxt, GprIndicesReadAndWriteX) {
  const CtxtRegs cr = distinct<CtxtRegs>(1000);
  const CtxtStates cs = distinct<CtxtStates>(5000);
  for (int i = 0; i <= 30; ++i) {
    EXPECT_EQ(get_shadow_ctxt_specx(i, cr, cs), cr.x[static_cast<std::size_t>(i)]);
    CtxtRegs r = cr;
    CtxtStates s = cs;
    set_shadow_ctxt_specx(i, -7, r, s);
    CtxtRegs want = cr;
    want.x[static_cast<std::size_t>(i)] = -7;
    EXPECT_EQ(r, want) << i;
    EXPECT_EQ(s, cs) << i;
  }
}

TEST(ShadowCtxt, NamedIndicesReadAndWriteExactlyTheirRegister) {
  const CtxtRegs cr = distinct<CtxtRegs>(1000);
  const CtxtStates cs = distinct<CtxtStates>(5000);
  for (const Slot& slot : kHandled) {
    EXPECT_EQ(get_shadow_ctxt_specx(slot.index, cr, cs), slot.read(cr, cs)) << slot.index;
    CtxtRegs r = cr;
    CtxtStates s = cs;
    set_shadow_ctxt_specx(slot.index, 424242, r, s);
    EXPECT_EQ(slot.read(r, s), 424242) << slot.index;
    // Nothing else changed: writing back the old value restores both records.
    set_shadow_ctxt_specx(slot.index, slot.read(cr, cs), r, s);
    EXPECT_EQ(r, cr) << slot.index;
    EXPECT_EQ(s, cs) << slot.index;
  }
}

TEST(ShadowCtxt, UnhandledIndicesReadZeroAndIgnoreWrites) {
  const CtxtRegs cr = distinct<CtxtRegs>(1000);
  const CtxtStates cs = distinct<CtxtStates>(5000);
  // SP, SP_EL1, SPSR_ABT/UND/IRQ/FIQ, MDCCINT, and anything past ESR_EL2 or negative.
  for (int i : {31, 34, 37, 38, 39, 40, 69, 73, 99, 255, -1, -1000}) {
    EXPECT_EQ(get_shadow_ctxt_specx(i, cr, cs), 0) << i;
    CtxtRegs r = cr;
    CtxtStates s = cs;
    set_shadow_ctxt_specx(i, 1, r, s);
    EXPECT_EQ(r, cr) << i;
    EXPECT_EQ(s, cs) << i;
  }
}

TEST(ShadowCtxt, ZIndexOverloads) {
  const CtxtRegs cr = distinct<CtxtRegs>(1000);
  const CtxtStates cs = distinct<CtxtStates>(5000);
  EXPECT_EQ(get_shadow_ctxt_specx(Z{5}, cr, cs), cr.x[5]);
  EXPECT_EQ(get_shadow_ctxt_specx(Z{32}, cr, cs), cs.pc);
  // 2^32 + 5 would alias x5 if truncated to int.
  for (Z i : {pow2(32) + 5, pow2(64) - 1, -pow2(40), pow2(31)}) {
    EXPECT_EQ(get_shadow_ctxt_specx(i, cr, cs), 0);
    CtxtRegs r = cr;
    CtxtStates s = cs;
    set_shadow_ctxt_specx(i, 1, r, s);
    EXPECT_EQ(r, cr);
    EXPECT_EQ(s, cs);
  }
  CtxtRegs r = cr;
  CtxtStates s = cs;
  set_shadow_ctxt_specx(Z{45}, k::INVALID64, r, s);
  EXPECT_EQ(s.dirty, k::INVALID64);
}

TEST(RegisterCopies, GprCopiesInBothDirections) {
  const CtxtRegs a = distinct<CtxtRegs>(1000);
  const CtxtRegs b = distinct<CtxtRegs>(2000);
  // host_to_core / vm_to_core: the shadow copy takes the physical x0..x30.
  expect_fields(host_to_core_specx(a, b), a, b, {"x"});
  expect_fields(vm_to_core_specx(a, b), a, b, {"x"});
  // core_to_host / core_to_vm: the physical file takes the shadow x0..x30.
  expect_fields(core_to_host_specx(b, a), a, b, {"x"});
  expect_fields(core_to_vm_specx(b, a), a, b, {"x"});
}

TEST(RegisterCopies, ExitPopulateFault) {
  const CtxtRegs a = distinct<CtxtRegs>(1000);
  const CtxtRegs b = distinct<CtxtRegs>(2000);
  expect_fields(exit_populate_fault_specx(a, b), a, b, {"esr_el2", "ec", "far_el2", "hpfar_el2"});
}

TEST(RegisterCopies, SaveSysregsTakesMpidrFromVmpidrAndNotPcOrPstate) {
  const CtxtRegs sys = distinct<CtxtRegs>(1000);
  const CtxtRegs rsys = distinct<CtxtRegs>(2000);
  std::set<std::string> from = kEl1Regs;
  from.insert({"actlr_el1", "sp_el1", "elr_el1"});
  const CtxtRegs out = save_sysregs_specx(sys, rsys);
  expect_fields(out, sys, rsys, from, {"mpidr_el1"});
  EXPECT_EQ(out.mpidr_el1, rsys.vmpidr_el2);
  EXPECT_EQ(out.elr_el2, sys.elr_el2);    // the PC is not saved
  EXPECT_EQ(out.spsr_el2, sys.spsr_el2);  // nor PSTATE
}

TEST(RegisterCopies, RestoreSysregs) {
  const CtxtRegs sys = distinct<CtxtRegs>(1000);
  const CtxtStates csts = distinct<CtxtStates>(3000);
  const CtxtRegs rsys = distinct<CtxtRegs>(2000);
  std::set<std::string> from = kEl1Regs;
  from.insert(
      {"actlr_el1", "sp_el1", "elr_el1", "esr_el2", "ec", "far_el2", "hpfar_el2", "mpidr_el1"});
  const CtxtRegs out = restore_sysregs_specx(sys, csts, rsys);
  // Here "a" is the physical file (unchanged fields) and "b" the shadow one.
  expect_fields(out, rsys, sys, from, {"spsr_el2", "vmpidr_el2", "elr_el2"});
  EXPECT_EQ(out.spsr_el2, csts.pstate);
  EXPECT_EQ(out.vmpidr_el2, sys.mpidr_el1);
  EXPECT_EQ(out.elr_el2, csts.pc);
}

TEST(RegisterCopies, Fpsimd) {
  const CtxtRegs a = distinct<CtxtRegs>(1000);
  const CtxtRegs b = distinct<CtxtRegs>(2000);
  expect_fields(fpsimd_save_state_specx(a, b), a, b, {"fp_q", "fp_fpsr", "fp_fpcr"});
  expect_fields(fpsimd_restore_state_specx(b, a), a, b, {"fp_q", "fp_fpsr", "fp_fpcr"});
}

TEST(Traps, ActivateDeactivateTimer) {
  const TrapRegs t{11, 12, 13, 14, 100};
  EXPECT_EQ(activate_traps_specx(t), (TrapRegs{0, 4, 5, 6, 100}));
  EXPECT_EQ(deactivate_traps_specx(t), (TrapRegs{11, 0, 0, 7, 100}));
  // cnthctl - CNTHCTL_EL1PCEN (9) + CNTHCTL_EL1PCTEN (10)
  EXPECT_EQ(timer_enable_traps_specx(t), (TrapRegs{11, 12, 13, 14, 101}));
}

TEST(El2State, VmAndHostRestore) {
  const CtxtRegs rc = distinct<CtxtRegs>(1000);
  const CtxtRegs c = distinct<CtxtRegs>(2000);
  const CtxtRegs vm = vm_el2_restore_state_specx(rc, c, 0xABC);
  expect_fields(vm, rc, c, {"tpidr_el2"}, {"vttbr_el2", "hcr_el2"});
  EXPECT_EQ(vm.vttbr_el2, 0xABC);
  EXPECT_EQ(vm.hcr_el2, 3);  // HCR_HYPSEC_VM_FLAGS
  const CtxtRegs host = host_el2_restore_state_specx(rc, 0xDEF);
  expect_fields(host, rc, c, {}, {"vttbr_el2", "hcr_el2", "tpidr_el2"});
  EXPECT_EQ(host.vttbr_el2, 0xDEF);
  EXPECT_EQ(host.hcr_el2, 8);  // HCR_HOST_NVHE_FLAGS
  EXPECT_EQ(host.tpidr_el2, 0);
}

TEST(Resets, ClearGprsAndFp) {
  const CtxtRegs a = distinct<CtxtRegs>(1000);
  const CtxtRegs zero{};
  expect_fields(clear_shadow_gp_regs_specx(a), a, zero, {"x"});
  expect_fields(reset_fp_regs_specx(a), a, zero, {"fp_q", "fp_fpsr", "fp_fpcr"});
}

}  // namespace
}  // namespace hypdiff::model
