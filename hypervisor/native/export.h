/* The native target's export of KCore's state in the spec's abstract terms (docs/target-abi.md):
 * a full export, and an incremental one that reports only what changed since the previous
 * export. The incremental export keeps a shadow copy of every KCore page it abstracts (page
 * tables, the ownership array, VM info, contexts, SMMU owners) and of every RAM frame's value,
 * and after a step compares only the pages the core reached (kn_mem_touched). Page tables are
 * followed from their roots, so a changed descriptor is turned into the gfns it affects. */
#ifndef KCORE_NATIVE_EXPORT_H
#define KCORE_NATIVE_EXPORT_H

#include <stdint.h>

#include "core/kcore.h"
#include "hypdiff/target.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kn_export; /* the shadow state */

struct kn_export* kn_export_new(void);
void kn_export_free(struct kn_export* x);

/* What the export reports besides KCore's memory. */
struct kn_export_env {
  const struct kcore* kc;
  uint32_t cpu;        /* the CPU the harness drives: its per-CPU state and registers */
  uint64_t log_length; /* the spec's log length */
};

/* Reports everything, then takes the shadow copies. Call inside kn_call (it reads through
 * plat_phys). Returns 0, or -1 when out of memory. */
int kn_export_full(struct kn_export* x, const struct kn_export_env* env, const struct hd_sink* s);
/* Reports what changed since the last export (full or incremental): every item whose value
 * differs, with its new value, the default value for items that went away. Requires a previous
 * kn_export_full on the same boot. Same return values. */
int kn_export_changes(struct kn_export* x, const struct kn_export_env* env,
                      const struct hd_sink* s);

#ifdef __cplusplus
}
#endif

#endif
