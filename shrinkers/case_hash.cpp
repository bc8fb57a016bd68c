#include "shrinkers/case_hash.hpp"

#include <variant>

#include "shrinkers/op_fields.hpp"

namespace hypdiff::shrinkers {

namespace {

using model::Z;

struct Hasher {
  std::uint64_t h = 0x243F6A8885A308D3ULL;
  void word(std::uint64_t w) {
    // splitmix64's finalizer over the running state.
    std::uint64_t x = h ^ (w + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    h = x ^ (x >> 31);
  }
  void z(Z v) {
    const auto u = static_cast<unsigned __int128>(v);
    word(static_cast<std::uint64_t>(u));
    word(static_cast<std::uint64_t>(u >> 64));
  }
  void streams(const std::map<Z, std::vector<Z>>& m) {
    word(m.size());
    for (const auto& [k, s] : m) {
      z(k);
      word(s.size());
      for (Z v : s) z(v);
    }
  }
  template <class K>
  void table(const std::map<K, Z>& m) {
    word(m.size());
    for (const auto& [k, v] : m) {
      key(k);
      z(v);
    }
  }
  void key(int k) { word(static_cast<std::uint64_t>(k)); }
  void key(Z k) { z(k); }
  void key(const std::pair<Z, Z>& k) {
    z(k.first);
    z(k.second);
  }
};

}  // namespace

std::uint64_t hash_case(const generators::Case& c) {
  Hasher h;
  h.word(c.ops.size());
  for (const model::Op& op : c.ops) {
    h.word(op.index());
    const int n = field_count(op);
    for (int i = 0; i < n; ++i) h.z(get_field(op, i));
  }
  const model::OracleInputs& o = c.oracle;
  h.streams(o.data);
  h.streams(o.core);
  h.word(o.fallback_seed);
  h.word(o.soracle.size());
  for (const auto& [len, events] : o.soracle) {
    h.word(len);
    h.word(events.size());
    for (const model::SingleEvent& e : events) {
      h.z(e.cpu);
      h.word(static_cast<std::uint64_t>(e.event.kind));
      for (Z a : e.event.args) h.z(a);
    }
  }
  const model::Params& p = o.params;
  h.table(p.reg_desc);
  h.table(p.shared_kvm);
  h.table(p.shared_vcpu);
  h.table(p.verify_img);
  h.word(static_cast<std::uint64_t>(p.decrypt_gp_count));
  h.word(static_cast<std::uint64_t>(p.decrypt_sys_count));
  return h.h;
}

}  // namespace hypdiff::shrinkers
