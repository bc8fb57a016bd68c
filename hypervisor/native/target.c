/* KCore on the native platform behind the hypdiff target ABI (harness/include/hypdiff/target.h,
 * docs/target-abi.md, docs/oracles.md). The adapter plays everything around the hypervisor:
 * the trapping CPU (it calls KCore's entry points with the operation's registers), the other
 * CPUs (their events at KCore's query points), the host's answers (the oracle callbacks), and
 * the MMU and SMMU for loads, stores and DMA (a software walk of the tables KCore built). Its
 * export reads KCore's memory the way the spec abstracts it. One instance per process: the
 * native platform has no context argument. */
#include "native/target.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/kcore.h"
#include "core/ownership.h"
#include "core/s2pt.h"
#include "core/spt.h"
#include "core/vm.h"
#include "native/export.h"
#include "native/native.h"

#define EVENT_CAP 64u

struct kn_target {
  struct kcore kc;
  struct kc_config cfg;
  uint32_t curid;
  int booted;
  int exported; /* a full export happened since the reset */
  struct kn_export* exp;
  struct hd_oracle oracle;
  uint64_t log_length;         /* the spec's log length after the last step */
  uint64_t sections, injected; /* of the running step */
  int event_error;             /* an event the adapter cannot realize */
  struct hd_event events[EVENT_CAP];
  char error[256];
};

static struct kn_target* open_instance; /* the native platform is one machine per process */

static void set_error(struct kn_target* t, const char* what) {
  snprintf(t->error, sizeof t->error, "%s", what);
}

/* ---- the other CPUs and the host's answers, for the native platform's hooks ---------------- */

static uint64_t log_now(const struct kn_target* t) {
  return t->log_length + t->sections + t->injected;
}

/* Applies the other CPUs' events due at the current query point, oldest first, and counts the
 * query point. */
static void query_point(struct kn_target* t) {
  const uint64_t now = log_now(t);
  const size_t n = t->oracle.other_cpus(t->oracle.ctx, now, t->events, EVENT_CAP);
  if (n > EVENT_CAP) t->event_error = 1;
  const size_t got = n > EVENT_CAP ? EVENT_CAP : n;
  for (size_t i = got; i-- > 0;) {
    if (t->events[i].kind == HD_EVENT_OMAP_HOST)
      kc_replay_map_host(&t->kc, t->events[i].arg[0]);
    else
      t->event_error = 1;
  }
  t->injected += got;
  ++t->sections;
}

static void on_acquire(void* ctx, uint32_t lock_id, int first) {
  (void)lock_id;
  if (first) query_point(ctx);
}

/* A no-op loop iteration may be passed only up to the next query point with events due. */
static uint64_t on_skip(void* ctx, uint64_t iterations, uint32_t per) {
  struct kn_target* t = ctx;
  const uint64_t now = log_now(t);
  const uint64_t next = t->oracle.next_events(t->oracle.ctx, now);
  uint64_t allowed = iterations;
  if (next != UINT64_MAX && (next - now) / per < allowed) allowed = (next - now) / per;
  t->sections += allowed * per;
  return allowed;
}

static uint64_t on_doracle(void* ctx, uint32_t v, uint64_t n) {
  struct kn_target* t = ctx;
  return t->oracle.data(t->oracle.ctx, v, n);
}
static uint64_t on_core_doracle(void* ctx, uint32_t v, uint64_t n) {
  struct kn_target* t = ctx;
  return t->oracle.core(t->oracle.ctx, v, n);
}
static uint64_t on_param(void* ctx, int which, uint64_t a, uint64_t b) {
  struct kn_target* t = ctx;
  const struct hd_oracle* o = &t->oracle;
  switch (which) {
    case KC_PARAM_SHARED_KVM:
      return o->shared_kvm(o->ctx, a);
    case KC_PARAM_SHARED_VCPU:
      return o->shared_vcpu(o->ctx, a, b);
    case KC_PARAM_REG_DESC:
      return o->reg_desc(o->ctx, a);
    case KC_PARAM_VERIFY_IMG:
      return o->verify_img(o->ctx, a);
    case KC_PARAM_DECRYPT_GP_COUNT:
      return o->decrypt_gp_count;
    default:
      return o->decrypt_sys_count;
  }
}

