// KCore at EL2 in QEMU (hypervisor/qemu/, docs/qemu.md) against KCore on the native platform:
// boot, host hypercalls through the command ring, reset, panics, cleanup after a SIGKILL.
#include "qemu/host/qemu_machine.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "core/constants.h"
#include "core/kcore.h"
#include "native/native.h"
}

namespace hypdiff::qemu {
namespace {

using Status = HvcResult::Status;

// KCore on the native platform with the same machine (el2_base aside, which no register
// shows) and the native platform's default answers, which default_oracle mirrors.
// A value per (principal, n), so that a value in the wrong place shows.
uint64_t distinct_value(uint64_t v, uint64_t n) { return 0xD0000000ull + (v << 16) + n; }

class Native {
 public:
  // el2_base: the native default 2^40, or QEMU's, for byte-for-byte memory comparisons.
  // distinct_data: doracle(v)(n) = distinct_value(v, n) instead of 0.
  explicit Native(uint64_t el2_base = 1ull << 40, bool distinct_data = false) {
    static const kn_hooks hooks = {nullptr, nullptr, nullptr, &Native::data,
                                   nullptr, nullptr, nullptr};
    kn_set_hooks(distinct_data ? &hooks : nullptr);
    kn_mem_reset();
    kn_regs_reset();
    kn_reset_counters();
    kn_set_cpu(0);
    // Leaf descriptors as QEMU's tables hold them (core/platform.h), for the byte comparison.
    if (el2_base == HQ_EL2_BASE) kn_set_leaf_window(HQ_SPEC_WINDOW, HQ_RAM_BASE);
    kc_config cfg;
    kc_config_default(&cfg);
    cfg.el2_base = el2_base;
    EXPECT_EQ(kc_boot(&kc_, &cfg), nullptr);
  }
  ~Native() {
    kn_mem_reset();
    kn_set_leaf_window(0, 0);
  }

  HvcResult hvc(const Regs& x) {
    kc_cpu_regs* phys = kn_cpu_regs(0);
    std::copy(x.begin(), x.end(), phys->regs.x);
    call_ = {&kc_, x, KC_STEP_DONE};
    HvcResult r;
    if (kn_call(&Native::run, &call_) == KN_PANICKED) {
      r.status = Status::halted;
      r.panic_text = kn_panic_reason();
      return r;
    }
    r.status = call_.step == KC_STEP_DONE ? Status::ok : Status::undefined;
    std::copy(phys->regs.x, phys->regs.x + 31, r.x.begin());
    return r;
  }

 private:
  struct Call {
    kcore* kc;
    Regs x;
    kc_step step;
  };
  static uint64_t data(void*, uint32_t v, uint64_t n) { return distinct_value(v, n); }
  static void run(void* arg) {
    auto* c = static_cast<Call*>(arg);
    c->step = kc_host_hvc(c->kc, c->x.data());
  }
  kcore kc_{};
  Call call_{};
};

Regs regs(std::initializer_list<uint64_t> first) {
  Regs r{};
  std::copy(first.begin(), first.end(), r.begin());
  // Values in the other registers too: the host's whole register file goes through KCore.
  for (size_t i = first.size(); i < r.size(); ++i) r[i] = 0x1000 + i;
  return r;
}

// A host's boot sequence: VMs, vCPUs, SMMU contexts, lookups, and a few refused arguments that
// KCore answers without halting.
std::vector<Regs> sequence() {
  return {
      regs({KC_HVC_TIMER_SET_CNTVOFF, 5}),
      regs({KC_HVC_REGISTER_KVM}),
      regs({KC_HVC_REGISTER_KVM}),
      regs({KC_HVC_REGISTER_VCPU, 1, 0}),
      regs({KC_HVC_REGISTER_VCPU, 1, 1}),
      regs({KC_HVC_REGISTER_VCPU, 2, 3}),
      regs({KC_HVC_SMMU_ALLOC_PGD, 0, 1, 0}),
      regs({KC_HVC_SMMU_ALLOC_PGD, 2, 0, 1}),
      regs({KC_HVC_SMMU_ALLOC_PGD, 0, 2, 0}),  // already owned: ignored
      regs({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, 0x1234, 0, 0}),
      regs({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, 0x5678, 2, 1}),
      regs({KC_HVC_SET_BOOT_INFO, 1, 0x300000, 0x1000}),
      regs({KC_HVC_SMMU_CLEAR, 0x4000, 0, 0}),
      regs({KC_HVC_SAVE_CRYPT_VCPU, 1, 0}),
      regs({KC_HVC_REGISTER_KVM}),
      regs({99, 1, 2, 3}),  // unknown hypercall: nothing happens
  };
}

class QemuTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { machine_ = new QemuMachine(); }
  static void TearDownTestSuite() {
    delete machine_;
    machine_ = nullptr;
  }
  void SetUp() override { machine_->reset(); }
  static QemuMachine* machine_;
};
QemuMachine* QemuTest::machine_ = nullptr;

TEST_F(QemuTest, BootsAndTheAgentIsReady) {
  EXPECT_FALSE(machine_->panicked());
  const auto* ring = static_cast<const hq_ring*>(machine_->guest(HQ_RING_PA));
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->ready, 1u);
  EXPECT_EQ(ring->head, ring->tail);
  const auto* plat = static_cast<const hq_plat*>(machine_->guest(HQ_PLAT_PA));
  EXPECT_EQ(plat->booted, HQ_MAGIC_BOOTED);
  EXPECT_NE(machine_->output().find("kcore: booted"), std::string::npos);
  // KCore's globals at el2_base: the first VM id, as kc_boot writes it.
  const auto* g = static_cast<const kc_globals*>(machine_->guest(HQ_EL2_BASE));
  EXPECT_EQ(g->next_vmid, 1u);
  EXPECT_EQ(g->next_remap_ptr, KC_REMAP_START);
}

