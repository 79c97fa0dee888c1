// Applies [performance] cpu_scheduling to every thread of the process (see cpu_scheduling.h).
#include "app/cpu_scheduling.h"

#include <dirent.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>

namespace smarthost::app {

const char* cpu_scheduling_name(conf::CpuScheduling scheduling) {
  return scheduling == conf::CpuScheduling::batch ? "batch" : "normal";
}

std::error_code apply_cpu_scheduling(conf::CpuScheduling scheduling) {
  const int policy = scheduling == conf::CpuScheduling::batch ? SCHED_BATCH : SCHED_OTHER;
  const sched_param param{};  // priority 0: the only one these policies have
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    // No /proc: at least this thread, which the threads started later inherit from.
    if ((::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == policy) return {};
    if (::sched_setscheduler(0, policy, &param) != 0) return {errno, std::system_category()};
    return {};
  }
  std::error_code first_error;
  while (const dirent* entry = ::readdir(tasks)) {
    char* end = nullptr;
    const long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || tid <= 0) continue;
    // Threads that have it already are left alone: the systemd unit sets it (CPUSchedulingPolicy=) and forbids the
    // relay to change it (SystemCallFilter=~@resources).
    const int current = ::sched_getscheduler(static_cast<pid_t>(tid));
    if (current >= 0 && (current & ~SCHED_RESET_ON_FORK) == policy) continue;
    // ESRCH: the thread ended meanwhile.
    if (::sched_setscheduler(static_cast<pid_t>(tid), policy, &param) != 0 && errno != ESRCH && !first_error)
      first_error = {errno, std::system_category()};
  }
  ::closedir(tasks);
  return first_error;
}

}  // namespace smarthost::app
