/* The hypdiff target ABI, version 1 (docs/target-abi.md).
 *
 * A target is a shared library that exports one symbol,
 *
 *     const struct hd_target_v1 *hypdiff_target_v1(void);
 *
 * and lets the harness drive a hypervisor one top-level operation at a time: open it with a
 * machine configuration, reset it with the case's oracle answers, step it, and export its state
 * in the spec's abstract terms. Plain C, no allocation crosses the boundary: the target owns
 * its memory, the harness owns the callbacks' memory. Every value is an unsigned 64-bit integer
 * unless said otherwise.
 *
 * The abstraction from concrete state (page-table walks, descriptor decoding, reading a page's
 * value) is the target's job; the harness compares what is exported against the spec model.
 */
#ifndef HYPDIFF_TARGET_H
#define HYPDIFF_TARGET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2 added export_changes at the end of struct hd_target_v1; the harness accepts
 * libraries of version 1 (whose struct ends before it) and 2. */
#define HD_ABI_VERSION 2u
#define HD_ABI_MIN_VERSION 1u
#define HD_MAX_SMMUS 16u

/* ---- machine configuration (model/config.hpp MachineConfig) -------------------------------- */

struct hd_smmu_unit {
  uint64_t phys_base; /* byte address of its MMIO window */
  uint64_t size;      /* bytes */
  uint64_t context_banks;
};

struct hd_config {
  uint64_t max_vms;      /* VMs are 1..max_vms; the core's own id (COREVISOR) is max_vms + 1 */
  uint64_t vcpus_per_vm; /* ctxt_id(v, c) = v * vcpus_per_vm + c */
  uint64_t total_cpus;
  uint64_t curid; /* the physical CPU the harness drives */
  uint64_t ram_base_pfn;
  uint64_t ram_pages; /* host RAM: pfns [ram_base_pfn, ram_base_pfn + ram_pages) */
  uint64_t smmu_count;
  struct hd_smmu_unit smmu[HD_MAX_SMMUS];
  uint64_t smmu_ctxt_banks; /* smmu_id(index, cbndx) = index * smmu_ctxt_banks + cbndx */
  uint64_t max_share_count;
  uint64_t max_load_info;
};

/* ---- operations (model/op.hpp): kind and its arguments, in this order ---------------------- */

enum hd_op_kind {
  HD_OP_HOST_HVC = 0,   /* x0..x5 */
  HD_OP_HOST_FAULT = 1, /* hpfar, esr, far */
  HD_OP_VCPU_RUN = 2,   /* vmid (the vCPU comes from the core data oracle) */
  HD_OP_VM_EXIT = 3,    /* ec, esr, x0, x1, x2, x3, hpfar, far */
  HD_OP_MEM_LOAD = 4,   /* gfn, reg */
  HD_OP_MEM_STORE = 5,  /* gfn, reg */
  HD_OP_DEV_LOAD = 6,   /* gfn, reg, cbndx, index */
  HD_OP_DEV_STORE = 7,  /* gfn, reg, cbndx, index */
  HD_OP_SET_REG = 8     /* reg, value */
};

struct hd_op {
  uint32_t kind; /* enum hd_op_kind */
  uint64_t arg[8];
};

/* Step results. HD_UNDEFINED is the spec's None: the operation cannot happen in this state (for
 * example a host hypercall while a VM runs); the state must be left as it was. */
enum hd_step_result { HD_OK = 0, HD_HALTED = 1, HD_UNDEFINED = 2, HD_ERROR = 3 };

/* ---- oracle answers: provided by the harness at reset, valid until the next reset ----------- */

/* Other CPUs' events, as the spec's atomic events (model/events.hpp EventKind order). The spec
 * keys them by the length of its event log at the query (digest §4.1), so a target that realizes
 * them keeps the spec's log length: the number of atomic events the spec's handlers log, plus the
 * events every query returned (docs/target-abi.md lists where the spec logs). */
struct hd_event {
  uint64_t cpu;
  uint32_t kind;
  uint64_t arg[4];
};
#define HD_EVENT_OMAP_HOST 1u /* arg[0] = byte address the other CPU mapped for the host */

struct hd_oracle {
  void* ctx;
  /* doracle(principal)(n) and core_doracle(principal)(n): the n-th untrusted value principal
   * supplies. The target keeps the cursors (they are exported state). */
  uint64_t (*data)(void* ctx, uint64_t principal, uint64_t n);
  uint64_t (*core)(void* ctx, uint64_t principal, uint64_t n);
  /* Called at every point where the spec queries the other CPUs (each critical section's first
   * lock acquisition, digest §4.1) with the spec log length at that point. Writes up to `cap`
   * events (newest first) and returns how many there are; the target performs them in its own
   * state (OMAP_HOST: map that host page as the other CPU did), oldest first, and counts them in
   * its log length. */
  size_t (*other_cpus)(void* ctx, uint64_t log_length, struct hd_event* out, size_t cap);
  /* The smallest log length >= from at which other_cpus has events, or UINT64_MAX: lets a loop
   * over many pages (a guest may grant 2^52) skip the iterations where nothing can happen. */
  uint64_t (*next_events)(void* ctx, uint64_t from);
  /* The spec's abstract Parameters. */
  uint64_t (*reg_desc)(void* ctx, uint64_t sysreg_index);
  uint64_t (*shared_kvm)(void* ctx, uint64_t vmid);
  uint64_t (*shared_vcpu)(void* ctx, uint64_t vmid, uint64_t vcpuid);
  uint64_t (*verify_img)(void* ctx, uint64_t vmid); /* 0 = the image's signature is invalid */
  uint64_t decrypt_gp_count;
  uint64_t decrypt_sys_count;
};

