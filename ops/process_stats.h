// The process's own resource use for /metrics: memory from /proc/self/statm, open files from /proc/self/fd,
// the descriptor limit and the start time. Linux only; fields it cannot read stay 0.
#pragma once

#include <cstdint>

namespace smarthost::ops {

struct ProcessStats {
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;            // the soft RLIMIT_NOFILE
  double cpu_seconds = 0;          // user + system
};

ProcessStats read_process_stats();

}  // namespace smarthost::ops
