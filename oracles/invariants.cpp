#include "oracles/invariants.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <utility>

#include "oracles/reflect.hpp"

namespace hypdiff::oracles {

using model::NPT;
using model::PtEntry;
using model::S2Page;
using model::Shared;
using model::SptEntry;
using model::ZMap;
namespace k = model::k;

namespace {

std::string hex(Z v) {
  std::string s;
  print_hex(s, v);
  return s;
}
std::string num(Z v) {
  std::string s;
  print_z(s, v);
  return s;
}

// Collects violations up to the cap. Within a clause, offending keys are reported in key order
// (map traversal order is not meaningful to a reader).
class Report {
 public:
  explicit Report(std::size_t cap) : cap_(cap) {}
  bool full() const { return out_.size() >= cap_; }
  void add(const char* clause, std::string where, std::string detail) {
    if (!full()) out_.push_back(InvViolation{clause, std::move(where), std::move(detail)});
  }
  // Offenders found while walking a map: (sort key, where, detail).
  struct Hit {
    std::uint64_t key;
    std::string where;
    std::string detail;
  };
  void add_sorted(const char* clause, std::vector<Hit> hits) {
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.key < b.key; });
    for (Hit& h : hits) add(clause, std::move(h.where), std::move(h.detail));
  }
  std::vector<InvViolation> take() { return std::move(out_); }

 private:
  std::size_t cap_;
  std::vector<InvViolation> out_;
};

const NPT& npt_at(const Shared& s, Z v, NPT& tmp) {
  if (const NPT* p = s.npts.entries().find(static_cast<std::uint64_t>(v))) return *p;
  tmp = s.npts.get(v);
  return tmp;
}

ZMap<SptEntry> spt_at(const Shared& s, Z idx, Z cb) {
  return s.spts.spt_pt.get(s.cfg().smmu_ttbr(idx, cb));
}

std::string ctx_name(Z idx, Z cb) { return "smmu " + num(idx) + " cb " + num(cb); }

Z vm_state(const Shared& s, Z v) { return s.vminfos.get(v).VS.vm_state; }

std::string page_text(const S2Page& p) { return to_text(p); }

// pfn = phys_page(pte) / PAGE_SIZE
bool pte_consistent(Z pfn, Z pte) { return pfn == k::phys_page(pte) / k::PAGE_SIZE; }

// Coq: SecurityInvs.shared_inv.spt_cons
void spt_cons(const Shared& s, Report& r) {
  const auto& cfg = s.cfg();
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const ZMap<SptEntry> t = spt_at(s, idx, cb);
      const SptEntry rest = t.default_fn().value;
      if (!pte_consistent(rest.pfn, rest.pte)) {
        r.add("spt_cons", ctx_name(idx, cb) + ", every gfn not stored",
              "entry " + to_text(rest) + ": pfn != phys_page(pte)/4096");
      }
      std::vector<Report::Hit> hits;
      t.for_each_explicit([&](std::uint64_t gfn, const SptEntry& e) {
        if (!pte_consistent(e.pfn, e.pte)) {
          hits.push_back({gfn, ctx_name(idx, cb) + " gfn " + hex(static_cast<Z>(gfn)),
                          "entry " + to_text(e) + ": pfn != phys_page(pte)/4096 = " +
                              hex(k::phys_page(e.pte) / k::PAGE_SIZE)});
        }
      });
      r.add_sorted("spt_cons", std::move(hits));
    }
  }
}

// Runs f(where, gfn_or_minus1, entry) over the host NPT's stored entries and once for its
// default entry (gfn -1 stands for "every gfn not stored").
template <class F>
void for_host_pt(const Shared& s, const char* clause, Report& r, F&& f) {
  NPT tmp;
  const ZMap<PtEntry>& pt = npt_at(s, k::HOSTVISOR, tmp).pt;
  if (auto d = f(Z{-1}, pt.default_fn().value)) r.add(clause, "every gfn not stored", *d);
  std::vector<Report::Hit> hits;
  pt.for_each_explicit([&](std::uint64_t gfn, const PtEntry& e) {
    if (auto d = f(static_cast<Z>(gfn), e)) {
      hits.push_back({gfn, "gfn " + hex(static_cast<Z>(gfn)), std::move(*d)});
    }
  });
  r.add_sorted(clause, std::move(hits));
}

