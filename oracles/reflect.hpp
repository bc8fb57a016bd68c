// Generic equality, hashing, printing and field-level diff over the model's value types, so that
// the oracles never hand-write per-field code: Hana structs are walked with hana::accessors, and
// containers (std::array/vector/map/optional/pair, model::ZMap, model::Box, Sparse) element-wise.
//
// Customization: a type with members reflect_equal / reflect_hash / reflect_print is a leaf
// (CustomLeaf); a map key with print_label(out) prints as "[label]" in paths (LabelledKey); a Hana
// struct with flatten_in_path<T> = true contributes no path component of its own.
#pragma once

#include <algorithm>
#include <array>
#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/zmap.hpp"

namespace hypdiff::oracles {

using model::Z;

// One differing leaf: where, and each side's value as text.
struct DiffLine {
  std::string path;
  std::string a;
  std::string b;
  friend bool operator==(const DiffLine&, const DiffLine&) = default;
};

// The path of the node a diff is visiting; components are appended and cut back.
class Path {
 public:
  std::size_t mark() const { return s_.size(); }
  void reset(std::size_t m) { s_.resize(m); }
  std::string& str() { return s_; }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

template <class T>
bool equal(const T& a, const T& b);
template <class T>
std::size_t hash_value(const T& x);
template <class T>
void print(std::string& out, const T& x);

template <class T>
concept CustomLeaf = requires(const T& a, std::string& s) {
  { a.reflect_equal(a) } -> std::convertible_to<bool>;
  { a.reflect_hash() } -> std::convertible_to<std::size_t>;
  a.reflect_print(s);
};

template <class K>
concept LabelledKey = requires(const K& k, std::string& s) {
  k.print_label(s);
};

template <class T>
inline constexpr bool flatten_in_path = false;

// A total map stored sparsely: entries() (sorted by key, unique) holds exactly the keys whose
// value differs from base(key); every other key maps to base(key). With equal bases, two Sparse
// maps are equal as total maps iff their entries are equal. The entries are an immutable shared
// vector, so copies are O(1) and two maps holding the same vector compare in O(1).
template <class K, class V, class Base>
class Sparse {
 public:
  using Entry = std::pair<K, V>;
  using Entries = std::vector<Entry>;

  Base base{};

  Sparse() = default;
  Sparse(Base b, Entries e) : base(std::move(b)) { set_entries(std::move(e)); }
  Sparse(Base b, std::shared_ptr<const Entries> e) : base(std::move(b)), e_(std::move(e)) {
    if (e_ && e_->empty()) e_.reset();
  }

  const Entries& entries() const { return e_ ? *e_ : none(); }
  const std::shared_ptr<const Entries>& shared_entries() const { return e_; }
  void set_entries(Entries e) {
    if (e.empty()) {
      e_.reset();
    } else {
      e_ = std::make_shared<const Entries>(std::move(e));
    }
  }
  bool shares_entries(const Sparse& o) const { return e_ == o.e_; }
  std::size_t size() const { return e_ ? e_->size() : 0; }

  V at(const K& k) const {
    const Entries& es = entries();
    auto it = std::lower_bound(es.begin(), es.end(), k,
                               [](const Entry& e, const K& x) { return e.first < x; });
    if (it != es.end() && !(k < it->first)) return it->second;
    return base(k);
  }

