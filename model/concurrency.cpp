#include "model/concurrency.hpp"

#include "model/primitives.hpp"

namespace hypdiff::model {

// Coq: TrapHandlerSpec.CalStateH
Shared CalStateH(const std::vector<SingleEvent>& events, const Shared& s) {
  // The replay's halt result is dropped in both profiles: the other CPU's fault is its own, only
  // the shared objects it left behind (including cleared hlock flags) reach this CPU.
  if (!s.prof().calstate_fold) {
    // The Coq binds the recursive result and then shadows it, so only the head is replayed.
    if (events.empty() || events.front().event.kind != EventKind::OMAP_HOST) return s;
    return local_map_host(s, events.front().event.args[0]).s;
  }
  Shared out = s;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->event.kind == EventKind::OMAP_HOST) out = local_map_host(out, it->event.args[0]).s;
  }
  return out;
}

// Coq: TrapHandlerSpec.query_oracle
RData query_oracle(RData d) {
  const std::vector<SingleEvent>& events = d.oracle->events_at(d.slog.length());
  if (events.empty()) return d;
  d.slog = d.slog.prepend(events);
  d.shared = CalStateH(events, d.shared);
  return d;
}

void log_event(RData& d, EventKind kind, Z a, Z b, Z c, Z e) {
  d.slog = d.slog.push(SingleEvent{d.curid, AtomicEvent{kind, {a, b, c, e}}});
}

bool locks(RData& d, std::initializer_list<Z> ids) {
  if (d.prof().hlock_acquire) {
    for (Z id : ids) d.shared.hlock.set(id, true);
    return true;
  }
  for (Z id : ids) {
    if (!d.shared.hlock.get(id)) return false;
  }
  return true;
}

void clr(Shared& s, std::initializer_list<Z> ids) {
  for (Z id : ids) s.hlock.set(id, false);
}

}  // namespace hypdiff::model