// Coq: SecurityInvs.shared_inv.host_npt_cons
void host_npt_cons(const Shared& s, Report& r) {
  for_host_pt(s, "host_npt_cons", r, [](Z, const PtEntry& e) -> std::optional<std::string> {
    if (pte_consistent(e.pfn, e.pte)) return std::nullopt;
    return "host npt entry " + to_text(e) +
           ": pfn != phys_page(pte)/4096 = " + hex(k::phys_page(e.pte) / k::PAGE_SIZE);
  });
}

// Coq: SecurityInvs.shared_inv.host_flatmap
void host_flatmap(const Shared& s, Report& r) {
  for_host_pt(s, "host_flatmap", r, [](Z gfn, const PtEntry& e) -> std::optional<std::string> {
    // gfn -1: the default entry stands for every other gfn, so a nonzero pfn breaks it.
    if (e.pfn == 0 || e.pfn == gfn) return std::nullopt;
    return "host maps it to pfn " + hex(e.pfn) + " (the host must be identity-mapped)";
  });
}

// Coq: SecurityInvs.shared_inv.host_s2_map. Default entries satisfy it by construction of
// S2PageDefault (host RAM frames default to gfn = pfn + SMMU_HOST_OFFSET).
void host_s2_map(const Shared& s, Report& r) {
  std::vector<Report::Hit> hits;
  s.s2page.for_each_explicit([&](std::uint64_t pfn, const S2Page& p) {
    const Z want = static_cast<Z>(pfn) + k::SMMU_HOST_OFFSET;
    if (p.owner == k::HOSTVISOR && p.gfn != want) {
      hits.push_back({pfn, "pfn " + hex(static_cast<Z>(pfn)),
                      "host page " + page_text(p) + ": gfn should be " + hex(want)});
    }
  });
  r.add_sorted("host_s2_map", std::move(hits));
}

// Coq: SecurityInvs.shared_inv.page_0_invalid
void page_0_invalid(const Shared& s, Report& r) {
  const S2Page p = s.s2page.get(0);
  if (p.owner != k::INVALID) r.add("page_0_invalid", "pfn 0", "page " + page_text(p));
}

// Coq: SecurityInvs.shared_inv.host_iso
void host_iso(const Shared& s, Report& r) {
  for_host_pt(s, "host_iso", r, [&](Z, const PtEntry& e) -> std::optional<std::string> {
    if (e.pfn == 0) return std::nullopt;
    const S2Page p = s.s2page.get(e.pfn);
    if (p.owner == k::INVALID || p.owner == k::HOSTVISOR || p.count > 0) return std::nullopt;
    return "host maps pfn " + hex(e.pfn) + " whose page is " + page_text(p);
  });
}

// vm_iso's verdict on a VM depends only on its table and on the page owners. The Runner checks
// every step's state, and most steps change neither, so a VM whose table and s2page equal
// those of its last clean check (usually the same maps: equality then costs nothing) is clean
// again. Per thread, like the projection memos.
struct VmIsoClean {
  decltype(NPT::pt) pt;
  decltype(Shared::s2page) s2page;
};
thread_local std::unordered_map<std::int64_t, VmIsoClean> vm_iso_clean;

// Coq: SecurityInvs.shared_inv.vm_iso (HOSTVISOR < vmid < COREVISOR, vm_state <= VERIFIED)
void vm_iso(const Shared& s, Report& r) {
  const auto& cfg = s.cfg();
  for (Z v = 1; v < cfg.corevisor() && !r.full(); ++v) {
    if (vm_state(s, v) > k::VERIFIED) continue;
    NPT tmp;
    const ZMap<PtEntry>& pt = npt_at(s, v, tmp).pt;
    const auto memo = vm_iso_clean.find(static_cast<std::int64_t>(v));
    if (memo != vm_iso_clean.end() && memo->second.pt == pt && memo->second.s2page == s.s2page)
      continue;
    auto bad = [&](const PtEntry& e) -> std::optional<std::string> {
      if (e.pfn == 0) return std::nullopt;
      const S2Page p = s.s2page.get(e.pfn);
      if (p.owner == k::INVALID || p.owner == v) return std::nullopt;
      return "VM " + num(v) + " maps pfn " + hex(e.pfn) + " whose page is " + page_text(p);
    };
    if (auto d = bad(pt.default_fn().value)) {
      r.add("vm_iso", "vm " + num(v) + ", every gfn not stored", *d);
    }
    std::vector<Report::Hit> hits;
    pt.for_each_explicit([&](std::uint64_t gfn, const PtEntry& e) {
      if (auto d = bad(e)) {
        hits.push_back({gfn, "vm " + num(v) + " gfn " + hex(static_cast<Z>(gfn)), std::move(*d)});
      }
    });
    if (hits.empty() && !bad(pt.default_fn().value)) {
      vm_iso_clean[static_cast<std::int64_t>(v)] = VmIsoClean{pt, s.s2page};
    } else {
      vm_iso_clean.erase(static_cast<std::int64_t>(v));
    }
    r.add_sorted("vm_iso", std::move(hits));
  }
}

