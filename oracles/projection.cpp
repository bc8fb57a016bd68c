#include "oracles/projection.hpp"

#include <algorithm>

namespace hypdiff::oracles {

using model::BootInfo;
using model::Ctxt;
using model::NPT;
using model::PtEntry;
using model::RData;
using model::S2Page;
using model::S2PageDefault;
using model::Shared;
using model::SptEntry;
using model::StateInfo;
using model::ZMap;
namespace k = model::k;

namespace {

// Map traversal is in hash order; Sparse entries are kept in key order.
template <class K, class V>
void sort_by_key(std::vector<std::pair<K, V>>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const std::pair<K, V>& a, const std::pair<K, V>& b) { return a.first < b.first; });
}

// The per-frame observations, from the frame's s2page entry (and flatmem value).
Z owner_obs(Z v, const S2Page& p) {
  if (v == k::HOSTVISOR) return p.owner;
  return p.owner == v ? 1 : 0;
}
Z count_obs(Z v, const S2Page& p) {
  if (p.owner == k::INVALID) return -1;
  return p.owner == v ? p.count : 0;
}
Z gfn_obs(Z v, const S2Page& p) {
  if (v == k::HOSTVISOR) return p.gfn;
  return p.owner == v ? p.gfn : 0;
}
Z mem_obs(Z v, const S2Page& p, Z mem) { return p.owner == v ? mem : 0; }

// The entry of m at k, without copying when it is stored; `tmp` holds a default otherwise.
template <class T, class D>
const T& ref_at(const ZMap<T, D>& m, Z key, T& tmp) {
  if (ZMap<T, D>::in_range(key)) {
    if (const T* p = m.entries().find(static_cast<std::uint64_t>(key))) return *p;
  }
  tmp = m.get(key);
  return tmp;
}

void check_principal(Z v) {
  if (v < 0 || v >= model::pow2(64)) {
    throw model::ModelBug("projection: principal out of range: " + model::to_dec(v));
  }
}

// ---- reuse across projections -----------------------------------------------------------------
//
// Maps are immutable and shared between successive states, so a view computed from some maps is
// valid for any state holding the very same maps (shares_root). Each view keeps the inputs and
// results of its last few computations per thread; a new state is served from an identical
// input, else patched from the most recent compatible one at the keys PMap::diff reports (which
// skips shared subtrees), else computed from scratch.

template <class T, class D>
bool same_map(const ZMap<T, D>& a, const ZMap<T, D>& b) {
  return a.entries().shares_root(b.entries()) && a.default_fn() == b.default_fn();
}

// Per principal, the inputs (In, with a member v) and results of the last few computations.
template <class In, class Out>
class Memo {
 public:
  struct Slot {
    In in;
    Out out;
  };
  static constexpr std::size_t kSlots = 4;        // per principal
  static constexpr std::size_t kPrincipals = 64;  // beyond this, the least recent goes

  // The result for v's inputs that `same` accepts (made the most recent), or null.
  template <class Same>
  const Out* find(Z v, Same&& same) {
    std::vector<Slot>& slots = bucket(v);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (same(slots[i].in)) {
        std::rotate(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i),
                    slots.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        return &slots.front().out;
      }
    }
    return nullptr;
  }
  // v's most recent slot `near` accepts, or null. Invalidated by put().
  template <class Near>
  const Slot* nearest(Z v, Near&& near) {
    for (const Slot& s : bucket(v)) {
      if (near(s.in)) return &s;
    }
    return nullptr;
  }
  void put(In in, Out out) {
    std::vector<Slot>& slots = bucket(in.v);
    slots.insert(slots.begin(), Slot{std::move(in), std::move(out)});
    if (slots.size() > kSlots) slots.pop_back();
  }

 private:
  struct Bucket {
    Z v;
    std::vector<Slot> slots;
  };
  // The bucket of v, moved to the front (most recent principal first).
  std::vector<Slot>& bucket(Z v) {
    auto it =
        std::find_if(buckets_.begin(), buckets_.end(), [&](const Bucket& b) { return b.v == v; });
    if (it == buckets_.end()) {
      buckets_.insert(buckets_.begin(), Bucket{v, {}});
      if (buckets_.size() > kPrincipals) buckets_.pop_back();
    } else {
      std::rotate(buckets_.begin(), it, it + 1);
    }
    return buckets_.front().slots;
  }
  std::vector<Bucket> buckets_;
};

// Thrown out of a PMap::diff callback to stop a diff that has found too many keys.
struct TooManyChanges {};

// Keys whose bindings differ between a and b, appended to `out`; false (with `out` partly
// filled) once `out` would exceed `limit`, which bounds the work spent on unrelated maps.
template <class T, class D>
bool changed_keys(const ZMap<T, D>& a, const ZMap<T, D>& b, std::vector<std::uint64_t>& out,
                  std::size_t limit) {
  try {
    model::PMap<T>::diff(a.entries(), b.entries(), [&](std::uint64_t key, const T*, const T*) {
      if (out.size() >= limit) throw TooManyChanges{};
      out.push_back(key);
    });
  } catch (const TooManyChanges&) {
    return false;
  }
  return true;
}

