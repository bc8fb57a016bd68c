/* Giving frames to a VM and mapping them into its stage-2 table (digest §3.4
 * prot_and_map_vm_s2pt_spec_h): the path both VERIFY_VM_IMAGE (image blocks) and vcpu_run (the
 * page the VM faulted on, as the host proposes) take. */
#ifndef KCORE_VM_MAP_H
#define KCORE_VM_MAP_H

#include <stdint.h>

#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maps addr of VM vmid to the frame(s) of pte: level 2 a 2 MiB block (512 frames from
 * phys_page(pte), which the spec does not align), any other level one page. Each frame is first
 * assigned to the VM (one critical section each), then the mapping is written (one more). Halts
 * where the spec does: a frame the VM may not have, or an exhausted pool (map-halt-check: a
 * failed assignment ends the step before the map). */
void kc_prot_and_map_vm(const struct kcore* kc, uint32_t vmid, uint64_t addr, uint64_t pte,
                        uint64_t level);

#ifdef __cplusplus
}
#endif

#endif
