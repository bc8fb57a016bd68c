/* KCore's state in the spec's abstract terms, in full or as changes (export.h). */
#include "native/export.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ownership.h"
#include "core/s2pt.h"
#include "core/spt.h"
#include "core/vm.h"
#include "native/native.h"

#define ENTRIES 512u /* 64-bit words per page */
#define TABLE_ADDR_MASK 0x0000FFFFFFFFF000ull

/* The 37 registers after fp_q are contiguous 64-bit fields in both orders (ctxt.h, target.h). */
#define SYS_FIRST offsetof(struct kc_ctxt_regs, fp_fpsr)
#define VTTBR_SLOT ((offsetof(struct kc_ctxt_regs, vttbr_el2) - SYS_FIRST) / sizeof(uint64_t))
_Static_assert(offsetof(struct kc_ctxt_regs, hpfar_el2) - SYS_FIRST == 36 * sizeof(uint64_t),
               "37 system registers after fp_q");
_Static_assert(sizeof(struct kc_trap_regs) == 5 * sizeof(uint64_t), "5 trap registers");
_Static_assert(sizeof(struct kc_ctxt_states) == 6 * sizeof(uint64_t), "6 state fields");

/* What a shadowed KCore page holds. */
enum kind { K_NPT, K_SPT, K_S2PAGE, K_VMINFO, K_CTXT, K_SMMU_VMID };

struct rec {
  uint64_t pfn; /* the page (the key) */
  uint8_t kind, level, dead;
  uint32_t owner; /* K_NPT: principal; K_SPT: SMMU index; K_VMINFO: principal */
  uint32_t cbndx; /* K_SPT */
  uint64_t base;  /* tables: first gfn covered; K_S2PAGE: first pfn; K_CTXT: first context id */
  uint64_t sh[ENTRIES];
};

struct kn_export {
  struct rec** slot; /* open addressing on pfn; records are never removed, only marked dead */
  size_t cap, n;
  uint64_t* ram_values; /* every RAM frame's value word as last exported */
  uint64_t ram_pages;
  struct kc_cpu_regs regs; /* the physical registers as last exported */
  uint64_t* pending;       /* the touched frames being processed */
  size_t pending_cap;
  int oom;
};

struct run {
  struct kn_export* x;
  const struct kn_export_env* env;
  const struct hd_sink* s;
};

/* ---- the record table ---------------------------------------------------------------------- */

