/* Device DMA on QEMU virt (docs/qemu.md, "Device DMA"): QEMU's virt machine has no SMMU, so the
 * device is emulated here, at EL2, where the query point and the other CPUs' events of the host
 * accesses already are. The device translates an iova as an SMMU would: it walks the context
 * bank's page table in memory from the bank's table base, with its own reading of the
 * descriptor format KCore writes (docs/kcore.md, "SMMU tables"), never through core/spt.c, so
 * that a bug in KCore's SMMU table code is seen by the device instead of being repeated by it.
 * The spec's checks and decisions around the access (dev_load_spec / dev_store_spec) are the
 * native target's (native/target.c, run_access), in the same order. */
#include "core/cpu.h"
#include "core/ctxt.h"
#include "core/kcore.h"
#include "core/ownership.h"
#include "core/vm.h"
#include "qemu/el2/el2.h"

void hq_dma(void);

/* The SMMU tables as KCore lays them out (docs/kcore.md): a context's root is an 8 KiB table of
 * 1024 entries (iova bits 39:30) at its TTBR slot in the SMMU pool; levels 1 and 2 hold table
 * descriptors (type 0b11, next table at bits 47:12), level 3 the spec's pte, whose bits 47:12
 * are the frame. The input range is 40 bits. */
#define DEV_POOL_START 0x10000ull /* SMMU_POOL_START: the first context's root */
#define DEV_ROOT_SIZE 0x2000ull   /* each context's root slot */
#define DEV_INPUT_BITS 40u
#define DEV_ADDR 0x0000FFFFFFFFF000ull
#define DEV_TYPE_TABLE 0x3ull

/* The table base a hypervisor programs into bank (index, cbndx)'s TTBR: SMMU_TTBR of the spec,
 * spelled out here rather than taken from kc_smmu_ttbr, as a device register would hold it. */
static uint64_t bank_ttbr(const struct kcore* kc, uint32_t index, uint32_t cbndx) {
  const uint64_t id = (uint64_t)index * kc->cfg.smmu_ctxt_banks + cbndx;
  return kc->lay.smmu_base + DEV_POOL_START + id * DEV_ROOT_SIZE;
}

/* The device reads descriptors from physical memory, and only from KCore's: a table address
 * anywhere else (a corrupted descriptor) is a translation fault for the device, as an external
 * abort on the walk would be, instead of an EL2 abort. */
static int read_desc(const struct kcore* kc, uint64_t pa, uint64_t* out) {
  if (pa < kc->cfg.el2_base || pa >= kc->lay.end || (pa & 7u) != 0) return 0;
  *out = *(const volatile uint64_t*)(uintptr_t)pa;
  return 1;
}

/* The frame iova page gfn translates to in bank (index, cbndx); 0 when the walk faults. Any
 * non-zero level-3 entry maps the frame its address bits name (the spec's rule, docs/kcore.md:
 * KCore stores the spec's pte verbatim, valid bit or not). */
static uint64_t device_walk(const struct kcore* kc, uint32_t index, uint32_t cbndx, uint64_t gfn) {
  if (gfn >= (1ull << (DEV_INPUT_BITS - KC_PAGE_SHIFT))) return 0;
  const uint64_t iova = gfn << KC_PAGE_SHIFT;
  uint64_t d;
  if (!read_desc(kc, bank_ttbr(kc, index, cbndx) + 8u * ((iova >> 30) & 1023u), &d)) return 0;
  if ((d & 3u) != DEV_TYPE_TABLE) return 0;
  if (!read_desc(kc, (d & DEV_ADDR) + 8u * ((iova >> 21) & 511u), &d)) return 0;
  if ((d & 3u) != DEV_TYPE_TABLE) return 0;
  if (!read_desc(kc, (d & DEV_ADDR) + 8u * ((iova >> 12) & 511u), &d)) return 0;
  return (d & DEV_ADDR) >> KC_PAGE_SHIFT;
}

/* The command at the ring's tail: DEV_LOAD or DEV_STORE, fault[] = gfn, cbndx, index (layout.h).
 * Sets the ring's hvc_status: OK, or UNDEFINED for the spec's None (nothing changed, no query
 * point unless the access happened). */
void hq_dma(void) {
  struct hq_ring* ring = hq_ring();
  const struct hq_slot* s = &ring->slot[ring->tail % HQ_RING_SLOTS];
  if (s->cmd != HQ_CMD_DEV_LOAD && s->cmd != HQ_CMD_DEV_STORE)
    hq_panic_hex("a DMA doorbell outside a DMA command:", s->cmd);
  const struct kcore* kc = hq_kcore();
  const int load = s->cmd == HQ_CMD_DEV_LOAD;
  const uint64_t gfn = s->fault[0], cbndx = s->fault[1], index = s->fault[2];
  ring->hvc_status = HQ_STATUS_UNDEFINED;
  const struct kc_cpu* cpu = kc_cpu_of(kc);
  if (cpu->icore) return;
  if (!(kc_is_smmu(&kc->cfg, index) && kc_is_smmu_cfg(&kc->cfg, cbndx))) return;
  const uint32_t v = cpu->cur_vmid;
  if (kc_smmu_owner(kc, (uint32_t)index, (uint32_t)cbndx) != v) return;
  if (load && s->reg >= 30) return; /* the spec excludes x30 and beyond */
  /* The frame's classification (native/target.c classify): a DMA access that faults stops
   * before the query point, since no event (a host stage-2 map) changes an SMMU table. */
  const uint64_t pfn = device_walk(kc, (uint32_t)index, (uint32_t)cbndx, gfn);
  struct kc_s2page pg;
  kc_s2page_get(kc, pfn, &pg);
  int fault, private_page;
  if (v == KC_HOSTVISOR) {
    fault = pfn == 0;
    private_page = pg.owner == KC_HOSTVISOR;
  } else {
    fault = kc_vm_state_of(kc, v)->state != KC_VM_VERIFIED || pfn == 0 || pg.owner == KC_INVALID;
    private_page = pg.count == 0;
  }
  if (fault) return;
  hq_query_point();
  struct kc_ctxt* c = kc_ctxt_of(kc, v, (uint64_t)cpu->cur_vcpuid);
  /* The frame's value word in QEMU's RAM, through plat_phys (the window translation of the
   * host accesses, and the touch and step logs). A private frame is always RAM, which lies in
   * the spec window (boot checks it). */
  if (load) {
    const uint64_t value = private_page ? *(volatile uint64_t*)plat_phys(pfn << KC_PAGE_SHIFT)
                                        : plat_doracle(v, kc_data_log(kc, v));
    kc_ctxt_set(c, s->reg, value);
  } else if (private_page) {
    *(volatile uint64_t*)plat_phys(pfn << KC_PAGE_SHIFT) = kc_ctxt_get(c, s->reg);
  }
  ring->hvc_status = HQ_STATUS_OK;
}
