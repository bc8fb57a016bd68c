// The persistent map under the model's access patterns (model/pmap.hpp). Keys are dense, as the
// model's pfns and gfns are; values are Z (counters, registers) or S2Page (48 bytes).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "model/pmap.hpp"
#include "model/records.hpp"
#include "model/z.hpp"

namespace {

using hypdiff::model::PMap;
using hypdiff::model::S2Page;
using hypdiff::model::Z;

template <class V>
V value_of(std::uint64_t x);
template <>
Z value_of<Z>(std::uint64_t x) {
  return static_cast<Z>(x);
}
template <>
S2Page value_of<S2Page>(std::uint64_t x) {
  return S2Page{static_cast<Z>(x & 7), 1, static_cast<Z>(x >> 3)};
}

// A fixed pseudo-random sequence (splitmix64), the same in every run.
struct Rng {
  std::uint64_t s = 42;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

template <class V>
PMap<V> filled(std::uint64_t n) {
  PMap<V> m;
  for (std::uint64_t k = 0; k < n; ++k) m.assign(k, value_of<V>(k));
  return m;
}

// One checked step as the Runner sees it: keep the state before, four updates, one insert and
// one remove, then a diff and an equality test against the state before; the last eight states
// stay alive, as the generator's history keeps them.
template <class V>
void BM_PMapStep(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  PMap<V> m = filled<V>(n);
  std::vector<PMap<V>> history(8);
  Rng rng;
  std::uint64_t seen = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const PMap<V> before = m;
    for (int w = 0; w < 4; ++w) m.assign(rng.next() % n, value_of<V>(rng.next()));
    m.assign(n + rng.next() % n, value_of<V>(rng.next()));
    m.remove(n + rng.next() % n);
    PMap<V>::diff(before, m, [&](std::uint64_t k, const V*, const V*) { seen += k; });
    seen += before == m ? 1 : 0;
    history[i++ % history.size()] = m;
  }
  benchmark::DoNotOptimize(seen);
}
BENCHMARK(BM_PMapStep<Z>)->Arg(64)->Arg(4096);
BENCHMARK(BM_PMapStep<S2Page>)->Arg(4096);

// A functional write (ZMap::with) into a map others share; the result is dropped.
template <class V>
void BM_PMapSetShared(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  const PMap<V> m = filled<V>(n);
  Rng rng;
  for (auto _ : state) {
    PMap<V> out = m.set(rng.next() % n, value_of<V>(rng.next()));
    benchmark::DoNotOptimize(out.size());
  }
}
BENCHMARK(BM_PMapSetShared<Z>)->Arg(4096);

// A whole import: n keys written into an empty map in place, then the map destroyed.
template <class V>
void BM_PMapBuild(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t round = 0;
  for (auto _ : state) {
    PMap<V> m;
    for (std::uint64_t k = 0; k < n; ++k) m.assign(k * 3 + round, value_of<V>(k));
    benchmark::DoNotOptimize(m.size());
    ++round;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PMapBuild<Z>)->Arg(256);
BENCHMARK(BM_PMapBuild<S2Page>)->Arg(4096);

}  // namespace
