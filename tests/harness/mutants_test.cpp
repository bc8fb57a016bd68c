// KCore's seeded bugs (hypervisor/native/mutants.h, issue 6): every mutant the catalog does not
// mark equivalent must make `hypdiff check` fail against the intended model, with the failure
// class the catalog expects; the original (no mutant) must pass. Prints, per mutant, how many
// cases and steps it took to find it, for docs/. The library is libhypdiff_native_mutants.so,
// loaded as a lib: target; its catalog comes from the same handle.
#include "native/mutants.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "generators/case.hpp"
#include "generators/pool_fill.hpp"
#include "harness/check.hpp"
#include "harness/lib_target.hpp"
#include "harness/model_target.hpp"

namespace hypdiff::harness {
namespace {

const hd_kcore_mutants_v1* catalog() {
  // The handle stays open for the whole process: the catalog's strings live in the library.
  static void* handle = dlopen(HYPDIFF_NATIVE_MUTANTS_LIB, RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  using Entry = const hd_kcore_mutants_v1* (*)();
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, "hypdiff_kcore_mutants_v1"));
  return entry ? entry() : nullptr;
}

std::uint32_t id_of(const hd_kcore_mutants_v1* api, std::string_view name) {
  for (std::uint32_t i = 0; i < api->count; ++i) {
    if (api->list[i].name == name) return api->list[i].id;
  }
  ADD_FAILURE() << "no mutant " << name;
  return 0;
}

std::unique_ptr<LibTarget> load_target() {
  std::string err;
  auto t = LibTarget::load(HYPDIFF_NATIVE_MUTANTS_LIB, &err);
  EXPECT_TRUE(t) << err;
  return t;
}

// Cases per mutant before it counts as surviving (HYPDIFF_MUTANT_CASES overrides), and for the
// ones the catalog expects to survive (HYPDIFF_MUTANT_EQUIVALENT_CASES). The slowest mutants
// take about 7,000 cases with seed 1 (iova-to-phys-swapped-args; the test prints the numbers).
std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::strtoull(e, nullptr, 10) : fallback;
}
std::uint64_t case_bound() { return env_or("HYPDIFF_MUTANT_CASES", 10000); }
std::uint64_t equivalent_bound() { return env_or("HYPDIFF_MUTANT_EQUIVALENT_CASES", 300); }

// Only these mutant ids, when HYPDIFF_MUTANTS lists some ("3,17"); all of them otherwise.
bool wanted(std::uint32_t id) {
  const char* e = std::getenv("HYPDIFF_MUTANTS");
  if (!e || !*e) return true;
  const std::string ids = std::string(",") + e + ",";
  return ids.find("," + std::to_string(id) + ",") != std::string::npos;
}

CheckOptions check_options(std::uint64_t cases) {
  CheckOptions o;
  o.seed = 1;
  o.cases = cases;
  o.max_failures = 1;
  o.shrink = false;
  return o;
}

bool kebab_case(std::string_view s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.find("--") == std::string_view::npos;
}

TEST(Mutants, TheCatalogIsCompleteAndUnambiguous) {
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api) << dlerror();
  ASSERT_NE(api->select, nullptr);
  ASSERT_NE(api->list, nullptr);
  EXPECT_GE(api->count, 30u);
  const std::set<std::string> areas = {
      "ownership", "page-tables", "vm-lifecycle", "boot-remap",    "grant-revoke",
      "reclaim",   "smmu",        "vcpu-context", "exit-handling", "argument-validation"};
  const std::set<std::string> endangers = {"host", "VMs", "everyone"};
  const std::set<std::string> classes = {"divergence", "outcome", "invariant", "integrity",
                                         "confidentiality"};
  std::set<std::string> names;
  std::set<std::string> seen_areas;
  std::uint32_t last_id = 0;
  for (std::uint32_t i = 0; i < api->count; ++i) {
    const kn_mutant& m = api->list[i];
    SCOPED_TRACE("mutant " + std::to_string(m.id));
    EXPECT_GT(m.id, last_id) << "ids ascend and 0 means no mutant";
    last_id = m.id;
    ASSERT_TRUE(m.name && m.area && m.description && m.endangers && m.caught_by);
    EXPECT_TRUE(kebab_case(m.name)) << m.name;
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate name " << m.name;
    EXPECT_TRUE(areas.count(m.area)) << m.area;
    seen_areas.insert(m.area);
    EXPECT_GT(std::string_view(m.description).size(), 20u);
    EXPECT_EQ(std::string_view(m.description).find('\n'), std::string_view::npos);
    EXPECT_TRUE(endangers.count(m.endangers)) << m.endangers;
    EXPECT_TRUE(classes.count(m.caught_by)) << m.caught_by;
    if (m.equivalent) {
      EXPECT_GT(std::string_view(m.equivalent).size(), 20u);
    }
  }
  EXPECT_EQ(seen_areas, areas) << "every area has a mutant";
}

