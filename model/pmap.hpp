// A persistent (immutable, structurally shared) hash map from 64-bit keys to values: a CHAMP trie
// (compressed hash-array mapped prefix tree). The spec passes whole states by value; with this map
// a state copy is O(1), an update copies only the O(log32 n) nodes on one path, and two maps that
// share history can be compared or diffed while skipping every subtree they still share.
//
// Debian 12 packages no persistent-map library (immer is not packaged), hence this file.
//
// The representation is canonical: a given key set always yields the same tree shape, because the
// hash is a bijection on 64 bits (no collisions to order) and erase re-inlines one-entry subtrees.
// Equality and diff rely on that.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace hypdiff::model {

template <class T>
class PMap {
 public:
  struct Entry {
    std::uint64_t key;
    T value;
  };

  PMap() = default;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const T* find(std::uint64_t key) const {
    const std::uint64_t h = hash(key);
    const Node* n = root_.get();
    for (unsigned shift = 0; n != nullptr; shift += kBits) {
      const std::uint32_t bit = bit_of(h, shift);
      if (n->datamap & bit) {
        const Entry& e = n->data[index(n->datamap, bit)];
        return e.key == key ? &e.value : nullptr;
      }
      if (!(n->nodemap & bit)) return nullptr;
      n = n->kids[index(n->nodemap, bit)].get();
    }
    return nullptr;
  }

  // Functional update: returns a map with key bound to value; *this is untouched.
  [[nodiscard]] PMap set(std::uint64_t key, T value) const {
    PMap out = *this;
    out.assign(key, std::move(value));
    return out;
  }
  [[nodiscard]] PMap erase(std::uint64_t key) const {
    PMap out = *this;
    out.remove(key);
    return out;
  }

  // In-place update of this map value. Nodes that no other map shares are modified in place
  // (the "transient" optimization): a loop that writes many keys into one map copies each node
  // at most once, instead of once per write.
  void assign(std::uint64_t key, T value) {
    bool added = false;
    root_ = insert(root_, root_.use_count() == 1, 0, key, hash(key), std::move(value), added);
    size_ += added ? 1 : 0;
  }
  void remove(std::uint64_t key) {
    bool removed = false;
    root_ = remove(root_, root_.use_count() == 1, 0, key, hash(key), removed);
    size_ -= removed ? 1 : 0;
  }

  // Visits every entry, in hash order (not key order).
  template <class F>
  void for_each(F&& f) const {
    visit(root_.get(), f);
  }

  // True when both maps are the very same tree (cheap "certainly equal" test).
  bool shares_root(const PMap& o) const { return root_ == o.root_; }

  friend bool operator==(const PMap& a, const PMap& b) {
    return a.size_ == b.size_ && nodes_equal(a.root_.get(), b.root_.get());
  }

  // Calls f(key, const T* in_a, const T* in_b) for every key whose binding differs between a and
  // b (a null pointer means "absent"). Subtrees the two maps share are skipped without a visit.
  template <class F>
  static void diff(const PMap& a, const PMap& b, F&& f) {
    diff_nodes(a.root_.get(), b.root_.get(), 0, f);
  }

 private:
  static constexpr unsigned kBits = 5;
  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct Node {
    std::uint32_t datamap = 0;
    std::uint32_t nodemap = 0;
    std::vector<Entry> data;    // one per set bit of datamap, in fragment order
    std::vector<NodePtr> kids;  // one per set bit of nodemap, in fragment order
  };

  NodePtr root_;
  std::size_t size_ = 0;

  // A bijective mixer (xorshift-multiply, the splitmix64 finalizer): distinct keys never collide.
  static std::uint64_t hash(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }
  static std::uint32_t bit_of(std::uint64_t h, unsigned shift) {
    return std::uint32_t{1} << static_cast<unsigned>((h >> shift) & 31U);
  }
  static std::size_t index(std::uint32_t map, std::uint32_t bit) {
    return static_cast<std::size_t>(std::popcount(map & (bit - 1)));
  }

