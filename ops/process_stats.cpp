// Reads the process's resource use from /proc and getrlimit/getrusage (see process_stats.h).
#include "ops/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace smarthost::ops {

ProcessStats read_process_stats() {
  ProcessStats s;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0, resident = 0;
    if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) {
      long page = ::sysconf(_SC_PAGESIZE);
      s.virtual_bytes = size * static_cast<uint64_t>(page);
      s.resident_bytes = resident * static_cast<uint64_t>(page);
    }
    std::fclose(f);
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    uint64_t n = 0;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    s.open_fds = n > 0 ? n - 1 : 0;  // the directory stream's own descriptor is not the process's
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = limit.rlim_cur;
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    s.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  return s;
}

}  // namespace smarthost::ops
