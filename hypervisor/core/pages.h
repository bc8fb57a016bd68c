/* Moving frames between principals: the spec's shared-object primitives that combine the
 * ownership array with the host's stage-2 table (digest §3.2), intended profile. Each runs
 * inside its caller's critical section (S2PAGE_ID and the host's NPT lock held) and returns
 * KC_OK, or why the spec halts; the caller panics, after any state change the spec keeps on
 * that path (e.g. a failed unmap in assign still records the new owner). */
#ifndef KCORE_PAGES_H
#define KCORE_PAGES_H

#include <stdint.h>

#include "core/kcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* local_map_host(addr): lazily maps the frame at addr into the host's identity stage-2 table,
 * as normal memory (PAGE_S2_KERNEL) if the host owns it or it is shared with the host, as a
 * device (PAGE_S2_DEVICE | S2_RDWR) if nobody owns it. KC_E_DENIED: a private page of a VM or
 * of KCore. */
enum kc_status kc_map_host(const struct kcore* kc, uint64_t addr);

/* The spec's UNMAP_HOST: if the host's entry for pfn was ever written, it becomes PAGE_GUEST (an
 * invalid descriptor), so the host loses access. */
enum kc_status kc_unmap_host(const struct kcore* kc, uint64_t pfn);

/* local_assign_pfn_to_vm: an unshared host frame becomes vmid's (at gfn) and leaves the host's
 * table; its contents are whatever the host left there, and data_log[vmid] advances (the spec's
 * doracle value is that content). A frame vmid already owns at gfn (or at no fixed gfn) is
 * normalized: count INVALID -> 0, gfn := gfn (Profile::assign_normalize). Else KC_E_DENIED. */
enum kc_status kc_assign_pfn_to_vm(const struct kcore* kc, uint32_t vmid, uint64_t gfn,
                                   uint64_t pfn);

/* local_clear_vm_page: a frame of vmid (powered off) returns to the host, scrubbed to zero.
 * Frames vmid does not own are left alone. */
enum kc_status kc_clear_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn);

/* local_grant_vm_page: vmid shares one more time a frame it owns (count + 1, bounded). */
void kc_grant_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn);

/* local_revoke_vm_page: one share fewer; when the last share goes, the host loses its mapping
 * and data_log[vmid] advances (the page's contents are the VM's from then on). */
enum kc_status kc_revoke_vm_page(const struct kcore* kc, uint32_t vmid, uint64_t pfn);

#ifdef __cplusplus
}
#endif

#endif
