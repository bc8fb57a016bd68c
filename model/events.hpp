// The global atomic-event log `slog` (Coq: RData.md, SingleOracleEvent / AtomicEvent). Events are
// ghost bookkeeping: no observation function reads them, but query_oracle keys the other CPUs'
// behaviour on the log, so the log is kept exactly. New events are prepended (newest first).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/z.hpp"

namespace hypdiff::model {

enum class EventKind : std::uint8_t {
  OPT_GET,
  OMAP_HOST,
  OCLEAR_VM,
  OASSIGN_VM,
  OMAP_VM,
  OMAP_IO,
  OGRANT,
  OREVOKE,
  OVM_GET,
  OVM_ACTIVE,
  OVM_INACTIVE,
  OVM_POWEROFF,
  OREG_VCPU,
  OGEN_VMID,
  OREG_KVM,
  OBOOT_INFO,
  OREMAP_IMAGE,
  OVERIFY,
  OSMMU_GET,
  OASSIGN_SMMU,
  OSMMU_FREE,
  OSMMU_ALLOC,
  OSMMU_MAP,
  OSMMU_CLEAR,
  OLOAD_ENC_VCPU,
  OSAVE_ENC_BUF,
  OLOAD_ENC_BUF,
};

const char* event_name(EventKind k);
// Parses an event_name(); false when unknown.
bool event_from_name(const std::string& name, EventKind* out);

// An AtomicEvent with its integer arguments in constructor order. Arguments that are oracle
// functions in Coq (`dorc`) are recorded as the principal whose stream was passed; register files
// (OLOAD_ENC_VCPU's cregs/cstates) are not recorded.
struct AtomicEvent {
  EventKind kind = EventKind::OPT_GET;
  std::array<Z, 4> args{};
  friend bool operator==(const AtomicEvent&, const AtomicEvent&) = default;
};

struct SingleEvent {
  Z cpu = 0;
  AtomicEvent event;
  friend bool operator==(const SingleEvent&, const SingleEvent&) = default;
};

std::string to_string(const SingleEvent& e);

// Persistent newest-first list. A node may stand for `repeat` copies of its event, so loops over
// astronomically many untouched pages (the guest controls grant/revoke sizes) log in O(1). Copy i
// of a node (0 = the oldest) has arguments e.event.args + i * step, for loops whose logged
// arguments advance with the iteration.
class Slog {
 public:
  std::uint64_t length() const { return head_ ? head_->length : 0; }
  [[nodiscard]] Slog push(SingleEvent e, std::uint64_t repeat = 1,
                          std::array<Z, 4> step = {}) const {
    Slog out;
    out.head_ = std::make_shared<const Node>(std::move(e), repeat, length() + repeat, head_, step);
    return out;
  }
  // Prepends `events` (given newest first, like the log) in front of this log.
  [[nodiscard]] Slog prepend(const std::vector<SingleEvent>& events) const {
    Slog out = *this;
    for (auto it = events.rbegin(); it != events.rend(); ++it) out = out.push(*it);
    return out;
  }
  // Newest first, expanding repeats; at most `limit` events.
  std::vector<SingleEvent> newest(std::size_t limit) const;

 private:
  struct Node {
    SingleEvent event;
    std::uint64_t repeat;
    std::uint64_t length;
    // mutable only so the destructor can unlink the chain: a log of millions of nodes would
    // otherwise be freed by one recursive call per node and overflow the stack.
    mutable std::shared_ptr<const Node> next;
    std::array<Z, 4> step;
    Node(SingleEvent e, std::uint64_t r, std::uint64_t len, std::shared_ptr<const Node> n,
         std::array<Z, 4> st)
        : event(std::move(e)), repeat(r), length(len), next(std::move(n)), step(st) {}
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    ~Node() {
      std::shared_ptr<const Node> n = std::move(next);
      while (n && n.use_count() == 1) n = std::move(n->next);
    }
  };
  std::shared_ptr<const Node> head_;
};

}  // namespace hypdiff::model
