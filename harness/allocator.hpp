// Model states are built from many small persistent-map nodes that are freed in bursts; glibc's
// default trimming hands that memory back to the kernel and takes it again on the next step,
// which measured as most of the wall time of projection-heavy runs. Keep it in the process.
#pragma once

#include <malloc.h>

namespace hypdiff {

inline void tune_allocator() {
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
}

}  // namespace hypdiff
