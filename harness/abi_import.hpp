// The target ABI's export (hd_sink, harness/include/hypdiff/target.h) turned back into the
// model's abstract state, so that the oracles judge a library target with the same code as the
// model. A full export rebuilds the exported parts from the initial state; a change export
// (export_changes) is applied to the previous state, which keeps the persistent maps' sharing:
// an import costs what changed.
#pragma once

#include <cstdint>
#include <functional>

#include "hypdiff/target.h"
#include "model/state.hpp"

namespace hypdiff::harness {

// Runs one export: calls `export_fn` with a sink and returns its result (0 = success).
using ExportFn = std::function<int(const hd_sink* sink)>;

// `base` is the initial state of the case: the environment (configuration, oracle answers) and
// every field the ABI does not export (pool counters, table flags) come from it.
// Returns the export's status; *out is written only on success.
int import_full(const model::RData& base, const ExportFn& export_fn, model::RData* out);
// Applies a change export to `current` (the state after the previous export).
int import_changes(const model::RData& current, const ExportFn& export_fn, model::RData* out);

}  // namespace hypdiff::harness