  static NodePtr merge(Entry a, Entry b, unsigned shift) {
    auto n = std::make_shared<Node>();
    const std::uint64_t ha = hash(a.key), hb = hash(b.key);
    const std::uint32_t ba = bit_of(ha, shift), bb = bit_of(hb, shift);
    if (ba == bb) {
      n->nodemap = ba;
      n->kids.push_back(merge(std::move(a), std::move(b), shift + kBits));
    } else {
      n->datamap = ba | bb;
      if (ba < bb) {
        n->data.push_back(std::move(a));
        n->data.push_back(std::move(b));
      } else {
        n->data.push_back(std::move(b));
        n->data.push_back(std::move(a));
      }
    }
    return n;
  }

  // `unique`: every node from the root down to `node` is owned by this map alone, so it may be
  // modified in place. Nodes are created non-const (make_shared<Node>), so the const_cast on a
  // uniquely owned node is well-defined.
  static Node* mut(const NodePtr& n) { return const_cast<Node*>(n.get()); }

  static NodePtr insert(const NodePtr& node, bool unique, unsigned shift, std::uint64_t key,
                        std::uint64_t h, T&& value, bool& added) {
    if (!node) {
      auto n = std::make_shared<Node>();
      n->datamap = bit_of(h, shift);
      n->data.push_back(Entry{key, std::move(value)});
      added = true;
      return n;
    }
    const std::uint32_t bit = bit_of(h, shift);
    if (node->datamap & bit) {
      const std::size_t i = index(node->datamap, bit);
      const Entry& e = node->data[i];
      if (e.key == key) {
        if (e.value == value) return node;
        NodePtr n = unique ? node : std::make_shared<Node>(*node);
        mut(n)->data[i].value = std::move(value);
        return n;
      }
      NodePtr sub = merge(e, Entry{key, std::move(value)}, shift + kBits);
      NodePtr n = unique ? node : std::make_shared<Node>(*node);
      Node* m = mut(n);
      m->data.erase(m->data.begin() + static_cast<std::ptrdiff_t>(i));
      m->datamap ^= bit;
      m->nodemap |= bit;
      m->kids.insert(m->kids.begin() + static_cast<std::ptrdiff_t>(index(m->nodemap, bit)),
                     std::move(sub));
      added = true;
      return n;
    }
    if (node->nodemap & bit) {
      const std::size_t j = index(node->nodemap, bit);
      const NodePtr& old = node->kids[j];
      NodePtr kid = insert(old, unique && old.use_count() == 1, shift + kBits, key, h,
                           std::move(value), added);
      if (kid == old) return node;
      NodePtr n = unique ? node : std::make_shared<Node>(*node);
      mut(n)->kids[j] = std::move(kid);
      return n;
    }
    NodePtr n = unique ? node : std::make_shared<Node>(*node);
    Node* m = mut(n);
    m->datamap |= bit;
    m->data.insert(m->data.begin() + static_cast<std::ptrdiff_t>(index(m->datamap, bit)),
                   Entry{key, std::move(value)});
    added = true;
    return n;
  }

  static NodePtr remove(const NodePtr& node, bool unique, unsigned shift, std::uint64_t key,
                        std::uint64_t h, bool& removed) {
    if (!node) return node;
    const std::uint32_t bit = bit_of(h, shift);
    if (node->datamap & bit) {
      const std::size_t i = index(node->datamap, bit);
      if (node->data[i].key != key) return node;
      removed = true;
      if (node->data.size() == 1 && node->kids.empty()) return nullptr;
      NodePtr n = unique ? node : std::make_shared<Node>(*node);
      Node* m = mut(n);
      m->data.erase(m->data.begin() + static_cast<std::ptrdiff_t>(i));
      m->datamap ^= bit;
      return n;
    }
    if (!(node->nodemap & bit)) return node;
    const std::size_t j = index(node->nodemap, bit);
    const NodePtr& old = node->kids[j];
    NodePtr kid = remove(old, unique && old.use_count() == 1, shift + kBits, key, h, removed);
    // A child modified in place keeps its pointer but may still have shrunk to one entry.
    const bool collapse = kid && kid->data.size() == 1 && kid->kids.empty();
    if (kid == old && !collapse) return node;
    NodePtr n = unique ? node : std::make_shared<Node>(*node);
    Node* m = mut(n);
    if (collapse) {
      // A one-entry subtree is stored inline in its parent: keeps the shape canonical.
      Entry only = kid->data[0];
      m->kids.erase(m->kids.begin() + static_cast<std::ptrdiff_t>(j));
      m->nodemap ^= bit;
      m->datamap |= bit;
      m->data.insert(m->data.begin() + static_cast<std::ptrdiff_t>(index(m->datamap, bit)),
                     std::move(only));
    } else if (!kid) {
      m->kids.erase(m->kids.begin() + static_cast<std::ptrdiff_t>(j));
      m->nodemap ^= bit;
    } else {
      m->kids[j] = std::move(kid);
    }
    if (m->data.empty() && m->kids.empty()) return nullptr;
    return n;
  }