TEST_F(QemuTest, APingChangesNothing) {
  const auto* ring = static_cast<const hq_ring*>(machine_->guest(HQ_RING_PA));
  const uint64_t tail = ring->tail;
  EXPECT_TRUE(machine_->ping());
  EXPECT_EQ(ring->tail, tail + 1);
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).x[0], 1u);  // no VM registered by it
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0})).status, Status::halted);
  EXPECT_FALSE(machine_->ping());  // halted: the agent waits in its hvc
}

TEST_F(QemuTest, RegisterKvmReturnsTheNextVmId) {
  const auto a = machine_->hvc(regs({KC_HVC_REGISTER_KVM}));
  ASSERT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.x[0], 1u);
  EXPECT_EQ(a.x[7], 0x1007u);  // the other registers come back as the host left them
  const auto b = machine_->hvc(regs({KC_HVC_REGISTER_KVM}));
  EXPECT_EQ(b.x[0], 2u);
  const auto* g = static_cast<const kc_globals*>(machine_->guest(HQ_EL2_BASE));
  EXPECT_EQ(g->next_vmid, 3u);
}

TEST_F(QemuTest, HypercallsGiveTheNativeTargetsRegisters) {
  Native native;
  int n = 0;
  for (const auto& x : sequence()) {
    const auto q = machine_->hvc(x);
    const auto want = native.hvc(x);
    ASSERT_EQ(q.status, want.status) << "hypercall #" << n << " x0=" << x[0] << " " << q.panic_text;
    EXPECT_EQ(q.x, want.x) << "hypercall #" << n << " x0=" << x[0];
    ++n;
  }
  EXPECT_EQ(n, 16);
}

TEST_F(QemuTest, ABatchGivesTheNativeTargetsRegisters) {
  // 200 hypercalls: more than the ring's 64 slots, so the batch goes around it.
  std::vector<Regs> xs;
  for (int round = 0; round < 13; ++round)
    for (const auto& x : sequence()) xs.push_back(x);
  xs.resize(200);
  const auto got = machine_->hvc_batch(xs);
  ASSERT_EQ(got.size(), xs.size());
  Native native;
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto want = native.hvc(xs[i]);
    ASSERT_EQ(got[i].status, want.status) << i;
    EXPECT_EQ(got[i].x, want.x) << i;
    EXPECT_EQ(got[i].panic_text, want.status == Status::halted ? want.panic_text : "") << i;
  }
}

TEST_F(QemuTest, ABatchStopsAtAHalt) {
  const std::vector<Regs> xs = {regs({KC_HVC_REGISTER_KVM}), regs({KC_HVC_REGISTER_VCPU, 200, 0}),
                                regs({KC_HVC_REGISTER_KVM})};
  const auto got = machine_->hvc_batch(xs);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].status, Status::ok);
  EXPECT_EQ(got[0].x[0], 1u);
  EXPECT_EQ(got[1].status, Status::halted);
  EXPECT_EQ(got[1].panic_text, "hypercall arguments refused");
  EXPECT_EQ(got[2].status, Status::undefined);
}

