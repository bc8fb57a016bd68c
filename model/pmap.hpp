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
//
// Each node is one heap block (a header, then its entries, then its child pointers) with a plain,
// non-atomic reference count: a path copy is one allocation per node, and copying a map or a node
// touches no atomic (docs/benchmarks.md, "Where the time goes", had 40% of native checking in
// allocation and shared_ptr counting).
//
// Thread contract: maps that share nodes belong to one thread at a time. Copying, destroying or
// updating a map changes counts in nodes other maps also hold, so even copying the same const map
// from two threads at once is a data race. Hand maps (and anything holding one: states, ZMaps) to
// another thread only after a join or under a mutex; fork() is fine (each process owns its
// counts). Today every map lives on the thread that runs the harness (docs/architecture.md).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace hypdiff::model {

// Defined only by tests (tests/model/pmap_test.cpp), to audit the nodes.
template <class T>
struct PMapProbe;

template <class T>
class PMap {
 public:
  struct Entry {
    std::uint64_t key;
    T value;
  };

  PMap() = default;
  PMap(const PMap& o) noexcept : root_(o.root_), size_(o.size_) {
    if (root_ != nullptr) ++root_->refs;
  }
  PMap(PMap&& o) noexcept
      : root_(std::exchange(o.root_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  PMap& operator=(const PMap& o) noexcept {
    PMap copy(o);
    swap(copy);
    return *this;
  }
  PMap& operator=(PMap&& o) noexcept {
    PMap moved(std::move(o));
    swap(moved);
    return *this;
  }
  ~PMap() { release(root_); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const T* find(std::uint64_t key) const {
    const std::uint64_t h = hash(key);
    const Node* n = root_;
    for (unsigned shift = 0; n != nullptr; shift += kBits) {
      const std::uint32_t bit = bit_of(h, shift);
      if (n->datamap & bit) {
        const Entry& e = data(n)[index(n->datamap, bit)];
        return e.key == key ? &e.value : nullptr;
      }
      if (!(n->nodemap & bit)) return nullptr;
      n = kids(n)[index(n->nodemap, bit)];
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
    Node* r = insert(root_, root_ != nullptr && root_->refs == 1, 0, key, hash(key),
                     std::move(value), added);
    put(root_, r);
    size_ += added ? 1 : 0;
  }
  void remove(std::uint64_t key) {
    bool removed = false;
    Node* r = remove(root_, root_ != nullptr && root_->refs == 1, 0, key, hash(key), removed);
    put(root_, r);
    size_ -= removed ? 1 : 0;
  }

  // Visits every entry, in hash order (not key order).
  template <class F>
  void for_each(F&& f) const {
    visit(root_, f);
  }

  // True when both maps are the very same tree (cheap "certainly equal" test).
  bool shares_root(const PMap& o) const { return root_ == o.root_; }

  friend bool operator==(const PMap& a, const PMap& b) {
    return a.size_ == b.size_ && nodes_equal(a.root_, b.root_);
  }

  // Calls f(key, const T* in_a, const T* in_b) for every key whose binding differs between a and
  // b (a null pointer means "absent"). Subtrees the two maps share are skipped without a visit.
  template <class F>
  static void diff(const PMap& a, const PMap& b, F&& f) {
    diff_nodes(a.root_, b.root_, 0, f);
  }

 private:
  friend struct PMapProbe<T>;
  static constexpr unsigned kBits = 5;

  // The block's header. Invariants, whenever a node can be released: data slots
  // [0, popcount(datamap)) hold constructed entries and kid slots [0, popcount(nodemap)) owned
  // non-null pointers (the other slots are raw memory); `refs` counts the kid slots and maps that
  // point here; no kid is empty or a one-entry leaf (canonical shape); the empty map has no root.
  struct Node {
    std::uint32_t refs;
    std::uint32_t datamap;
    std::uint32_t nodemap;
    std::uint8_t data_cap;  // entry slots; above popcount(datamap) only in nodes grown in place
    std::uint8_t kid_cap;   // kid slots
  };

  Node* root_ = nullptr;
  std::size_t size_ = 0;

  void swap(PMap& o) noexcept {
    std::swap(root_, o.root_);
    std::swap(size_, o.size_);
  }

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
  static unsigned index(std::uint32_t map, std::uint32_t bit) {
    return static_cast<unsigned>(std::popcount(map & (bit - 1)));
  }
  static unsigned count(std::uint32_t map) { return static_cast<unsigned>(std::popcount(map)); }

  // Functions, not constants: T may still be incomplete where PMap<T> is named.
  static constexpr std::size_t data_at() {
    return (sizeof(Node) + alignof(Entry) - 1) / alignof(Entry) * alignof(Entry);
  }
  static constexpr bool over_aligned() { return alignof(Entry) > __STDCPP_DEFAULT_NEW_ALIGNMENT__; }
  static std::size_t bytes(unsigned data_cap, unsigned kid_cap) {
    return data_at() + data_cap * sizeof(Entry) + kid_cap * sizeof(Node*);
  }
  // The kid array follows the entries; sizeof(Entry) is a multiple of alignof(Entry) >= 8.
  static Entry* data(Node* n) {
    return reinterpret_cast<Entry*>(reinterpret_cast<std::byte*>(n) + data_at());
  }
  static const Entry* data(const Node* n) {
    return reinterpret_cast<const Entry*>(reinterpret_cast<const std::byte*>(n) + data_at());
  }
  static Node** kids(Node* n) {
    return reinterpret_cast<Node**>(reinterpret_cast<std::byte*>(n) + data_at() +
                                    n->data_cap * sizeof(Entry));
  }
  static Node* const* kids(const Node* n) {
    return reinterpret_cast<Node* const*>(reinterpret_cast<const std::byte*>(n) + data_at() +
                                          n->data_cap * sizeof(Entry));
  }

  // A node with one reference and no constructed slots.
  static Node* alloc(std::uint32_t datamap, std::uint32_t nodemap, unsigned data_cap,
                     unsigned kid_cap) {
    // Moves never throw, so a unique node can be rebuilt or shifted in place without a way back.
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>);
    const std::size_t size = bytes(data_cap, kid_cap);
    void* mem = nullptr;
    if constexpr (over_aligned()) {
      mem = ::operator new (size, std::align_val_t{alignof(Entry)});
    } else {
      mem = ::operator new(size);
    }
    return ::new (mem) Node{1, datamap, nodemap, static_cast<std::uint8_t>(data_cap),
                            static_cast<std::uint8_t>(kid_cap)};
  }
  static void free_block(Node* n) {
    const std::size_t size = bytes(n->data_cap, n->kid_cap);
    std::destroy_at(n);
    if constexpr (over_aligned()) {
      ::operator delete (static_cast<void*>(n), size, std::align_val_t{alignof(Entry)});
    } else {
      ::operator delete(static_cast<void*>(n), size);
    }
  }
  // Drops one reference; the last one destroys the node.
  static void release(Node* n) {
    if (n != nullptr && --n->refs == 0) destroy(n);
  }
  // Destroys the entries, drops the kids (recursion depth at most 13, the trie's height) and
  // frees the block. Out of line: it keeps release() a decrement where it is inlined, and keeps
  // GCC 12's -Wuse-after-free from following a free it cannot tell is behind a count of zero.
  [[gnu::noinline]] static void destroy(Node* n) {
    std::destroy_n(data(n), count(n->datamap));
    Node** k = kids(n);
    for (unsigned i = 0, c = count(n->nodemap); i < c; ++i) release(k[i]);
    free_block(n);
  }
  // Stores r in the slot, then drops what was there: the slot never dangles, and r == slot (a
  // node changed in place) is a no-op.
  static void put(Node*& slot, Node* r) {
    if (r == slot) return;
    Node* old = slot;
    slot = r;
    release(old);
  }

  // The one builder of changed nodes: a new node with maps (datamap, nodemap) whose slot at `bit`
  // takes *e (moved) or kid, and whose other slots come from old. When `take` (old is unique) they
  // are moved and old is left hollow (no slots; its kids not carried over dropped), so that the
  // caller's put() only frees its block; otherwise they are copied and old is untouched. Owns
  // `kid`: it is dropped if this throws (a copy of T or the allocation), and then nothing changed.
  static Node* remap(Node* old, bool take, std::uint32_t datamap, std::uint32_t nodemap,
                     std::uint32_t bit, Entry* e, Node* kid) {
    const unsigned nd = count(datamap);
    unsigned cap = nd;
    // Room to grow in place only for nodes that are being filled in place (bulk imports).
    if (take)
      cap = nd > old->data_cap ? std::min(32U, std::max(nd, 2U * old->data_cap)) : old->data_cap;
    Node* n = nullptr;
    try {
      n = alloc(datamap, nodemap, cap, count(nodemap));
    } catch (...) {
      release(kid);
      throw;
    }
    // Cursors instead of a popcount per slot: r reads old's slots, w writes n's, in bit order.
    Entry* to = data(n);
    Entry* from = data(old);
    unsigned r = 0, w = 0;
    try {
      for (std::uint32_t rest = old->datamap | datamap; rest != 0; rest &= rest - 1) {
        const std::uint32_t b = rest & (~rest + 1);
        if (datamap & b) {
          if (b == bit && e != nullptr) {
            std::construct_at(to + w, std::move(*e));
          } else if (take) {
            std::construct_at(to + w, std::move(from[r]));
          } else {
            std::construct_at(to + w, from[r]);
          }
          ++w;
        }
        if (old->datamap & b) ++r;
      }
    } catch (...) {
      std::destroy_n(to, w);
      free_block(n);
      release(kid);
      throw;
    }
    Node** kt = kids(n);
    Node** kf = kids(old);
    r = w = 0;
    for (std::uint32_t rest = old->nodemap | nodemap; rest != 0; rest &= rest - 1) {
      const std::uint32_t b = rest & (~rest + 1);
      const bool replaced = b == bit && kid != nullptr;
      if (nodemap & b) {
        if (replaced) {
          kt[w] = kid;
        } else {
          if (!take) ++kf[r]->refs;
          kt[w] = kf[r];
        }
        ++w;
      }
      // A kid of old that n does not carry over: old's slot owned it.
      if (take && (old->nodemap & b) && (!(nodemap & b) || replaced)) release(kf[r]);
      if (old->nodemap & b) ++r;
    }
    if (take) {
      std::destroy_n(from, count(old->datamap));
      old->datamap = 0;
      old->nodemap = 0;
    }
    return n;
  }

  // The subtree holding two entries whose hashes agree below `shift`. Only allocation throws.
  static Node* merge(Entry&& a, Entry&& b, unsigned shift) {
    const std::uint32_t ba = bit_of(hash(a.key), shift), bb = bit_of(hash(b.key), shift);
    if (ba == bb) {
      Node* sub = merge(std::move(a), std::move(b), shift + kBits);
      Node* n = nullptr;
      try {
        n = alloc(0, ba, 0, 1);
      } catch (...) {
        release(sub);
        throw;
      }
      kids(n)[0] = sub;
      return n;
    }
    Node* n = alloc(ba | bb, 0, 2, 0);
    Entry* d = data(n);
    std::construct_at(d + (ba < bb ? 0 : 1), std::move(a));
    std::construct_at(d + (ba < bb ? 1 : 0), std::move(b));
    return n;
  }

  // Returns what replaces `node` in its slot: node itself (unchanged, or changed in place when
  // `unique`) or a new node holding one reference. If it throws, nothing has changed.
  static Node* insert(Node* node, bool unique, unsigned shift, std::uint64_t key, std::uint64_t h,
                      T&& value, bool& added) {
    const std::uint32_t bit = bit_of(h, shift);
    if (node == nullptr) {
      Node* n = alloc(bit, 0, 1, 0);
      std::construct_at(data(n), Entry{key, std::move(value)});
      added = true;
      return n;
    }
    if (node->datamap & bit) {
      Entry& e = data(node)[index(node->datamap, bit)];
      if (e.key == key) {
        if (e.value == value) return node;
        if (unique) {
          e.value = std::move(value);
          return node;
        }
        Entry ne{key, std::move(value)};
        return remap(node, false, node->datamap, node->nodemap, bit, &ne, nullptr);
      }
      Entry copy = e;  // the only step that may throw before anything is built
      Node* sub = merge(std::move(copy), Entry{key, std::move(value)}, shift + kBits);
      added = true;
      return remap(node, unique, node->datamap ^ bit, node->nodemap | bit, bit, nullptr, sub);
    }
    if (node->nodemap & bit) {
      Node*& slot = kids(node)[index(node->nodemap, bit)];
      Node* old = slot;
      Node* kid =
          insert(old, unique && old->refs == 1, shift + kBits, key, h, std::move(value), added);
      if (kid == old) return node;
      if (unique) {
        put(slot, kid);
        return node;
      }
      return remap(node, false, node->datamap, node->nodemap, bit, nullptr, kid);
    }
    added = true;
    const unsigned nd = count(node->datamap);
    if (unique && nd < node->data_cap) {
      // Shift the entries above the new one up by a slot (moves: nothing throws).
      const unsigned i = index(node->datamap, bit);
      Entry* d = data(node);
      if (i == nd) {
        std::construct_at(d + nd, Entry{key, std::move(value)});
      } else {
        std::construct_at(d + nd, std::move(d[nd - 1]));
        std::move_backward(d + i, d + nd - 1, d + nd);
        d[i] = Entry{key, std::move(value)};
      }
      node->datamap |= bit;
      return node;
    }
    Entry ne{key, std::move(value)};
    return remap(node, unique, node->datamap | bit, node->nodemap, bit, &ne, nullptr);
  }

  // As insert; nullptr means the subtree is now empty.
  static Node* remove(Node* node, bool unique, unsigned shift, std::uint64_t key, std::uint64_t h,
                      bool& removed) {
    if (node == nullptr) return node;
    const std::uint32_t bit = bit_of(h, shift);
    if (node->datamap & bit) {
      const unsigned i = index(node->datamap, bit);
      Entry* d = data(node);
      if (d[i].key != key) return node;
      removed = true;
      const unsigned nd = count(node->datamap);
      if (nd == 1 && node->nodemap == 0) return nullptr;
      if (unique) {
        std::move(d + i + 1, d + nd, d + i);
        std::destroy_at(d + nd - 1);
        node->datamap ^= bit;
        return node;
      }
      return remap(node, false, node->datamap ^ bit, node->nodemap, bit, nullptr, nullptr);
    }
    if (!(node->nodemap & bit)) return node;
    Node*& slot = kids(node)[index(node->nodemap, bit)];
    Node* old = slot;
    Node* kid = remove(old, unique && old->refs == 1, shift + kBits, key, h, removed);
    // A child changed in place keeps its pointer but may have shrunk to one entry.
    const bool collapse = kid != nullptr && count(kid->datamap) == 1 && kid->nodemap == 0;
    if (kid == old && !collapse) return node;
    if (collapse) {
      // A one-entry subtree is stored inline in its parent: keeps the shape canonical. The kid
      // is this map's alone when it is new or was changed in place, so its entry can move.
      Entry only =
          kid->refs == 1 && (kid != old || unique) ? std::move(data(kid)[0]) : Entry(data(kid)[0]);
      if (kid != old) release(kid);
      return remap(node, unique, node->datamap | bit, node->nodemap ^ bit, bit, &only, nullptr);
    }
    if (kid == nullptr) {
      // Unreachable while no kid is a one-entry leaf; kept so that the shape stays canonical.
      if (node->datamap == 0 && count(node->nodemap) == 1) return nullptr;
      return remap(node, unique, node->datamap, node->nodemap ^ bit, bit, nullptr, nullptr);
    }
    if (unique) {
      put(slot, kid);
      return node;
    }
    return remap(node, false, node->datamap, node->nodemap, bit, nullptr, kid);
  }

  template <class F>
  static void visit(const Node* n, F&& f) {
    if (n == nullptr) return;
    const Entry* d = data(n);
    for (unsigned i = 0, c = count(n->datamap); i < c; ++i) f(d[i].key, d[i].value);
    Node* const* k = kids(n);
    for (unsigned i = 0, c = count(n->nodemap); i < c; ++i) visit(k[i], f);
  }

  static bool nodes_equal(const Node* a, const Node* b) {
    if (a == b) return true;
    if (a == nullptr || b == nullptr) return false;
    if (a->datamap != b->datamap || a->nodemap != b->nodemap) return false;
    const Entry* da = data(a);
    const Entry* db = data(b);
    for (unsigned i = 0, c = count(a->datamap); i < c; ++i) {
      if (da[i].key != db[i].key || !(da[i].value == db[i].value)) return false;
    }
    Node* const* ka = kids(a);
    Node* const* kb = kids(b);
    for (unsigned i = 0, c = count(a->nodemap); i < c; ++i) {
      if (!nodes_equal(ka[i], kb[i])) return false;
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
    if (a == nullptr) {
      visit(b, [&](std::uint64_t k, const T& v) { f(k, static_cast<const T*>(nullptr), &v); });
      return;
    }
    if (b == nullptr) {
      visit(a, [&](std::uint64_t k, const T& v) { f(k, &v, static_cast<const T*>(nullptr)); });
      return;
    }
    const std::uint32_t all = a->datamap | a->nodemap | b->datamap | b->nodemap;
    for (std::uint32_t rest = all; rest != 0; rest &= rest - 1) {
      const std::uint32_t bit = rest & (~rest + 1);
      const Entry* ea = (a->datamap & bit) ? &data(a)[index(a->datamap, bit)] : nullptr;
      const Entry* eb = (b->datamap & bit) ? &data(b)[index(b->datamap, bit)] : nullptr;
      const Node* ka = (a->nodemap & bit) ? kids(a)[index(a->nodemap, bit)] : nullptr;
      const Node* kb = (b->nodemap & bit) ? kids(b)[index(b->nodemap, bit)] : nullptr;
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