TEST(Mutants, TheOriginalAgreesWithTheModel) {
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api);
  auto t = load_target();
  ASSERT_TRUE(t);
  ModelTarget ref("model", model::Profile::intended());
  api->select(0);
  const CheckReport rep = run_check(*t, &ref, check_options(300));
  EXPECT_EQ(rep.cases, 300u);
  EXPECT_TRUE(rep.failures.empty()) << rep.failures.front().failure.summary;
}

TEST(Mutants, SelectingAnUnknownIdSelectsNone) {
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api);
  auto t = load_target();
  ASSERT_TRUE(t);
  ModelTarget ref("model", model::Profile::intended());
  // boot-smmu-owned-by-host diverges at the first step of every case.
  const std::uint32_t boot_bug = id_of(api, "boot-smmu-owned-by-host");
  ASSERT_NE(boot_bug, 0u);
  api->select(boot_bug);
  const CheckReport bad = run_check(*t, &ref, check_options(20));
  ASSERT_EQ(bad.failures.size(), 1u);
  EXPECT_EQ(bad.failures[0].case_index, 0u);
  EXPECT_EQ(bad.failures[0].failure.step, 0u);
  api->select(100000);
  const CheckReport none = run_check(*t, &ref, check_options(20));
  EXPECT_TRUE(none.failures.empty()) << none.failures.front().failure.summary;
  api->select(0);
}

// Two mutants the generator missed until it learnt unaligned IOVA_TO_PHYS iovas and images
// ending just past 2^40: a hand-written case kills each, and passes without the mutant.
TEST(Mutants, OnceUnreachedMutantsDieOnAHandWrittenCase) {
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api);
  auto t = load_target();
  ASSERT_TRUE(t);
  ModelTarget ref("model", model::Profile::intended());
  using model::HostHvc;
  struct Probe {
    const char* mutant;
    std::vector<model::Op> ops;
    FailureClass cls;
  };
  const model::Z k40 = model::Z{1} << 40;
  const std::vector<Probe> probes = {
      // IOVA_TO_PHYS of an unmapped iova with an offset: x0 is the offset.
      {"iova-to-phys-drops-offset",
       {HostHvc{{21, 0x60000123, 0, 0, 0, 0}}},
       FailureClass::divergence},
      // An image ending beyond 2^40 that fits the remap window: the argument check refuses it.
      {"set-boot-info-no-end-check",
       {HostHvc{{24, 0, 0, 0, 0, 0}}, HostHvc{{15, 1, k40 - 4096, 8192, 0, 0}}},
       FailureClass::outcome},
  };
  Runner runner(*t, &ref);
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.mutant);
    generators::Case c;
    c.ops = p.ops;
    api->select(0);
    const CaseResult fine = runner.run(c);
    EXPECT_FALSE(fine.failure) << fine.failure->summary;
    api->select(id_of(api, p.mutant));
    const CaseResult bad = runner.run(c);
    ASSERT_TRUE(bad.failure);
    EXPECT_EQ(bad.failure->cls, p.cls) << bad.failure->summary;
    EXPECT_EQ(bad.failure->step, p.ops.size() - 1);
  }
  api->select(0);
}

// #7 needs a VM's level-3 pool filled to its last page: the generator's pool-fill family
// (generators/pool_fill.hpp). Without the mutant KCore halts where the model does, on the map
// past the pool's end; with it, on the map before, which takes the pool's last page.
TEST(Mutants, PoolCheckOffByOneDiesOnAPoolFillCase) {
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api);
  auto t = load_target();
  ASSERT_TRUE(t);
  ModelTarget ref("model", model::Profile::intended());
  generators::GenOptions o;
  generators::Case c;
  c.cfg = o.cfg;
  c.oracle.fallback_seed = 7;
  generators::add_pool_fill(o, c);
  ASSERT_EQ(c.ops.size(), 2946u);  // REGISTER_KVM, 2,944 IOREMAPs filling the pool, one more
  Runner runner(*t, &ref);
  api->select(0);
  const CaseResult fine = runner.run(c);
  EXPECT_FALSE(fine.failure) << fine.failure->summary;
  EXPECT_EQ(fine.steps, c.ops.size());
  api->select(id_of(api, "s2pt-pool-check-off-by-one"));
  const CaseResult bad = runner.run(c);
  api->select(0);
  ASSERT_TRUE(bad.failure);
  EXPECT_EQ(bad.failure->cls, FailureClass::outcome) << bad.failure->summary;
  EXPECT_EQ(bad.failure->step, c.ops.size() - 2);
}

