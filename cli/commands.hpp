// Subcommands of the hypdiff CLI. Each registers its options on the app and returns the action
// to run when selected; the action returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace hypdiff::cli {

// Exit codes, documented in README.md.
inline constexpr int kExitPass = 0;
inline constexpr int kExitFail = 1;      // a property failed / a divergence was found
inline constexpr int kExitUsage = 2;     // bad arguments or environment
inline constexpr int kExitInternal = 3;  // a bug in hypdiff itself

using Action = std::function<int()>;

Action add_selfcheck(CLI::App& app);
Action add_check(CLI::App& app);
Action add_replay(CLI::App& app);
Action add_shrink(CLI::App& app);
Action add_mutants(CLI::App& app);
Action add_campaign(CLI::App& app);
Action add_merge(CLI::App& app);
Action add_report(CLI::App& app);

}  // namespace hypdiff::cli