static size_t hash(uint64_t pfn, size_t cap) {
  return (size_t)((pfn * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1u);
}

static struct rec* find(const struct kn_export* x, uint64_t pfn) {
  if (!x->cap) return NULL;
  for (size_t i = hash(pfn, x->cap);; i = (i + 1u) & (x->cap - 1u)) {
    if (!x->slot[i]) return NULL;
    if (x->slot[i]->pfn == pfn) return x->slot[i];
  }
}

static int grow(struct kn_export* x) {
  const size_t cap = x->cap ? 2u * x->cap : 1024u;
  struct rec** slot = calloc(cap, sizeof *slot);
  if (!slot) return -1;
  for (size_t i = 0; i < x->cap; ++i) {
    struct rec* r = x->slot[i];
    if (!r) continue;
    size_t j = hash(r->pfn, cap);
    while (slot[j]) j = (j + 1u) & (cap - 1u);
    slot[j] = r;
  }
  free(x->slot);
  x->slot = slot;
  x->cap = cap;
  return 0;
}

/* A fresh record for pfn with a zero shadow (a reused page's old record is recycled). */
static struct rec* add(struct kn_export* x, uint64_t pfn, enum kind k, uint32_t level,
                       uint32_t owner, uint32_t cbndx, uint64_t base) {
  struct rec* r = find(x, pfn);
  if (!r) {
    if (2u * (x->n + 1u) > x->cap && grow(x) != 0) {
      x->oom = 1;
      return NULL;
    }
    r = malloc(sizeof *r);
    if (!r) {
      x->oom = 1;
      return NULL;
    }
    size_t i = hash(pfn, x->cap);
    while (x->slot[i]) i = (i + 1u) & (x->cap - 1u);
    x->slot[i] = r;
    ++x->n;
  }
  memset(r, 0, sizeof *r);
  r->pfn = pfn;
  r->kind = (uint8_t)k;
  r->level = (uint8_t)level;
  r->owner = owner;
  r->cbndx = cbndx;
  r->base = base;
  return r;
}

static void clear(struct kn_export* x) {
  for (size_t i = 0; i < x->cap; ++i) free(x->slot[i]);
  if (x->cap) memset(x->slot, 0, x->cap * sizeof *x->slot);
  x->n = 0;
}

struct kn_export* kn_export_new(void) {
  return calloc(1, sizeof(struct kn_export));
}

void kn_export_free(struct kn_export* x) {
  if (!x) return;
  clear(x);
  free(x->slot);
  free(x->ram_values);
  free(x->pending);
  free(x);
}

static const uint64_t* page_words(uint64_t pfn) { return plat_phys(pfn << KC_PAGE_SHIFT); }

/* ---- reporting one item -------------------------------------------------------------------- */

static void report_npt_gfn(const struct run* r, uint32_t v, uint64_t gfn) {
  struct kc_walk w;
  kc_s2pt_walk(r->env->kc, v, gfn, &w);
  r->s->mapping(r->s->ctx, v, gfn, w.pfn, w.level, w.pte);
}

static void report_spt_gfn(const struct run* r, uint32_t index, uint32_t cbndx, uint64_t gfn) {
  struct kc_spt_entry e;
  kc_spt_walk(r->env->kc, cbndx, index, gfn, &e);
  r->s->smmu_mapping(r->s->ctx, index, cbndx, gfn, e.pfn, e.pte);
}

static void report_page(const struct run* r, uint64_t pfn) {
  struct kc_s2page e;
  kc_s2page_get(r->env->kc, pfn, &e);
  r->s->page(r->s->ctx, pfn, e.owner, e.count, e.gfn, kn_page_value(pfn));
}

static void report_ctxt(const struct run* r, uint64_t id, const struct kc_ctxt_regs* g,
                        const struct kc_trap_regs* tr, const struct kc_ctxt_states* st) {
  uint64_t out[HD_CTXT_SIZE];
  memcpy(out, g->x, sizeof g->x);
  for (unsigned i = 0; i < 32; ++i) out[HD_CTXT_FP_Q + i] = g->fp_q[i].lo;
  memcpy(out + HD_CTXT_SYS, &g->fp_fpsr, 37 * sizeof(uint64_t));
  memcpy(out + HD_CTXT_TRAP, tr, 5 * sizeof(uint64_t));
  if (st) {
    memcpy(out + HD_CTXT_STATES, st, 6 * sizeof(uint64_t));
  } else {
    memset(out + HD_CTXT_STATES, 0, 6 * sizeof(uint64_t));
    /* The spec's VTTBR is the pool's spec address; KCore's pools sit at el2_base. */
    const size_t at = HD_CTXT_SYS + VTTBR_SLOT;
    if (out[at] != 0) out[at] -= r->env->kc->cfg.el2_base;
  }
  r->s->context(r->s->ctx, id, out);
}

static void report_shadow_ctxt(const struct run* r, uint64_t id) {
  const uint32_t n = r->env->kc->cfg.vcpus_per_vm;
  const struct kc_ctxt* c = kc_ctxt_of(r->env->kc, id / n, id % n);
  report_ctxt(r, id, &c->regs, &c->trap, &c->states);
}

static void report_phys_regs(const struct run* r) {
  const struct kc_cpu_regs* p = kn_cpu_regs(r->env->cpu);
  report_ctxt(r, UINT64_MAX, &p->regs, &p->trap, NULL);
  r->x->regs = *p;
}

static void report_vm(const struct run* r, uint32_t v) {
  static uint64_t vcpu_state[KC_MAX_VCPUS], vcpu[KC_MAX_VCPUS];
  static uint64_t load_addr[KC_MAX_LOAD_INFO], load_size[KC_MAX_LOAD_INFO];
  static uint64_t remap_addr[KC_MAX_LOAD_INFO], mapped_pages[KC_MAX_LOAD_INFO];
  const struct kcore* kc = r->env->kc;
  const struct kc_vm_state* vs = kc_vm_state_of(kc, v);
  const struct kc_vm_boot* vb = kc_vm_boot_of(kc, v);
  for (uint32_t c = 0; c < kc->cfg.vcpus_per_vm; ++c) {
    vcpu_state[c] = vs->vcpu_state[c];
    vcpu[c] = vs->vcpu[c];
  }
  for (uint32_t i = 0; i < kc->cfg.max_load_info; ++i) {
    load_addr[i] = vb->load_addr[i];
    load_size[i] = vb->load_size[i];
    remap_addr[i] = vb->remap_addr[i];
    mapped_pages[i] = vb->mapped_pages[i];
  }
  const struct hd_vm vm = {.vmid = v,
                           .state = vs->state,
                           .kvm = vs->kvm,
                           .power = vs->power,
                           .inc_exe = vb->inc_exe,
                           .next_load_info = vb->next_load_info,
                           .vcpu_state = vcpu_state,
                           .vcpu = vcpu,
                           .load_addr = load_addr,
                           .load_size = load_size,
                           .remap_addr = remap_addr,
                           .mapped_pages = mapped_pages};
  r->s->vm(r->s->ctx, &vm);
}

static void report_smmu_owners(const struct run* r) {
  const struct kcore* kc = r->env->kc;
  for (uint32_t i = 0; i < kc->cfg.smmu_num; ++i)
    for (uint32_t cb = 0; cb < kc->cfg.smmu_ctxt_banks; ++cb)
      r->s->smmu_owner(r->s->ctx, i, cb, kc_smmu_owner(kc, i, cb));
}

/* The per-CPU state, core data and cursors: a few words, reported every time. */
static void report_small(const struct run* r) {
  const struct kcore* kc = r->env->kc;
  const struct kc_cpu* cpu = (const struct kc_cpu*)plat_phys(kc->lay.cpus) + r->env->cpu;
  const struct hd_machine m = {r->env->log_length, cpu->halted,
                               cpu->icore,         cpu->ihost,
                               cpu->cur_vmid,      (uint64_t)(int64_t)cpu->cur_vcpuid};
  r->s->machine(r->s->ctx, &m);
  const struct kc_globals* g = kc_globals_of(kc);
  r->s->core_data(r->s->ctx, g->next_vmid, g->next_remap_ptr);
  for (uint32_t v = 0; v < kc_principals(&kc->cfg); ++v)
    r->s->cursors(r->s->ctx, v, kc_data_log(kc, v), kc_core_data_log(kc, v));
}

/* ---- page tables --------------------------------------------------------------------------- */

static int is_table(const struct rec* t, uint64_t d) {
  return t->level < 3 && (d & KC_DESC_TYPE_MASK) == KC_DESC_TABLE;
}
/* An entry that maps gfns by itself: any level-3 entry, a stage-2 block at level 2. */
static int is_leaf(const struct rec* t, uint64_t d) {
  return d != 0 && !is_table(t, d) && (t->level == 3 || (t->kind == K_NPT && t->level == 2));
}
static uint64_t span(uint32_t level) { return 1ull << (9u * (3u - level)); }

static void report_entry(const struct run* r, const struct rec* t, uint32_t i) {
  const uint64_t first = t->base + i * span(t->level);
  const uint64_t n = t->level == 3 ? 1u : KC_PTRS_PER_TABLE; /* leaves: pages and 2 MiB blocks */
  for (uint64_t g = first; g < first + n; ++g) {
    if (t->kind == K_NPT)
      report_npt_gfn(r, t->owner, g);
    else
      report_spt_gfn(r, t->owner, t->cbndx, g);
  }
}

/* A table no longer reachable: every gfn it mapped is reported with its walk now. */
static void drop_table(const struct run* r, struct rec* t) {
  t->dead = 1;
  for (uint32_t i = 0; i < ENTRIES; ++i) {
    const uint64_t d = t->sh[i];
    if (is_table(t, d)) {
      struct rec* c = find(r->x, (d & TABLE_ADDR_MASK) >> KC_PAGE_SHIFT);
      if (c && !c->dead) drop_table(r, c);
    } else if (is_leaf(t, d)) {
      report_entry(r, t, i);
    }
  }
}

/* Brings table t's shadow up to date, reporting the gfns whose translation may have changed.
 * `report` = 0 while taking the shadows of a full export. */
static void diff_table(const struct run* r, struct rec* t, int report) {
  const uint64_t* cur = page_words(t->pfn);
  for (uint32_t i = 0; i < ENTRIES; ++i) {
    const uint64_t old = t->sh[i], now = cur[i];
    if (old == now) continue;
    t->sh[i] = now;
    if (is_table(t, old)) {
      struct rec* c = find(r->x, (old & TABLE_ADDR_MASK) >> KC_PAGE_SHIFT);
      if (c && !c->dead) drop_table(r, c);
    }
    if (report && (is_leaf(t, old) || is_leaf(t, now))) report_entry(r, t, i);
    if (is_table(t, now)) {
      struct rec* c = add(r->x, (now & TABLE_ADDR_MASK) >> KC_PAGE_SHIFT, (enum kind)t->kind,
                          t->level + 1u, t->owner, t->cbndx, t->base + i * span(t->level));
      if (c) diff_table(r, c, report);
    }
  }
}

/* ---- the other shadowed pages -------------------------------------------------------------- */

static void diff_page(const struct run* r, struct rec* p) {
  const uint64_t* cur = page_words(p->pfn);
  if (memcmp(cur, p->sh, sizeof p->sh) == 0) return;
  const struct kc_config* cfg = &r->env->kc->cfg;
  switch (p->kind) {
    case K_S2PAGE:
      for (uint32_t j = 0; j < ENTRIES / 2u; ++j) {
        const uint64_t pfn = p->base + j;
        if (memcmp(cur + 2u * j, p->sh + 2u * j, 16) != 0 && kc_is_ram(cfg, pfn))
          report_page(r, pfn);
      }
      break;
    case K_VMINFO:
      report_vm(r, p->owner);
      break;
    case K_CTXT: {
      const uint64_t slot_words = KC_CTXT_SLOT / sizeof(uint64_t);
      const uint64_t contexts = ((uint64_t)cfg->max_vms + 1u) * cfg->vcpus_per_vm;
      for (uint64_t k = 0; k < ENTRIES / slot_words; ++k) {
        const uint64_t id = p->base + k;
        if (id < contexts &&
            memcmp(cur + k * slot_words, p->sh + k * slot_words, KC_CTXT_SLOT) != 0)
          report_shadow_ctxt(r, id);
      }
      break;
    }
    default: /* K_SMMU_VMID */
      report_smmu_owners(r);
      break;
  }
  memcpy(p->sh, cur, sizeof p->sh);
}

static void take_page(struct kn_export* x, uint64_t pa, enum kind k, uint32_t owner,
                      uint64_t base) {
  struct rec* p = add(x, pa >> KC_PAGE_SHIFT, k, 0, owner, 0, base);
  if (p) memcpy(p->sh, page_words(p->pfn), sizeof p->sh);
}

/* Shadows of everything the export abstracts, as KCore's memory is now. */
static void take_shadows(const struct run* r) {
  struct kn_export* x = r->x;
  const struct kcore* kc = r->env->kc;
  const struct kc_config* cfg = &kc->cfg;
  clear(x);
  for (uint32_t v = 0; v < kc_principals(cfg); ++v) {
    struct rec* t = add(x, kc_npt_root(kc, v) >> KC_PAGE_SHIFT, K_NPT, 0, v, 0, 0);
    if (t) diff_table(r, t, 0);
  }
  for (uint32_t i = 0; i < cfg->smmu_num; ++i) {
    for (uint32_t cb = 0; cb < cfg->smmu_ctxt_banks; ++cb) {
      const uint64_t root = kc_spt_root(kc, cb, i) >> KC_PAGE_SHIFT;
      for (uint32_t half = 0; half < 2; ++half) { /* the 8 KiB root: entries 0..1023 */
        struct rec* t = add(x, root + half, K_SPT, 1, i, cb, (uint64_t)half * ENTRIES * span(1));
        if (t) diff_table(r, t, 0);
      }
    }
  }
  for (uint64_t off = 0; off < cfg->ram_pages * KC_S2PAGE_ENTRY; off += KC_PAGE_SIZE)
    take_page(x, kc->lay.s2page + off, K_S2PAGE, 0, cfg->ram_base_pfn + off / KC_S2PAGE_ENTRY);
  for (uint32_t v = 0; v < kc_principals(cfg); ++v)
    for (uint64_t k = 0; k < KC_VMINFO_PAGES; ++k)
      take_page(x, kc->lay.vminfo + (KC_VMINFO_PAGES * v + k) * KC_PAGE_SIZE, K_VMINFO, v, 0);
  const uint64_t contexts = ((uint64_t)cfg->max_vms + 1u) * cfg->vcpus_per_vm;
  for (uint64_t off = 0; off < contexts * KC_CTXT_SLOT; off += KC_PAGE_SIZE)
    take_page(x, kc->lay.ctxts + off, K_CTXT, 0, off / KC_CTXT_SLOT);
  for (uint64_t off = 0; off < (uint64_t)kc_smmu_ids(cfg) * 4u; off += KC_PAGE_SIZE)
    take_page(x, kc->lay.smmu_vmid + off, K_SMMU_VMID, 0, 0);
}

/* ---- the two exports ----------------------------------------------------------------------- */

/* Context of the full export's table visits. */
struct visit {
  const struct run* r;
  uint32_t a, b; /* principal; or SMMU index and context bank */
};

static void visit_npt(void* ctx, uint64_t gfn, const struct kc_walk* w) {
  const struct visit* v = ctx;
  v->r->s->mapping(v->r->s->ctx, v->a, gfn, w->pfn, w->level, w->pte);
}
static void visit_spt(void* ctx, uint64_t gfn, const struct kc_spt_entry* w) {
  const struct visit* v = ctx;
  v->r->s->smmu_mapping(v->r->s->ctx, v->a, v->b, gfn, w->pfn, w->pte);
}

int kn_export_full(struct kn_export* x, const struct kn_export_env* env, const struct hd_sink* s) {
  const struct run r = {x, env, s};
  const struct kcore* kc = env->kc;
  const struct kc_config* cfg = &kc->cfg;
  x->oom = 0;
  report_small(&r);
  if (x->ram_pages != cfg->ram_pages) {
    free(x->ram_values);
    x->ram_values = calloc(cfg->ram_pages ? cfg->ram_pages : 1u, sizeof *x->ram_values);
    if (!x->ram_values) return -1;
    x->ram_pages = cfg->ram_pages;
  }
  /* Only RAM frames change owner or value (every transfer starts from a host frame). */
  for (uint64_t i = 0; i < cfg->ram_pages; ++i) {
    const uint64_t pfn = cfg->ram_base_pfn + i;
    struct kc_s2page e;
    kc_s2page_get(kc, pfn, &e);
    const uint64_t value = kn_page_value(pfn);
    x->ram_values[i] = value;
    const int boot = e.owner == KC_HOSTVISOR && e.count == 0 && e.gfn == pfn + KC_SMMU_HOST_OFFSET;
    if (!boot || value != 0) s->page(s->ctx, pfn, e.owner, e.count, e.gfn, value);
  }
  for (uint32_t v = 0; v < kc_principals(cfg); ++v) {
    struct visit vis = {&r, v, 0};
    kc_s2pt_visit(kc, v, visit_npt, &vis);
    report_vm(&r, v);
  }
  report_smmu_owners(&r);
  for (uint32_t i = 0; i < cfg->smmu_num; ++i) {
    for (uint32_t cb = 0; cb < cfg->smmu_ctxt_banks; ++cb) {
      struct visit vis = {&r, i, cb};
      kc_spt_visit(kc, cb, i, visit_spt, &vis);
    }
  }
  /* VM contexts never run are the ABI's default: only the host's are always reported. */
  const uint64_t contexts = ((uint64_t)cfg->max_vms + 1u) * cfg->vcpus_per_vm;
  struct kc_ctxt never_run;
  memset(&never_run, 0, sizeof never_run);
  never_run.states.dirty = KC_INVALID64;
  for (uint64_t id = 0; id < contexts; ++id) {
    const struct kc_ctxt* c = kc_ctxt_of(kc, id / cfg->vcpus_per_vm, id % cfg->vcpus_per_vm);
    if (id < cfg->vcpus_per_vm || memcmp(c, &never_run, sizeof never_run) != 0)
      report_shadow_ctxt(&r, id);
  }
  report_phys_regs(&r);
  take_shadows(&r);
  kn_mem_clear_touched();
  return x->oom ? -1 : 0;
}

static int cmp_u64(const void* a, const void* b) {
  const uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

int kn_export_changes(struct kn_export* x, const struct kn_export_env* env,
                      const struct hd_sink* s) {
  const struct run r = {x, env, s};
  const struct kc_config* cfg = &env->kc->cfg;
  x->oom = 0;
  /* Reporting reads memory too (and so records touches): work on a sorted, unique copy. */
  size_t n;
  const uint64_t* t = kn_mem_touched(&n);
  if (n > x->pending_cap) {
    uint64_t* p = realloc(x->pending, n * sizeof *p);
    if (!p) return -1;
    x->pending = p;
    x->pending_cap = n;
  }
  if (n) { /* with nothing touched (a SET_REG step) pending may still be NULL */
    memcpy(x->pending, t, n * sizeof *t);
    qsort(x->pending, n, sizeof *x->pending, cmp_u64);
  }
  report_small(&r);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t pfn = x->pending[i];
    if (i > 0 && pfn == x->pending[i - 1]) continue;
    if (kc_is_ram(cfg, pfn)) {
      const uint64_t k = pfn - cfg->ram_base_pfn, value = kn_page_value(pfn);
      if (value != x->ram_values[k]) {
        x->ram_values[k] = value;
        report_page(&r, pfn);
      }
      continue;
    }
    struct rec* p = find(x, pfn);
    if (!p || p->dead) continue; /* a page the export does not abstract, or unreachable */
    if (p->kind == K_NPT || p->kind == K_SPT)
      diff_table(&r, p, 1);
    else
      diff_page(&r, p);
  }
  const struct kc_cpu_regs* regs = kn_cpu_regs(env->cpu);
  if (memcmp(regs, &x->regs, sizeof x->regs) != 0) report_phys_regs(&r);
  kn_mem_clear_touched();
  return x->oom ? -1 : 0;
}