void sort_unique(std::vector<std::uint64_t>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

// Patching pays off while few keys changed.
std::size_t patch_limit(std::size_t size) { return 64 + size / 4; }

// `old` with the observations at `keys` (sorted, unique) replaced by `now` (one per key).
// Returns `old` itself, sharing its entries, when no observation changed.
template <class K, class V, class B>
Sparse<K, V, B> patch(const Sparse<K, V, B>& old, const std::vector<std::uint64_t>& keys,
                      const std::vector<V>& now) {
  using Entries = typename Sparse<K, V, B>::Entries;
  std::vector<std::size_t> moved;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!(now[i] == old.at(K{keys[i]}))) moved.push_back(i);
  }
  if (moved.empty()) return old;
  const Entries& es = old.entries();
  Entries out;
  out.reserve(es.size() + moved.size());
  auto it = es.begin();
  for (std::size_t i : moved) {
    const K key{keys[i]};
    auto next =
        std::lower_bound(it, es.end(), key, [](const auto& e, const K& x) { return e.first < x; });
    out.insert(out.end(), it, next);
    it = next;
    if (it != es.end() && it->first == key) ++it;
    if (!(now[i] == old.base(key))) out.push_back({key, now[i]});
  }
  out.insert(out.end(), it, es.end());
  return Sparse<K, V, B>(old.base, std::move(out));
}

// ---- the views ----------------------------------------------------------------------------------

// observe_npt of every gfn
struct NptIn {
  Z v;
  ZMap<PtEntry> pt;
  ZMap<S2Page, S2PageDefault> s2page;  // read by the host's observation only
};

// `owners` is the host's owner view (= s2page[pfn].owner at every pfn): a binary search in it
// touches less memory than a walk down the s2page trie.
Z npt_obs(Z v, const PageObs& owners, Z pfn) {
  if (v != k::HOSTVISOR) return pfn;
  if (pfn < 0 || pfn >= model::pow2(64)) {  // s2page reads such keys as its default at 0
    return owners.base(Pfn{0}) == k::HOSTVISOR ? pfn : 0;
  }
  return owners.at(Pfn{static_cast<std::uint64_t>(pfn)}) == k::HOSTVISOR ? pfn : 0;
}

ZObs npt_full(const PageObs& owners, Z v, const ZMap<PtEntry>& pt) {
  const Z base = npt_obs(v, owners, pt.default_fn().value.pfn);
  // Collected as (gfn, pfn) and sorted first: the host maps gfn = pfn, so its owner lookups then
  // walk forward through the owner view instead of searching it.
  ZObs::Entries entries;
  entries.reserve(pt.explicit_size());
  pt.for_each_explicit([&](std::uint64_t gfn, const PtEntry& e) {
    entries.push_back({Gfn{gfn}, e.pfn});
  });
  sort_by_key(entries);
  const auto& own = owners.entries();
  auto cursor = own.begin();
  std::size_t kept = 0;
  for (auto& [gfn, pfn] : entries) {
    Z o = pfn;
    if (v == k::HOSTVISOR) {
      if (pfn < 0 || pfn >= model::pow2(64)) {
        o = npt_obs(v, owners, pfn);
      } else {
        const Pfn key{static_cast<std::uint64_t>(pfn)};
        auto less = [](const auto& e, const Pfn& x) { return e.first < x; };
        if (cursor != own.begin() && key < std::prev(cursor)->first) {
          cursor = std::lower_bound(own.begin(), cursor, key, less);
        }
        for (int step = 0; step < 8 && cursor != own.end() && cursor->first < key; ++step) ++cursor;
        if (cursor != own.end() && cursor->first < key) {
          cursor = std::lower_bound(cursor, own.end(), key, less);
        }
        const Z owner =
            cursor != own.end() && cursor->first == key ? cursor->second : owners.base(key);
        o = owner == k::HOSTVISOR ? pfn : 0;
      }
    }
    if (o != base) entries[kept++] = {gfn, o};
  }
  entries.resize(kept);
  return ZObs(ConstBase<Z>{base}, std::move(entries));
}

// Frames whose owner-is-HOST status differs between two s2page maps (they change the host's
// observation of every gfn mapped to them).
bool host_status_changes(const ZMap<S2Page, S2PageDefault>& a, const ZMap<S2Page, S2PageDefault>& b,
                         std::vector<Z>& pfns, std::size_t limit) {
  try {
    model::PMap<S2Page>::diff(a.entries(), b.entries(),
                              [&](std::uint64_t key, const S2Page* pa, const S2Page* pb) {
                                const Z oa = pa ? pa->owner : a.default_at(key).owner;
                                const Z ob = pb ? pb->owner : b.default_at(key).owner;
                                if ((oa == k::HOSTVISOR) == (ob == k::HOSTVISOR)) return;
                                if (pfns.size() >= limit) throw TooManyChanges{};
                                pfns.push_back(static_cast<Z>(key));
                              });
  } catch (const TooManyChanges&) {
    return false;
  }
  std::sort(pfns.begin(), pfns.end());
  return true;
}

