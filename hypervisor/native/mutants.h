/* The catalog of KCore's seeded bugs ("mutants", issue 6) and the switch that selects one. The
 * bugs are written in place in hypervisor/core (core/mutant.h: KC_MUTANT(id)); only the
 * KC_MUTANTS build of the core has them, in libhypdiff_native_mutants.so, which exports
 *   const struct hd_kcore_mutants_v1 *hypdiff_kcore_mutants_v1(void);
 * next to hypdiff_target_v1. Select a mutant, then run the library's target as usual: every
 * machine it boots from then on has that bug. One mutant at a time, process wide. */
#ifndef KCORE_NATIVE_MUTANTS_H
#define KCORE_NATIVE_MUTANTS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kn_mutant {
  uint32_t id;             /* 1..; 0 is the original KCore */
  const char* name;        /* kebab-case, unique */
  const char* area;        /* what part of the hypervisor: "ownership", "page-tables", ... */
  const char* description; /* one line: the mistake */
  const char* endangers;   /* whose security or correctness it breaks: "host", "VMs", "everyone" */
  const char* caught_by;   /* expected failure class: divergence, outcome, invariant, integrity,
                              confidentiality */
  /* NULL, or why no observation can tell it from the original; "unreached: ..." when some
   * case could, but the generator does not produce one (a finding about the generator). */
  const char* equivalent;
};

struct hd_kcore_mutants_v1 {
  uint32_t count;               /* entries of list */
  const struct kn_mutant* list; /* by ascending id */
  void (*select)(uint32_t id);  /* 0 = no mutant; an id not in the list also selects none */
};

const struct hd_kcore_mutants_v1* hypdiff_kcore_mutants_v1(void);

#ifdef __cplusplus
}
#endif

#endif
