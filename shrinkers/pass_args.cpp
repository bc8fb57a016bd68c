// Passes 4 and 6: simplify operation arguments towards canonical values; loop bounds (sizes and
// page counts) are `size` fields, tried at 1 and one page before the bisection.
#include "shrinkers/passes.hpp"

namespace hypdiff::shrinkers {

using model::Z;

bool shrink_value(Search& s, FieldKind kind, const std::function<std::optional<Z>()>& get,
                  const std::function<generators::Case(Z)>& with) {
  bool progress = false;
  const auto take = [&](Z w) {
    if (!s.attempt(with(w))) return false;
    progress = true;
    return true;
  };
  while (!s.done()) {
    const std::optional<Z> value = get();
    if (!value || *value == 0 || take(0)) return progress;
    bool moved = false;
    for (Z w : smaller_values(kind, *value)) {
      if ((moved = take(w))) break;
    }
    if (moved) continue;
    // Smallest failing multiple of `unit` below the value, assuming failure is monotone in it;
    // where it is not, this still only keeps values that fail.
    const Z unit = bisection_unit(kind, *value);
    if (unit == 0) return progress;
    Z lo = 0;
    Z hi = *value / unit;
    while (hi - lo > 1 && !s.done()) {
      const Z mid = lo + (hi - lo) / 2;
      if (take(mid * unit)) {
        if (get() != mid * unit) return progress;  // cut off, or moved by a later kept candidate
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return progress;
  }
  return progress;
}

bool simplify_args(Search& s) {
  bool progress = false;
  for (std::size_t i = 0; i < s.best().ops.size() && !s.done(); ++i) {
    for (int f = 0; i < s.best().ops.size() && f < field_count(s.best().ops[i]); ++f) {
      const auto get = [&]() -> std::optional<Z> {
        if (i >= s.best().ops.size()) return std::nullopt;
        return get_field(s.best().ops[i], f);
      };
      const auto with = [&](Z w) {
        generators::Case c = s.best();
        set_field(c.ops[i], f, w);
        return c;
      };
      progress = shrink_value(s, field_kind(s.best().ops[i], f), get, with) || progress;
      if (s.done()) break;
    }
  }
  return progress;
}

}  // namespace hypdiff::shrinkers