/* ---- exported state: the target calls the sink once per item ------------------------------- */

/* A register context: the model's CtxtRegs, TrapRegs and CtxtStates fields in declaration order
 * (model/records.hpp). */
#define HD_CTXT_X 0u        /* x0..x30 */
#define HD_CTXT_FP_Q 31u    /* fp_q0..fp_q31 (the low 64 bits) */
#define HD_CTXT_SYS 63u     /* fp_fpsr .. hpfar_el2: 37 registers, model order */
#define HD_CTXT_TRAP 100u   /* pmuselr_el0, pmuserenr_el0, mdcr_el2, cptr_el2, cnthctl_el2 */
#define HD_CTXT_STATES 105u /* pc, pstate, dirty, flags, esr_el1, spsr_0 */
#define HD_CTXT_SIZE 111u

struct hd_machine {
  uint64_t log_length; /* the spec's event-log length (see hd_event) */
  uint64_t halt;       /* 1 after a panic */
  uint64_t icore;      /* 1 while the core runs */
  uint64_t ihost;      /* 1 while the host runs (or would run after the core) */
  uint64_t cur_vmid;
  uint64_t cur_vcpuid;
};

struct hd_vm {
  uint64_t vmid;
  uint64_t state; /* UNUSED 0, READY 2, VERIFIED 3, POWEROFF 4 */
  uint64_t kvm;   /* vm_kvm */
  uint64_t power;
  uint64_t inc_exe;
  uint64_t next_load_info;
  const uint64_t* vcpu_state; /* [vcpus_per_vm] */
  const uint64_t* vcpu;       /* [vcpus_per_vm]: vm_vcpu */
  const uint64_t* load_addr;  /* [max_load_info] */
  const uint64_t* load_size;
  const uint64_t* remap_addr;
  const uint64_t* mapped_pages;
};

struct hd_sink {
  void* ctx;
  void (*machine)(void* ctx, const struct hd_machine* m);
  void (*core_data)(void* ctx, uint64_t next_vmid, uint64_t next_remap_ptr);
  /* Every frame whose ownership entry is not the default (host RAM: owner 0, count 0,
   * gfn = pfn + SMMU_HOST_OFFSET; elsewhere INVALID, 0, INVALID64), and every frame whose value
   * is not 0. `value` is the frame's contents as the spec abstracts them (docs/target-abi.md). */
  void (*page)(void* ctx, uint64_t pfn, uint64_t owner, uint64_t count, uint64_t gfn,
               uint64_t value);
  /* Every gfn at which principal v's stage-2 walk (host 0, VMs 1..max_vms, the core
   * max_vms + 1) gives something other than (pfn 0, level 0, pte 0), as the spec's walk reports
   * it (digest §3.1): for a 2 MB block, one call per gfn of the block. */
  void (*mapping)(void* ctx, uint64_t principal, uint64_t gfn, uint64_t pfn, uint64_t level,
                  uint64_t pte);
  void (*vm)(void* ctx, const struct hd_vm* vm);
  /* SMMU context (index, cbndx): its owner (INVALID when free) and its translations. */
  void (*smmu_owner)(void* ctx, uint64_t index, uint64_t cbndx, uint64_t owner);
  void (*smmu_mapping)(void* ctx, uint64_t index, uint64_t cbndx, uint64_t gfn, uint64_t pfn,
                       uint64_t pte);
  /* A shadow context (ctxt_id) or, with ctxt_id = UINT64_MAX, the physical registers. Every
   * context that differs from a never-run one (all zero, dirty = INVALID64) is exported; the
   * host's per-CPU contexts (ctxt_id 0..vcpus_per_vm - 1) always are. */
  void (*context)(void* ctx, uint64_t ctxt_id, const uint64_t regs[HD_CTXT_SIZE]);
  void (*cursors)(void* ctx, uint64_t principal, uint64_t data_log, uint64_t core_data_log);
};

/* ---- the target --------------------------------------------------------------------------- */

struct hd_target_v1 {
  uint32_t abi_version; /* HD_ABI_VERSION */
  const char* name;     /* one word, e.g. "kcore-native" */
  const char* description;
  /* Creates an instance for this machine; NULL and a message in err[errlen] on refusal. */
  void* (*open)(const struct hd_config* cfg, char* err, size_t errlen);
  void (*close)(void* t);
  /* Back to the booted initial state (digest §1.5) with these oracle answers. 0 on success. */
  int (*reset)(void* t, const struct hd_oracle* oracle);
  /* enum hd_step_result. */
  int (*step)(void* t, const struct hd_op* op);
  /* Calls the sink for the whole current state. 0 on success. */
  int (*export_state)(void* t, const struct hd_sink* sink);
  /* The last HD_ERROR's (or failed call's) message, or "". */
  const char* (*last_error)(void* t);
  /* Version 2, optional (NULL: the harness calls export_state after every step). Calls the sink
   * only for what changed since the previous export_state or export_changes: every item whose
   * value differs, with its new value, and the default value (docs/target-abi.md) for an item
   * that went away (an unmapped gfn, an ownership entry back to its boot value, a context back
   * to never-run). machine() is called every time. Valid only after an export_state since the
   * last reset. 0 on success. */
  int (*export_changes)(void* t, const struct hd_sink* sink);
};

typedef const struct hd_target_v1* (*hd_target_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* HYPDIFF_TARGET_H */
