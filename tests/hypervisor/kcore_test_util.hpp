// Helpers shared by the KCore tests: a booted core on the native platform, a way to run core
// code that may panic, and conversions to the model's types for differential checks.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <type_traits>

#include "hypervisor/core/host_npt.h"
#include "hypervisor/core/kcore.h"
#include "hypervisor/core/ownership.h"
#include "hypervisor/core/pages.h"
#include "hypervisor/core/s2pt.h"
#include "hypervisor/core/spt.h"
#include "hypervisor/native/native.h"
#include "model/config.hpp"
#include "model/records.hpp"

namespace hypdiff::kcore_test {

using model::Z;

// Runs f() as a core entry point: KN_PANICKED if it panicked. f must not own objects with
// destructors (a panic longjmps over its frame).
template <class F>
kn_outcome run(F&& f) {
  using Fn = std::remove_reference_t<F>;
  return kn_call([](void* p) { (*static_cast<Fn*>(p))(); }, &f);
}

// A freshly booted machine (all simulated memory freed first).
class Booted : public ::testing::Test {
 protected:
  void SetUp() override { boot(default_config()); }
  void TearDown() override {
    kn_set_hooks(nullptr);
    kn_mem_reset();
  }

  static kc_config default_config() {
    kc_config c;
    kc_config_default(&c);
    return c;
  }
  void boot(const kc_config& c) {
    kn_mem_reset();
    kn_reset_counters();
    ASSERT_EQ(kc_boot(&kc, &c), nullptr);
  }

  kc_walk walk(uint32_t v, uint64_t gfn) const {
    kc_walk w;
    kc_s2pt_walk(&kc, v, gfn, &w);
    return w;
  }
  kc_spt_entry spt_walk(uint32_t cbndx, uint32_t index, uint64_t gfn) const {
    kc_spt_entry w;
    kc_spt_walk(&kc, cbndx, index, gfn, &w);
    return w;
  }
  kc_s2page page(uint64_t pfn) const {
    kc_s2page p;
    kc_s2page_get(&kc, pfn, &p);
    return p;
  }
  // The descriptor at a table entry, read as the hardware would.
  static uint64_t desc(uint64_t table, uint32_t index) { return kn_mem_peek64(table + 8u * index); }

  kcore kc{};
};

inline model::PtEntry to_model(const kc_walk& w) {
  return model::PtEntry{Z(w.pfn), Z(w.level), Z(w.pte)};
}
inline model::SptEntry to_model(const kc_spt_entry& w) {
  return model::SptEntry{Z(w.pfn), Z(w.pte)};
}
inline model::S2Page to_model(const kc_s2page& p) {
  return model::S2Page{Z(p.owner), Z(p.count), Z(p.gfn)};
}

// Every non-default entry of principal v's table, keyed by gfn.
inline std::map<uint64_t, model::PtEntry> npt_entries(const kcore& kc, uint32_t v) {
  std::map<uint64_t, model::PtEntry> out;
  kc_s2pt_visit(
      &kc, v,
      [](void* ctx, uint64_t gfn, const kc_walk* w) {
        (*static_cast<std::map<uint64_t, model::PtEntry>*>(ctx))[gfn] = to_model(*w);
      },
      &out);
  return out;
}
inline std::map<uint64_t, model::PtEntry> npt_entries(const model::NPT& npt) {
  std::map<uint64_t, model::PtEntry> out;
  npt.pt.for_each_explicit([&](std::uint64_t gfn, const model::PtEntry& e) { out[gfn] = e; });
  return out;
}
inline std::map<uint64_t, model::SptEntry> spt_entries(const kcore& kc, uint32_t cbndx,
                                                       uint32_t index) {
  std::map<uint64_t, model::SptEntry> out;
  kc_spt_visit(
      &kc, cbndx, index,
      [](void* ctx, uint64_t gfn, const kc_spt_entry* w) {
        (*static_cast<std::map<uint64_t, model::SptEntry>*>(ctx))[gfn] = to_model(*w);
      },
      &out);
  return out;
}

// The model's MachineConfig for a KCore configuration.
inline model::MachineConfig to_model(const kc_config& c) {
  model::MachineConfig m;
  m.max_vms = c.max_vms;
  m.vcpus_per_vm = c.vcpus_per_vm;
  m.total_cpus = c.total_cpus;
  m.ram_base_pfn = c.ram_base_pfn;
  m.ram_pages = c.ram_pages;
  m.smmus.clear();
  for (uint32_t i = 0; i < c.smmu_num && i < KC_MAX_SMMUS; ++i)
    m.smmus.push_back({c.smmus[i].phys_base, c.smmus[i].size, c.smmus[i].context_banks});
  m.smmu_ctxt_banks = c.smmu_ctxt_banks;
  m.max_share_count = c.max_share_count;
  m.max_load_info = c.max_load_info;
  return m;
}

}  // namespace hypdiff::kcore_test
