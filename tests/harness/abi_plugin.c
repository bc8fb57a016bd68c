/* Libraries the harness must refuse to load, one per build (tests/harness/CMakeLists.txt):
 *   -DNO_ENTRY        exports no hypdiff_target_v1;
 *   -DABI_VERSION=N   claims another ABI version;
 *   -DNULL_CLOSE      leaves `close` NULL.
 * Their functions are never called. */
#include "hypdiff/target.h"

#ifdef NO_ENTRY
int not_a_target(void) { return 0; }
#else

#ifndef ABI_VERSION
#define ABI_VERSION HD_ABI_VERSION
#endif

static void* open_t(const struct hd_config* cfg, char* err, size_t errlen) {
  (void)cfg;
  (void)err;
  (void)errlen;
  return 0;
}
static int reset_t(void* t, const struct hd_oracle* o) {
  (void)t;
  (void)o;
  return 1;
}
static int step_t(void* t, const struct hd_op* op) {
  (void)t;
  (void)op;
  return HD_ERROR;
}
static int export_t(void* t, const struct hd_sink* s) {
  (void)t;
  (void)s;
  return 1;
}
static const char* last_error_t(void* t) {
  (void)t;
  return "";
}

#ifdef NULL_CLOSE
#define CLOSE 0
#else
static void close_t(void* t) { (void)t; }
#define CLOSE close_t
#endif

static const struct hd_target_v1 target = {.abi_version = ABI_VERSION,
                                           .name = "abi-test",
                                           .description = "refused by the harness",
                                           .open = open_t,
                                           .close = CLOSE,
                                           .reset = reset_t,
                                           .step = step_t,
                                           .export_state = export_t,
                                           .last_error = last_error_t};

const struct hd_target_v1* hypdiff_target_v1(void) { return &target; }
#endif
