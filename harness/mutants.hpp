// `hypdiff mutants`: how good the checker is at catching real bugs. A target library that also
// exports `hypdiff_kcore_mutants_v1` (hypervisor/native/mutants.h) carries seeded bugs, each
// selectable at load time; every mutant gets the same check (same seed, a time budget) and is
// killed when the check fails, with the time and steps to the first failure and the length of
// the shrunk counterexample.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/check.hpp"
#include "harness/lib_target.hpp"

struct hd_kcore_mutants_v1;

namespace hypdiff::harness {

struct MutantInfo {
  std::uint32_t id = 0;
  std::string name, area, description, endangers, caught_by;
  // Empty, or why no observation can tell it from the original; "unreached: ..." when some
  // case could but the generator does not produce one (it runs, and counts against the score);
  // "native only: ..." when only the native platform cannot show it (on_hardware runs it).
  std::string equivalent;
  bool is_equivalent() const {
    return !equivalent.empty() && equivalent.rfind("unreached:", 0) != 0;
  }
};

struct MutantResult {
  MutantInfo mutant;
  bool ran = false;     // equivalent mutants are not run
  bool killed = false;  // the check failed within the budget
  double seconds = 0;   // to the first failure (or the whole budget), shrinking excluded
  double shrink_seconds = 0;
  std::uint64_t cases = 0, steps = 0;  // run up to and including the first failure
  std::string failure_class, signature, summary;
  std::size_t original_length = 0, shrunk_length = 0;
  std::optional<FoundFailure> found;
};

// Where seeded bugs come from: their catalog, a switch, and the target running the one
// switched on.
class MutantSource {
 public:
  virtual ~MutantSource() = default;
  virtual const std::vector<MutantInfo>& mutants() const = 0;
  virtual void select(std::uint32_t id) = 0;  // 0: the unmutated hypervisor
  virtual Target& target() = 0;
};

// A mutant-carrying target library: the target itself and its catalog.
class MutantLibrary final : public MutantSource {
 public:
  // nullptr and a one-line message when `path` is not a target or carries no mutants.
  static std::unique_ptr<MutantLibrary> open(const std::string& path, std::string* error);
  ~MutantLibrary();
  MutantLibrary(const MutantLibrary&) = delete;
  MutantLibrary& operator=(const MutantLibrary&) = delete;

  const std::vector<MutantInfo>& mutants() const override { return mutants_; }
  void select(std::uint32_t id) override;
  LibTarget& target() override { return *target_; }

 private:
  MutantLibrary() = default;
  std::unique_ptr<LibTarget> target_;
  void* handle_ = nullptr;  // our own reference to the library, for the catalog
  const hd_kcore_mutants_v1* api_ = nullptr;
  std::vector<MutantInfo> mutants_;
};

// The same seeded bugs in another build of the hypervisor (the QEMU target boots KCore compiled
// with them): a catalog taken from a MutantLibrary, switched with `select`.
class MutantsOn final : public MutantSource {
 public:
  MutantsOn(std::vector<MutantInfo> catalog, Target& target,
            std::function<void(std::uint32_t)> select)
      : catalog_(std::move(catalog)), target_(target), select_(std::move(select)) {}
  const std::vector<MutantInfo>& mutants() const override { return catalog_; }
  void select(std::uint32_t id) override { select_(id); }
  Target& target() override { return target_; }

 private:
  std::vector<MutantInfo> catalog_;
  Target& target_;
  std::function<void(std::uint32_t)> select_;
};

// The catalog as a target on real (emulated) hardware sees it: the mutants that are equivalent
// only because the native platform lacks hardware ("native only: ...", a TLB say) run there.
std::vector<MutantInfo> on_hardware(std::vector<MutantInfo> catalog);

struct MutantsOptions {
  CheckOptions check;               // seed, generator, run options, shrink options
  double budget_seconds = 30;       // per mutant, exploring (shrinking is extra)
  std::vector<std::uint32_t> only;  // empty: all
};

// Runs the check on every selected mutant; `progress` after each one.
std::vector<MutantResult> run_mutants(
    MutantSource& lib, Target& reference, const MutantsOptions& opts,
    const std::function<void(const MutantResult&)>& progress = {});

// The score: killed among the mutants not marked equivalent, and medians over the killed.
struct MutantScore {
  std::size_t mutants = 0, equivalent = 0, killed = 0, survived = 0;
  double median_seconds = 0;
  double median_shrunk_length = 0;
};
MutantScore score(const std::vector<MutantResult>& results);

}  // namespace hypdiff::harness