 private:
  static const Entries& none() {
    static const Entries empty;
    return empty;
  }
  std::shared_ptr<const Entries> e_;
};

// A base that is the same value at every key.
template <class V>
struct ConstBase {
  V value{};
  template <class K>
  V operator()(const K&) const {
    return value;
  }
  bool reflect_equal(const ConstBase& o) const { return equal(value, o.value); }
  std::size_t reflect_hash() const { return hash_value(value); }
  void reflect_print(std::string& out) const { print(out, value); }
};

// ---- number printing --------------------------------------------------------------------------

inline void append_unsigned(std::string& out, unsigned __int128 u, unsigned base) {
  char buf[48];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdef"[static_cast<unsigned>(u % base)];
    u /= base;
  } while (u != 0);
  while (n > 0) out.push_back(buf[--n]);
}

inline unsigned __int128 magnitude(Z v) {
  return v < 0 ? static_cast<unsigned __int128>(0) - static_cast<unsigned __int128>(v)
               : static_cast<unsigned __int128>(v);
}

inline void print_hex(std::string& out, Z v) {
  if (v < 0) out.push_back('-');
  out += "0x";
  append_unsigned(out, magnitude(v), 16);
}

inline void print_dec(std::string& out, Z v) {
  if (v < 0) out.push_back('-');
  append_unsigned(out, magnitude(v), 10);
}

// Small magnitudes (ids, counts, states, register indices, -1) read best in decimal; frame
// numbers (host RAM starts at pfn 0x200), addresses and INVALID/INVALID64 in hex.
inline void print_z(std::string& out, Z v) {
  if (v > -256 && v < 256) {
    print_dec(out, v);
  } else {
    print_hex(out, v);
  }
}

// ---- type classification ----------------------------------------------------------------------

namespace detail {

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_array : std::false_type {};
template <class T, std::size_t N>
struct is_array<std::array<T, N>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T>
struct is_zmap : std::false_type {};
template <class T, class D>
struct is_zmap<model::ZMap<T, D>> : std::true_type {};
template <class T>
struct is_box : std::false_type {};
template <class T>
struct is_box<model::Box<T>> : std::true_type {};
template <class T>
struct is_sparse : std::false_type {};
template <class K, class V, class B>
struct is_sparse<Sparse<K, V, B>> : std::true_type {};
template <class T>
struct is_const_default : std::false_type {};
template <class T>
struct is_const_default<model::ConstDefault<T>> : std::true_type {};

template <class T>
inline constexpr bool is_hana_struct = boost::hana::Struct<T>::value;

template <class T>
inline constexpr bool is_scalar =
    std::is_same_v<T, Z> || std::is_integral_v<T> || std::is_enum_v<T>;

inline std::size_t mix(std::size_t x) {
  std::uint64_t z = static_cast<std::uint64_t>(x) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::size_t>(z ^ (z >> 31));
}
inline std::size_t combine(std::size_t h, std::size_t v) { return mix(h ^ v) + v; }

template <class F, class T>
void for_each_field(const T& x, F&& f) {
  boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
    f(boost::hana::to<const char*>(boost::hana::first(pair)), boost::hana::second(pair)(x));
  });
}

}  // namespace detail

// ---- equal ------------------------------------------------------------------------------------

template <class T>
bool equal(const T& a, const T& b) {
  using namespace detail;
  if constexpr (CustomLeaf<T>) {
    return a.reflect_equal(b);
  } else if constexpr (is_scalar<T> || std::is_same_v<T, std::string>) {
    return a == b;
  } else if constexpr (is_optional<T>::value) {
    if (a.has_value() != b.has_value()) return false;
    return !a.has_value() || equal(*a, *b);
  } else if constexpr (is_pair<T>::value) {
    return equal(a.first, b.first) && equal(a.second, b.second);
  } else if constexpr (is_vector<T>::value || is_array<T>::value) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!equal(a[i], b[i])) return false;
    }
    return true;
  } else if constexpr (is_map<T>::value) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (!equal(ia->first, ib->first) || !equal(ia->second, ib->second)) return false;
    }
    return true;
  } else if constexpr (is_sparse<T>::value) {
    return equal(a.base, b.base) && (a.shares_entries(b) || equal(a.entries(), b.entries()));
  } else if constexpr (is_zmap<T>::value) {
    return a == b;
  } else if constexpr (is_box<T>::value) {
    return a == b;
  } else if constexpr (is_hana_struct<T>) {
    bool same = true;
    boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
      if (same) same = equal(boost::hana::second(pair)(a), boost::hana::second(pair)(b));
    });
    return same;
  } else if constexpr (std::equality_comparable<T>) {
    return a == b;
  } else {
    static_assert(sizeof(T) == 0, "reflect: equal() does not know this type");
  }
}

// ---- hash -------------------------------------------------------------------------------------

