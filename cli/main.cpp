// hypdiff: randomized differential tester for verified hypervisors.
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "harness/allocator.hpp"
#include "harness/target.hpp"
#include "model/zmap.hpp"

int main(int argc, char** argv) {
  hypdiff::tune_allocator();
  hypdiff::cli::register_targets();
  CLI::App app{
      "hypdiff: randomized differential and noninterference tester for SeKVM-style hypervisors"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hypdiff 0.1");
  hypdiff::cli::Action selfcheck = hypdiff::cli::add_selfcheck(app);
  hypdiff::cli::Action check = hypdiff::cli::add_check(app);
  hypdiff::cli::Action replay = hypdiff::cli::add_replay(app);
  hypdiff::cli::Action shrink = hypdiff::cli::add_shrink(app);
  hypdiff::cli::Action mutants = hypdiff::cli::add_mutants(app);
  hypdiff::cli::Action campaign = hypdiff::cli::add_campaign(app);
  hypdiff::cli::Action merge = hypdiff::cli::add_merge(app);
  hypdiff::cli::Action report = hypdiff::cli::add_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hypdiff: %s (see --help)\n", e.what());
    return hypdiff::cli::kExitUsage;
  }
  try {
    if (app.got_subcommand("selfcheck")) return selfcheck();
    if (app.got_subcommand("check")) return check();
    if (app.got_subcommand("replay")) return replay();
    if (app.got_subcommand("shrink")) return shrink();
    if (app.got_subcommand("mutants")) return mutants();
    if (app.got_subcommand("campaign")) return campaign();
    if (app.got_subcommand("merge")) return merge();
    if (app.got_subcommand("report")) return report();
  } catch (const hypdiff::model::ModelBug& e) {
    std::fprintf(stderr, "hypdiff: internal error (a bug in hypdiff, please report): %s\n",
                 e.what());
    return hypdiff::cli::kExitInternal;
  } catch (const hypdiff::harness::TargetError& e) {
    std::fprintf(stderr, "hypdiff: target error: %s\n", e.what());
    return hypdiff::cli::kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "hypdiff: %s\n", e.what());
    return hypdiff::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hypdiff: internal error: %s\n", e.what());
    return hypdiff::cli::kExitInternal;
  }
  return hypdiff::cli::kExitUsage;
}
