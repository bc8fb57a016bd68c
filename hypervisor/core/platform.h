/* The platform interface: everything the core needs from the machine it runs on. The core is
 * freestanding C11 and calls only these functions; a platform implements all of them:
 *   native/  the host build (simulated physical memory, panic by longjmp, harness hooks);
 *   (later)  AArch64 EL2 in QEMU (identity-mapped memory, TLBI instructions, spinlocks).
 * Nothing here returns an error: a platform that cannot honour a call panics. */
#ifndef KCORE_PLATFORM_H
#define KCORE_PLATFORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define KC_NORETURN [[noreturn]]
#else
#define KC_NORETURN _Noreturn
#endif

/* Physical memory. Every object of the core (page tables, pools, the ownership array, the
 * globals) lives in physical memory at addresses the core computes, exactly as on hardware, so
 * that a walk is a walk of real descriptors and the harness can read what the hardware reads.
 * Returns a pointer to the byte at `pa`, valid up to the end of pa's 4 KiB page only: adjacent
 * pages need not be adjacent in the platform's address space (native memory is sparse). The core
 * therefore never lets an object straddle a page boundary. Panics if pa is not memory. */
void* plat_phys(uint64_t pa);

/* Leaf descriptors of the stage-2 tables (core/s2pt.c) as the MMU reads them. The core computes
 * the spec's descriptors, whose output addresses are the spec's physical addresses; a platform
 * whose RAM is not where the spec puts it translates the output address of every leaf it writes
 * (plat_leaf_out) and back for every leaf it reads (plat_leaf_in), so that a real walk reaches
 * real memory while the core, and anything reading the tables through it, sees the spec's.
 * plat_leaf_in(plat_leaf_out(d)) == d for every d, and both keep an output address of 0 at 0.
 * Natively the identity; on QEMU kc_leaf_swap (below). Next-table descriptors are KCore's own
 * memory, which is where the core says, so they are not translated. */
uint64_t plat_leaf_out(uint64_t desc);
uint64_t plat_leaf_in(uint64_t desc);

/* Exchanges the output-address pages [1, window) with [offset + 1, offset + window) (in pages;
 * page 0 of each range stays put, so a zero output address stays zero) and keeps every other
 * bit of `desc`: an involution, hence its own inverse. Needs offset >= window, both page
 * multiples. window == 0 is the identity. */
static inline uint64_t kc_leaf_swap(uint64_t desc, uint64_t window, uint64_t offset) {
  const uint64_t mask = 0x0000FFFFFFFFF000ull; /* output address bits [47:12] */
  const uint64_t a = desc & mask;
  uint64_t b = a;
  if (a != 0 && a < window)
    b = a + offset;
  else if (a > offset && a - offset < window)
    b = a - offset;
  return (desc & ~mask) | b;
}

/* TLB maintenance. The core changes a valid descriptor only break-before-make: it invalidates
 * the entry, calls one of these (which must complete the invalidation, DSB included) and only
 * then writes the new descriptor. `vmid` is the principal: 0 = host, VMs, COREVISOR (whose table
 * is EL2's own stage-1 table, so the platform uses the EL2 regime for it). */
void plat_tlb_flush_ipa(uint32_t vmid, uint64_t ipa); /* one page of one stage-2 */
void plat_tlb_flush_vmid(uint32_t vmid);              /* a whole stage-2 (block over a table) */
/* The same for an SMMU context bank (index = SMMU, cbndx = context bank). */
void plat_smmu_tlb_flush(uint32_t index, uint32_t cbndx);

/* Orders the stores that fill a new table page before the store of the descriptor that makes it
 * reachable, so a concurrent hardware walk never sees stale entries (DMB ISHST on ARMv8). */
void plat_wmb(void);

/* A defined panic: the spec's `halt = true`. Does not return. The native platform longjmps back
 * to the caller of the core entry point, which reports the step as halted; on EL2 the CPU stops.
 * `why` is a static string for people, never parsed. */
KC_NORETURN void plat_panic(const char* why);