// Every page EL2 reached since the last reset (its touch log) holds what the same page holds
// on the native platform booted with the same el2_base: KCore's memory and the host RAM frames
// are byte for byte the same. The one known difference is the agent's entry in the host's root
// table (docs/qemu.md). Returns the number of pages compared.
size_t expect_same_memory(const QemuMachine& m, int seq) {
  const auto* t = static_cast<const hq_touch*>(m.guest(HQ_TOUCH_PA));
  const auto* list = static_cast<const uint64_t*>(m.guest(HQ_TOUCH_LIST_PA, HQ_TOUCH_CAP * 8));
  EXPECT_EQ(t->overflow, 0u);
  const uint64_t host_root = HQ_EL2_BASE + kc_pool_start(KC_HOSTVISOR);
  size_t differing = 0;
  for (uint64_t i = 0; i < t->count; ++i) {
    const uint64_t pa = HQ_RAM_BASE + list[i] * 4096;
    const uint64_t native_pa = pa < HQ_RAM_BASE + HQ_SPEC_WINDOW ? pa - HQ_RAM_BASE : pa;
    const auto* q = static_cast<const uint64_t*>(m.guest(pa, 4096));
    for (uint64_t w = 0; w < 512; ++w) {
      if (pa == host_root && w == kc_pgd_index(HQ_AGENT_IPA)) continue;
      const uint64_t want = kn_mem_peek64(native_pa + 8 * w);
      if (q[w] != want && ++differing <= 5)
        ADD_FAILURE() << "sequence " << seq << ": physical 0x" << std::hex << native_pa + 8 * w
                      << " holds 0x" << q[w] << " in QEMU, 0x" << want << " natively";
    }
  }
  return t->count;
}

// A host that builds and verifies a VM: vCPUs, an SMMU context with a DMA mapping, a device
// region, an image remapped and verified (512 RAM frames change hands, the VM gets a 2 MiB
// block), a vCPU state loaded; registers and all touched memory equal native. The data oracle
// gives a distinct value per (principal, n): what lands in each frame and register shows.
TEST_F(QemuTest, AVmBootSequenceAgreesWithNative) {
  Native native(HQ_EL2_BASE, true);
  for (uint64_t v = 0; v < HQ_ORACLE_V; ++v)
    for (uint64_t n = 0; n < HQ_ORACLE_N; ++n) machine_->oracle().data[v][n] = distinct_value(v, n);
  const std::vector<Regs> xs = {
      regs({KC_HVC_REGISTER_KVM}),
      regs({KC_HVC_REGISTER_VCPU, 1, 0}),
      regs({KC_HVC_REGISTER_VCPU, 1, 1}),
      regs({KC_HVC_SMMU_ALLOC_PGD, 0, 1, 0}),
      regs({KC_HVC_SMMU_LPAE_MAP, 0x5000, 0x800000, 0x3, 0, 0}),
      regs({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, 0x5123, 0, 0}),
      regs({KC_HVC_PHYS_ADDR_IOREMAP, 1, 0x3000000, 0x3000000, 0x2000}),
      regs({KC_HVC_SET_BOOT_INFO, 1, 0x400000, 0x2000}),
      regs({KC_HVC_REMAP_VM_IMAGE, 1, 0x400, 0}),
      regs({KC_HVC_REMAP_VM_IMAGE, 1, 0x401, 0}),
      regs({KC_HVC_LOAD_CRYPT_VCPU, 1, 1}),
      regs({KC_HVC_VERIFY_VM_IMAGE, 1}),
      regs({KC_HVC_SMMU_LPAE_IOVA_TO_PHYS, 0x5123, 0, 0}),
      regs({KC_HVC_REGISTER_KVM}),
  };
  std::vector<HvcResult> got;
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto q = machine_->hvc(xs[i]);
    const auto want = native.hvc(xs[i]);
    ASSERT_EQ(q.status, want.status) << i << " " << q.panic_text << " / " << want.panic_text;
    EXPECT_EQ(q.x, want.x) << i;
    got.push_back(q);
  }
  EXPECT_GT(expect_same_memory(*machine_, 0), 20u);
  // The sequence really went through: every step ok, the DMA mapping answers before and after
  // the VM is verified, and VM 2 is the next.
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].status, Status::ok) << i;
  EXPECT_EQ(got[5].x[0], 0x800123u);
  EXPECT_EQ(got[12].x[0], 0x800123u);
  EXPECT_EQ(got[13].x[0], 2u);
}

