// Worker processes: a campaign runs its batches in children that re-execute hypdiff, so a
// target that takes its process down (the native target is one machine per process) costs a
// batch, not the campaign. Parent and worker talk over two pipes, one JSON object per line.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace hypdiff::campaign {

struct WorkerProcess {
  pid_t pid = -1;
  int to = -1;    // the worker's stdin
  int from = -1;  // the worker's stdout
};

// Starts argv[0] with argv. The child dies with SIGKILL when the parent dies (so a SIGKILL of
// the campaign leaves no orphans) and ignores SIGINT/SIGTERM (the parent decides when workers
// stop). Throws std::system_error.
WorkerProcess spawn_worker(const std::vector<std::string>& argv);

// Writes all of `line`; false when the worker is gone.
bool send_line(int fd, const std::string& line);

}  // namespace hypdiff::campaign
