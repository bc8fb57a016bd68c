/* Hypercalls on page ranges and buffers (digest §3.5.1 HVCs 14, 23, 26, 27; loops §3.4).
 * CLEAR_VM_S2_RANGE and IOREMAP run over host-chosen lengths (up to 2^28 pages): runs of pages
 * the loop provably leaves alone are passed with plat_skip_sections, so a call costs the pages
 * that change plus one scan of the ownership array over the range's RAM part. */
#include "core/cpu.h"
#include "core/hvc_impl.h"
#include "core/mutant.h"
#include "core/ownership.h"
#include "core/pages.h"
#include "core/s2pt.h"
#include "core/vm.h"

static uint32_t owner_of(const struct kcore* kc, uint64_t pfn) {
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  return p.owner;
}

/* How many frames from pfn on (at most max) have an owner that is (want_equal) or is not
 * (!want_equal) `owner`. Only RAM frames have entries; all others are owned by INVALID. */
static uint64_t run_of(const struct kcore* kc, uint64_t pfn, uint64_t max, uint32_t owner,
                       bool want_equal) {
  const uint64_t lo = kc->cfg.ram_base_pfn, hi = lo + kc->cfg.ram_pages, end = pfn + max;
  const bool outside_matches = (owner == KC_INVALID) == want_equal;
  uint64_t q = pfn;
  if (q < lo) {
    if (!outside_matches) return 0;
    q = end < lo ? end : lo;
  }
  while (q < end && q < hi && (owner_of(kc, q) == owner) == want_equal) ++q;
  if (q >= hi && q < end && outside_matches) q = end;
  return q - pfn;
}

/* clear_vm_loop_h: frames of a powered-off VM return to the host, scrubbed. Only frames the VM
 * owns change, and clearing one changes no other frame's owner. */
static void clear_vm_loop(const struct kcore* kc, uint32_t vmid, uint64_t pfn, uint64_t n) {
  const uint32_t npt = kc_npt_lock(KC_HOSTVISOR);
  uint64_t quiet_end = 0; /* frames pfn + [i, quiet_end) are known not to be vmid's */
  for (uint64_t i = 0; i < n;) {
    if (i >= quiet_end) quiet_end = i + run_of(kc, pfn + i, n - i, vmid, false);
    if (i < quiet_end) {
      i += plat_skip_sections(quiet_end - i, 1);
      if (i == quiet_end) continue;
    }
    plat_lock_acquire(KC_S2PAGE_ID);
    plat_lock_acquire(npt);
    const enum kc_status st = kc_clear_vm_page(kc, vmid, pfn + i);
    plat_lock_release(npt);
    plat_lock_release(KC_S2PAGE_ID);
    if (st != KC_OK) kc_halt(kc, "CLEAR_VM_S2_RANGE: the host's stage-2 pool is exhausted");
    ++i;
  }
}

/* CLEAR_VM_S2_RANGE(vmid, start, size): floor(size / 4096) frames from start, if the VM is off. */
void kc_hvc_clear_vm_s2_range(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  /* mutant 47: kc_is_vmid for kc_is_vm: the host's and KCore's ids pass the check */
  const bool vm = KC_MUTANT(47) ? kc_is_vmid(&kc->cfg, h->a1) : kc_is_vm(&kc->cfg, h->a1);
  if (!(vm && kc_is_paddr(h->a2) && kc_is_paddr(h->a3))) kc_hvc_bad(h);
  const uint32_t vmid = (uint32_t)h->a1;
  /* The spec asserts NPT_ID + vmid here; the VM info it reads is INFO_ID + vmid's. */
  const uint32_t lock = kc_info_lock(&kc->cfg, vmid);
  plat_lock_acquire(lock);
  const bool off = kc_vm_state_of(kc, vmid)->state == KC_VM_POWEROFF;
  plat_lock_release(lock);
  /* mutant 26: the VM's state is read but not tested: a live VM's frames are reclaimed */
  /* mutant 27: the loop runs to n inclusive, one frame past the range */
  if (off || KC_MUTANT(26))
    clear_vm_loop(kc, vmid, h->a2 >> KC_PAGE_SHIFT,
                  (h->a3 >> KC_PAGE_SHIFT) + (KC_MUTANT(27) ? 1u : 0u));
}

/* One iteration of kvm_phys_addr_ioremap_loop_h (local_map_io): a device frame is mapped into a
 * READY VM; frames with an owner (RAM) are ignored. */
static void map_io(const struct kcore* kc, uint32_t vmid, uint64_t gpa, uint64_t pa) {
  const uint32_t npt = kc_npt_lock(vmid), info = kc_info_lock(&kc->cfg, vmid);
  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(npt);
  plat_lock_acquire(info);
  const char* why = 0;
  if (kc_vm_state_of(kc, vmid)->state != KC_VM_READY) {
    why = "IOREMAP: the VM is not READY";
  } else if (owner_of(kc, pa >> KC_PAGE_SHIFT) == KC_INVALID) {
    const uint64_t pte = kc_phys_page(pa) | KC_PAGE_S2_DEVICE | KC_S2_RDWR;
    if (kc_s2pt_map(kc, vmid, gpa, 3, pte) != KC_OK) why = "IOREMAP: the VM's stage-2 map failed";
  }
  plat_lock_release(info);
  plat_lock_release(npt);
  plat_lock_release(KC_S2PAGE_ID);
  if (why) kc_halt(kc, why);
}

