// Pieces the check, replay and shrink commands share: target set-up, durations, the case file a
// failure is saved as, how a failure is printed, JSON fragments and output files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "corpus/case_file.hpp"
#include "harness/coverage.hpp"
#include "harness/runner.hpp"
#include "harness/target.hpp"

namespace hypdiff::cli {

// "90", "90s", "500ms", "5m", "1.5h" -> seconds; nullopt when malformed or not positive.
std::optional<double> parse_duration(std::string_view text);

// --step-timeout on check, replay and shrink: harness::RunOptions::step_timeout.
inline constexpr const char* kStepTimeoutHelp =
    "time one call into a library target (a step, a reset) may take before the case fails as "
    "a hang (default 10s)";
// Parses `text` into run.step_timeout; false after a one-line error.
bool set_step_timeout(const std::string& text, harness::RunOptions& run);

// Registers the targets living outside the harness ("qemu"); main() calls it first.
void register_targets();
// How to switch KCore's seeded bugs on in a registered target that carries them (the QEMU
// target boots KCore built with them); empty for every other target.
std::function<void(std::uint32_t)> mutant_switch(harness::Target& t);

struct Targets {
  std::unique_ptr<harness::Target> target;
  std::unique_ptr<harness::Target> reference;  // null for --against none
  std::string against_name() const { return reference ? reference->name() : "none"; }
};
// Makes both; on error prints one line and returns nullopt. `verify_export`: library targets
// check their change exports against full ones (LibTarget::set_verify_export).
std::optional<Targets> make_targets(const std::string& target, const std::string& against,
                                    bool verify_export = false);

// The target and reference a case file runs on: those given (non-empty), else those the file
// records ("none" when it records no reference), else native against model.
std::pair<std::string, std::string> recorded_pairing(const corpus::CaseFile& file,
                                                     const std::string& target,
                                                     const std::string& against);

// The profile the generator simulates to stay state-aware: the reference's when it is a model,
// else the target's, else intended.
model::Profile generation_profile(const Targets& t);
// The handlers generated cases may use: those both targets run (harness::Target::realized).
model::HandlerMask generation_handlers(const Targets& t);
// False, after a one-line error naming the first step `file` has that a target of the pairing
// does not run (harness::Target::realized); replay and shrink refuse such cases up front.
bool case_runnable(const Targets& t, const generators::Case& c, const std::string& file);
// When the pairing runs part of the vocabulary, the one-line note saying which part, else "".
std::string restriction_note(const Targets& t);

// The file a failing case is saved as: the case, the verdict it must reproduce, and notes.
corpus::CaseFile failure_file(const generators::Case& c, const harness::Failure& f,
                              const Targets& t, std::vector<std::string> notes);

// The file-name stem of a failure: its signature with separators as single dashes,
// e.g. "divergence-host-npt-host_hvc".
std::string corpus_stem(const harness::Failure& f);

// Prints the verdict, the op and the per-principal diff lines, indented.
void print_failure(std::FILE* out, const harness::Failure& f, std::size_t max_lines = 40);

nlohmann::json failure_json(const harness::Failure& f);
nlohmann::json coverage_json(const harness::Coverage& c);

// Writes `j` to FILE or, for "-", to stdout. False (and a message) when the file cannot be
// written.
bool write_json(const std::string& where, const nlohmann::json& j);
// Writes `text` to FILE through a temporary file and a rename, so a reader (a CI job collecting
// reports) never sees half of it. False (and a message) on error.
bool write_text(const std::string& file, const std::string& text);
// This machine's name, for reports.
std::string host_name();
// Checks early that a --json FILE can be created, so a long run does not end in an error.
bool json_target_writable(const std::string& where);

// True when progress lines may be drawn (stderr is a terminal and CI is not set).
bool interactive();

}  // namespace hypdiff::cli