template <class T>
std::size_t hash_value(const T& x) {
  using namespace detail;
  if constexpr (CustomLeaf<T>) {
    return x.reflect_hash();
  } else if constexpr (std::is_same_v<T, Z>) {
    const auto u = static_cast<unsigned __int128>(x);
    return combine(mix(static_cast<std::size_t>(u)), static_cast<std::size_t>(u >> 64));
  } else if constexpr (is_scalar<T>) {
    return mix(static_cast<std::size_t>(x));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::hash<std::string>{}(x);
  } else if constexpr (is_optional<T>::value) {
    return x ? combine(1, hash_value(*x)) : 0x5eed;
  } else if constexpr (is_pair<T>::value) {
    return combine(hash_value(x.first), hash_value(x.second));
  } else if constexpr (is_vector<T>::value || is_array<T>::value || is_map<T>::value) {
    std::size_t h = x.size();
    for (const auto& e : x) h = combine(h, hash_value(e));
    return h;
  } else if constexpr (is_sparse<T>::value) {
    return combine(hash_value(x.base), hash_value(x.entries()));
  } else if constexpr (is_zmap<T>::value) {
    // Order-independent: the map's traversal order is not canonical across key sets.
    std::size_t h = x.explicit_size();
    x.for_each_explicit(
        [&](std::uint64_t k, const auto& v) { h += combine(mix(k), hash_value(v)); });
    return h;
  } else if constexpr (is_box<T>::value) {
    return hash_value(*x);
  } else if constexpr (is_hana_struct<T>) {
    std::size_t h = 0x48a5;
    boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
      h = combine(h, hash_value(boost::hana::second(pair)(x)));
    });
    return h;
  } else {
    static_assert(sizeof(T) == 0, "reflect: hash_value() does not know this type");
  }
}

// ---- print ------------------------------------------------------------------------------------

// Containers print at most this many elements, then "... (n in all)".
inline constexpr std::size_t kPrintElements = 64;

template <class K>
void print_key(std::string& out, const K& k) {
  if constexpr (LabelledKey<K>) {
    k.print_label(out);
  } else {
    print(out, k);
  }
}

template <class T>
void print(std::string& out, const T& x) {
  using namespace detail;
  if constexpr (CustomLeaf<T>) {
    x.reflect_print(out);
  } else if constexpr (std::is_same_v<T, bool>) {
    out += x ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    print_z(out, static_cast<Z>(static_cast<std::underlying_type_t<T>>(x)));
  } else if constexpr (is_scalar<T>) {
    print_z(out, static_cast<Z>(x));
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.push_back('"');
    out += x;
    out.push_back('"');
  } else if constexpr (is_optional<T>::value) {
    if (x) {
      print(out, *x);
    } else {
      out += "None";
    }
  } else if constexpr (is_pair<T>::value) {
    out.push_back('(');
    print(out, x.first);
    out += ", ";
    print(out, x.second);
    out.push_back(')');
  } else if constexpr (is_vector<T>::value || is_array<T>::value) {
    out.push_back('[');
    std::size_t i = 0;
    for (const auto& e : x) {
      if (i == kPrintElements) {
        out += ", ... (" + std::to_string(x.size()) + " in all)";
        break;
      }
      if (i++ != 0) out += ", ";
      print(out, e);
    }
    out.push_back(']');
  } else if constexpr (is_map<T>::value) {
    out.push_back('{');
    std::size_t i = 0;
    for (const auto& [k, v] : x) {
      if (i == kPrintElements) {
        out += ", ... (" + std::to_string(x.size()) + " in all)";
        break;
      }
      if (i++ != 0) out += ", ";
      print_key(out, k);
      out += ": ";
      print(out, v);
    }
    out.push_back('}');
  } else if constexpr (is_sparse<T>::value) {
    out.push_back('{');
    std::size_t i = 0;
    for (const auto& [k, v] : x.entries()) {
      if (i == kPrintElements) {
        out += ", ... (" + std::to_string(x.size()) + " in all)";
        break;
      }
      if (i++ != 0) out += ", ";
      print_key(out, k);
      out += ": ";
      print(out, v);
    }
    out += i == 0 ? "else " : ", else ";
    print(out, x.base);
    out.push_back('}');
  } else if constexpr (is_zmap<T>::value) {
    std::vector<std::uint64_t> keys;
    keys.reserve(x.explicit_size());
    x.for_each_explicit([&](std::uint64_t k, const auto&) { keys.push_back(k); });
    std::sort(keys.begin(), keys.end());
    out.push_back('{');
    std::size_t i = 0;
    for (std::uint64_t k : keys) {
      if (i == kPrintElements) {
        out += ", ... (" + std::to_string(keys.size()) + " in all)";
        break;
      }
      if (i++ != 0) out += ", ";
      print_z(out, static_cast<Z>(k));
      out += ": ";
      print(out, *x.entries().find(k));
    }
    if constexpr (is_const_default<typename T::Default>::value) {
      out += i == 0 ? "else " : ", else ";
      print(out, x.default_fn().value);
    }
    out.push_back('}');
  } else if constexpr (is_box<T>::value) {
    print(out, *x);
  } else if constexpr (is_hana_struct<T>) {
    out.push_back('{');
    bool first = true;
    detail::for_each_field(x, [&](const char* name, const auto& v) {
      if (!first) out += ", ";
      first = false;
      out += name;
      out += ": ";
      print(out, v);
    });
    out.push_back('}');
  } else {
    static_assert(sizeof(T) == 0, "reflect: print() does not know this type");
  }
}

