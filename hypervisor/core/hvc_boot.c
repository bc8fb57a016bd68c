/* The VM image hypercalls (digest §3.5.1 HVCs 15-17, loops §3.4): the host declares where each
 * image is loaded (SET_BOOT_INFO), remaps its pages into KCore's EL2 window to be checked
 * (REMAP_VM_IMAGE), and VERIFY_VM_IMAGE gives the images' 2 MiB blocks to the VM. */
#include "core/cpu.h"
#include "core/hvc_impl.h"
#include "core/mutant.h"
#include "core/s2pt.h"
#include "core/vm.h"
#include "core/vm_map.h"

static uint64_t pages_of(uint64_t size) { return (size + KC_PAGE_SIZE - 1u) >> KC_PAGE_SHIFT; }

/* SET_BOOT_INFO(vmid, load_addr, size): the next load-table entry, with room in the remap window
 * (boot-info-args: size and load_addr + size are physical addresses). A full table is ignored. */
void kc_hvc_set_boot_info(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  /* mutant 49: the image's end (load_addr + size) is not checked */
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_paddr(h->a2) && kc_is_paddr(h->a3) &&
        (kc_is_paddr(h->a2 + h->a3) || KC_MUTANT(49))))
    kc_hvc_bad(h);
  const uint32_t info = kc_info_lock(&kc->cfg, (uint32_t)h->a1);
  plat_lock_acquire(KC_CORE_ID);
  plat_lock_acquire(info);
  const char* why = 0;
  struct kc_globals* g = kc_globals_of(kc);
  struct kc_vm_boot* vb = kc_vm_boot_of(kc, h->a1);
  const uint64_t i = vb->next_load_info, pages = pages_of(h->a3), remap = g->next_remap_ptr;
  if (kc_vm_state_of(kc, h->a1)->state != KC_VM_READY) {
    why = "SET_BOOT_INFO: the VM is not READY";
  } else if (i >= kc->cfg.max_load_info) {
    /* the table is full: ignored */
  } else if (!(pages > 0 && remap + pages * KC_PAGE_SIZE < KC_REMAP_END)) {
    why = "SET_BOOT_INFO: the image is empty or the remap window is full";
  } else {
    /* mutant 18: the remap window's bump pointer is not advanced: images share window pages */
    if (!KC_MUTANT(18)) g->next_remap_ptr = remap + pages * KC_PAGE_SIZE;
    vb->next_load_info = i + 1u;
    vb->load_addr[i] = h->a2;
    vb->load_size[i] = h->a3;
    vb->remap_addr[i] = remap;
    vb->mapped_pages[i] = 0;
  }
  plat_lock_release(info);
  plat_lock_release(KC_CORE_ID);
  if (why) kc_halt(kc, why);
}

/* REMAP_VM_IMAGE(vmid, pfn, load_idx): the next page of image load_idx is frame pfn, mapped into
 * the remap window (COREVISOR's table) until the image is complete; further pages are ignored. */
void kc_hvc_remap_vm_image(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  /* mutant 46: load_idx is left to the "idx < next_load_info" test below, which ignores it */
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_pfn(h->a2) &&
        (h->a3 < kc->cfg.max_load_info || KC_MUTANT(46))))
    kc_hvc_bad(h);
  const uint32_t core = kc_corevisor(&kc->cfg);
  const uint32_t npt = kc_npt_lock(core), info = kc_info_lock(&kc->cfg, (uint32_t)h->a1);
  plat_lock_acquire(npt);
  plat_lock_acquire(info);
  const char* why = 0;
  struct kc_vm_boot* vb = kc_vm_boot_of(kc, h->a1);
  const uint64_t idx = h->a3;
  if (kc_vm_state_of(kc, h->a1)->state != KC_VM_READY) {
    why = "REMAP_VM_IMAGE: the VM is not READY";
  } else if (idx < vb->next_load_info && vb->mapped_pages[idx] < pages_of(vb->load_size[idx])) {
    const uint64_t va = vb->remap_addr[idx] + vb->mapped_pages[idx] * KC_PAGE_SIZE;
    const uint64_t pte = (h->a2 << KC_PAGE_SHIFT) | KC_PAGE_HYP;
    if (kc_s2pt_map(kc, core, va, 3, pte) == KC_OK) {
      vb->mapped_pages[idx] += 1u;
    } else {
      why = "REMAP_VM_IMAGE: the remap window's table pool is exhausted";
    }
  }
  plat_lock_release(info);
  plat_lock_release(npt);
  if (why) kc_halt(kc, why);
}

