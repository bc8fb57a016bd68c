/* KCore on the native platform as a hypdiff target (harness/include/hypdiff/target.h): linked
 * into hypdiff as `--target native`, and built as libhypdiff_native.so for `--target lib:`. */
#ifndef KCORE_NATIVE_TARGET_H
#define KCORE_NATIVE_TARGET_H

#include "hypdiff/target.h"

#ifdef __cplusplus
extern "C" {
#endif

const struct hd_target_v1* kn_target_ops(void);

#ifdef __cplusplus
}
#endif

#endif
