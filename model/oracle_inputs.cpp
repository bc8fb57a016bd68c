#include "model/oracle_inputs.hpp"

#include <limits>

namespace hypdiff::model {

namespace {

template <class M, class K>
Z lookup(const M& m, const K& key, Z absent) {
  const auto it = m.find(key);
  return it == m.end() ? absent : it->second;
}

// splitmix64's finalizer: a fixed bijection of 64-bit words with good avalanche.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t low_word(Z v) {
  return static_cast<std::uint64_t>(static_cast<unsigned __int128>(v));
}
std::uint64_t high_word(Z v) {
  return static_cast<std::uint64_t>(static_cast<unsigned __int128>(v) >> 64);
}

// The value past the end of a stream. Stable across versions: corpus cases that rely on the
// fallback replay only while this function is unchanged.
Z fallback(std::uint64_t seed, std::uint64_t stream, Z v, Z n) {
  if (seed == 0) return 0;
  std::uint64_t h = mix(seed);
  for (std::uint64_t w : {stream, low_word(v), high_word(v), low_word(n), high_word(n)}) {
    h = mix(h ^ w);
  }
  return static_cast<Z>(h);
}

Z stream_value(const std::map<Z, std::vector<Z>>& streams, std::uint64_t seed, std::uint64_t stream,
               Z v, Z n) {
  const auto it = streams.find(v);
  if (it != streams.end() && n >= 0 && n < static_cast<Z>(it->second.size())) {
    return it->second[static_cast<std::size_t>(n)];
  }
  return fallback(seed, stream, v, n);
}

}  // namespace

Z Params::reg_desc_at(int i) const { return lookup(reg_desc, i, 0); }
Z Params::shared_kvm_at(Z vmid) const { return lookup(shared_kvm, vmid, 0); }
Z Params::shared_vcpu_at(Z vmid, Z vcpuid) const {
  return lookup(shared_vcpu, std::pair<Z, Z>{vmid, vcpuid}, 0);
}
Z Params::verify_img_at(Z vmid) const { return lookup(verify_img, vmid, 1); }

Z OracleInputs::doracle(Z v, Z n) const {
  if (source) return source->data(v, n);
  return stream_value(data, fallback_seed, 0, v, n);
}
Z OracleInputs::core_doracle(Z v, Z n) const {
  if (source) return source->core(v, n);
  return stream_value(core, fallback_seed, 1, v, n);
}

const std::vector<SingleEvent>& OracleInputs::events_at(std::uint64_t log_length) const {
  if (source) return source->events_at(log_length);
  static const std::vector<SingleEvent> kNone;
  const auto it = soracle.find(log_length);
  return it == soracle.end() ? kNone : it->second;
}

std::uint64_t OracleInputs::next_scheduled(std::uint64_t from) const {
  if (source) return source->next_scheduled(from);
  const auto it = soracle.lower_bound(from);
  return it == soracle.end() ? std::numeric_limits<std::uint64_t>::max() : it->first;
}

}  // namespace hypdiff::model