/* unmap_and_load_loop_h: n 2 MiB blocks from `start`. Each looks up where the remap window maps
 * the image's page at that point (COREVISOR's table) and gives the whole aligned 2 MiB frame block
 * around it to the VM, mapped as one block at the same address. */
static void unmap_and_load(const struct kcore* kc, uint32_t vmid, uint64_t n, uint64_t start,
                           uint64_t target, uint64_t remap) {
  const uint32_t core = kc_corevisor(&kc->cfg), npt = kc_npt_lock(core);
  uint64_t s = start, t = target, r = remap;
  for (uint64_t i = 0; i < n; ++i) {
    struct kc_walk w;
    plat_lock_acquire(npt);
    kc_s2pt_walk(kc, core, r >> KC_PAGE_SHIFT, &w);
    plat_lock_release(npt);
    if (w.pte == 0) kc_halt(kc, "VERIFY_VM_IMAGE: an image page was never remapped");
    const uint64_t block = kc_phys_page(w.pte) & ~(KC_PMD_SIZE - 1u);
    kc_prot_and_map_vm(kc, vmid, s & ~(KC_PAGE_SIZE - 1u), block, 2);
    const uint64_t next = s + KC_PMD_SIZE;
    r += next - t; /* the remap address of the next block's first page */
    s = next;
    t = next;
  }
}

/* VERIFY_VM_IMAGE(vmid): a READY VM's images are checked (verify-img), loaded block by block
 * (verify-index: images 0, 1, 2, ...), and the VM becomes VERIFIED. */
void kc_hvc_verify_vm_image(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!kc_is_vm(&kc->cfg, h->a1)) kc_hvc_bad(h);
  const uint32_t vmid = (uint32_t)h->a1, info = kc_info_lock(&kc->cfg, vmid);
  plat_lock_acquire(info);
  const bool ready = kc_vm_state_of(kc, vmid)->state == KC_VM_READY;
  const uint64_t images = kc_vm_boot_of(kc, vmid)->next_load_info;
  plat_lock_release(info);
  /* mutant 14: the state is read but not tested: any VM (unused, running, off) is verified */
  if (!ready && !KC_MUTANT(14)) kc_halt(kc, "VERIFY_VM_IMAGE: the VM is not READY");

  for (uint64_t idx = 0; idx < images; ++idx) {
    /* mutant 19: the signature check's result is ignored */
    if (plat_param(KC_PARAM_VERIFY_IMG, vmid, 0) == 0 && !KC_MUTANT(19))
      kc_halt(kc, "VERIFY_VM_IMAGE: bad image signature");
    /* The spec reads the load table without the lock, as here: while READY only this VM's
     * SET_BOOT_INFO and REMAP change it, and the host that loads the VM is the one verifying. */
    const struct kc_vm_boot* vb = kc_vm_boot_of(kc, vmid);
    const uint64_t i = KC_MUTANT(20) ? 0 : idx; /* mutant 20: every pass loads image 0 */
    const uint64_t la = vb->load_addr[i], ra = vb->remap_addr[i];
    const uint64_t start = la & ~(KC_PMD_SIZE - 1u);
    const uint64_t end = la + vb->mapped_pages[i] * KC_PAGE_SIZE;
    const uint64_t blocks = (end - start + KC_PMD_SIZE - 1u) / KC_PMD_SIZE;
    unmap_and_load(kc, vmid, blocks, start, la, ra);
  }
  /* The spec writes VERIFIED without querying the other CPUs (no query_oracle). */
  plat_lock_acquire_quiet(info);
  kc_vm_state_of(kc, vmid)->state = KC_VM_VERIFIED;
  plat_lock_release(info);
}
