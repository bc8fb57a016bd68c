// The native platform: sparse memory, panics, lock bookkeeping and hooks, oracle hooks.
#include <gtest/gtest.h>

#include <vector>

#include "tests/hypervisor/kcore_test_util.hpp"

namespace hypdiff::kcore_test {
namespace {

class Native : public ::testing::Test {
 protected:
  void SetUp() override {
    kn_mem_reset();
    kn_reset_counters();
  }
  void TearDown() override {
    kn_set_hooks(nullptr);
    kn_mem_reset();
  }
};

TEST_F(Native, MemoryIsZeroAndCostsNothingUntilTouched) {
  EXPECT_EQ(kn_mem_pages(), 0u);
  EXPECT_EQ(kn_mem_peek64(0x123000), 0u);
  EXPECT_EQ(kn_mem_peek64((1ull << 40) + 0x22000000), 0u);
  EXPECT_EQ(kn_mem_pages(), 0u);  // peeking allocates nothing
  kn_mem_poke64(0x123008, 42);
  EXPECT_EQ(kn_mem_pages(), 1u);
  EXPECT_EQ(kn_mem_peek64(0x123008), 42u);
  EXPECT_EQ(kn_mem_peek64(0x123000), 0u);
  EXPECT_EQ(kn_mem_peek64(0x124008), 0u);  // the next page is another page
  EXPECT_EQ(*static_cast<uint64_t*>(plat_phys(0x123008)), 42u);
  kn_mem_reset();
  EXPECT_EQ(kn_mem_pages(), 0u);
  EXPECT_EQ(kn_mem_peek64(0x123008), 0u);
}

// A reset recycles pages; a recycled page must read as zero.
TEST_F(Native, RecycledPagesAreZero) {
  kn_mem_poke64(0x5008, 1);
  kn_mem_reset();
  kn_mem_poke64(0x9010, 2);  // takes the page 0x5000 had
  EXPECT_EQ(kn_mem_pages(), 1u);
  EXPECT_EQ(kn_mem_peek64(0x9008), 0u);
  EXPECT_EQ(kn_mem_peek64(0x9010), 2u);
  EXPECT_EQ(kn_mem_peek64(0x5008), 0u);
}

// One page in every 2 MiB of a 600 MiB span at 2^40, and the top of the 48-bit space.
TEST_F(Native, SparseOverTheWholeLayout) {
  const uint64_t base = 1ull << 40;
  for (uint64_t off = 0; off < (600ull << 20); off += KC_PMD_SIZE) kn_mem_poke64(base + off, off);
  kn_mem_poke64((1ull << 48) - 8, 7);
  EXPECT_EQ(kn_mem_pages(), 301u);
  for (uint64_t off = 0; off < (600ull << 20); off += KC_PMD_SIZE)
    ASSERT_EQ(kn_mem_peek64(base + off), off);
  EXPECT_EQ(kn_mem_peek64((1ull << 48) - 8), 7u);
  EXPECT_EQ(kn_mem_peek64(1ull << 48), 0u);
}

TEST_F(Native, BootingTheDefaultMachineTouchesFewPages) {
  kc_config c;
  kc_config_default(&c);
  kcore kc;
  ASSERT_EQ(kc_boot(&kc, &c), nullptr);
  // 4 globals pages, the per-CPU page, the SMMU owners' first page, 17 roots, 16 SMMU roots of
  // 2 pages, 30 pages of ownership entries, 17 x 2 pages of VM info, 128 contexts of 2 KiB.
  EXPECT_EQ(kn_mem_pages(), 4u + 1u + 1u + 17u + 32u + 30u + 34u + 64u);
}

TEST_F(Native, BootRefusesABadConfigurationWithoutWriting) {
  kc_config c;
  kc_config_default(&c);
  c.max_vms = 0;
  kcore kc;
  EXPECT_STREQ(kc_boot(&kc, &c), "max_vms must be in 1..254");
  EXPECT_EQ(kn_mem_pages(), 0u);
}

TEST_F(Native, PanicReturnsToTheCaller) {
  int after = 0;
  EXPECT_EQ(run([&] {
              plat_panic("test panic");
              after = 1;
            }),
            KN_PANICKED);
  EXPECT_EQ(after, 0);
  EXPECT_STREQ(kn_panic_reason(), "test panic");
  EXPECT_EQ(run([&] { after = 2; }), KN_RETURNED);
  EXPECT_EQ(after, 2);
  EXPECT_EQ(kn_panic_reason(), nullptr);
  EXPECT_EQ(run([&] { plat_phys(1ull << 48); }), KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "physical address beyond 2^48");
}

TEST_F(Native, CallsDoNotNest) {
  kn_outcome inner = KN_RETURNED;
  EXPECT_EQ(run([&] { inner = run([] {}); }), KN_RETURNED);
  EXPECT_EQ(inner, KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "kn_call does not nest");
}

struct Recorder {
  std::vector<std::pair<uint32_t, int>> acquires;
  std::vector<uint32_t> releases;
};

TEST_F(Native, LocksCallTheHooksAndCountSections) {
  Recorder rec;
  kn_hooks h{};
  h.ctx = &rec;
  h.on_acquire = [](void* ctx, uint32_t id, int first) {
    static_cast<Recorder*>(ctx)->acquires.push_back({id, first});
  };
  h.on_release = [](void* ctx, uint32_t id) {
    static_cast<Recorder*>(ctx)->releases.push_back(id);
  };
  kn_set_hooks(&h);
  EXPECT_EQ(run([] {
              plat_lock_acquire(2);
              plat_lock_acquire(5);
              plat_lock_release(5);
              plat_lock_acquire(3);  // still holding 2: same section, ascending
              plat_lock_release(3);
              plat_lock_release(2);
              plat_lock_acquire(1);
              plat_lock_release(1);
            }),
            KN_RETURNED);
  EXPECT_EQ(rec.acquires, (std::vector<std::pair<uint32_t, int>>{{2, 1}, {5, 0}, {3, 0}, {1, 1}}));
  EXPECT_EQ(rec.releases, (std::vector<uint32_t>{5, 3, 2, 1}));
  EXPECT_EQ(kn_sections(), 2u);
  EXPECT_EQ(kn_locks_held(), 0u);
}

TEST_F(Native, LockMisuseIsAPanic) {
  EXPECT_EQ(run([] {
              plat_lock_acquire(4);
              plat_lock_acquire(4);
            }),
            KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "lock acquired twice");
  EXPECT_EQ(kn_locks_held(), 0u);  // dropped at the panic
  EXPECT_EQ(run([] {
              plat_lock_acquire(5);
              plat_lock_acquire(2);
            }),
            KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "locks acquired out of ascending order");
  EXPECT_EQ(run([] { plat_lock_release(3); }), KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "release of a lock not held");
  EXPECT_EQ(run([] { plat_lock_acquire(5000); }), KN_PANICKED);
}

TEST_F(Native, OracleHooksAnswerOrGiveZero) {
  EXPECT_EQ(plat_doracle(1, 5), 0u);
  kn_hooks h{};
  h.doracle = [](void*, uint32_t v, uint64_t n) { return uint64_t(v) * 1000 + n; };
  h.core_doracle = [](void*, uint32_t v, uint64_t n) { return uint64_t(v) * 100 + n; };
  kn_set_hooks(&h);
  EXPECT_EQ(plat_doracle(3, 7), 3007u);
  EXPECT_EQ(plat_core_doracle(3, 7), 307u);
  kn_set_cpu(5);
  EXPECT_EQ(plat_cpu_id(), 5u);
  kn_set_cpu(0);
}

// Skipped loop iterations count as their query points; the hook may allow fewer (never more).
TEST_F(Native, SkipsCountAsQueryPointsAndTheHookBoundsThem) {
  EXPECT_EQ(plat_skip_sections(10, 2), 10u);  // no hook: all of them
  EXPECT_EQ(kn_sections(), 20u);
  kn_hooks h{};
  h.skip = [](void*, uint64_t n, uint32_t) -> uint64_t { return n > 3 ? 3 : n + 7; };
  kn_set_hooks(&h);
  EXPECT_EQ(plat_skip_sections(10, 2), 3u);
  EXPECT_EQ(plat_skip_sections(2, 2), 2u);  // the hook's 9 is capped
  EXPECT_EQ(kn_sections(), 20u + 6u + 4u);
  EXPECT_EQ(run([] {
              plat_lock_acquire(2);
              plat_skip_sections(1, 1);
            }),
            KN_PANICKED);
  EXPECT_STREQ(kn_panic_reason(), "sections skipped inside a critical section");
}

TEST_F(Native, AQuietLockIsNoQueryPoint) {
  std::vector<std::pair<uint32_t, int>> seen;
  kn_hooks h{};
  h.ctx = &seen;
  h.on_acquire = [](void* ctx, uint32_t id, int first) {
    static_cast<std::vector<std::pair<uint32_t, int>>*>(ctx)->push_back({id, first});
  };
  kn_set_hooks(&h);
  EXPECT_EQ(run([] {
              plat_lock_acquire_quiet(30);
              plat_lock_release(30);
              plat_lock_acquire(30);
              plat_lock_release(30);
            }),
            KN_RETURNED);
  EXPECT_EQ(kn_sections(), 1u);
  EXPECT_EQ(seen, (std::vector<std::pair<uint32_t, int>>{{30, 0}, {30, 1}}));
}

TEST_F(Native, ParametersDefaultToTheModels) {
  EXPECT_EQ(plat_param(KC_PARAM_SHARED_KVM, 1, 0), 0u);
  EXPECT_EQ(plat_param(KC_PARAM_VERIFY_IMG, 1, 0), 1u);
  EXPECT_EQ(plat_param(KC_PARAM_DECRYPT_GP_COUNT, 0, 0), 31u);
  EXPECT_EQ(plat_param(KC_PARAM_DECRYPT_SYS_COUNT, 0, 0), 24u);
  kn_hooks h{};
  h.param = [](void*, int which, uint64_t a, uint64_t b) -> uint64_t {
    return 100u * unsigned(which) + a + b;
  };
  kn_set_hooks(&h);
  EXPECT_EQ(plat_param(KC_PARAM_SHARED_VCPU, 3, 4), 107u);
}

TEST_F(Native, EachCpuHasItsRegisterFile) {
  kn_regs_reset();
  kn_cpu_regs(3)->regs.x[7] = 77;
  kn_set_cpu(3);
  EXPECT_EQ(plat_cpu_regs()->regs.x[7], 77u);
  kn_set_cpu(0);
  EXPECT_EQ(plat_cpu_regs()->regs.x[7], 0u);
  EXPECT_EQ(kn_cpu_regs(KN_MAX_CPUS), nullptr);
  kn_set_cpu(KN_MAX_CPUS);
  EXPECT_EQ(run([] { plat_cpu_regs(); }), KN_PANICKED);
  kn_set_cpu(0);
  kn_regs_reset();
  EXPECT_EQ(kn_cpu_regs(3)->regs.x[7], 0u);
}

}  // namespace
}  // namespace hypdiff::kcore_test
