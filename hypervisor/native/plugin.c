/* The shared-library face of the native target: the one symbol the target ABI asks for. */
#include "native/target.h"

__attribute__((visibility("default"))) const struct hd_target_v1* hypdiff_target_v1(void) {
  return kn_target_ops();
}