/* Locks, by the spec's lock ids (§1.4: CORE_ID, S2PAGE_ID, SPT_ID, SMMU_ID, NPT_ID + v,
 * INFO_ID + v; see config.h). The core brackets each of the spec's critical sections with
 * acquires in ascending id order and releases them all before the next one, so the moment the
 * number of held locks goes from 0 to 1 is exactly one `query_oracle` of the spec (§4.1): the
 * native platform calls back into the harness there, which applies the other CPUs' events
 * (soracle) before the core reads shared state. On EL2 these are ticket locks. */
void plat_lock_acquire(uint32_t lock_id);
void plat_lock_release(uint32_t lock_id);
/* Acquires a lock where the spec does not query the other CPUs (VERIFY_VM_IMAGE's final write of
 * VERIFIED, which the spec performs without a query_oracle): a lock like any other on EL2, but
 * the native platform does not count it as a query point nor call the harness for it. */
void plat_lock_acquire_quiet(uint32_t lock_id);

/* Loops whose length the host or a guest chooses (CLEAR_VM_S2_RANGE, IOREMAP, grant, revoke)
 * skip runs of iterations that provably change nothing. Each such iteration stands for
 * `per_iteration` of the spec's query points. Returns how many of the next `iterations` the core
 * may pass without taking their locks (0..iterations); they count as passed. The core runs the
 * next iteration normally when fewer are allowed. On EL2: all of them. Natively the harness
 * answers, so that it can still apply the other CPUs' events at the query point they belong to. */
uint64_t plat_skip_sections(uint64_t iterations, uint32_t per_iteration);

/* The data oracles (§4.2): values KCore cannot compute itself. doracle(v)(n) is the n-th
 * untrusted value of principal v (first-run PC/PSTATE/ACTLR, values the host emulates),
 * core_doracle(v)(n) the n-th host choice for VM v (vCPU to run, fault address, pte, level).
 * On hardware they come from memory the host writes; natively the harness answers. The core
 * keeps the cursors n itself (data_log, core_data_log): they are observable state. */
uint64_t plat_doracle(uint32_t vmid, uint64_t n);
uint64_t plat_core_doracle(uint32_t vmid, uint64_t n);

/* Frame pfn changed hands and, in the spec, now holds doracle(vmid)(n) (flatmem := doracle: a
 * host page given to a VM, a revoked page, ENCRYPT_BUF's ciphertext, DECRYPT_BUF's plaintext).
 * The core never reads or writes those contents: on hardware they are what the previous owner
 * (or the crypto engine) left in the page. A platform that simulates the other side writes the
 * oracle's value there (natively: the page's first 8 bytes, docs/oracles.md); on EL2 it does
 * nothing. The core advances the cursor n itself. */
void plat_page_filled(uint64_t pfn, uint32_t vmid, uint64_t n);

/* The spec's abstract Parameters (§7.1), values the platform's owner fixes. */
enum kc_param {
  KC_PARAM_SHARED_KVM = 0,        /* (vmid): the vm_kvm value REGISTER_KVM records */
  KC_PARAM_SHARED_VCPU = 1,       /* (vmid, vcpuid): the vm_vcpu value REGISTER_VCPU records */
  KC_PARAM_REG_DESC = 2,          /* (sysreg index): its reset value on a vCPU's first run */
  KC_PARAM_VERIFY_IMG = 3,        /* (vmid): 0 = the image signature is bad */
  KC_PARAM_DECRYPT_GP_COUNT = 4,  /* how many GPRs LOAD_CRYPT_VCPU decrypts (x0.., <= 31) */
  KC_PARAM_DECRYPT_SYS_COUNT = 5, /* how many sysregs it decrypts (indices 47.., <= 24) */
};
uint64_t plat_param(enum kc_param which, uint64_t a, uint64_t b);

/* The physical CPU executing this call: the spec's curid (host context id, per-CPU state). */
uint32_t plat_cpu_id(void);

/* The physical register file of this CPU (struct kc_cpu_regs, core/ctxt.h): what the trapped
 * principal left in the registers on entry; what the core writes there is what the principal
 * resumes with. On EL2 the vector saves and restores it around the core; natively the harness
 * sets and reads it. Valid for the whole entry. */
struct kc_cpu_regs* plat_cpu_regs(void);

#ifdef __cplusplus
}
#endif

#endif
