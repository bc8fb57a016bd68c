#include "model/events.hpp"

#include <array>
#include <string_view>

namespace hypdiff::model {

namespace {

// Indexed by EventKind; the names are the Coq constructor names.
constexpr std::array<std::string_view, 27> kEventNames{
    "OPT_GET",       "OMAP_HOST",     "OCLEAR_VM", "OASSIGN_VM",  "OMAP_VM",
    "OMAP_IO",       "OGRANT",        "OREVOKE",   "OVM_GET",     "OVM_ACTIVE",
    "OVM_INACTIVE",  "OVM_POWEROFF",  "OREG_VCPU", "OGEN_VMID",   "OREG_KVM",
    "OBOOT_INFO",    "OREMAP_IMAGE",  "OVERIFY",   "OSMMU_GET",   "OASSIGN_SMMU",
    "OSMMU_FREE",    "OSMMU_ALLOC",   "OSMMU_MAP", "OSMMU_CLEAR", "OLOAD_ENC_VCPU",
    "OSAVE_ENC_BUF", "OLOAD_ENC_BUF",
};
static_assert(static_cast<std::size_t>(EventKind::OLOAD_ENC_BUF) + 1 == kEventNames.size());

// Small values (ids, indices, cursors) read best in decimal, addresses and ptes in hex.
std::string arg_text(Z v) { return (v > -65536 && v < 65536) ? to_dec(v) : to_hex(v); }

}  // namespace

const char* event_name(EventKind k) {
  const auto i = static_cast<std::size_t>(k);
  return i < kEventNames.size() ? kEventNames[i].data() : "?";
}

bool event_from_name(const std::string& name, EventKind* out) {
  for (std::size_t i = 0; i < kEventNames.size(); ++i) {
    if (kEventNames[i] == name) {
      *out = static_cast<EventKind>(i);
      return true;
    }
  }
  return false;
}

// "cpu 1: OMAP_HOST(0x200000)". Trailing zero arguments are omitted (an event's unused slots are
// zero), so the text names every argument the event carries and no others.
std::string to_string(const SingleEvent& e) {
  std::size_t n = e.event.args.size();
  while (n > 0 && e.event.args[n - 1] == 0) --n;
  std::string out = "cpu " + to_dec(e.cpu) + ": " + event_name(e.event.kind) + "(";
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += arg_text(e.event.args[i]);
  }
  return out + ")";
}

std::vector<SingleEvent> Slog::newest(std::size_t limit) const {
  std::vector<SingleEvent> out;
  for (const Node* n = head_.get(); n != nullptr && out.size() < limit; n = n->next.get()) {
    // Within a node the newest copy is the last one, i = repeat - 1.
    for (std::uint64_t k = 0; k < n->repeat && out.size() < limit; ++k) {
      const Z i = static_cast<Z>(n->repeat - 1 - k);
      SingleEvent e = n->event;
      for (std::size_t j = 0; j < e.event.args.size(); ++j) e.event.args[j] += i * n->step[j];
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace hypdiff::model
