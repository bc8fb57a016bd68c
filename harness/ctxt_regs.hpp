// A register context as the target ABI's flat array (HD_CTXT_*): the model's CtxtRegs, TrapRegs
// and CtxtStates fields in declaration order, walked by Boost.Hana so the two layouts cannot
// drift apart.
#pragma once

#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <cstddef>
#include <type_traits>

#include "model/records.hpp"

namespace hypdiff::harness {

// f(model::Z&) for every register of c, in ABI order.
template <class F>
void for_each_reg(model::Ctxt& c, F&& f) {
  const auto walk = [&](auto& record) {
    boost::hana::for_each(
        boost::hana::accessors<std::remove_reference_t<decltype(record)>>(), [&](auto pair) {
          auto& member = boost::hana::second(pair)(record);
          if constexpr (std::is_same_v<std::remove_reference_t<decltype(member)>, model::Z>) {
            f(member);
          } else {
            for (model::Z& z : member) f(z);
          }
        });
  };
  walk(c.ctxt_regs);
  walk(c.trap_regs);
  walk(c.ctxt_states);
}

inline std::size_t ctxt_reg_count() {
  std::size_t n = 0;
  model::Ctxt c{};
  for_each_reg(c, [&](model::Z&) { ++n; });
  return n;
}

}  // namespace hypdiff::harness