/* PHYS_ADDR_IOREMAP(vmid, gpa, pa, size): ceil(size / 4096) device pages. */
void kc_hvc_phys_addr_ioremap(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_addr(h->a2) && kc_is_paddr(h->a3) && kc_is_paddr(h->a4)))
    kc_hvc_bad(h);
  const uint64_t n = (h->a4 + KC_PAGE_SIZE - 1u) >> KC_PAGE_SHIFT;
  const uint64_t span = n << KC_PAGE_SHIFT;
  if (!(kc_is_addr(h->a2 + span) && kc_is_paddr(h->a3 + span))) kc_hvc_bad(h);
  const uint32_t vmid = (uint32_t)h->a1;
  /* Nothing in the loop changes the VM's state or any owner: once READY, the frames with an
   * owner are skipped. */
  const bool ready = kc_vm_state_of(kc, vmid)->state == KC_VM_READY;
  const uint64_t pfn = h->a3 >> KC_PAGE_SHIFT;
  uint64_t quiet_end = 0;
  for (uint64_t i = 0; i < n;) {
    if (ready && i >= quiet_end) quiet_end = i + run_of(kc, pfn + i, n - i, KC_INVALID, false);
    if (i < quiet_end) {
      i += plat_skip_sections(quiet_end - i, 1);
      if (i == quiet_end) continue;
    }
    map_io(kc, vmid, h->a2 + i * KC_PAGE_SIZE, h->a3 + i * KC_PAGE_SIZE);
    ++i;
  }
}

/* ENCRYPT_BUF(vmid, inbuf, outbuf): a VM page encrypted into a host page. The ciphertext is the
 * host's next oracle value, which the platform realizes in the page; KCore advances the cursor. */
void kc_hvc_encrypt_buf(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_paddr(h->a2) && kc_is_paddr(h->a3))) kc_hvc_bad(h);
  plat_lock_acquire(KC_S2PAGE_ID);
  /* mutant 48: only the output page is checked: the host encrypts any frame it names */
  const bool ok = (owner_of(kc, h->a2 >> KC_PAGE_SHIFT) == h->a1 || KC_MUTANT(48)) &&
                  owner_of(kc, h->a3 >> KC_PAGE_SHIFT) == KC_HOSTVISOR;
  if (ok) {
    const uint64_t n = kc_data_log(kc, KC_HOSTVISOR);
    plat_page_filled(h->a3 >> KC_PAGE_SHIFT, KC_HOSTVISOR, n);
    kc_set_data_log(kc, KC_HOSTVISOR, n + 1u);
  }
  plat_lock_release(KC_S2PAGE_ID);
  if (!ok) kc_halt(kc, "ENCRYPT_BUF: the pages are not the VM's and the host's");
}

/* DECRYPT_BUF(vmid, inbuf): an unshared host page becomes a READY VM's (at no fixed gfn), with
 * the plaintext (the host's next oracle value) as its contents. */
void kc_hvc_decrypt_buf(const struct kc_hvc* h) {
  const struct kcore* kc = h->kc;
  if (!(kc_is_vm(&kc->cfg, h->a1) && kc_is_paddr(h->a2))) kc_hvc_bad(h);
  const uint32_t vmid = (uint32_t)h->a1, npt = kc_npt_lock(KC_HOSTVISOR);
  const uint32_t info = kc_info_lock(&kc->cfg, vmid);
  const uint64_t pfn = h->a2 >> KC_PAGE_SHIFT;
  plat_lock_acquire(KC_S2PAGE_ID);
  plat_lock_acquire(npt);
  plat_lock_acquire(info);
  const char* why = 0;
  struct kc_s2page p;
  kc_s2page_get(kc, pfn, &p);
  /* mutant 4: the count is not checked: a host page an SMMU context maps could be taken */
  if (kc_vm_state_of(kc, vmid)->state != KC_VM_READY) {
    why = "DECRYPT_BUF: the VM is not READY";
  } else if (!(p.owner == KC_HOSTVISOR && (p.count == 0 || KC_MUTANT(4)))) {
    why = "DECRYPT_BUF: not an unshared host page";
  } else if (kc_unmap_host(kc, pfn) != KC_OK) {
    why = "DECRYPT_BUF: the host's stage-2 pool is exhausted";
  } else {
    /* mutant 3: "no fixed gfn" written as 0 instead of INVALID64 */
    const struct kc_s2page mine = {vmid, 0, KC_MUTANT(3) ? 0 : KC_INVALID64};
    kc_s2page_set(kc, pfn, &mine);
    const uint64_t n = kc_data_log(kc, KC_HOSTVISOR);
    plat_page_filled(pfn, KC_HOSTVISOR, n);
    kc_set_data_log(kc, KC_HOSTVISOR, n + 1u);
  }
  plat_lock_release(info);
  plat_lock_release(npt);
  plat_lock_release(KC_S2PAGE_ID);
  if (why) kc_halt(kc, why);
}