/* ---- open, reset, close ---------------------------------------------------------------------- */

static void* t_open(const struct hd_config* c, char* err, size_t errlen) {
  if (open_instance) {
    snprintf(err, errlen, "KCore's native platform runs one machine per process");
    return NULL;
  }
  struct kc_config cfg;
  kc_config_default(&cfg);
  if (c->smmu_count > KC_MAX_SMMUS || c->max_vms > 254 || c->vcpus_per_vm > KC_MAX_VCPUS ||
      c->total_cpus > KN_MAX_CPUS || c->curid >= c->total_cpus || c->max_load_info > 64) {
    snprintf(err, errlen, "the configuration exceeds KCore's limits (docs/kcore.md)");
    return NULL;
  }
  cfg.max_vms = (uint32_t)c->max_vms;
  cfg.vcpus_per_vm = (uint32_t)c->vcpus_per_vm;
  cfg.total_cpus = (uint32_t)c->total_cpus;
  cfg.ram_base_pfn = c->ram_base_pfn;
  cfg.ram_pages = c->ram_pages;
  cfg.smmu_num = (uint32_t)c->smmu_count;
  for (uint32_t i = 0; i < cfg.smmu_num; ++i) {
    cfg.smmus[i].phys_base = c->smmu[i].phys_base;
    cfg.smmus[i].size = c->smmu[i].size;
    cfg.smmus[i].context_banks = c->smmu[i].context_banks;
  }
  cfg.smmu_ctxt_banks = (uint32_t)c->smmu_ctxt_banks;
  cfg.max_share_count = c->max_share_count;
  cfg.max_load_info = (uint32_t)c->max_load_info;
  const char* why = kc_config_check(&cfg);
  if (why) {
    snprintf(err, errlen, "%s", why);
    return NULL;
  }
  struct kn_target* t = calloc(1, sizeof *t);
  if (t) t->exp = kn_export_new();
  if (!t || !t->exp) {
    free(t);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t->cfg = cfg;
  t->curid = (uint32_t)c->curid;
  open_instance = t;
  return t;
}

static void t_close(void* p) {
  struct kn_target* t = p;
  if (!t) return;
  kn_set_hooks(NULL);
  kn_mem_release(); /* the library may be unloaded next: keep nothing */
  if (open_instance == t) open_instance = NULL;
  kn_export_free(t->exp);
  free(t);
}

static int t_reset(void* p, const struct hd_oracle* oracle) {
  struct kn_target* t = p;
  t->booted = 0;
  t->oracle = *oracle;
  t->log_length = t->sections = t->injected = 0;
  t->event_error = 0;
  t->error[0] = 0;
  kn_mem_reset();
  kn_regs_reset();
  kn_reset_counters();
  kn_set_cpu(t->curid);
  const struct kn_hooks hooks = {.ctx = t,
                                 .on_acquire = on_acquire,
                                 .doracle = on_doracle,
                                 .core_doracle = on_core_doracle,
                                 .skip = on_skip,
                                 .param = on_param};
  kn_set_hooks(&hooks);
  const char* why = kc_boot(&t->kc, &t->cfg);
  if (why) {
    set_error(t, why);
    return 1;
  }
  t->booted = 1;
  t->exported = 0;
  return 0;
}

/* ---- steps --------------------------------------------------------------------------------- */

struct call {
  struct kn_target* t;
  const struct hd_op* op;
  enum kc_step result;
};

static struct kc_cpu* this_cpu(const struct kn_target* t) {
  return (struct kc_cpu*)plat_phys(t->kc.lay.cpus) + t->curid;
}

static void run_entry(void* arg) {
  struct call* c = arg;
  const struct kcore* kc = &c->t->kc;
  const uint64_t* a = c->op->arg;
  switch (c->op->kind) {
    case HD_OP_HOST_HVC:
      c->result = kc_host_hvc(kc, a);
      break;
    case HD_OP_HOST_FAULT:
      c->result = kc_host_fault(kc, a[0], a[1], a[2]);
      break;
    case HD_OP_VCPU_RUN:
      c->result = kc_vcpu_run(kc, a[0]);
      break;
    default: /* HD_OP_VM_EXIT */
      c->result = kc_vm_exit(kc, a[0], a[1], a + 2, a[6], a[7]);
      break;
  }
}

/* The running principal computes: no KCore code runs, a general register changes. */
static int set_reg(struct kn_target* t, uint64_t reg, uint64_t value) {
  if (this_cpu(t)->icore || reg > 30) return HD_UNDEFINED;
  kn_cpu_regs(t->curid)->regs.x[reg] = value;
  return HD_OK;
}

/* ---- loads, stores and DMA (spec §3.5.5): the MMU and the SMMU ------------------------------- */

/* Where an access lands and what the spec says about the frame. */
struct target_frame {
  uint64_t pfn;
  int fault;   /* the spec's None */
  int private; /* the principal holds the frame alone: the access reaches its value word */
};

static struct target_frame classify(const struct kn_target* t, uint32_t v, uint64_t pfn) {
  struct target_frame f = {pfn, 0, 0};
  struct kc_s2page p;
  kc_s2page_get(&t->kc, pfn, &p);
  if (v == KC_HOSTVISOR) {
    f.fault = pfn == 0;
    f.private = p.owner == KC_HOSTVISOR;
  } else {
    f.fault =
        kc_vm_state_of(&t->kc, v)->state != KC_VM_VERIFIED || pfn == 0 || p.owner == KC_INVALID;
    f.private = p.count == 0;
  }
  return f;
}

static uint64_t frame_of(const struct kn_target* t, const struct hd_op* op, uint32_t v) {
  const uint64_t gfn = op->arg[0];
  if (op->kind == HD_OP_MEM_LOAD || op->kind == HD_OP_MEM_STORE) {
    struct kc_walk w;
    kc_s2pt_walk(&t->kc, v, gfn, &w);
    return w.pfn;
  }
  struct kc_spt_entry e;
  kc_spt_walk(&t->kc, (uint32_t)op->arg[2], (uint32_t)op->arg[3], gfn, &e);
  return e.pfn;
}

/* Whether an event due now maps `gfn` for the host: the only way the access's query point can
 * change its outcome (the other CPUs' events are host stage-2 maps, digest §4.1). */
static int event_maps_host_page(struct kn_target* t, uint64_t gfn) {
  const size_t n = t->oracle.other_cpus(t->oracle.ctx, log_now(t), t->events, EVENT_CAP);
  for (size_t i = 0; i < n && i < EVENT_CAP; ++i)
    if (t->events[i].kind == HD_EVENT_OMAP_HOST && t->events[i].arg[0] >> KC_PAGE_SHIFT == gfn)
      return 1;
  return 0;
}

struct access {
  struct kn_target* t;
  const struct hd_op* op;
  int result;
};

static void run_access(void* arg) {
  struct access* a = arg;
  struct kn_target* t = a->t;
  const struct hd_op* op = a->op;
  const int load = op->kind == HD_OP_MEM_LOAD || op->kind == HD_OP_DEV_LOAD;
  const int dev = op->kind == HD_OP_DEV_LOAD || op->kind == HD_OP_DEV_STORE;
  const uint64_t reg = op->arg[1];
  a->result = HD_UNDEFINED;
  const struct kc_cpu* cpu = this_cpu(t);
  if (cpu->icore) return;
  if (dev && !(kc_is_smmu(&t->cfg, op->arg[3]) && kc_is_smmu_cfg(&t->cfg, op->arg[2]))) return;
  const uint32_t v = cpu->cur_vmid;
  if (dev && kc_smmu_owner(&t->kc, (uint32_t)op->arg[3], (uint32_t)op->arg[2]) != v) return;
  if (load && reg >= 30) return; /* the spec excludes x30 and beyond */
  /* The spec decides after its query point; only a host access to a page an event maps there
   * can change its mind, so every other faulting access stops before the query point and
   * leaves the state as it was (the spec's None). */
  struct target_frame f = classify(t, v, frame_of(t, op, v));
  const int maybe = f.fault && v == KC_HOSTVISOR && !dev && event_maps_host_page(t, op->arg[0]);
  if (f.fault && !maybe) return;
  query_point(t);
  if (maybe) f = classify(t, v, frame_of(t, op, v));
  if (f.fault) return; /* the event's map failed: docs/oracles.md, "limits" */
  struct kc_ctxt* c = kc_ctxt_of(&t->kc, v, (uint64_t)cpu->cur_vcpuid);
  if (load) {
    const uint64_t value =
        f.private ? kn_page_value(f.pfn) : t->oracle.data(t->oracle.ctx, v, kc_data_log(&t->kc, v));
    kc_ctxt_set(c, reg, value);
  } else if (f.private) {
    kn_set_page_value(f.pfn, kc_ctxt_get(c, reg));
  }
  a->result = HD_OK;
}

static int t_step(void* p, const struct hd_op* op) {
  struct kn_target* t = p;
  if (!t->booted) {
    set_error(t, "step before reset");
    return HD_ERROR;
  }
  t->sections = t->injected = 0;
  if (op->kind == HD_OP_SET_REG) return set_reg(t, op->arg[0], op->arg[1]);
  int result;
  if (op->kind >= HD_OP_MEM_LOAD && op->kind <= HD_OP_DEV_STORE) {
    struct access a = {t, op, HD_UNDEFINED};
    if (kn_call(run_access, &a) == KN_PANICKED) {
      snprintf(t->error, sizeof t->error, "KCore panicked in a memory access: %s",
               kn_panic_reason());
      return HD_ERROR;
    }
    result = a.result;
  } else if (op->kind <= HD_OP_VM_EXIT) {
    struct call c = {t, op, KC_STEP_DONE};
    const enum kn_outcome out = kn_call(run_entry, &c);
    result = out == KN_PANICKED ? HD_HALTED : c.result == KC_STEP_UNDEFINED ? HD_UNDEFINED : HD_OK;
  } else {
    snprintf(t->error, sizeof t->error, "unknown operation kind %u", op->kind);
    return HD_ERROR;
  }
  if (t->event_error) {
    set_error(t, "an other-CPU event KCore's adapter cannot realize (only OMAP_HOST, <= 64)");
    return HD_ERROR;
  }
  if (result == HD_UNDEFINED) return result;
  /* Every query point logs one event, the other CPUs' events are logged before it, and
   * VERIFY_VM_IMAGE logs its closing OVERIFY without a query (docs/kcore.md). */
  const int verified =
      op->kind == HD_OP_HOST_HVC && op->arg[0] == KC_HVC_VERIFY_VM_IMAGE && result == HD_OK;
  t->log_length += t->sections + t->injected + (verified ? 1u : 0u);
  return result;
}

/* ---- export ---------------------------------------------------------------------------- */

struct export_call {
  struct kn_target* t;
  const struct hd_sink* sink;
  int full;
  int result;
};

static void run_export(void* arg) {
  struct export_call* c = arg;
  const struct kn_export_env env = {&c->t->kc, c->t->curid, c->t->log_length};
  c->result = c->full ? kn_export_full(c->t->exp, &env, c->sink)
                      : kn_export_changes(c->t->exp, &env, c->sink);
}

static int export(struct kn_target* t, const struct hd_sink* sink, int full) {
  if (!t->booted) {
    set_error(t, "export before reset");
    return 1;
  }
  if (!full && !t->exported) {
    set_error(t, "export_changes before a full export");
    return 1;
  }
  struct export_call c = {t, sink, full, 0};
  if (kn_call(run_export, &c) == KN_PANICKED) {
    snprintf(t->error, sizeof t->error, "KCore's memory is inconsistent: %s", kn_panic_reason());
    return 1;
  }
  if (c.result != 0) {
    set_error(t, "out of memory");
    return 1;
  }
  t->exported = 1;
  return 0;
}

static int t_export(void* p, const struct hd_sink* sink) { return export(p, sink, 1); }
static int t_export_changes(void* p, const struct hd_sink* sink) { return export(p, sink, 0); }

static const char* t_last_error(void* p) { return p ? ((struct kn_target*)p)->error : ""; }

const struct hd_target_v1* kn_target_ops(void) {
  static const struct hd_target_v1 ops = {
      HD_ABI_VERSION,
      "kcore-native",
      "KCore, the reference hypervisor, on simulated physical memory",
      t_open,
      t_close,
      t_reset,
      t_step,
      t_export,
      t_last_error,
      t_export_changes,
  };
  return &ops;
}