ZObs npt_view(const Shared& s, Z v, const PageObs& owners) {
  thread_local Memo<NptIn, ZObs> memo;
  NPT tmp;
  const ZMap<PtEntry>& pt = ref_at(s.npts, v, tmp).pt;
  const bool host = v == k::HOSTVISOR;
  if (const ZObs* hit = memo.find(v, [&](const NptIn& in) {
        return in.v == v && same_map(in.pt, pt) && (!host || same_map(in.s2page, s.s2page));
      })) {
    return *hit;
  }
  ZObs out;
  bool done = false;
  if (const auto* near = memo.nearest(v, [&](const NptIn& in) {
        return in.v == v && in.pt.default_fn() == pt.default_fn() &&
               (!host || in.s2page.default_fn() == s.s2page.default_fn());
      })) {
    const ZObs& old = near->out;
    const std::size_t limit = patch_limit(old.size());
    std::vector<std::uint64_t> keys;
    bool ok = npt_obs(v, owners, pt.default_fn().value.pfn) == old.base.value &&
              changed_keys(near->in.pt, pt, keys, limit);
    if (ok && host && !same_map(near->in.s2page, s.s2page)) {
      std::vector<Z> pfns;
      ok = host_status_changes(near->in.s2page, s.s2page, pfns, limit);
      if (ok && !pfns.empty()) {
        pt.for_each_explicit([&](std::uint64_t gfn, const PtEntry& e) {
          if (std::binary_search(pfns.begin(), pfns.end(), e.pfn)) keys.push_back(gfn);
        });
        ok = keys.size() <= limit;
      }
    }
    if (ok) {
      sort_unique(keys);
      std::vector<Z> now;
      now.reserve(keys.size());
      for (std::uint64_t g : keys) now.push_back(npt_obs(v, owners, pt.get(static_cast<Z>(g)).pfn));
      out = patch(old, keys, now);
      done = true;
    }
  }
  if (!done) out = npt_full(owners, v, pt);
  memo.put(NptIn{v, pt, host ? s.s2page : ZMap<S2Page, S2PageDefault>{}}, out);
  return out;
}

// observe_owner / count / gfn / flatmem of every pfn
struct PageIn {
  Z v;
  ZMap<S2Page, S2PageDefault> s2page;
  ZMap<Z> flatmem;
};
struct PageViews {
  PageObs owner, count, gfn, flatmem;
};

PageBase page_base(const Shared& s, Z v, PageField field) {
  const S2PageDefault d2 = s.s2page.default_fn();
  return PageBase{d2.ram_base_pfn, d2.ram_pages, s.flatmem.default_fn().value, v, field};
}

PageViews pages_full(const Shared& s, Z v) {
  const S2PageDefault d2 = s.s2page.default_fn();
  const Z flat0 = s.flatmem.default_fn().value;
  PageObs::Entries owner, count, gfn, flatmem;
  auto visit = [&](std::uint64_t key, const S2Page& p, Z mem) {
    const S2Page dp = d2(key);
    const Pfn pfn{key};
    if (Z o = owner_obs(v, p); o != owner_obs(v, dp)) owner.push_back({pfn, o});
    if (Z o = count_obs(v, p); o != count_obs(v, dp)) count.push_back({pfn, o});
    if (Z o = gfn_obs(v, p); o != gfn_obs(v, dp)) gfn.push_back({pfn, o});
    if (Z o = mem_obs(v, p, mem); o != mem_obs(v, dp, flat0)) flatmem.push_back({pfn, o});
  };
  const auto& flat = s.flatmem.entries();
  s.s2page.for_each_explicit([&](std::uint64_t key, const S2Page& p) {
    // Only the frames v owns show their contents; skip the lookup for the others.
    Z mem = flat0;
    if (p.owner == v) {
      if (const Z* m = flat.find(key)) mem = *m;
    }
    visit(key, p, mem);
  });
  const auto& pages = s.s2page.entries();
  s.flatmem.for_each_explicit([&](std::uint64_t key, Z mem) {
    // A frame with a default s2page entry that v does not own shows nothing of its contents;
    // a frame with an explicit entry was visited above.
    if (d2(key).owner != v || pages.find(key) != nullptr) return;
    visit(key, d2(key), mem);
  });
  for (auto* e : {&owner, &count, &gfn, &flatmem}) sort_by_key(*e);
  return PageViews{PageObs(page_base(s, v, PageField::owner), std::move(owner)),
                   PageObs(page_base(s, v, PageField::count), std::move(count)),
                   PageObs(page_base(s, v, PageField::gfn), std::move(gfn)),
                   PageObs(page_base(s, v, PageField::flatmem), std::move(flatmem))};
}

