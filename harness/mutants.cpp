#include "harness/mutants.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <limits>

#include "native/mutants.h"

namespace hypdiff::harness {

namespace {

std::string str(const char* s) { return s ? s : ""; }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::unique_ptr<MutantLibrary> MutantLibrary::open(const std::string& path, std::string* error) {
  std::unique_ptr<MutantLibrary> lib(new MutantLibrary());
  lib->target_ = LibTarget::load(path, error);
  if (!lib->target_) return nullptr;
  // The same library again: dlopen counts references and returns the loaded one.
  lib->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  using Fn = const hd_kcore_mutants_v1* (*)();
  auto fn = lib->handle_ ? reinterpret_cast<Fn>(dlsym(lib->handle_, "hypdiff_kcore_mutants_v1"))
                         : nullptr;
  lib->api_ = fn ? fn() : nullptr;
  if (!lib->api_ || !lib->api_->select || (lib->api_->count > 0 && !lib->api_->list)) {
    if (error) *error = path + " carries no mutants: it exports no usable hypdiff_kcore_mutants_v1";
    return nullptr;
  }
  for (std::uint32_t i = 0; i < lib->api_->count; ++i) {
    const kn_mutant& m = lib->api_->list[i];
    lib->mutants_.push_back(MutantInfo{m.id, str(m.name), str(m.area), str(m.description),
                                       str(m.endangers), str(m.caught_by), str(m.equivalent)});
  }
  return lib;
}

MutantLibrary::~MutantLibrary() {
  target_.reset();
  if (handle_) dlclose(handle_);
}

void MutantLibrary::select(std::uint32_t id) { api_->select(id); }

std::vector<MutantResult> run_mutants(MutantSource& lib, Target& reference,
                                      const MutantsOptions& opts,
                                      const std::function<void(const MutantResult&)>& progress) {
  std::vector<MutantResult> out;
  for (const MutantInfo& m : lib.mutants()) {
    if (!opts.only.empty() &&
        std::find(opts.only.begin(), opts.only.end(), m.id) == opts.only.end())
      continue;
    MutantResult r;
    r.mutant = m;
    if (!m.is_equivalent()) {
      lib.select(m.id);
      CheckOptions o = opts.check;
      o.cases = std::numeric_limits<std::uint64_t>::max();
      o.seconds = opts.budget_seconds;
      o.max_failures = 1;
      const CheckReport rep = run_check(lib.target(), &reference, o);
      r.ran = true;
      r.cases = rep.cases;
      r.steps = rep.steps;
      r.shrink_seconds = rep.shrink_seconds;
      r.seconds = rep.seconds - rep.shrink_seconds;
      if (!rep.failures.empty()) {
        const FoundFailure& f = rep.failures.front();
        r.killed = true;
        r.failure_class = failure_class_name(f.failure.cls);
        r.signature = f.failure.signature();
        r.summary = f.failure.summary;
        r.original_length = f.original.ops.size();
        r.shrunk_length = f.shrunk.ops.size();
        r.found = f;
      }
    }
    lib.select(0);
    out.push_back(std::move(r));
    if (progress) progress(out.back());
  }
  return out;
}

std::vector<MutantInfo> on_hardware(std::vector<MutantInfo> catalog) {
  for (MutantInfo& m : catalog)
    if (m.equivalent.rfind("native only:", 0) == 0) m.equivalent.clear();
  return catalog;
}

MutantScore score(const std::vector<MutantResult>& results) {
  MutantScore s;
  std::vector<double> secs, lens;
  for (const MutantResult& r : results) {
    ++s.mutants;
    if (r.mutant.is_equivalent()) {
      ++s.equivalent;
    } else if (r.killed) {
      ++s.killed;
      secs.push_back(r.seconds);
      lens.push_back(static_cast<double>(r.shrunk_length));
    } else {
      ++s.survived;
    }
  }
  s.median_seconds = median(secs);
  s.median_shrunk_length = median(lens);
  return s;
}

}  // namespace hypdiff::harness