struct Outcome {
  const kn_mutant* m = nullptr;
  bool killed = false;
  std::uint64_t cases = 0;  // cases run (the failing one included)
  std::uint64_t steps = 0;  // steps run, up to and including the failing step
  std::string cls;          // failure class, "-" when it survived
  std::string field;
  double seconds = 0;
};

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

// What the catalog expects: the failure class, "equivalent", or "unreached".
std::string expected(const kn_mutant& m) {
  if (!m.equivalent) return m.caught_by;
  return std::string_view(m.equivalent).starts_with("unreached:") ? "unreached" : "equivalent";
}

void print_table(const std::vector<Outcome>& rows, std::uint64_t bound, std::uint64_t equivalent,
                 double total) {
  std::cout << "\nKCore mutants: seed 1, up to " << bound << " cases each (equivalent ones "
            << equivalent << "), no shrinking\n";
  std::cout << pad("id", 4) << pad("name", 34) << pad("area", 21) << pad("expected", 12)
            << pad("caught by", 17) << pad("cases", 7) << pad("steps", 9) << pad("s", 7)
            << "first field\n";
  for (const Outcome& o : rows) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f", o.seconds);
    std::cout << pad(std::to_string(o.m->id), 4) << pad(o.m->name, 34) << pad(o.m->area, 21)
              << pad(expected(*o.m), 12) << pad(o.killed ? o.cls : "survived", 17)
              << pad(std::to_string(o.cases), 7) << pad(std::to_string(o.steps), 9) << pad(secs, 7)
              << o.field << "\n";
  }
  std::cout << "total " << total << " s\n" << std::flush;
}

TEST(Mutants, EveryMutantIsKilledUnlessEquivalent) {
#ifdef HYPDIFF_SKIP_MUTANT_SWEEP
  if (!std::getenv("HYPDIFF_MUTANT_CASES"))
    GTEST_SKIP() << "sanitizer build: set HYPDIFF_MUTANT_CASES";
#endif
  const hd_kcore_mutants_v1* api = catalog();
  ASSERT_TRUE(api);
  auto t = load_target();
  ASSERT_TRUE(t);
  ModelTarget ref("model", model::Profile::intended());
  const std::uint64_t bound = case_bound();
  std::vector<Outcome> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < api->count; ++i) {
    const kn_mutant& m = api->list[i];
    if (!wanted(m.id)) continue;
    Outcome o;
    o.m = &m;
    const auto s0 = std::chrono::steady_clock::now();
    api->select(m.id);
    // Equivalent and unreached mutants run fewer cases: they are expected to survive.
    const CheckReport rep =
        run_check(*t, &ref, check_options(m.equivalent ? equivalent_bound() : bound));
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    o.cases = rep.cases;
    o.steps = rep.steps;
    o.killed = !rep.failures.empty();
    if (o.killed) {
      const Failure& f = rep.failures[0].failure;
      o.cls = failure_class_name(f.cls);
      o.field = f.field + " @ " + f.op;
    }
    rows.push_back(o);
  }
  api->select(0);
  print_table(rows, bound, equivalent_bound(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  for (const Outcome& o : rows) {
    SCOPED_TRACE(std::to_string(o.m->id) + " " + o.m->name);
    if (o.m->equivalent) {
      EXPECT_FALSE(o.killed) << "caught as " << o.cls << " (" << o.field
                             << "): the catalog's reason no longer holds: " << o.m->equivalent;
    } else {
      EXPECT_TRUE(o.killed) << "survived " << o.cases << " cases";
      if (o.killed) {
        EXPECT_EQ(o.cls, o.m->caught_by) << o.field;
      }
    }
  }
}

}  // namespace
}  // namespace hypdiff::harness