PageViews page_views(const Shared& s, Z v) {
  thread_local Memo<PageIn, PageViews> memo;
  if (const PageViews* hit = memo.find(v, [&](const PageIn& in) {
        return in.v == v && same_map(in.s2page, s.s2page) && same_map(in.flatmem, s.flatmem);
      })) {
    return *hit;
  }
  PageViews out;
  bool done = false;
  if (const auto* near = memo.nearest(v, [&](const PageIn& in) {
        return in.v == v && in.s2page.default_fn() == s.s2page.default_fn() &&
               in.flatmem.default_fn() == s.flatmem.default_fn();
      })) {
    const std::size_t limit = patch_limit(near->out.owner.size() + near->out.flatmem.size());
    std::vector<std::uint64_t> keys;
    if (changed_keys(near->in.s2page, s.s2page, keys, limit) &&
        changed_keys(near->in.flatmem, s.flatmem, keys, limit)) {
      sort_unique(keys);
      std::vector<Z> owner, count, gfn, flatmem;
      for (auto* e : {&owner, &count, &gfn, &flatmem}) e->reserve(keys.size());
      for (std::uint64_t key : keys) {
        const S2Page p = s.s2page.get(static_cast<Z>(key));
        owner.push_back(owner_obs(v, p));
        count.push_back(count_obs(v, p));
        gfn.push_back(gfn_obs(v, p));
        flatmem.push_back(mem_obs(v, p, p.owner == v ? s.flatmem.get(static_cast<Z>(key)) : 0));
      }
      out.owner = patch(near->out.owner, keys, owner);
      out.count = patch(near->out.count, keys, count);
      out.gfn = patch(near->out.gfn, keys, gfn);
      out.flatmem = patch(near->out.flatmem, keys, flatmem);
      done = true;
    }
  }
  if (!done) out = pages_full(s, v);
  memo.put(PageIn{v, s.s2page, s.flatmem}, out);
  return out;
}

SmmuObs smmu_view(const Shared& s, Z v) {
  const auto& cfg = s.cfg();
  auto obs = [&](Z owner) -> Z {
    if (v == k::HOSTVISOR) return owner;
    return owner == v ? 1 : 0;
  };
  const Z base = obs(s.smmu_vmid.default_fn().value);
  SmmuObs::Entries entries;
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const Z o = obs(s.smmu_vmid.get(cfg.smmu_id(idx, cb)));
      if (o != base) {
        entries.push_back(
            {SmmuCtx{static_cast<std::uint32_t>(idx), static_cast<std::uint32_t>(cb)}, o});
      }
    }
  }
  return SmmuObs(ConstBase<Z>{base}, std::move(entries));
}

// observe_spt of every valid context and gfn
struct SptIn {
  Z v;
  ZMap<ZMap<SptEntry>> spt_pt;
  ZMap<Z> smmu_vmid;
  model::EnvPtr env;
};

SptObs spt_full(const Shared& s, Z v) {
  const auto& cfg = s.cfg();
  SptBase base;
  SptObs::Entries entries;
  const SptEntry zero{0, 0};
  for (Z idx = 0; idx < cfg.smmu_num(); ++idx) {
    for (Z cb = 0; cb < cfg.smmu_ctxt_banks; ++cb) {
      const Z owner = s.smmu_vmid.get(cfg.smmu_id(idx, cb));
      if (v != k::HOSTVISOR && owner != v) continue;  // observes (0,0) at every gfn
      const SmmuCtx ctx{static_cast<std::uint32_t>(idx), static_cast<std::uint32_t>(cb)};
      ZMap<SptEntry> tmp;
      const ZMap<SptEntry>& table = ref_at(s.spts.spt_pt, cfg.smmu_ttbr(idx, cb), tmp);
      const SptEntry rest = table.default_fn().value;
      if (!(rest == zero)) base.rests.push_back({ctx, rest});
      const std::size_t first = entries.size();
      table.for_each_explicit([&](std::uint64_t gfn, const SptEntry& e) {
        if (!(e == rest)) entries.push_back({SptKey{ctx, gfn}, e});
      });
      std::sort(entries.begin() + static_cast<std::ptrdiff_t>(first), entries.end(),
                [](const auto& a, const auto& b) { return a.first.gfn < b.first.gfn; });
    }
  }
  return SptObs(std::move(base), std::move(entries));
}

SptObs spt_view(const Shared& s, Z v) {
  thread_local Memo<SptIn, SptObs> memo;
  if (const SptObs* hit = memo.find(v, [&](const SptIn& in) {
        return in.v == v && same_map(in.spt_pt, s.spts.spt_pt) &&
               same_map(in.smmu_vmid, s.smmu_vmid) &&
               (in.env == s.env || in.env->cfg == s.env->cfg);
      })) {
    return *hit;
  }
  SptObs out = spt_full(s, v);
  memo.put(SptIn{v, s.spts.spt_pt, s.smmu_vmid, s.env}, out);
  return out;
}