  template <class F>
  static void visit(const Node* n, F&& f) {
    if (!n) return;
    for (const Entry& e : n->data) f(e.key, e.value);
    for (const NodePtr& k : n->kids) visit(k.get(), f);
  }

  static bool nodes_equal(const Node* a, const Node* b) {
    if (a == b) return true;
    if (!a || !b) return false;
    if (a->datamap != b->datamap || a->nodemap != b->nodemap) return false;
    for (std::size_t i = 0; i < a->data.size(); ++i) {
      if (a->data[i].key != b->data[i].key || !(a->data[i].value == b->data[i].value)) return false;
    }
    for (std::size_t i = 0; i < a->kids.size(); ++i) {
      if (!nodes_equal(a->kids[i].get(), b->kids[i].get())) return false;
    }
    return true;
  }

  // Entry `e` sits inline on one side; `sub` is the other side's subtree at the same fragment.
  template <class F>
  static void diff_entry_vs_subtree(const Entry& e, const Node* sub, bool entry_is_a, F& f) {
    bool seen = false;
    visit(sub, [&](std::uint64_t k, const T& v) {
      if (k == e.key) {
        seen = true;
        if (!(v == e.value)) entry_is_a ? f(k, &e.value, &v) : f(k, &v, &e.value);
      } else {
        entry_is_a ? f(k, static_cast<const T*>(nullptr), &v)
                   : f(k, &v, static_cast<const T*>(nullptr));
      }
    });
    if (!seen) {
      entry_is_a ? f(e.key, &e.value, static_cast<const T*>(nullptr))
                 : f(e.key, static_cast<const T*>(nullptr), &e.value);
    }
  }

  template <class F>
  static void diff_nodes(const Node* a, const Node* b, unsigned shift, F& f) {
    if (a == b) return;
    if (!a) {
      visit(b, [&](std::uint64_t k, const T& v) { f(k, static_cast<const T*>(nullptr), &v); });
      return;
    }
    if (!b) {
      visit(a, [&](std::uint64_t k, const T& v) { f(k, &v, static_cast<const T*>(nullptr)); });
      return;
    }
    const std::uint32_t all = a->datamap | a->nodemap | b->datamap | b->nodemap;
    for (std::uint32_t rest = all; rest != 0; rest &= rest - 1) {
      const std::uint32_t bit = rest & (~rest + 1);
      const Entry* ea = (a->datamap & bit) ? &a->data[index(a->datamap, bit)] : nullptr;
      const Entry* eb = (b->datamap & bit) ? &b->data[index(b->datamap, bit)] : nullptr;
      const Node* ka = (a->nodemap & bit) ? a->kids[index(a->nodemap, bit)].get() : nullptr;
      const Node* kb = (b->nodemap & bit) ? b->kids[index(b->nodemap, bit)].get() : nullptr;
      if (ea && eb) {
        if (ea->key == eb->key) {
          if (!(ea->value == eb->value)) f(ea->key, &ea->value, &eb->value);
        } else {
          f(ea->key, &ea->value, static_cast<const T*>(nullptr));
          f(eb->key, static_cast<const T*>(nullptr), &eb->value);
        }
      } else if (ea && kb) {
        diff_entry_vs_subtree(*ea, kb, true, f);
      } else if (ka && eb) {
        diff_entry_vs_subtree(*eb, ka, false, f);
      } else if (ka || kb) {
        diff_nodes(ka, kb, shift + kBits, f);
      } else if (ea) {
        f(ea->key, &ea->value, static_cast<const T*>(nullptr));
      } else if (eb) {
        f(eb->key, static_cast<const T*>(nullptr), &eb->value);
      }
    }
  }
};

}  // namespace hypdiff::model
