// Targets the harness cannot name itself because their libraries depend on it: registered with
// harness::register_target when the program starts.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cli/common.hpp"
#include "harness/target.hpp"

#ifdef HYPDIFF_HAVE_QEMU
#include "qemu/host/qemu_target.hpp"
#endif

namespace hypdiff::cli {
namespace {

std::unique_ptr<harness::Target> make_qemu(std::string_view name, std::string* error) {
  if (name != "qemu") {
    if (error)
      *error = "unknown target '" + std::string(name) + "' (the QEMU target is spelled 'qemu')";
    return nullptr;
  }
#ifdef HYPDIFF_HAVE_QEMU
  // QEMU itself starts at the first reset, so a missing qemu-system-aarch64 is reported there,
  // as a target error with the install command.
  return std::make_unique<qemu::QemuTarget>(qemu::QemuOptions{}, /*soft_reset=*/true);
#else
  if (error)
    *error =
        "the QEMU target is not in this build: aarch64-linux-gnu-gcc was missing when it was "
        "configured (run ci/bootstrap, then rebuild)";
  return nullptr;
#endif
}

}  // namespace

std::function<void(std::uint32_t)> mutant_switch([[maybe_unused]] harness::Target& t) {
#ifdef HYPDIFF_HAVE_QEMU
  if (auto* q = dynamic_cast<qemu::QemuTarget*>(&t))
    return [q](std::uint32_t id) { q->set_mutant(id); };
#endif
  return {};
}

void register_targets() { harness::register_target("qemu", make_qemu, "qemu"); }

}  // namespace hypdiff::cli
