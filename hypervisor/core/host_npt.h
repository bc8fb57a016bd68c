/* The host's stage-2 fault (digest §3.5.2 host_npt_handler_spec). A fault on RAM or on a device
 * page maps the frame lazily into the host's identity table; a fault inside an SMMU's MMIO
 * window is a register access KCore emulates (handle_host_mmio_spec_h): reads return what the
 * host's oracle stream says the device holds, writes are checked and never reach a device. The
 * entry point is kc_host_fault (kcore.h). */
#ifndef KCORE_HOST_NPT_H
#define KCORE_HOST_NPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctxt.h"
#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An SMMU register access as the spec decodes it from the fault syndrome. */
struct kc_mmio_access {
  uint32_t smmu_index; /* which SMMU's window */
  uint64_t fault_ipa;  /* addr | (far_el2 & 4095) */
  uint32_t len;        /* 1 << ((esr & 0xC00000) >> 22): 1, 2, 4 or 8 */
  bool is_write;       /* esr & WNR */
  uint32_t rt;         /* (esr >> 16) & 31 */
};

/* is_smmu_range_loop_h: the SMMU whose MMIO window holds addr (the last match), or INVALID. */
uint32_t kc_smmu_range(const struct kc_config* cfg, uint64_t addr);

/* handle_host_mmio_spec_h, under SMMU_ID: emulates the access for the host whose context is
 * `host` (its registers just saved) and whose physical registers are `phys`. Returns NULL, or
 * why the spec halts (then nothing changed). */
const char* kc_host_mmio(const struct kcore* kc, const struct kc_mmio_access* a,
                         struct kc_ctxt* host, struct kc_cpu_regs* phys);

#ifdef __cplusplus
}
#endif

#endif