// Coq: SecurityInvs.shared_inv.smmu_vm
void smmu_vm(const Shared& s, Report& r) {
  const auto& cfg = s.cfg();
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const Z owner = s.smmu_vmid.get(cfg.smmu_id(idx, cb));
      if (owner != k::INVALID && !(k::HOSTVISOR <= owner && owner < cfg.corevisor())) {
        r.add("smmu_vm", ctx_name(idx, cb),
              "owner " + num(owner) + " is no principal below COREVISOR");
      }
    }
  }
}

// Coq: SecurityInvs.shared_inv.smmu_iso
void smmu_iso(const Shared& s, Report& r) {
  const auto& cfg = s.cfg();
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const Z owner = s.smmu_vmid.get(cfg.smmu_id(idx, cb));
      const bool applies =
          owner == k::HOSTVISOR || (cfg.is_vm(owner) && vm_state(s, owner) <= k::VERIFIED);
      if (!applies) continue;
      const ZMap<SptEntry> t = spt_at(s, idx, cb);
      auto bad = [&](Z gfn, const SptEntry& e) -> std::optional<std::string> {
        if (e.pfn == 0) return std::nullopt;
        const S2Page p = s.s2page.get(e.pfn);
        if (p.owner == owner && p.gfn == gfn) return std::nullopt;
        return "context of " + num(owner) + " maps pfn " + hex(e.pfn) + " whose page is " +
               page_text(p);
      };
      // The default entry stands for every gfn not stored; with pfn != 0 the page's gfn cannot
      // equal all of them.
      if (const SptEntry rest = t.default_fn().value; rest.pfn != 0) {
        r.add("smmu_iso", ctx_name(idx, cb) + ", every gfn not stored",
              "default entry " + to_text(rest) + " maps a page at every gfn");
      }
      std::vector<Report::Hit> hits;
      t.for_each_explicit([&](std::uint64_t gfn, const SptEntry& e) {
        if (auto d = bad(static_cast<Z>(gfn), e)) {
          hits.push_back(
              {gfn, ctx_name(idx, cb) + " gfn " + hex(static_cast<Z>(gfn)), std::move(*d)});
        }
      });
      r.add_sorted("smmu_iso", std::move(hits));
    }
  }
}

// Coq: SecurityInvs.shared_inv.smmu_count. count_smmu_map is nonzero only at frames some
// host-owned context maps at gfn = pfn + SMMU_HOST_OFFSET; those are tallied in one pass.
void smmu_count(const Shared& s, Report& r) {
  const auto& cfg = s.cfg();
  std::unordered_map<std::uint64_t, Z> tally;  // pfn -> count_smmu_map
  bool default_maps = false;                   // a host context maps every gfn it does not store
  for (Z sid = 0; sid < cfg.smmu_ids(); ++sid) {
    if (s.smmu_vmid.get(sid) != k::HOSTVISOR) continue;
    const ZMap<SptEntry> t = spt_at(s, sid / cfg.smmu_ctxt_banks, sid % cfg.smmu_ctxt_banks);
    if (t.default_fn().value.pfn != 0) default_maps = true;
    t.for_each_explicit([&](std::uint64_t gfn, const SptEntry& e) {
      const Z pfn = static_cast<Z>(gfn) - k::SMMU_HOST_OFFSET;
      if (e.pfn != 0 && pfn >= 0) ++tally[static_cast<std::uint64_t>(pfn)];
    });
  }
  std::vector<Report::Hit> hits;
  auto check = [&](std::uint64_t pfn, const S2Page& p) {
    if (p.owner != k::HOSTVISOR) return;
    const Z need = default_maps ? count_smmu_map(static_cast<Z>(pfn), s) : [&] {
      const auto it = tally.find(pfn);
      return it == tally.end() ? Z{0} : it->second;
    }();
    if (p.count < need) {
      hits.push_back(
          {pfn, "pfn " + hex(static_cast<Z>(pfn)),
           "host page count " + num(p.count) + " < " + num(need) + " host SMMU mappings"});
    }
  };
  s.s2page.for_each_explicit(check);
  for (const auto& [pfn, n] : tally) {
    if (s.s2page.entries().find(pfn) == nullptr) check(pfn, s.s2page.default_at(pfn));
  }
  if (default_maps) {
    r.add("smmu_count", "every host page not stored",
          "a host SMMU context maps every gfn it does not store, host pages have count 0");
  }
  r.add_sorted("smmu_count", std::move(hits));
}

}  // namespace

