/* The active mutant (core/mutant.h); compiled only into the KC_MUTANTS build of the core. */
#include "core/mutant.h"

uint32_t kc_mutant = 0;