// observe_boot_info / observe_state_info of every v0
struct InfoIn {
  Z v;
  ZMap<model::VMInfo> vminfos;
};
struct InfoViews {
  BootObs boot;
  StateObs state;
};

InfoViews info_full(const Shared& s, Z v) {
  InfoViews out;
  if (v == k::HOSTVISOR) {
    const BootInfo base = s.vminfos.default_fn().value.VB;
    BootObs::Entries entries;
    s.vminfos.for_each_explicit([&](std::uint64_t v0, const model::VMInfo& info) {
      if (!(info.VB == base)) entries.push_back({Vm{v0}, info.VB});
    });
    sort_by_key(entries);
    out.boot = BootObs(ConstBase<BootInfo>{base}, std::move(entries));
    // The host observes no StateInfo: the view stays empty.
  } else {
    // A VM observes one key; storing it always keeps the view independent of the default.
    const model::VMInfo info = s.vminfos.get(v);
    const Vm key{static_cast<std::uint64_t>(v)};
    out.boot = BootObs(ConstBase<BootInfo>{}, BootObs::Entries{{key, info.VB}});
    out.state = StateObs(ConstBase<StateInfo>{}, StateObs::Entries{{key, info.VS}});
  }
  return out;
}

InfoViews info_views(const Shared& s, Z v) {
  thread_local Memo<InfoIn, InfoViews> memo;
  if (const InfoViews* hit = memo.find(v, [&](const InfoIn& in) {
        return in.v == v && in.vminfos.entries().shares_root(s.vminfos.entries()) &&
               in.vminfos.default_fn() == s.vminfos.default_fn();
      })) {
    return *hit;
  }
  InfoViews out = info_full(s, v);
  memo.put(InfoIn{v, s.vminfos}, out);
  return out;
}

}  // namespace

// ---- observation functions --------------------------------------------------------------------

// Coq: SecurityDef.observe_npt
Z observe_npt(Z v, Z gfn, const Shared& s) {
  const Z pfn = s.npts.get(v).pt.get(gfn).pfn;
  if (v == k::HOSTVISOR) return s.s2page.get(pfn).owner == k::HOSTVISOR ? pfn : 0;
  return pfn;
}

// Coq: SecurityDef.observe_owner
Z observe_owner(Z v, Z pfn, const Shared& s) { return owner_obs(v, s.s2page.get(pfn)); }

// Coq: SecurityDef.observe_count
Z observe_count(Z v, Z pfn, const Shared& s) { return count_obs(v, s.s2page.get(pfn)); }

// Coq: SecurityDef.observe_gfn
Z observe_gfn(Z v, Z pfn, const Shared& s) { return gfn_obs(v, s.s2page.get(pfn)); }

// Coq: SecurityDef.observe_flatmem
Z observe_flatmem(Z v, Z pfn, const Shared& s) {
  return mem_obs(v, s.s2page.get(pfn), s.flatmem.get(pfn));
}

// Coq: SecurityDef.observe_smmu
Z observe_smmu(Z v, Z cbndx, Z index, const Shared& s) {
  const Z owner = s.smmu_vmid.get(s.cfg().smmu_id(index, cbndx));
  if (v == k::HOSTVISOR) return owner;
  return v == owner ? 1 : 0;
}

// Coq: SecurityDef.observe_spt
SptEntry observe_spt(Z v, Z cbndx, Z index, Z gfn, const Shared& s) {
  const Z owner = s.smmu_vmid.get(s.cfg().smmu_id(index, cbndx));
  const SptEntry e = s.spts.spt_pt.get(s.cfg().smmu_ttbr(index, cbndx)).get(gfn);
  if (v == k::HOSTVISOR || v == owner) return e;
  return SptEntry{0, 0};
}

// Coq: SecurityDef.observe_boot_info
std::optional<BootInfo> observe_boot_info(Z v, Z v0, const Shared& s) {
  if (v == k::HOSTVISOR || v == v0) return s.vminfos.get(v0).VB;
  return std::nullopt;
}

// Coq: SecurityDef.observe_state_info
std::optional<StateInfo> observe_state_info(Z v, Z v0, const Shared& s) {
  if (v == k::HOSTVISOR) return std::nullopt;
  if (v == v0) return s.vminfos.get(v0).VS;
  return std::nullopt;
}

// Coq: SecurityDef.observe_core_data
std::optional<model::CoreData> observe_core_data(Z v, const Shared& s) {
  if (v == k::HOSTVISOR) return s.core_data;
  return std::nullopt;
}