// Coq: SecurityInvs.count_smmu_map
Z count_smmu_map(Z pfn, const Shared& s) {
  const auto& cfg = s.cfg();
  Z n = 0;
  for (Z sid = 0; sid < cfg.smmu_ids(); ++sid) {
    const Z index = sid / cfg.smmu_ctxt_banks;
    const Z cbndx = sid % cfg.smmu_ctxt_banks;
    const Z gfn = pfn + k::SMMU_HOST_OFFSET;
    const SptEntry e = spt_at(s, index, cbndx).get(gfn);
    if (e.pfn != 0 && s.smmu_vmid.get(sid) == k::HOSTVISOR) ++n;
  }
  return n;
}

// Coq: SecurityInvs.shared_inv
std::vector<InvViolation> check_shared_inv(const Shared& s, std::size_t cap) {
  Report r(cap);
  for (auto* clause : {spt_cons, host_npt_cons, host_flatmap, host_s2_map, page_0_invalid, host_iso,
                       vm_iso, smmu_vm, smmu_iso, smmu_count}) {
    if (r.full()) break;
    clause(s, r);
  }
  return r.take();
}

// Coq: SecurityInvs.state_inv, with the configuration's bounds
std::vector<InvViolation> check_state_inv(const model::RData& d, std::size_t cap) {
  std::vector<InvViolation> out = check_shared_inv(d.shared, cap);
  Report r(cap - std::min(cap, out.size()));
  const auto& cfg = d.cfg();
  auto need = [&](bool ok, const char* clause, const char* where, std::string detail) {
    if (!ok) r.add(clause, where, std::move(detail));
  };
  need(0 <= d.curid && d.curid < cfg.total_cpus, "curid_range", "curid",
       "curid " + num(d.curid) + " not in 0.." + num(cfg.total_cpus - 1));
  need(0 <= d.cur_vmid && d.cur_vmid <= cfg.corevisor(), "cur_vmid_range", "cur_vmid",
       "cur_vmid " + num(d.cur_vmid) + " not in 0.." + num(cfg.corevisor()));
  need(cfg.is_vcpu(d.cur_vcpuid), "cur_vcpuid_range", "cur_vcpuid",
       "cur_vcpuid " + num(d.cur_vcpuid) + " not in 0.." + num(cfg.vcpus_per_vm - 1));
  need(!(d.ihost && !d.icore) || d.cur_vmid == k::HOSTVISOR, "valid_host_vmid", "cur_vmid",
       "host running (ihost, !icore) but cur_vmid = " + num(d.cur_vmid));
  need(d.cur_vmid != k::HOSTVISOR || d.cur_vcpuid == d.curid, "valid_host_vcpuid", "cur_vcpuid",
       "cur_vmid = HOST but cur_vcpuid " + num(d.cur_vcpuid) + " != curid " + num(d.curid));
  need(d.cur_vmid != cfg.corevisor() || d.cur_vcpuid == d.curid, "valid_core_vcpuid", "cur_vcpuid",
       "cur_vmid = COREVISOR but cur_vcpuid " + num(d.cur_vcpuid) + " != curid " + num(d.curid));
  need(d.ihost || d.icore || cfg.is_vm(d.cur_vmid), "valid_vm_vmid", "cur_vmid",
       "VM running (!ihost, !icore) but cur_vmid " + num(d.cur_vmid) + " is no VM");
  const Z id = cfg.ctxt_id(d.cur_vmid, d.cur_vcpuid);
  need(d.ctx(id).ctxt_states.dirty != k::INVALID64, "run_vcpu_dirty", "shadow_ctxts",
       "running context " + num(id) + " (vm " + num(d.cur_vmid) + " vcpu " + num(d.cur_vcpuid) +
           ") has dirty = INVALID64");
  for (InvViolation& v : r.take()) out.push_back(std::move(v));
  return out;
}

std::string describe(const std::vector<InvViolation>& violations) {
  std::string out;
  for (const InvViolation& v : violations) {
    out += v.clause + " at " + v.where + ": " + v.detail + "\n";
  }
  return out;
}

}  // namespace hypdiff::oracles
