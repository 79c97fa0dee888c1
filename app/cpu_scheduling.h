// The relay's CPU scheduling policy ([performance] cpu_scheduling). "batch" (SCHED_BATCH, the default) keeps the
// relay's threads from preempting the programs that send it mail when they wake: on a shared machine the relay
// runs when the CPU is free or the running task's slice ends, and it is preempted less itself. Measured in
// bench/README.md: with the generator and the sink in other sessions (as services are), 20 sessions, 4 KiB one
// per connection, the relay took 0.162 ms of CPU per message under SCHED_OTHER and 0.132 ms under SCHED_BATCH,
// and accepted 6,144 against 7,175 msg/s (means of six runs each). Latency costs at most one time slice of
// whatever else is running, and only while the CPU is busy.
#pragma once

#include <system_error>

#include "conf/config.h"

namespace smarthost::app {

// Sets the policy of every thread of this process that does not have it yet (threads started later inherit it).
// Unprivileged: both policies are normal-priority ones; but a seccomp filter may forbid the call (EPERM), as the
// systemd unit's does, which sets the policy itself with CPUSchedulingPolicy=batch.
std::error_code apply_cpu_scheduling(conf::CpuScheduling scheduling);

// The name used in the configuration and in logs.
const char* cpu_scheduling_name(conf::CpuScheduling scheduling);

}  // namespace smarthost::app