// Random host hypercalls 11..29 (and unknown numbers) with arguments mostly from small pools
// that the argument checks accept (VM and vCPU ids, SMMU indices, RAM addresses), sometimes
// hostile: 150 sequences of up to 25, a soft reset between sequences. Every status, every
// result register and, after each sequence, every page KCore touched must equal KCore on the
// native platform.
TEST_F(QemuTest, RandomHypercallSequencesAgreeWithNative) {
  std::mt19937_64 rng(0x5EED0005);
  const auto pick = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
  const auto arg = [&]() -> uint64_t {
    switch (pick(10)) {
      case 0:
      case 1:
      case 2:
      case 3:
        return pick(3);  // ids: vCPU, SMMU index, context bank
      case 4:
      case 5:
        return 0x200000 + pick(0x1E00) * 0x1000;  // a RAM page
      case 6:
        return pick(4) * 0x1000;  // a small iova or size
      case 7:
        return 0x2000000 + pick(0x1000) * 0x1000;  // the remap window
      case 8:
        return pick(3) * 0x40;  // SMMU pte attribute bits
      default:
        return pick(4) == 0 ? rng() : pick(2);  // sometimes hostile
    }
  };
  int steps = 0, halts = 0, oks = 0;
  size_t pages = 0;
  for (int seq = 0; seq < 150; ++seq) {
    machine_->soft_reset();
    Native native(HQ_EL2_BASE);
    uint64_t vms = 0;  // registered so far
    for (int i = 0; i < 25; ++i) {
      Regs x{};
      // VMs and vCPUs first more often, so that the others find something to work on.
      const uint64_t r = pick(26);
      x[0] = r < 19 ? 11 + r : r < 22 ? KC_HVC_REGISTER_KVM : r < 25 ? KC_HVC_REGISTER_VCPU : 99;
      for (int k = 1; k < 6; ++k) x[k] = arg();
      if (vms == 0) x[0] = KC_HVC_REGISTER_KVM;
      if (vms > 0 && pick(8) != 0) x[1] = 1 + pick(vms);  // most name an existing VM first
      for (int k = 6; k < 31; ++k) x[k] = rng();
      const auto q = machine_->hvc(x);
      const auto want = native.hvc(x);
      ++steps;
      ASSERT_EQ(q.status, want.status) << "sequence " << seq << " step " << i << " x0=" << x[0]
                                       << " " << q.panic_text << " / " << want.panic_text;
      ASSERT_EQ(q.x, want.x) << "sequence " << seq << " step " << i << " x0=" << x[0];
      ASSERT_EQ(q.panic_text, want.panic_text) << "sequence " << seq << " step " << i;
      if (x[0] == KC_HVC_REGISTER_KVM && q.status == Status::ok) vms = q.x[0];
      if (q.status == Status::halted) {
        ++halts;
        break;
      }
      ++oks;
    }
    pages += expect_same_memory(*machine_, seq);
  }
  // The pools must let sequences get somewhere, and reach halts too.
  EXPECT_GT(oks, 250) << steps << " steps, " << halts << " halts";
  EXPECT_GT(halts, 50);
  EXPECT_GT(steps, 400);
  EXPECT_GT(pages, 150u * 5);
  std::printf("random: %d hypercalls, %d ok or undefined, %d halts, %zu pages compared\n", steps,
              oks, halts, pages);
}

TEST_F(QemuTest, ResetGivesTheAnswersOfAFreshBoot) {
  std::vector<HvcResult> first;
  for (const auto& x : sequence()) first.push_back(machine_->hvc(x));
  EXPECT_EQ(first[14].x[0], 3u);  // the third REGISTER_KVM
  machine_->reset();
  // EL2 really started again: once for the boot the snapshot was taken after, once now.
  EXPECT_EQ(machine_->boots(), 2u);
  const auto* g = static_cast<const kc_globals*>(machine_->guest(HQ_EL2_BASE));
  EXPECT_EQ(g->next_vmid, 1u);
  // VM 1's info page, which REGISTER_KVM and REGISTER_VCPU wrote, is as kc_boot left it.
  kcore kc{};
  kc_config_default(&kc.cfg);
  kc.cfg.el2_base = HQ_EL2_BASE;
  kc_layout_compute(&kc.cfg, &kc.lay);
  const auto* vs = static_cast<const uint8_t*>(machine_->guest(kc.lay.vminfo + 2 * 4096, 4096));
  ASSERT_NE(vs, nullptr);
  EXPECT_EQ(std::count(vs, vs + 4096, 0), 4096);
  size_t i = 0;
  for (const auto& x : sequence()) {
    const auto again = machine_->hvc(x);
    EXPECT_EQ(again.status, first[i].status) << i;
    EXPECT_EQ(again.x, first[i].x) << i;
    ++i;
  }
}

