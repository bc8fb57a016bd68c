// query_oracle and the lock assertions around it (spec §4.1).
#pragma once

#include <initializer_list>

#include "model/state.hpp"

namespace hypdiff::model {

// Coq: TrapHandlerSpec.CalStateH. Literal: replays only the head of `events` if it is an
// OMAP_HOST, onto the original state. Profile::calstate_fold: every OMAP_HOST, oldest first.
Shared CalStateH(const std::vector<SingleEvent>& events, const Shared& s);

// Coq: TrapHandlerSpec.query_oracle (QO): the other CPUs' events since this CPU last looked.
RData query_oracle(RData d);

// EV(d, e): prepend SEVENT(d.curid, e) to d.slog.
void log_event(RData& d, EventKind kind, Z a = 0, Z b = 0, Z c = 0, Z e = 0);

// LOCKS(d, k...): `rely d.shared.hlock[k]` for each k. With Profile::hlock_acquire the preceding
// QO acquires the locks, so this sets the flags and succeeds; literally, it fails (the caller
// returns None) when any flag is clear.
[[nodiscard]] bool locks(RData& d, std::initializer_list<Z> ids);

// CLR(S, k...): clear ghost lock flags on a halting branch.
void clr(Shared& s, std::initializer_list<Z> ids);

}  // namespace hypdiff::model
