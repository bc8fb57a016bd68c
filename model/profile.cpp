#include "model/profile.hpp"

#include <array>

namespace hypdiff::model {

namespace {
constexpr std::array kDeviations{
    Deviation{"hlock", "4.1", &Profile::hlock_acquire},
    Deviation{"calstate-fold", "7.2.15", &Profile::calstate_fold},
    Deviation{"verify-index", "7.2.1", &Profile::verify_index},
    Deviation{"map-halt-check", "7.2.2", &Profile::map_halt_check},
    Deviation{"grant-block-pfn", "7.2.3", &Profile::grant_block_pfn},
    Deviation{"grant-halt-check", "7.2.3", &Profile::grant_halt_check},
    Deviation{"assign-normalize", "7.2.4", &Profile::assign_normalize},
    Deviation{"inject-test", "7.2.6", &Profile::inject_test},
    Deviation{"sync-dirty-cursor", "7.2.7", &Profile::sync_dirty_cursor},
    Deviation{"first-run-base", "7.2.8", &Profile::first_run_base},
    Deviation{"verify-snapshot", "7.2.9", &Profile::verify_snapshot},
    Deviation{"verify-img", "7.2.9", &Profile::verify_img},
    Deviation{"boot-info-args", "7.2.11", &Profile::boot_info_args},
    Deviation{"remap-args", "7.2.11", &Profile::remap_args},
    Deviation{"iova-log", "7.2.12", &Profile::iova_log},
    Deviation{"crypt-vcpu-target", "7.2.13", &Profile::crypt_vcpu_target},
    Deviation{"pc-advance", "7.2.14", &Profile::pc_advance},
    Deviation{"register-vcpu-dirty", "7.2.16", &Profile::register_vcpu_dirty},
    Deviation{"hvc32-exit", "7.2.17", &Profile::hvc32_exit},
    Deviation{"mmio-gr0-bound", "7.2.21", &Profile::mmio_gr0_bound},
    Deviation{"smmu-pte-attr", "3.5.1", &Profile::smmu_pte_attr},
    Deviation{"reg-wrap", "2.6", &Profile::reg_wrap},
};
}  // namespace

std::span<const Deviation> deviations() { return kDeviations; }

Profile Profile::literal() {
  Profile p;
  for (const Deviation& d : kDeviations) p.*d.field = false;
  return p;
}

std::optional<Profile> Profile::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string msg) -> std::optional<Profile> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  const std::size_t cut = text.find_first_of("+-");
  const std::string_view base = text.substr(0, cut);
  Profile p;
  if (base == "intended") {
    p = intended();
  } else if (base == "literal") {
    p = literal();
  } else {
    return fail("unknown profile '" + std::string(base) + "' (expected intended or literal)");
  }
  std::string_view rest = cut == std::string_view::npos ? std::string_view{} : text.substr(cut);
  while (!rest.empty()) {
    const bool on = rest[0] == '+';
    rest.remove_prefix(1);
    const std::size_t next = rest.find_first_of("+-");
    // Deviation ids contain '-', so an item ends at the next '+'/'-' that starts a known id.
    std::size_t end = next;
    while (end != std::string_view::npos) {
      bool starts_id = false;
      for (const Deviation& d : kDeviations) {
        if (rest.substr(end + 1).starts_with(d.id)) starts_id = true;
      }
      if (starts_id) break;
      end = rest.find_first_of("+-", end + 1);
    }
    const std::string_view item = rest.substr(0, end);
    const Deviation* found = nullptr;
    for (const Deviation& d : kDeviations) {
      if (d.id == item) found = &d;
    }
    if (!found)
      return fail("unknown deviation '" + std::string(item) + "' in profile '" + std::string(text) +
                  "'");
    p.*found->field = on;
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  return p;
}

std::string Profile::name() const {
  auto spell = [&](const Profile& base, std::string text) {
    for (const Deviation& d : kDeviations) {
      if (this->*d.field != base.*d.field) text += (this->*d.field ? "+" : "-") + std::string(d.id);
    }
    return text;
  };
  std::string a = spell(intended(), "intended");
  std::string b = spell(literal(), "literal");
  return b.size() < a.size() ? b : a;
}

}  // namespace hypdiff::model