TEST_F(QemuTest, ASoftResetGivesTheAnswersOfAFreshBoot) {
  std::vector<HvcResult> first;
  for (const auto& x : sequence()) first.push_back(machine_->hvc(x));
  for (int round = 0; round < 3; ++round) {
    machine_->soft_reset();
    EXPECT_EQ(machine_->boots(), 2u);  // EL2 restarted at _start
    const auto* g = static_cast<const kc_globals*>(machine_->guest(HQ_EL2_BASE));
    EXPECT_EQ(g->next_vmid, 1u);
    const auto again = machine_->hvc_batch(sequence());
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(again[i].status, first[i].status) << round << " " << i;
      EXPECT_EQ(again[i].x, first[i].x) << round << " " << i;
    }
  }
}

TEST_F(QemuTest, ASoftResetRecoversFromAHalt) {
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0})).status, Status::halted);
  machine_->soft_reset();
  EXPECT_FALSE(machine_->panicked());
  EXPECT_EQ(machine_->panic_text(), "");
  const auto r = machine_->hvc(regs({KC_HVC_REGISTER_KVM}));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.x[0], 1u);
  // And the QMP reset still works after soft resets.
  machine_->reset();
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).x[0], 1u);
}

// Each halt writes its panic text to the UART, and QEMU stops, holding its big lock, while the
// pipe to the harness is full (64 KiB): soft_reset_start() drains it, also when the harness
// works until the restart is over and settle() has nothing left to wait for.
TEST_F(QemuTest, PanicTextsBeyondThePipesSizeDoNotStallQemu) {
  constexpr int kHalts = 2000;  // 41 bytes each: 80 KiB
  const auto panics = [](const std::string& out) {
    size_t n = 0;
    for (auto at = out.find("KCORE PANIC: "); at != std::string::npos;
         at = out.find("KCORE PANIC: ", at + 1))
      ++n;
    return n;
  };
  const size_t before = panics(machine_->output());
  for (int i = 0; i < kHalts; ++i) {
    ASSERT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0})).status, Status::halted) << i;
    machine_->soft_reset_start();
    // The harness's work outlasts EL2's restart: settle() finds the agent ready.
    const auto* ring = static_cast<const volatile hq_ring*>(machine_->guest(HQ_RING_PA));
    for (int wait = 0; ring->ready != 1 && wait < 100000; ++wait)
      std::this_thread::sleep_for(std::chrono::microseconds(10));
    machine_->settle();
  }
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).x[0], 1u);
  const std::string out = machine_->output();
  EXPECT_EQ(panics(out), before + kHalts);
  EXPECT_NE(out.find("kcore: booted"), std::string::npos);  // once per QEMU, at the first boot
}

// The infrastructure range is restored by residency: a page written outside the snapshot reads
// zero again after either reset, also the second time (the first made it a resident zero page),
// and a snapshot page there gets its contents back.
TEST_F(QemuTest, InfrastructurePagesOutsideTheSnapshotReadZeroAfterAReset) {
  auto* spare = static_cast<volatile uint64_t*>(machine_->guest(HQ_AGENT_PA + 0x1FF000));
  auto* oracle_end = static_cast<volatile uint64_t*>(
      machine_->guest(HQ_ORACLE_PA + sizeof(hq_oracle) - sizeof(uint64_t)));
  ASSERT_NE(spare, nullptr);
  ASSERT_EQ(*spare, 0u);
  const uint64_t snapshot_word = *oracle_end;
  for (int round = 0; round < 4; ++round) {
    spare[0] = 0xdeadbeef;
    spare[511] = 0xfeedface;
    *oracle_end = snapshot_word + 1;
    if (round % 2 == 0) {
      machine_->soft_reset();
    } else {
      machine_->reset();
    }
    EXPECT_EQ(spare[0], 0u) << round;
    EXPECT_EQ(spare[511], 0u) << round;
    EXPECT_EQ(*oracle_end, snapshot_word) << round;
    EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).x[0], 1u) << round;
  }
}

