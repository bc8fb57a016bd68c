// `check --jobs N`: one check's cases spread over N processes, each with its own targets (a
// process holds one KCore: the native target's memory and the QEMU target's mirror are
// per-process), merged into the report one process gives for the same cases.
//
// Case i runs in process i mod N. The processes send back counts, coverage and, per failure
// signature, the lowest case index and how often it occurred; no case crosses a pipe. The
// caller's own targets then run each signature's first case again and shrink it, in index
// order, so failures, saved cases and their order are those of a single process (with
// --max-failures the first signatures by case index; the counts then cover more cases).
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "harness/check.hpp"

namespace hypdiff::harness {

struct TargetPair {
  std::unique_ptr<Target> target;
  std::unique_ptr<Target> reference;  // null without a reference
};

// `make` creates a worker's targets (in the worker, after fork). `parent` returns the targets
// (target, reference or null) the caller runs and shrinks the failures with; it is called once
// the workers are done, since the caller must hold no target while they start. A worker that
// fails (a TargetError, death by a signal) makes this throw a one-line TargetError.
// jobs <= 1: run_check on the parent's targets.
using TargetsNow = std::function<std::pair<Target*, Target*>()>;
CheckReport run_check_jobs(unsigned jobs, const std::function<TargetPair()>& make,
                           const TargetsNow& parent, const CheckOptions& opts,
                           const CheckCallbacks& cb = {});

}  // namespace hypdiff::harness
