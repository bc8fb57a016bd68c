// The worker side of a campaign: batch numbers in on a pipe, one JSON line per failure and per
// finished batch out (docs/campaign.md, "Workers"). The process is started by the parent
// (campaign/parent.hpp) re-executing hypdiff; the CLI sets it up and calls serve_batches.
#pragma once

#include <filesystem>
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "campaign/journal.hpp"
#include "corpus/case_file.hpp"
#include "generators/options.hpp"
#include "harness/runner.hpp"
#include "harness/target.hpp"
#include "shrinkers/shrink.hpp"

namespace hypdiff::campaign {

struct WorkerSetup {
  Config cfg;
  harness::RunOptions run;
  shrinkers::ShrinkOptions shrink;
  generators::GenOptions gen;  // as generation should run for the pairing (profile included)
  std::filesystem::path dir;   // the campaign directory; shrunk cases go to dir/cases
};

// How a shrunk failure becomes a case file. The CLI passes its own (cli/common.hpp failure_file
// and corpus_stem), so a campaign saves exactly the file, under the name, `check` would.
struct CaseFiling {
  std::function<corpus::CaseFile(const generators::Case&, const harness::Failure&,
                                 std::vector<std::string> notes)>
      file;
  std::function<std::string(const harness::Failure&)> stem;
};

// Points fd 1 at stderr and returns a duplicate of the old stdout for protocol lines, so
// whatever a target prints never reaches the parent. -1 on error. Call before making targets.
int take_protocol_fd();

// Reads batch requests ({"batch": B, "known": {signature: length}}) from `in` until end of
// file, runs each batch and sends its failure records and then its batch record to `out`.
// False when a record could not be sent (the parent is gone). Test hook: the environment
// variable HYPDIFF_CAMPAIGN_CRASH_BATCH (docs/campaign.md) makes it abort at a batch.
bool serve_batches(const WorkerSetup& w, harness::Target& target, harness::Target* reference,
                   const CaseFiling& filing, std::istream& in, int out);

}  // namespace hypdiff::campaign