TEST_F(QemuTest, AHaltIsAResultWithThePanicText) {
  // REGISTER_VCPU of a VM that does not exist: KCore refuses the arguments and halts.
  const auto r = machine_->hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0}));
  EXPECT_EQ(r.status, Status::halted);
  EXPECT_EQ(r.panic_text, "hypercall arguments refused");
  EXPECT_TRUE(machine_->panicked());
  EXPECT_NE(machine_->output().find("KCORE PANIC: hypercall arguments refused"), std::string::npos);
  // The halt came inside a hypercall, so KCore's icore stays set: the host's next hypercall
  // is undefined, on both targets.
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).status, Status::undefined);
  Native native;
  EXPECT_EQ(native.hvc(regs({KC_HVC_REGISTER_VCPU, 200, 0})).panic_text, r.panic_text);
  EXPECT_EQ(native.hvc(regs({KC_HVC_REGISTER_KVM})).status, Status::undefined);
  machine_->reset();
  EXPECT_FALSE(machine_->panicked());
  EXPECT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).x[0], 1u);
}

TEST_F(QemuTest, TheOracleTableAnswersKCore) {
  // REGISTER_KVM records shared_kvm(v) in VM v's info: the table's value must arrive.
  machine_->oracle().shared_kvm[1] = 0xABCD;
  ASSERT_EQ(machine_->hvc(regs({KC_HVC_REGISTER_KVM})).status, Status::ok);
  kcore kc{};
  kc_config_default(&kc.cfg);
  kc.cfg.el2_base = HQ_EL2_BASE;
  kc_layout_compute(&kc.cfg, &kc.lay);
  const auto* vs = static_cast<const uint64_t*>(machine_->guest(kc.lay.vminfo + 2 * 4096, 4096));
  ASSERT_NE(vs, nullptr);
  bool found = false;
  for (int i = 0; i < 512; ++i) found = found || vs[i] == 0xABCD;
  EXPECT_TRUE(found);
}

TEST(QemuStart, MissingQemuIsAOneLineError) {
  QemuOptions o;
  o.qemu = "qemu-system-aarch64-that-does-not-exist";
  try {
    QemuMachine m(o);
    FAIL() << "started without QEMU";
  } catch (const QemuError& e) {
    EXPECT_EQ(std::string(e.what()),
              "qemu-system-aarch64-that-does-not-exist is not installed (apt install "
              "qemu-system-arm)");
  }
}

