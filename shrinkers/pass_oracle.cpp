// Pass 5: simplify the oracle answers. Past the end of a stream the fallback answers (0 once
// fallback_seed is 0), so shorter streams and zeros are the simple answers.
#include <algorithm>
#include <vector>

#include "shrinkers/passes.hpp"

namespace hypdiff::shrinkers {

namespace {

using model::OracleInputs;
using model::Z;
using Streams = std::map<Z, std::vector<Z>>;
using Case = generators::Case;

const std::vector<Z>* stream(const Search& s, Streams OracleInputs::*which, Z key) {
  const Streams& m = s.best().oracle.*which;
  const auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

// Loops over many pages read an answer per page (assigning a 2 MiB block reads 512). Removing
// entries from the middle, or making each nonzero entry smaller, costs predicate calls per
// entry, so each is done only while there are at most this many entries (nonzero entries).
constexpr std::size_t kManyAnswers = 64;

bool simplify_stream(Search& s, Streams OracleInputs::*which, Z key) {
  const auto resized = [&](std::size_t n) {
    Case c = s.best();
    (c.oracle.*which)[key].resize(n);
    return c;
  };
  {
    Case c = s.best();
    (c.oracle.*which).erase(key);
    if (s.attempt(std::move(c))) return true;
  }
  const auto count = [&] {
    const std::vector<Z>* v = stream(s, which, key);
    return v ? v->size() : 0;
  };
  bool progress = false;
  // The shortest prefix that still fails, by bisection (an empty stream failed just above).
  for (std::size_t lo = 0, hi = count(); hi - lo > 1 && !s.done();) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (s.attempt(resized(mid))) {
      progress = true;
      hi = mid;
    } else {
      lo = mid;
    }
  }
  // Zero entries in place.
  progress =
      for_chunks(s, count,
                 [&](std::size_t b, std::size_t e) -> std::vector<Case> {
                   const std::vector<Z>& cur = *stream(s, which, key);
                   if (std::all_of(cur.begin() + static_cast<long>(b),
                                   cur.begin() + static_cast<long>(e), [](Z z) { return z == 0; }))
                     return {};
                   std::vector<Case> out{s.best()};
                   std::vector<Z>& v = (out[0].oracle.*which)[key];
                   std::fill(v.begin() + static_cast<long>(b), v.begin() + static_cast<long>(e),
                             Z{0});
                   return out;
                 }) ||
      progress;
  // Trailing zeros answer like the fallback once fallback_seed is 0.
  if (const std::vector<Z>* v = stream(s, which, key); v && !v->empty() && v->back() == 0) {
    std::size_t n = v->size();
    while (n > 0 && (*v)[n - 1] == 0) --n;
    progress = s.attempt(resized(n)) || progress;
  }
  // Remove entries (later answers move forward).
  if (count() <= kManyAnswers)
    progress =
        for_chunks(s, count,
                   [&](std::size_t b, std::size_t e) {
                     std::vector<Case> out{s.best()};
                     std::vector<Z>& v = (out[0].oracle.*which)[key];
                     v.erase(v.begin() + static_cast<long>(b), v.begin() + static_cast<long>(e));
                     return out;
                   }) ||
        progress;
  // Smaller values for what must stay nonzero.
  const std::vector<Z>* left = stream(s, which, key);
  if (!left || std::count_if(left->begin(), left->end(), [](Z z) { return z != 0; }) >
                   static_cast<long>(kManyAnswers))
    return progress;
  for (std::size_t j = 0; j < count() && !s.done(); ++j) {
    const auto get = [&]() -> std::optional<Z> {
      const std::vector<Z>* v = stream(s, which, key);
      if (!v || j >= v->size()) return std::nullopt;
      return (*v)[j];
    };
    const auto with = [&](Z w) {
      Case c = s.best();
      (c.oracle.*which)[key][j] = w;
      return c;
    };
    progress = shrink_value(s, FieldKind::answer, get, with) || progress;
  }
  return progress;
}

template <class M>
bool remove_entries(Search& s, M model::Params::*which) {
  bool progress = false;
  std::vector<typename M::key_type> keys;
  for (const auto& [key, value] : s.best().oracle.params.*which) keys.push_back(key);
  for (auto it = keys.rbegin(); it != keys.rend() && !s.done(); ++it) {
    Case c = s.best();
    if ((c.oracle.params.*which).erase(*it) == 0) continue;
    progress = s.attempt(std::move(c)) || progress;
  }
  return progress;
}

// Moves the schedule entry at log length `len` to the smallest length that still fails (0 first,
// then bisection), never onto another entry. Returns the length it ends at.
std::uint64_t move_earlier(Search& s, std::uint64_t len, bool* progress) {
  const auto moved = [&](std::uint64_t from, std::uint64_t to) -> std::optional<Case> {
    Case c = s.best();
    if (c.oracle.soracle.contains(to) || !c.oracle.soracle.contains(from)) return std::nullopt;
    auto node = c.oracle.soracle.extract(from);
    node.key() = to;
    c.oracle.soracle.insert(std::move(node));
    return c;
  };
  const auto take = [&](std::uint64_t to) {
    std::optional<Case> c = moved(len, to);
    if (!c || !s.attempt(std::move(*c))) return false;
    *progress = true;
    len = to;
    return true;
  };
  if (len == 0 || take(0)) return len;
  for (std::uint64_t lo = 0, hi = len; hi - lo > 1 && !s.done();) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (take(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return len;
}

bool simplify_soracle(Search& s) {
  bool progress = false;
  std::vector<std::uint64_t> lengths;
  for (const auto& [len, events] : s.best().oracle.soracle) lengths.push_back(len);
  for (auto it = lengths.rbegin(); it != lengths.rend() && !s.done(); ++it) {
    Case c = s.best();
    if (c.oracle.soracle.erase(*it) == 0) continue;
    if (s.attempt(std::move(c))) {
      progress = true;
      continue;
    }
    // Single events of this schedule entry, newest (front) last.
    for (std::size_t n = s.best().oracle.soracle.at(*it).size(); n-- > 0 && !s.done();) {
      Case d = s.best();
      std::vector<model::SingleEvent>& events = d.oracle.soracle.at(*it);
      if (events.size() < 2 || n >= events.size()) continue;
      events.erase(events.begin() + static_cast<long>(n));
      progress = s.attempt(std::move(d)) || progress;
    }
  }
  // Earlier log lengths, lowest entry first so that entries do not overtake each other.
  lengths.clear();
  for (const auto& [len, events] : s.best().oracle.soracle) lengths.push_back(len);
  for (std::uint64_t len : lengths) {
    if (s.done()) break;
    len = move_earlier(s, len, &progress);
    // The events' own arguments (OMAP_HOST's address is the only one the model acts on).
    for (std::size_t e = 0; s.best().oracle.soracle.contains(len) &&
                            e < s.best().oracle.soracle.at(len).size() && !s.done();
         ++e) {
      for (std::size_t a = 0; a < 4; ++a) {
        const auto get = [&]() -> std::optional<Z> {
          const auto found = s.best().oracle.soracle.find(len);
          if (found == s.best().oracle.soracle.end() || e >= found->second.size())
            return std::nullopt;
          return found->second[e].event.args[a];
        };
        const auto with = [&](Z w) {
          Case c = s.best();
          c.oracle.soracle.at(len)[e].event.args[a] = w;
          return c;
        };
        progress = shrink_value(s, FieldKind::addr, get, with) || progress;
      }
    }
  }
  return progress;
}

}  // namespace

bool simplify_oracle(Search& s) {
  bool progress = false;
  if (s.best().oracle.fallback_seed != 0) {
    Case c = s.best();
    c.oracle.fallback_seed = 0;
    progress = s.attempt(std::move(c));
  }
  for (Streams OracleInputs::*which : {&OracleInputs::data, &OracleInputs::core}) {
    std::vector<Z> keys;
    for (const auto& [key, v] : s.best().oracle.*which) keys.push_back(key);
    for (auto it = keys.rbegin(); it != keys.rend() && !s.done(); ++it) {
      if (stream(s, which, *it)) progress = simplify_stream(s, which, *it) || progress;
    }
  }
  progress = simplify_soracle(s) || progress;
  progress = remove_entries(s, &model::Params::reg_desc) || progress;
  progress = remove_entries(s, &model::Params::shared_kvm) || progress;
  progress = remove_entries(s, &model::Params::shared_vcpu) || progress;
  progress = remove_entries(s, &model::Params::verify_img) || progress;
  // The decrypt counts change how many answers each decryption consumes: reset them only when
  // the failure survives it.
  const model::Params defaults;
  for (int model::Params::*count :
       {&model::Params::decrypt_gp_count, &model::Params::decrypt_sys_count}) {
    if (s.done() || s.best().oracle.params.*count == defaults.*count) continue;
    Case c = s.best();
    c.oracle.params.*count = defaults.*count;
    progress = s.attempt(std::move(c)) || progress;
  }
  return progress;
}

}  // namespace hypdiff::shrinkers
