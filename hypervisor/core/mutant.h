/* Seeded bugs ("mutants") for measuring how well hypdiff finds real mistakes (issue 6). Each
 * mutation is written in place, next to the code it breaks:
 *   if (KC_MUTANT(7)) { ...wrong... } else { ...right... }      or      ok && !KC_MUTANT(7)
 * with a comment "mutant 7: what the mistake is". The catalog (names, what each endangers,
 * which oracle should catch it) is hypervisor/native/mutants.c.
 *
 * Only the build with KC_MUTANTS defined (kcore_core_mutants, libhypdiff_native_mutants.so)
 * can switch one on, through kc_mutant (0 = none). In every other build KC_MUTANT(id) is the
 * constant 0, so the mutated branches fold away and the code is the original's. */
#ifndef KCORE_MUTANT_H
#define KCORE_MUTANT_H

#include <stdint.h>

#ifdef KC_MUTANTS
extern uint32_t kc_mutant; /* the active mutant's id; 0 = the original KCore (core/mutant.c) */
#define KC_MUTANT(id) (kc_mutant == (id))
#else
#define KC_MUTANT(id) 0
#endif

#endif