template <class T>
std::string to_text(const T& x) {
  std::string s;
  print(s, x);
  return s;
}

// ---- diff -------------------------------------------------------------------------------------

// Leaf texts longer than this are cut (a whole register file differs from None, say).
inline constexpr std::size_t kLeafTextLimit = 240;

namespace detail {

inline std::string clip(std::string s) {
  if (s.size() > kLeafTextLimit) {
    s.resize(kLeafTextLimit);
    s += "...";
  }
  return s;
}

template <class T>
void leaf(const T& a, const T& b, const Path& path, std::vector<DiffLine>& out) {
  out.push_back(DiffLine{path.str(), clip(to_text(a)), clip(to_text(b))});
}

inline void push_field(Path& path, const char* name) {
  if (!path.str().empty()) path.str().push_back('.');
  path.str() += name;
}

template <class K>
void push_key(Path& path, const K& k) {
  path.str().push_back('[');
  print_key(path.str(), k);
  path.str().push_back(']');
}

}  // namespace detail

// Appends one DiffLine per differing leaf of a and b (at most `cap` lines in `out` in all).
template <class T>
void diff(const T& a, const T& b, Path& path, std::vector<DiffLine>& out, std::size_t cap);

template <class T>
void diff(const T& a, const T& b, Path& path, std::vector<DiffLine>& out, std::size_t cap) {
  using namespace detail;
  if (out.size() >= cap) return;
  if constexpr (CustomLeaf<T> || is_scalar<T> || std::is_same_v<T, std::string> ||
                is_pair<T>::value) {
    if (!equal(a, b)) leaf(a, b, path, out);
  } else if constexpr (is_optional<T>::value) {
    if (a && b) {
      diff(*a, *b, path, out, cap);
    } else if (a.has_value() != b.has_value()) {
      leaf(a, b, path, out);
    }
  } else if constexpr (is_vector<T>::value || is_array<T>::value) {
    const std::size_t common = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < common && out.size() < cap; ++i) {
      if (equal(a[i], b[i])) continue;
      const std::size_t m = path.mark();
      push_key(path, static_cast<Z>(i));
      diff(a[i], b[i], path, out, cap);
      path.reset(m);
    }
    for (std::size_t i = common; i < std::max(a.size(), b.size()) && out.size() < cap; ++i) {
      const std::size_t m = path.mark();
      push_key(path, static_cast<Z>(i));
      out.push_back(DiffLine{path.str(), i < a.size() ? clip(to_text(a[i])) : "<absent>",
                             i < b.size() ? clip(to_text(b[i])) : "<absent>"});
      path.reset(m);
    }
  } else if constexpr (is_map<T>::value) {
    auto ia = a.begin();
    auto ib = b.begin();
    while ((ia != a.end() || ib != b.end()) && out.size() < cap) {
      const std::size_t m = path.mark();
      if (ib == b.end() || (ia != a.end() && a.key_comp()(ia->first, ib->first))) {
        push_key(path, ia->first);
        out.push_back(DiffLine{path.str(), clip(to_text(ia->second)), "<absent>"});
        ++ia;
      } else if (ia == a.end() || b.key_comp()(ib->first, ia->first)) {
        push_key(path, ib->first);
        out.push_back(DiffLine{path.str(), "<absent>", clip(to_text(ib->second))});
        ++ib;
      } else {
        push_key(path, ia->first);
        diff(ia->second, ib->second, path, out, cap);
        ++ia;
        ++ib;
      }
      path.reset(m);
    }
  } else if constexpr (is_sparse<T>::value) {
    const bool same_base = equal(a.base, b.base);
    if (same_base && a.shares_entries(b)) return;
    if (!same_base) {
      const std::size_t m = path.mark();
      path.str() += "[else]";
      leaf(a.base, b.base, path, out);
      path.reset(m);
    }
    // Path text is built only for keys whose values differ.
    auto visit = [&](const auto& key, const auto& va, const auto& vb) {
      if (equal(va, vb)) return;
      const std::size_t m = path.mark();
      push_key(path, key);
      diff(va, vb, path, out, cap);
      path.reset(m);
    };
    const auto& ea = a.entries();
    const auto& eb = b.entries();
    auto ia = ea.begin();
    auto ib = eb.begin();
    while ((ia != ea.end() || ib != eb.end()) && out.size() < cap) {
      if (ib == eb.end() || (ia != ea.end() && ia->first < ib->first)) {
        visit(ia->first, ia->second, b.base(ia->first));
        ++ia;
      } else if (ia == ea.end() || ib->first < ia->first) {
        visit(ib->first, a.base(ib->first), ib->second);
        ++ib;
      } else {
        visit(ia->first, ia->second, ib->second);
        ++ia;
        ++ib;
      }
    }
  } else if constexpr (is_zmap<T>::value) {
    if (a.entries().shares_root(b.entries()) && a.default_fn() == b.default_fn()) return;
    if (!(a.default_fn() == b.default_fn())) {
      const std::size_t m = path.mark();
      path.str() += "[else]";
      if constexpr (is_const_default<typename T::Default>::value) {
        leaf(a.default_fn().value, b.default_fn().value, path, out);
      } else {
        out.push_back(DiffLine{path.str(), "one default", "another default"});
      }
      path.reset(m);
    }
    std::vector<std::uint64_t> keys;
    using V = std::decay_t<decltype(a.get(0))>;
    model::PMap<V>::diff(a.entries(), b.entries(),
                         [&](std::uint64_t k, const V*, const V*) { keys.push_back(k); });
    std::sort(keys.begin(), keys.end());
    for (std::uint64_t k : keys) {
      if (out.size() >= cap) break;
      const std::size_t m = path.mark();
      push_key(path, static_cast<Z>(k));
      diff(a.get(static_cast<Z>(k)), b.get(static_cast<Z>(k)), path, out, cap);
      path.reset(m);
    }
  } else if constexpr (is_box<T>::value) {
    if (a == b) return;
    diff(*a, *b, path, out, cap);
  } else if constexpr (is_hana_struct<T>) {
    boost::hana::for_each(boost::hana::accessors<T>(), [&](auto pair) {
      if (out.size() >= cap) return;
      const auto& fa = boost::hana::second(pair)(a);
      const auto& fb = boost::hana::second(pair)(b);
      using F = std::decay_t<decltype(fa)>;
      if (equal(fa, fb)) return;
      const std::size_t m = path.mark();
      if constexpr (!flatten_in_path<F>) {
        push_field(path, boost::hana::to<const char*>(boost::hana::first(pair)));
      }
      diff(fa, fb, path, out, cap);
      path.reset(m);
    });
  } else {
    static_assert(sizeof(T) == 0, "reflect: diff() does not know this type");
  }
}

// Convenience: all differing leaves of a and b, at most `cap`.
template <class T>
std::vector<DiffLine> diff_lines(const T& a, const T& b, std::size_t cap = 50) {
  std::vector<DiffLine> out;
  Path path;
  diff(a, b, path, out, cap);
  return out;
}

}  // namespace hypdiff::oracles