// Coq: SecurityDef.observe_reg
std::optional<model::CtxtRegs> observe_reg(Z v, const RData& d) {
  if (d.cur_vmid == v && !d.icore) return d.regs.ctxt_regs;
  return std::nullopt;
}

// Coq: SecurityDef.observe_shadow_ctxt
Ctxt observe_shadow_ctxt(Z v, Z vcpuid, const RData& d) {
  return d.ctx(d.cfg().ctxt_id(v, vcpuid));
}

// Coq: SecurityDef.observe_dirty
bool observe_dirty(Z v, Z v0, Z vcpuid0, const RData& d) {
  if (v == k::HOSTVISOR)
    return d.ctx(d.cfg().ctxt_id(v0, vcpuid0)).ctxt_states.dirty == k::INVALID64;
  return true;
}

// Coq: SecurityDef.observe_cur_vcpuid
Z observe_cur_vcpuid(Z v, const RData& d) { return v == d.cur_vmid ? d.cur_vcpuid : -1; }

// Coq: SecurityDef.observe_data_log
Z observe_data_log(Z v, const RData& d) { return d.data_log.get(v); }

// Coq: SecurityDef.observe_core_data_log
std::optional<Z> observe_core_data_log(Z v, Z v0, const RData& d) {
  if (v == k::HOSTVISOR || v == v0) return d.core_data_log.get(v0);
  return std::nullopt;
}

// ---- keys and bases ---------------------------------------------------------------------------

void Gfn::print_label(std::string& out) const {
  out += "gfn ";
  print_hex(out, static_cast<Z>(v));
}
void Pfn::print_label(std::string& out) const {
  out += "pfn ";
  print_hex(out, static_cast<Z>(v));
}
void Vm::print_label(std::string& out) const {
  out += "vm ";
  print_z(out, static_cast<Z>(v));
}
void SmmuCtx::print_label(std::string& out) const {
  out += "smmu ";
  print_dec(out, index);
  out += " cb ";
  print_dec(out, cbndx);
}
void SptKey::print_label(std::string& out) const {
  ctx.print_label(out);
  out += " gfn ";
  print_hex(out, static_cast<Z>(gfn));
}
void VmVcpu::print_label(std::string& out) const {
  out += "vm ";
  print_z(out, static_cast<Z>(vm));
  out += " vcpu ";
  print_z(out, static_cast<Z>(vcpu));
}

Z PageBase::operator()(const Pfn& key) const {
  const S2Page p = S2PageDefault{ram_base_pfn, ram_pages}(key.v);
  switch (field) {
    case PageField::owner:
      return owner_obs(observer, p);
    case PageField::count:
      return count_obs(observer, p);
    case PageField::gfn:
      return gfn_obs(observer, p);
    case PageField::flatmem:
      return mem_obs(observer, p, flat_default);
  }
  return 0;
}

SptEntry SptBase::operator()(const SptKey& key) const {
  for (const auto& [ctx, rest] : rests) {
    if (ctx == key.ctx) return rest;
  }
  return SptEntry{0, 0};
}

// ---- oracle view ------------------------------------------------------------------------------

namespace {

const model::OracleInputs& inputs_of(const model::OraclePtr& p) {
  static const model::OracleInputs empty;
  return p ? *p : empty;
}

using Streams = std::map<Z, std::vector<Z>>;
using StreamFn = Z (model::OracleInputs::*)(Z, Z) const;

// Whether two stream families agree at every (v, n); past both ends each gives the fallback of
// its (equal) seed.
bool streams_agree(const model::OracleInputs& a, const model::OracleInputs& b, const Streams& sa,
                   const Streams& sb, StreamFn fn) {
  auto check = [&](Z v) {
    const auto ia = sa.find(v);
    const auto ib = sb.find(v);
    const std::size_t na = ia == sa.end() ? 0 : ia->second.size();
    const std::size_t nb = ib == sb.end() ? 0 : ib->second.size();
    for (std::size_t n = 0; n < std::max(na, nb); ++n) {
      if ((a.*fn)(v, static_cast<Z>(n)) != (b.*fn)(v, static_cast<Z>(n))) return false;
    }
    return true;
  };
  for (const auto& [v, s] : sa) {
    if (!check(v)) return false;
  }
  for (const auto& [v, s] : sb) {
    if (sa.find(v) == sa.end() && !check(v)) return false;
  }
  return true;
}

// Hash of the function a stream family denotes: trailing values equal to the fallback are
// dropped, so equal functions hash equally whatever their stored lengths.
std::size_t streams_hash(const model::OracleInputs& in, const Streams& streams, StreamFn fn) {
  model::OracleInputs probe;  // empty streams: gives the fallback at every (v, n)
  probe.fallback_seed = in.fallback_seed;
  std::size_t h = 0;
  for (const auto& [v, s] : streams) {
    std::size_t len = s.size();
    while (len > 0 && s[len - 1] == (probe.*fn)(v, static_cast<Z>(len - 1))) --len;
    if (len == 0) continue;
    h = detail::combine(h, hash_value(v));
    for (std::size_t n = 0; n < len; ++n) h = detail::combine(h, hash_value(s[n]));
  }
  return h;
}

}  // namespace

