// Coverage: how the steps of each handler and of each host hypercall 13..29 ended.
#include <fmt/format.h>

#include <iterator>

#include "report/sections.hpp"
#include "report/text.hpp"

namespace hypdiff::report {

namespace {

const std::vector<std::string> kKinds = {"ok", "halted", "undefined"};
const std::vector<std::string> kColors = {"#43a047", "#fb8c00", "#9e9e9e"};

std::uint64_t total(const harness::Counts& c) { return c[0] + c[1] + c[2]; }

// A gap is what Coverage::gaps() reports: no step that ended ok.
svg::Bar bar_of(std::string label, const harness::Counts& c, bool can_gap) {
  svg::Bar b;
  b.label = std::move(label);
  b.values = {static_cast<double>(c[0]), static_cast<double>(c[1]), static_cast<double>(c[2])};
  b.highlight = can_gap && c[0] == 0;
  b.note = total(c) == 0 ? "never ran"
           : b.highlight ? fmt::format("{} steps, none ok", fmt_count(total(c)))
                         : fmt::format("{} steps", fmt_count(total(c)));
  return b;
}

void table_row(std::string& s, const std::string& label, const harness::Counts& c, bool gap) {
  fmt::format_to(std::back_inserter(s),
                 "<tr{}><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td "
                 "data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>\n",
                 gap ? " class=\"gap\"" : "", html_escape(label), c[0], fmt_count(c[0]), c[1],
                 fmt_count(c[1]), c[2], fmt_count(c[2]), total(c), fmt_count(total(c)));
}

}  // namespace

std::string hvc_label(int number) {
  static const char* const kNames[] = {
      "TIMER_SET_CNTVOFF",      "CLEAR_VM_S2_RANGE", "SET_BOOT_INFO",     "REMAP_VM_IMAGE",
      "VERIFY_VM_IMAGE",        "SMMU_FREE_PGD",     "SMMU_ALLOC_PGD",    "SMMU_LPAE_MAP",
      "SMMU_LPAE_IOVA_TO_PHYS", "SMMU_CLEAR",        "PHYS_ADDR_IOREMAP", "REGISTER_KVM",
      "REGISTER_VCPU",          "ENCRYPT_BUF",       "DECRYPT_BUF",       "SAVE_CRYPT_VCPU",
      "LOAD_CRYPT_VCPU"};
  if (number < harness::kFirstHvc || number > harness::kLastHvc) return "other numbers";
  return fmt::format("{} {}", number, kNames[number - harness::kFirstHvc]);
}

std::string coverage_section(const campaign::Journal& j) {
  std::string s = "<section id=\"coverage\">\n<h2>Coverage</h2>\n";
  if (j.batches.empty()) {
    s += "<p class=\"empty\">No batch has finished yet, so there is no coverage to show.</p>\n"
         "</section>\n";
    return s;
  }
  const harness::Coverage cov = j.coverage();
  const std::string gaps = cov.gaps();
  s += "<p>How the steps of every handler, and of every host hypercall the spec numbers 13 to "
       "29, ended: <b>ok</b> (defined, not halted), <b>halted</b> (a defined panic) or "
       "<b>undefined</b> (the spec's None). Each bar is scaled to its own total, which is written "
       "on its right. A <span class=\"gaptext\">red</span> row is a gap: no step of it ended ok "
       "(set_reg only sets registers up and is never a gap).</p>\n";
  if (gaps.empty())
    s +=
        "<p class=\"ok\">No gaps: every handler and hypercall 13..29 ended ok at least once.</p>\n";
  else
    s += "<p class=\"warn\">Gaps:" + html_escape(gaps) + "</p>\n";

  svg::BarChart handlers;
  handlers.title = "Steps per handler, by outcome";
  handlers.value_label = "share of the handler's steps";
  handlers.stacks = kKinds;
  handlers.colors = kColors;
  handlers.percent = true;
  for (int h = 0; h < model::kHandlerCount; ++h) {
    const auto handler = static_cast<model::Handler>(h);
    handlers.bars.push_back(bar_of(model::handler_name(handler),
                                   cov.by_handler[static_cast<std::size_t>(h)],
                                   handler != model::Handler::set_reg));
  }
  s += "<figure>" + svg::bar_chart(handlers) + "</figure>\n";

  svg::BarChart hvcs = handlers;
  hvcs.title = "Host hypercalls by number, by outcome";
  hvcs.value_label = "share of the hypercall's steps";
  hvcs.bars.clear();
  const auto counts = [&](int n) {
    const auto it = cov.by_hvc.find(n);
    return it == cov.by_hvc.end() ? harness::Counts{} : it->second;
  };
  for (int n = harness::kFirstHvc; n <= harness::kLastHvc; ++n)
    hvcs.bars.push_back(bar_of(hvc_label(n), counts(n), true));
  if (cov.by_hvc.count(-1)) hvcs.bars.push_back(bar_of(hvc_label(-1), counts(-1), false));
  s += "<figure>" + svg::bar_chart(hvcs) + "</figure>\n";

  s += "<details><summary>Coverage counts</summary>\n<table class=\"sortable num\"><thead><tr>"
       "<th>handler / hypercall</th><th>ok</th><th>halted</th><th>undefined</th><th>total</th>"
       "</tr></thead><tbody>\n";
  for (int h = 0; h < model::kHandlerCount; ++h) {
    const auto handler = static_cast<model::Handler>(h);
    const auto& c = cov.by_handler[static_cast<std::size_t>(h)];
    table_row(s, model::handler_name(handler), c, handler != model::Handler::set_reg && c[0] == 0);
  }
  for (int n = harness::kFirstHvc; n <= harness::kLastHvc; ++n)
    table_row(s, "hvc " + hvc_label(n), counts(n), counts(n)[0] == 0);
  if (cov.by_hvc.count(-1)) table_row(s, "hvc, other numbers", counts(-1), false);
  s += "</tbody></table>\n</details>\n</section>\n";
  return s;
}

}  // namespace hypdiff::report
