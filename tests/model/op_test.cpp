#include "model/op.hpp"

#include <gtest/gtest.h>

#include "tests/support/builders.hpp"

namespace hypdiff::model {
namespace {

using testing::fresh;
using testing::hvc;

TEST(Apply, SetRegWritesTheRunningPrincipalsRegister) {
  const RData d = fresh();
  const StepResult r = model::apply(d, SetReg{7, 0x1234});
  ASSERT_EQ(r.kind, StepKind::ok);
  EXPECT_EQ(r.after->regs.ctxt_regs.x[7], 0x1234);
  EXPECT_EQ(model::apply(d, SetReg{31, 1}).kind, StepKind::undefined);
  RData core = d;
  core.icore = true;
  EXPECT_EQ(model::apply(core, SetReg{1, 1}).kind, StepKind::undefined);
}

TEST(Apply, VmExitWhileTheHostRunsIsUndefinedAndTouchesNoRegister) {
  const RData d = fresh();
  const StepResult r = model::apply(d, VmExit{k::ARM_EXCEPTION_INTERRUPT, 0, {1, 2, 3, 4}, 0, 0});
  EXPECT_EQ(r.kind, StepKind::undefined);
  EXPECT_FALSE(r.after.has_value());
}

TEST(Apply, HostHvcWhenHaltedLeavesTheStateAlone) {
  RData d = fresh();
  d.halt = true;
  const StepResult r = model::apply(d, hvc(k::HVC_REGISTER_KVM));
  ASSERT_TRUE(r.after);
  EXPECT_EQ(r.kind, StepKind::halted);
  // The host still wrote its own x0; the handler itself did nothing.
  EXPECT_EQ(r.after->regs.ctxt_regs.x[0], k::HVC_REGISTER_KVM);
  EXPECT_FALSE(r.after->icore);
  EXPECT_EQ(r.after->shared.core_data, d.shared.core_data);
  EXPECT_EQ(r.after->shared.vminfos, d.shared.vminfos);
  EXPECT_EQ(r.after->shadow_ctxts, d.shadow_ctxts);
}

TEST(Apply, TimerHypercallIsANoOpThatReturnsTheHostsRegisters) {
  const RData d = fresh();
  const StepResult r = model::apply(d, hvc(k::HVC_TIMER_SET_CNTVOFF, 5, 6, 7, 8, 9));
  ASSERT_EQ(r.kind, StepKind::ok);
  EXPECT_FALSE(r.after->icore);
  EXPECT_EQ(r.after->regs.ctxt_regs.x[1], 5);
  EXPECT_EQ(r.after->regs.ctxt_regs.x[5], 9);
  EXPECT_EQ(r.after->ctx(0).ctxt_regs.x[2], 6);  // host_to_core snapshot
}

TEST(Apply, HandlerOfFollowsTheVariant) {
  EXPECT_EQ(handler_of(HostHvc{}), Handler::host_hvc);
  EXPECT_EQ(handler_of(HostFault{}), Handler::host_npt);
  EXPECT_EQ(handler_of(VcpuRun{}), Handler::host_vcpu_run);
  EXPECT_EQ(handler_of(VmExit{}), Handler::vm_exit);
  EXPECT_EQ(handler_of(DevStore{}), Handler::dev_store);
  EXPECT_EQ(handler_of(SetReg{}), Handler::set_reg);
}

TEST(OpText, NamesEveryField) {
  EXPECT_EQ(to_string(Op{MemLoad{0x40, 3}}), "mem_load gfn=0x40 reg=0x3");
  EXPECT_EQ(to_string(Op{VcpuRun{2}}), "vcpu_run vmid=0x2");
  EXPECT_EQ(to_string(Op{HostFault{0x10, 0x40, 0}}), "host_fault hpfar=0x10 esr=0x40 far=0x0");
}

TEST(HandlerList, ParsesWhatItPrints) {
  std::string err;
  const HandlerMask m = handler_bit(Handler::host_npt) | handler_bit(Handler::set_reg);
  EXPECT_EQ(handler_list(m), "host_npt, set_reg");
  EXPECT_EQ(parse_handler_list("set_reg,host_npt", &err), std::optional<HandlerMask>(m));
  EXPECT_EQ(parse_handler_list("all", &err), std::optional<HandlerMask>(kAllHandlers));
  EXPECT_EQ(handler_list(kAllHandlers),
            "host_hvc, host_npt, host_vcpu_run, vm_exit, mem_load, mem_store, dev_load, "
            "dev_store, set_reg");
  EXPECT_EQ(parse_handler_list("host_hvc,hvc", &err), std::nullopt);
  EXPECT_EQ(err.rfind("unknown operation kind 'hvc' (known: host_hvc, host_npt,", 0), 0u) << err;
  EXPECT_EQ(parse_handler_list("", &err), std::nullopt);
  EXPECT_EQ(err, "no operation kinds given");
  EXPECT_EQ(parse_handler_list("host_hvc,", &err), std::optional<HandlerMask>(1));
}

}  // namespace
}  // namespace hypdiff::model