bool OracleView::reflect_equal(const OracleView& o) const {
  if (p == o.p) return true;
  const model::OracleInputs& a = inputs_of(p);
  const model::OracleInputs& b = inputs_of(o.p);
  if (a.fallback_seed != b.fallback_seed) return false;
  return streams_agree(a, b, a.data, b.data, &model::OracleInputs::doracle) &&
         streams_agree(a, b, a.core, b.core, &model::OracleInputs::core_doracle);
}

std::size_t OracleView::reflect_hash() const {
  const model::OracleInputs& in = inputs_of(p);
  return detail::combine(detail::combine(detail::mix(in.fallback_seed),
                                         streams_hash(in, in.data, &model::OracleInputs::doracle)),
                         streams_hash(in, in.core, &model::OracleInputs::core_doracle));
}

void OracleView::reflect_print(std::string& out) const {
  const model::OracleInputs& in = inputs_of(p);
  out += "oracle#";
  append_unsigned(out, reflect_hash() & 0xffffffffU, 16);
  out += " (" + std::to_string(in.data.size()) + " data, " + std::to_string(in.core.size()) +
         " core streams, fallback seed " + std::to_string(in.fallback_seed) + ")";
}

// ---- projections ------------------------------------------------------------------------------

SharedView project_shared(const Shared& s, Z v) {
  check_principal(v);
  SharedView out;
  PageViews pages = page_views(s, v);
  // The host's npt observation reads its owner view; VMs' reads only their table.
  out.npt = npt_view(s, v, pages.owner);
  out.owner = std::move(pages.owner);
  out.count = std::move(pages.count);
  out.gfn = std::move(pages.gfn);
  out.flatmem = std::move(pages.flatmem);
  out.smmu = smmu_view(s, v);
  out.spt = spt_view(s, v);
  InfoViews infos = info_views(s, v);
  out.boot_info = std::move(infos.boot);
  out.state_info = std::move(infos.state);
  out.core_data = observe_core_data(v, s);
  return out;
}

Projection project(const RData& d, Z v) {
  check_principal(v);
  const auto& cfg = d.cfg();
  Projection out;
  out.observer = v;
  out.shared = project_shared(d.shared, v);
  out.reg = observe_reg(v, d);
  out.shadow_ctxt.reserve(static_cast<std::size_t>(cfg.vcpus_per_vm));
  for (Z c = 0; c < cfg.vcpus_per_vm; ++c) {
    out.shadow_ctxt.push_back(d.shadow_ctxts.get(cfg.ctxt_id(v, c)));
  }
  if (v == k::HOSTVISOR) {
    const bool base = d.shadow_ctxts.default_fn().value->ctxt_states.dirty == k::INVALID64;
    const auto per_vm = static_cast<std::uint64_t>(cfg.vcpus_per_vm);
    DirtyObs::Entries entries;
    d.shadow_ctxts.for_each_explicit([&](std::uint64_t id, const model::Box<Ctxt>& c) {
      const std::uint64_t v0 = id / per_vm;
      if (!cfg.is_vm(static_cast<Z>(v0))) return;
      const bool o = c->ctxt_states.dirty == k::INVALID64;
      if (o != base) entries.push_back({VmVcpu{v0, id % per_vm}, o});
    });
    sort_by_key(entries);
    out.dirty = DirtyObs(ConstBase<bool>{base}, std::move(entries));
  } else {
    out.dirty.base.value = true;  // observe_dirty is constant for VMs
  }
  out.curid = d.curid;
  out.cur_vcpuid = observe_cur_vcpuid(v, d);
  out.data_log = observe_data_log(v, d);
  if (v == k::HOSTVISOR) {
    const Z base = d.core_data_log.default_fn().value;
    CoreLogObs::Entries entries;
    d.core_data_log.for_each_explicit([&](std::uint64_t v0, Z n) {
      if (n != base) entries.push_back({Vm{v0}, n});
    });
    sort_by_key(entries);
    out.core_data_log = CoreLogObs(ConstBase<Z>{base}, std::move(entries));
  } else {
    out.core_data_log = CoreLogObs(
        ConstBase<Z>{},
        CoreLogObs::Entries{{Vm{static_cast<std::uint64_t>(v)}, d.core_data_log.get(v)}});
  }
  out.oracle.p = d.oracle;
  out.smmu_conf = d.smmu_conf;
  return out;
}

bool shared_eq(Z v, const Shared& s1, const Shared& s2) {
  return project_shared(s1, v) == project_shared(s2, v);
}

bool obs_eq(Z v, const RData& d1, const RData& d2) { return project(d1, v) == project(d2, v); }

