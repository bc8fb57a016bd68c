#pragma once

#include <chrono>

namespace hypdiff::harness {

// Seconds of wall time since t0: how the check loops measure their budgets and report times.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace hypdiff::harness
