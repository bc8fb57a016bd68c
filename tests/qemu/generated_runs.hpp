// Shared by the QEMU tests: generated cases run on a target against the model, with each step's
// outcome pair recorded, and the "QEMU gives the native target's verdicts and per-step
// outcomes" comparison (docs/qemu.md, the tests table).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "generators/case_gen.hpp"
#include "harness/target.hpp"
#include "model/op.hpp"
#include "qemu/host/qemu_target.hpp"

namespace hypdiff::qemu::qt {

struct Trace {
  std::string verdict;                // "" = passed, else the failure's signature and summary
  std::vector<std::string> outcomes;  // per step: "<target>/<model>", e.g. "ok/ok"
  friend bool operator==(const Trace&, const Trace&) = default;
};
// GoogleTest prints a Trace as its verdict and outcomes.
void PrintTo(const Trace& t, std::ostream* os);

// n generated cases (max_ops 40) drawing only `handlers`, from seed upwards, each kept only if
// `keep` accepts it.
std::vector<generators::Case> generate(model::HandlerMask handlers, size_t n, uint64_t seed,
                                       const std::function<bool(const generators::Case&)>& keep);

// How many ops of a case run `h`.
size_t ops_of(const generators::Case& c, model::Handler h);

// Runner(target, model) over every case; *steps: checked steps in all. A TargetError is the
// case's verdict ("error after step N: ..."). HYPDIFF_TEST_VERBOSE prints failing cases.
std::vector<Trace> run_all(harness::Target& target, const std::vector<generators::Case>& cases,
                           size_t* steps);

// The failing traces of a run: how many, and the first one's verdict ("" when none failed).
struct Kills {
  size_t killed = 0;
  std::string first;
};
Kills kills(const std::vector<Trace>& traces);

// How many steps of handler `h` ended with `outcome` ("ok/ok", "undefined/undefined", ...).
size_t count(const std::vector<generators::Case>& cases, const std::vector<Trace>& traces,
             model::Handler h, const std::string& outcome);

// Runs `cases` on a fresh QEMU target (with `options`) and then on the native target; expects
// both to pass every case and to agree step by step. Returns the QEMU target's traces; *st its
// statistics. `inspect` sees the QEMU target after the last case.
std::vector<Trace> qemu_matches_native(const std::vector<generators::Case>& cases,
                                       QemuTarget::Stats* st, size_t* steps,
                                       const QemuOptions& options = {},
                                       const std::function<void(QemuTarget&)>& inspect = {});

}  // namespace hypdiff::qemu::qt