namespace {

// Only the translations of the stage-2 tables are observed, not their pool counters or
// table-allocation flags (which a target library does not export).
bool same_translations(const Shared& a, const Shared& b) {
  if (a.npts == b.npts) return true;
  for (Z v = 0; v <= a.cfg().corevisor(); ++v) {
    if (!(a.npts.get(v).pt == b.npts.get(v).pt)) return false;
  }
  bool same = true;
  const auto beyond = [&](const model::ZMap<model::NPT>& x, const model::ZMap<model::NPT>& y) {
    x.for_each_explicit([&](std::uint64_t v, const model::NPT& n) {
      if (static_cast<Z>(v) > a.cfg().corevisor() && !(n.pt == y.get(static_cast<Z>(v)).pt))
        same = false;
    });
  };
  beyond(a.npts, b.npts);
  beyond(b.npts, a.npts);
  return same;
}

}  // namespace

bool same_observables(const RData& d1, const RData& d2) {
  const Shared& a = d1.shared;
  const Shared& b = d2.shared;
  return d1.halt == d2.halt && d1.icore == d2.icore && d1.ihost == d2.ihost &&
         d1.curid == d2.curid && d1.cur_vmid == d2.cur_vmid && d1.cur_vcpuid == d2.cur_vcpuid &&
         model::same_oracles(d1.oracle, d2.oracle) && a.cfg() == b.cfg() && d1.regs == d2.regs &&
         d1.smmu_conf == d2.smmu_conf && d1.data_log == d2.data_log &&
         d1.core_data_log == d2.core_data_log && a.core_data == b.core_data &&
         a.flatmem == b.flatmem && a.s2page == b.s2page && a.smmu_vmid == b.smmu_vmid &&
         a.vminfos == b.vminfos && a.spts.spt_pt == b.spts.spt_pt &&
         d1.shadow_ctxts == d2.shadow_ctxts && same_translations(a, b);
}

namespace {

// Whether every key bound differently in r0 and r, or in t0 and t, is bound alike in r and t.
template <class M>
bool same_since(const M& r0, const M& r, const M& t0, const M& t) {
  bool same = true;
  const auto check = [&](std::uint64_t k) {
    if (same && !(r.get(static_cast<Z>(k)) == t.get(static_cast<Z>(k)))) same = false;
  };
  M::diff_keys(r0, r, check);
  if (same) M::diff_keys(t0, t, check);
  return same;
}

}  // namespace

bool same_observables_since(const RData& r0, const RData& r, const RData& t0, const RData& t) {
  const Shared& a = r.shared;
  const Shared& b = t.shared;
  if (!(r.halt == t.halt && r.icore == t.icore && r.ihost == t.ihost && r.curid == t.curid &&
        r.cur_vmid == t.cur_vmid && r.cur_vcpuid == t.cur_vcpuid &&
        model::same_oracles(r.oracle, t.oracle) && a.cfg() == b.cfg() && r.regs == t.regs &&
        r.smmu_conf == t.smmu_conf && a.core_data == b.core_data))
    return false;
  const Shared& a0 = r0.shared;
  const Shared& b0 = t0.shared;
  if (!(same_since(r0.data_log, r.data_log, t0.data_log, t.data_log) &&
        same_since(r0.core_data_log, r.core_data_log, t0.core_data_log, t.core_data_log) &&
        same_since(a0.flatmem, a.flatmem, b0.flatmem, b.flatmem) &&
        same_since(a0.s2page, a.s2page, b0.s2page, b.s2page) &&
        same_since(a0.smmu_vmid, a.smmu_vmid, b0.smmu_vmid, b.smmu_vmid) &&
        same_since(a0.vminfos, a.vminfos, b0.vminfos, b.vminfos) &&
        same_since(a0.spts.spt_pt, a.spts.spt_pt, b0.spts.spt_pt, b.spts.spt_pt) &&
        same_since(r0.shadow_ctxts, r.shadow_ctxts, t0.shadow_ctxts, t.shadow_ctxts)))
    return false;
  // Stage-2 tables: only the translations, table by table, of the principals whose table
  // record changed on either side.
  bool same = true;
  const auto table = [&](std::uint64_t v) {
    const Z k = static_cast<Z>(v);
    if (same &&
        !same_since(a0.npts.get(k).pt, a.npts.get(k).pt, b0.npts.get(k).pt, b.npts.get(k).pt))
      same = false;
  };
  model::ZMap<model::NPT>::diff_keys(a0.npts, a.npts, table);
  if (same) model::ZMap<model::NPT>::diff_keys(b0.npts, b.npts, table);
  return same;
}

std::string principal_name(Z v, const model::MachineConfig* cfg) {
  if (v == k::HOSTVISOR) return "host";
  if (cfg == nullptr ? v > 0 : cfg->is_vm(v)) return "VM " + model::to_dec(v);
  return "principal " + model::to_dec(v);
}

}  // namespace hypdiff::oracles