TEST(QemuStart, AnImageQemuRefusesIsQemusError) {
  QemuOptions o;
  o.kcore_elf = "/bin/true";  // an ELF for the host's architecture
  try {
    QemuMachine m(o);
    FAIL() << "booted a foreign image";
  } catch (const QemuError& e) {
    const std::string what = e.what();
    // QEMU 7.2 says nothing here; when it does, its last line follows after ": ".
    EXPECT_EQ(what.rfind("QEMU exited with status 1", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(QemuStart, AnImageThatNeverAnswersDidNotBoot) {
  const std::string path = "/tmp/hypdiff-qemu-test-zero-" + std::to_string(getpid()) + ".img";
  std::ofstream(path) << std::string(65536, '\0');  // raw zeros: the CPU runs into UDF
  QemuOptions o;
  o.kcore_elf = path;
  o.boot_timeout = std::chrono::milliseconds(500);
  std::string what;
  try {
    QemuMachine m(o);
  } catch (const QemuError& e) {
    what = e.what();
  }
  unlink(path.c_str());
  EXPECT_EQ(what, "KCore in QEMU did not boot within 500 ms");
}

TEST(QemuStart, APanicDuringBootIsReported) {
  QemuOptions o;
  kc_config cfg;
  kc_config_default(&cfg);
  cfg.el2_base = HQ_EL2_BASE;
  cfg.max_vms = 100;  // KCore's memory would end beyond QEMU's RAM
  o.config = cfg;
  try {
    QemuMachine m(o);
    FAIL() << "booted a machine that does not fit";
  } catch (const QemuError& e) {
    EXPECT_EQ(std::string(e.what()),
              "KCore panicked during boot: KCore's memory is not in the RAM QEMU has: it ends "
              "at 0x000000014c78e000");
  }
}

// SIGSTOP takes effect when each thread next enters the kernel: a vCPU thread spinning in guest
// code can still answer a hypercall meanwhile (3.8 us). True once every thread of `pid` is
// stopped ('T' in /proc/<pid>/task/<tid>/stat).
bool all_threads_stopped(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (int attempt = 0; attempt < 2000; ++attempt) {
    bool stopped = true;
    DIR* d = opendir(dir.c_str());
    if (!d) return false;
    while (dirent* e = readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      std::ifstream f(dir + "/" + e->d_name + "/stat");
      std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      const auto paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T')
        stopped = false;
    }
    closedir(d);
    if (stopped) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(QemuStart, AHangIsTheWatchdogsAndResetStartsAFreshQemu) {
  QemuOptions o;
  o.command_timeout = std::chrono::milliseconds(300);
  QemuMachine m(o);
  const pid_t first = m.pid();
  ASSERT_EQ(kill(first, SIGSTOP), 0);  // QEMU stops answering
  ASSERT_TRUE(all_threads_stopped(first));
  std::string what;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    m.hvc(regs({KC_HVC_REGISTER_KVM}));
  } catch (const QemuError& e) {
    what = e.what();
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(what, "KCore in QEMU did not answer hypercall 24 within 300 ms");
  EXPECT_LT(waited, std::chrono::seconds(3));
  EXPECT_THROW(m.hvc(regs({KC_HVC_REGISTER_KVM})), QemuError);  // failed until a reset
  m.reset();
  EXPECT_NE(m.pid(), first);
  EXPECT_NE(kill(first, 0), 0);  // the hung QEMU is gone (killed and reaped)
  const auto r = m.hvc(regs({KC_HVC_REGISTER_KVM}));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.x[0], 1u);
}

bool process_with_name(const std::string& name) {
  DIR* d = opendir("/proc");
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream ss;
    ss << f.rdbuf();
    if (ss.str().find(name) != std::string::npos) found = true;
  }
  closedir(d);
  return found;
}

bool shm_file_of(pid_t pid) {
  const std::string prefix = "hypdiff-" + std::to_string(pid) + "-";
  DIR* d = opendir("/dev/shm");
  bool found = false;
  while (dirent* e = readdir(d)) found = found || std::string(e->d_name).rfind(prefix, 0) == 0;
  closedir(d);
  return found;
}

TEST(QemuCleanup, SigkillOfTheHarnessLeavesNoQemuAndNoFile) {
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The stand-in for hypdiff; it must not outlive this test either.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(pipefd[0]);
    try {
      QemuMachine m;
      char msg[64] = {};
      snprintf(msg, sizeof msg, "%d %s", static_cast<int>(m.pid()), m.name().c_str());
      (void)!write(pipefd[1], msg, sizeof msg);
      for (;;) pause();
    } catch (...) {
      _exit(3);
    }
  }
  close(pipefd[1]);
  char msg[64] = {};
  const ssize_t got = read(pipefd[0], msg, sizeof msg);
  close(pipefd[0]);
  int qemu = -1;
  char name_buf[48] = {};
  const bool started = got == sizeof msg && sscanf(msg, "%d %47s", &qemu, name_buf) == 2;
  const std::string name = name_buf;
  const bool alive = started && process_with_name(name) && kill(qemu, 0) == 0;
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(started) << "the child did not start QEMU";
  EXPECT_EQ(name.rfind("hypdiff-" + std::to_string(child) + "-", 0), 0u) << name;
  EXPECT_TRUE(alive) << "QEMU runs while the harness lives";
  EXPECT_TRUE(WIFSIGNALED(status));
  // QEMU gets SIGKILL from the kernel when its parent dies.
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = !process_with_name(name);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "a QEMU named " << name << " survived the harness";
  EXPECT_FALSE(shm_file_of(child));
}

TEST(QemuCleanup, TheDestructorEndsQemu) {
  pid_t pid;
  std::string name;
  {
    QemuMachine m;
    pid = m.pid();
    name = m.name();
    EXPECT_FALSE(shm_file_of(getpid()));  // unlinked as soon as it was created
    EXPECT_TRUE(process_with_name(name));
  }
  EXPECT_FALSE(process_with_name(name));
  EXPECT_NE(kill(pid, 0), 0);
}

}  // namespace
}  // namespace hypdiff::qemu
