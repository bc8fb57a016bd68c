/* Per-CPU state and the halt. */
#include "core/cpu.h"

#include "core/mutant.h"
#include "core/s2pt.h"
#include "core/vm.h"

_Static_assert(sizeof(struct kc_cpu) == 16, "256 CPUs per page");

struct kc_cpu* kc_cpu_of(const struct kcore* kc) {
  const uint32_t id = plat_cpu_id();
  if (id >= kc->cfg.total_cpus) plat_panic("a CPU beyond total_cpus");
  return (struct kc_cpu*)plat_phys(kc->lay.cpus + (uint64_t)id * sizeof(struct kc_cpu));
}

struct kc_ctxt* kc_cur_ctxt(const struct kcore* kc) {
  const struct kc_cpu* c = kc_cpu_of(kc);
  if (c->cur_vcpuid < 0) plat_panic("no current vCPU");
  return kc_ctxt_of(kc, c->cur_vmid, (uint64_t)c->cur_vcpuid);
}

void kc_halt(const struct kcore* kc, const char* why) {
  kc_cpu_of(kc)->halted = 1;
  plat_panic(why);
}

void kc_cpu_boot(const struct kcore* kc) {
  for (uint32_t id = 0; id < kc->cfg.total_cpus; ++id) {
    struct kc_cpu* c =
        (struct kc_cpu*)plat_phys(kc->lay.cpus + (uint64_t)id * sizeof(struct kc_cpu));
    const struct kc_cpu host = {0, 1, 0, 0, KC_HOSTVISOR, (int32_t)id, 0};
    *c = host;
  }
}

uint64_t kc_vttbr(const struct kcore* kc, uint32_t v) {
  if (KC_MUTANT(10)) return kc_npt_root(kc, v); /* mutant 10: the VMID field is left 0 */
  return kc_npt_root(kc, v) | ((uint64_t)v << 48);
}
