// `ZMap.t T` of the Coq development: a total map from Z to T with a default value, with value
// semantics. Backed by PMap, so copies are O(1) and updates share structure.
//
// Only bindings that differ from the default are stored (set() of the default value erases), so
// two ZMaps with the same default are equal exactly when their stored entries are equal.
//
// Keys outside [0, 2^64) read as the default; writing one is a model bug (no spec path writes a
// negative or >= 2^64 key when its inputs are 64-bit values) and throws ModelBug.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "model/pmap.hpp"
#include "model/z.hpp"

namespace hypdiff::model {

// A bug in the model or the tool, never a verdict about the system under test.
struct ModelBug : std::logic_error {
  using std::logic_error::logic_error;
};

template <class T>
struct ConstDefault {
  T value{};
  T operator()(std::uint64_t) const { return value; }
  friend bool operator==(const ConstDefault&, const ConstDefault&) = default;
};

template <class T, class D = ConstDefault<T>>
class ZMap {
 public:
  using Default = D;

  ZMap() = default;
  explicit ZMap(D dflt) : dflt_(std::move(dflt)) {}
  static ZMap init(T v) requires std::is_same_v<D, ConstDefault<T>> {
    return ZMap(ConstDefault<T>{std::move(v)});
  }

  static bool in_range(Z k) { return k >= 0 && k < pow2(64); }

  T get(Z k) const {
    if (!in_range(k)) return default_at(0);
    const auto key = static_cast<std::uint64_t>(k);
    const T* v = m_.find(key);
    return v ? *v : dflt_(key);
  }
  T operator[](Z k) const { return get(k); }

  void set(Z k, T v) {
    if (!in_range(k)) throw ModelBug("ZMap key out of range: " + to_dec(k));
    const auto key = static_cast<std::uint64_t>(k);
    if (v == dflt_(key)) {
      m_.remove(key);
    } else {
      m_.assign(key, std::move(v));
    }
  }
  // Functional write, the Coq `m # k == v`.
  [[nodiscard]] ZMap with(Z k, T v) const {
    ZMap out = *this;
    out.set(k, std::move(v));
    return out;
  }

  T default_at(std::uint64_t key) const { return dflt_(key); }
  const D& default_fn() const { return dflt_; }
  const PMap<T>& entries() const { return m_; }
  std::size_t explicit_size() const { return m_.size(); }

  // f(key, value) for every binding that differs from the default.
  template <class F>
  void for_each_explicit(F&& f) const {
    m_.for_each(f);
  }

  // f(key) for every key bound differently in a and b (maps with the same default). Subtrees
  // the two share are skipped: comparing a map with its own earlier version costs the changes.
  template <class F>
  static void diff_keys(const ZMap& a, const ZMap& b, F&& f) {
    PMap<T>::diff(a.m_, b.m_, [&](std::uint64_t k, const T*, const T*) { f(k); });
  }

  friend bool operator==(const ZMap& a, const ZMap& b) {
    return a.dflt_ == b.dflt_ && (a.m_.shares_root(b.m_) || a.m_ == b.m_);
  }

 private:
  D dflt_{};
  PMap<T> m_;
};

// A shared, immutable heap value with value equality, for big records stored in maps (a full
// register context is ~1.8 KB; the map copies only this handle).
template <class T>
class Box {
 public:
  Box() : p_(std::make_shared<const T>()) {}
  explicit Box(T v) : p_(std::make_shared<const T>(std::move(v))) {}
  const T& operator*() const { return *p_; }
  const T* operator->() const { return p_.get(); }
  friend bool operator==(const Box& a, const Box& b) { return a.p_ == b.p_ || *a.p_ == *b.p_; }

 private:
  std::shared_ptr<const T> p_;
};

}  // namespace hypdiff::model
